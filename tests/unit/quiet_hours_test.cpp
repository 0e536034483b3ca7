#define CAF_SUITE quiet_hours
#include <caf/test/unit_test_impl.hpp>

#include <chrono>

#include "actors/quiet_hours.hpp"

using namespace kinbox;

namespace {

/// Milliseconds since the epoch of a UTC wall-clock time.
uint64_t utc(int y, unsigned m, unsigned d, unsigned h, unsigned min) {
  using namespace std::chrono;
  auto date = sys_days{year{y} / month{m} / std::chrono::day{d}};
  return static_cast<uint64_t>(duration_cast<milliseconds>((date + hours{h} + minutes{min})
                                                               .time_since_epoch())
                                   .count());
}

quiet_schedule nights(const std::string& tz, uint8_t days = 0x7f) {
  return quiet_schedule{days, 21 * 60, 7 * 60, tz};
}

} // namespace

CAF_TEST(clock times and day sets read and print as the CLI writes them) {
  CAF_CHECK_EQUAL(parse_clock("21:30"), std::optional<uint16_t>{21 * 60 + 30});
  CAF_CHECK_EQUAL(parse_clock("00:00"), std::optional<uint16_t>{0});
  for (auto bad : {"24:00", "7:00", "07:60", "0700", "07:0a", ""})
    CAF_CHECK(!parse_clock(bad));
  CAF_CHECK_EQUAL(format_clock(7 * 60 + 5), "07:05");
  CAF_CHECK_EQUAL(parse_days("mon-fri"), std::optional<uint8_t>{0x1f});
  CAF_CHECK_EQUAL(parse_days("sat,sun"), std::optional<uint8_t>{0x60});
  CAF_CHECK_EQUAL(parse_days("mon,wed-thu"), std::optional<uint8_t>{0x0d});
  CAF_CHECK_EQUAL(parse_days("fri-mon"), std::optional<uint8_t>{0x71});
  for (auto bad : {"", "mon,", "mon-", "monday", "mon,,tue"})
    CAF_CHECK(!parse_days(bad));
  CAF_CHECK_EQUAL(format_days(0x1f), "mon,tue,wed,thu,fri");
}

CAF_TEST(a schedule needs a day a length and a zone of the tz database) {
  CAF_CHECK(!schedule_problem(nights("Europe/Berlin")));
  CAF_CHECK(!schedule_problem(nights("UTC")));
  CAF_CHECK(schedule_problem(nights("Mars/Olympus")));
  CAF_CHECK(schedule_problem(nights("")));
  CAF_CHECK(schedule_problem(nights("Europe/Berlin", 0)));
  auto s = nights("UTC");
  s.to_min = s.from_min;
  CAF_CHECK(schedule_problem(s));
  s.to_min = 24 * 60;
  CAF_CHECK(schedule_problem(s));
}

CAF_TEST(a period that crosses midnight ends the next morning on the child wall clock) {
  auto s = nights("Europe/Berlin"); // UTC+1 in December
  // Monday 2026-12-07: 20:59 and 21:00 Berlin time are 19:59 and 20:00 UTC.
  CAF_CHECK(!quiet_at(s, utc(2026, 12, 7, 19, 59)));
  CAF_CHECK(quiet_at(s, utc(2026, 12, 7, 20, 0)));
  CAF_CHECK(quiet_at(s, utc(2026, 12, 7, 23, 30))); // 00:30 Tuesday in Berlin
  CAF_CHECK(quiet_at(s, utc(2026, 12, 8, 5, 59)));  // 06:59
  CAF_CHECK(!quiet_at(s, utc(2026, 12, 8, 6, 0)));  // 07:00
  CAF_CHECK_EQUAL(next_quiet_change(s, utc(2026, 12, 7, 12, 0)), utc(2026, 12, 7, 20, 0));
  CAF_CHECK_EQUAL(next_quiet_change(s, utc(2026, 12, 7, 20, 0)), utc(2026, 12, 8, 6, 0));
}

CAF_TEST(the days name when a period starts) {
  auto s = nights("UTC", *parse_days("mon-fri"));
  CAF_CHECK(quiet_at(s, utc(2026, 12, 11, 22, 0)));  // Friday night
  CAF_CHECK(quiet_at(s, utc(2026, 12, 12, 6, 0)));   // its end, Saturday morning
  CAF_CHECK(!quiet_at(s, utc(2026, 12, 12, 22, 0))); // no period starts on Saturday
  CAF_CHECK(!quiet_at(s, utc(2026, 12, 13, 6, 0)));
  CAF_CHECK(!quiet_at(s, utc(2026, 12, 13, 22, 0))); // nor on Sunday
  CAF_CHECK(quiet_at(s, utc(2026, 12, 14, 22, 0)));  // Monday night
  // From Friday's end the next start is Monday's.
  CAF_CHECK_EQUAL(next_quiet_change(s, utc(2026, 12, 12, 7, 0)), utc(2026, 12, 14, 21, 0));
}

CAF_TEST(a change of zone and daylight saving follow the wall clock) {
  quiet_schedule s{0x7f, 1 * 60 + 30, 6 * 60, "Europe/Berlin"};
  // 2026-03-29: Berlin moves from UTC+1 to UTC+2 at 02:00 local. 01:30 is 00:30 UTC, 06:00
  // is 04:00 UTC.
  CAF_CHECK_EQUAL(next_quiet_change(s, utc(2026, 3, 28, 12, 0)), utc(2026, 3, 29, 0, 30));
  CAF_CHECK_EQUAL(next_quiet_change(s, utc(2026, 3, 29, 0, 30)), utc(2026, 3, 29, 4, 0));
  auto tokyo = s;
  tokyo.tz = "Asia/Tokyo"; // UTC+9: the same schedule rests at another instant
  CAF_CHECK(quiet_at(tokyo, utc(2026, 12, 7, 17, 0))); // 02:00 in Tokyo
  CAF_CHECK(!quiet_at(s, utc(2026, 12, 7, 17, 0)));    // 18:00 in Berlin
}
