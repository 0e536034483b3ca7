// A child's quiet hours as plain functions of a schedule and an instant: whether the child
// rests, and when that changes next. Local times come from ICU's calendar with the tz
// database, so a period that crosses midnight, a change of zone and daylight saving all
// follow the child's wall clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "protocol/quiet.hpp"

namespace kinbox {

/// Why `s` cannot be a schedule (no day, a time out of range, a period of no length, a
/// zone the tz database does not know), or nullopt.
std::optional<std::string> schedule_problem(const quiet_schedule& s);

/// Whether the child rests at `utc_ms` (the schedule must be valid).
bool quiet_at(const quiet_schedule& s, uint64_t utc_ms);

/// The first instant after `utc_ms` at which `quiet_at` changes: the start or end of a
/// period on the child's wall clock.
uint64_t next_quiet_change(const quiet_schedule& s, uint64_t utc_ms);

} // namespace kinbox
