#include "actors/quiet_hours.hpp"

#include <unicode/ucal.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace kinbox {

namespace {

struct calendar_closer {
  void operator()(UCalendar* cal) const { ucal_close(cal); }
};
using calendar = std::unique_ptr<UCalendar, calendar_closer>;

/// Zone names are ASCII (the tz database's "Area/Location"); anything else is no zone.
std::optional<std::u16string> zone_name(const std::string& tz) {
  if (tz.empty() || tz.size() > max_zone_name)
    return std::nullopt;
  std::u16string out;
  for (unsigned char c : tz) {
    if (c < 0x21 || c > 0x7e)
      return std::nullopt;
    out.push_back(c);
  }
  return out;
}

bool known_zone(const std::string& tz) {
  auto name = zone_name(tz);
  if (!name)
    return false;
  UChar canonical[128];
  UBool system = false;
  UErrorCode status = U_ZERO_ERROR;
  ucal_getCanonicalTimeZoneID(name->data(), static_cast<int32_t>(name->size()), canonical, 128,
                              &system, &status);
  return U_SUCCESS(status) && system;
}

/// A Gregorian calendar in the schedule's zone (checked by `schedule_problem`).
calendar calendar_of(const quiet_schedule& s) {
  auto name = zone_name(s.tz).value_or(u"UTC");
  UErrorCode status = U_ZERO_ERROR;
  calendar cal{ucal_open(name.data(), static_cast<int32_t>(name.size()), "en_US_POSIX",
                         UCAL_GREGORIAN, &status)};
  if (U_FAILURE(status))
    cal.reset(ucal_open(u"UTC", 3, "en_US_POSIX", UCAL_GREGORIAN, &status));
  return cal;
}

int field(UCalendar* cal, UCalendarDateFields f) {
  UErrorCode status = U_ZERO_ERROR;
  return ucal_get(cal, f, &status);
}

bool starts_on(const quiet_schedule& s, int monday_based_day) {
  return (s.days >> monday_based_day) & 1u;
}

bool quiet_in(const quiet_schedule& s, UCalendar* cal, uint64_t utc_ms) {
  UErrorCode status = U_ZERO_ERROR;
  ucal_setMillis(cal, static_cast<UDate>(utc_ms), &status);
  int day = (field(cal, UCAL_DAY_OF_WEEK) + 5) % 7; // ICU: Sunday 1 ... Saturday 7
  int minute = field(cal, UCAL_HOUR_OF_DAY) * 60 + field(cal, UCAL_MINUTE);
  if (s.from_min < s.to_min)
    return starts_on(s, day) && minute >= s.from_min && minute < s.to_min;
  // Crosses midnight: tonight's period, or the end of last night's.
  return (starts_on(s, day) && minute >= s.from_min) ||
         (starts_on(s, (day + 6) % 7) && minute < s.to_min);
}

} // namespace

std::optional<std::string> schedule_problem(const quiet_schedule& s) {
  if (s.days == 0 || s.days > 0x7f)
    return "quiet hours need at least one day";
  if (s.from_min >= 24 * 60 || s.to_min >= 24 * 60)
    return "a time of day is HH:MM, 00:00 to 23:59";
  if (s.from_min == s.to_min)
    return "quiet hours must start and end at different times";
  if (!known_zone(s.tz))
    return "unknown time zone '" + s.tz + "' (a tz database name such as Europe/Berlin)";
  return std::nullopt;
}

bool quiet_at(const quiet_schedule& s, uint64_t utc_ms) {
  auto cal = calendar_of(s);
  return quiet_in(s, cal.get(), utc_ms);
}

uint64_t next_quiet_change(const quiet_schedule& s, uint64_t utc_ms) {
  auto cal = calendar_of(s);
  bool now = quiet_in(s, cal.get(), utc_ms);
  int year = field(cal.get(), UCAL_YEAR);
  int month = field(cal.get(), UCAL_MONTH);
  int date = field(cal.get(), UCAL_DATE);
  // Every start and end on the wall clock from today to a week on (the calendar is
  // lenient: day 32 is the next month's first, and a time in a DST gap moves past it).
  std::vector<uint64_t> bounds;
  for (int day = 0; day <= 8; ++day)
    for (auto minute : {s.from_min, s.to_min}) {
      UErrorCode status = U_ZERO_ERROR;
      ucal_setDateTime(cal.get(), year, month, date + day, minute / 60, minute % 60, 0, &status);
      ucal_set(cal.get(), UCAL_MILLISECOND, 0);
      auto at = ucal_getMillis(cal.get(), &status);
      if (U_SUCCESS(status) && at > static_cast<UDate>(utc_ms))
        bounds.push_back(static_cast<uint64_t>(at));
    }
  std::sort(bounds.begin(), bounds.end());
  for (auto at : bounds)
    if (quiet_in(s, cal.get(), at) != now)
      return at;
  return utc_ms + 7 * 24 * 3600 * 1000ull; // no change in a week: look again then
}

} // namespace kinbox
