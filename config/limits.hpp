// The gateway's abuse limits as configured: rates with their bursts, and counts. The
// gateway enforces them (gateway/limits.hpp); the defaults are far above what an app does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace kinbox {

/// A rate and the burst allowed above it.
struct rate_limit {
  double per_second = 0; ///< tokens added per second; 0: no limit
  double burst = 0;      ///< most tokens the bucket holds
};

struct gateway_limit_config {
  rate_limit requests_per_connection{1000, 10000};
  rate_limit requests_per_account{1000, 10000};
  rate_limit registrations_per_address{30.0 / 3600, 30};
  rate_limit registrations_per_node{20, 100};
  rate_limit handshakes_per_address{50, 200};
  /// Link codes redeemed and setup codes tried from one address (right or wrong).
  rate_limit code_guesses_per_address{30.0 / 3600, 30};
  size_t connections_per_address = 1024;
  size_t connections_total = 100'000;
  size_t unauthenticated_per_address = 128;
};

/// Limits on friend requests and reports, kept per account in its contact list (they
/// survive logins, restarts and moves). Each refusal has its own error code.
struct friend_limit_config {
  rate_limit requests{20.0 / 3600, 20}; ///< new requests: 20 an hour, bursts of 20
  uint64_t request_ttl_ms = 7ull * 24 * 3600 * 1000; ///< a pending request expires after it
  uint64_t cooldown_ms = 7ull * 24 * 3600 * 1000;    ///< after a decline or expiry, per account
  rate_limit reports{20.0 / 86400, 10}; ///< reports filed: 20 a day, bursts of 10
};

/// A token bucket kept in a stored record, on the wall clock (ms): it survives restarts and
/// moves with the record that holds it.
struct stored_bucket {
  double tokens = -1; ///< < 0: full
  uint64_t at_ms = 0;
  /// Takes a token; when none is left, the ms until one is.
  std::optional<uint32_t> take(const rate_limit& limit, uint64_t now_ms);
};

/// Who may hold which kind of account, by age on the day of the request. The server cannot
/// prove a birth date (docs/security.md): these rules keep honest mistakes and casual lies
/// out, and an operator's verification adds to them.
struct age_rules {
  unsigned parent_min_age = 18; ///< a parent account needs a birth date this many years back
  unsigned child_max_age = 13;  ///< a child account is for a child younger than this
};

} // namespace kinbox
