// Reports and bans as the cluster keeps them (JSON): a report in the reports stream (the
// reporter's user actor files it, kinbox-admin reads and resolves it), a ban in the bans
// bucket (kinbox-admin writes it, the gateways read it at login and registration). Both
// hold ids, a category and times only: never a message, a name or a location.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "protocol/messages.hpp"

namespace kinbox {

struct report_record {
  account_id reporter = 0;
  account_id reported = 0;
  report_category category = report_category::other;
  uint64_t at_ms = 0;
  account_role reporter_role = account_role::parent;
  account_id reporter_parent = 0; ///< the reporter's linked parent (a child), or 0
};

bytes encode_report(const report_record& r);
std::optional<report_record> decode_report(std::span<const uint8_t> data);

/// An operator's answer to a report (on the resolutions subject of the same stream).
struct report_resolution {
  uint64_t report = 0; ///< the report's sequence in the stream
  uint64_t at_ms = 0;
  std::string action;  ///< "dismissed" or "banned"
};

bytes encode_resolution(const report_resolution& r);
std::optional<report_resolution> decode_resolution(std::span<const uint8_t> data);

/// What stops a banned account from coming back: its id and, under a second key, its
/// signing key's hash (a new registration with the same keys).
struct ban_record {
  account_id account = 0;
  uint64_t at_ms = 0;
  report_category reason = report_category::other;
};

bytes encode_ban(const ban_record& b);
std::optional<ban_record> decode_ban(std::span<const uint8_t> data);

} // namespace kinbox
