// Bodies of the quiet-hours frames (docs/protocol.md, "Quiet hours"): a linked parent's
// sleep schedule for its child, in the child's time zone.
#pragma once

#include <optional>
#include <string>

#include "protocol/messages.hpp"

namespace kinbox {

/// Longest time zone name the wire carries (tz database names are shorter).
constexpr size_t max_zone_name = 64;

/// When a child's sessions rest: from `from_min` to `to_min` (minutes after local midnight
/// in zone `tz`), starting on the days of `days`. A period whose end is not after its
/// start crosses midnight: it ends the next day.
struct quiet_schedule {
  uint8_t days = 0x7f;   ///< bit 0 Monday ... bit 6 Sunday: the days a period starts
  uint16_t from_min = 0; ///< 0..1439
  uint16_t to_min = 0;   ///< 0..1439, not equal to from_min
  std::string tz;        ///< a tz database name, "Europe/Berlin"

  friend bool operator==(const quiet_schedule&, const quiet_schedule&) = default;
};

/// Body of `quiet_set`: the child's schedule, or none to turn quiet hours off.
struct quiet_set_request {
  account_id child = 0;
  std::optional<quiet_schedule> schedule;
};

/// Body of `quiet_result`: the schedule (none when off), whether the child rests now, and
/// when that changes next (ms since the epoch; 0 without a schedule).
struct quiet_reply {
  std::optional<quiet_schedule> schedule;
  bool asleep = false;
  uint64_t next_change_ms = 0;
};

void write_body(bytes& out, const quiet_set_request& x);
void write_body(bytes& out, const quiet_reply& x);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::quiet_set_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::quiet_reply)

namespace kinbox {

/// "21:30" as minutes after midnight; nullopt unless HH:MM with HH < 24 and MM < 60.
std::optional<uint16_t> parse_clock(std::string_view text);
std::string format_clock(uint16_t minutes);

/// "mon,tue,sat" or ranges "mon-fri" (or "fri-mon", past Sunday) as a `days` set;
/// nullopt for anything else.
std::optional<uint8_t> parse_days(std::string_view text);
/// The days of a set as "mon,tue,sat".
std::string format_days(uint8_t days);

} // namespace kinbox
