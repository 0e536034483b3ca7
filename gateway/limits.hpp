// Abuse limits of a node's gateway: token buckets per connection, per account, per
// source address and across the node, and counts of open connections. Every session of
// the node shares one `gateway_limits` (sessions run on the one I/O thread, but the
// object locks anyway: it must not depend on where CAF runs a broker).
//
// A limit that is met answers with how long to wait: the client hears `rate_limited`
// with that retry-after, or, for connection limits, is closed after an error frame.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "config/limits.hpp"
#include "protocol/types.hpp"

namespace kinbox {

using limit_clock = std::chrono::steady_clock;

/// A token bucket; starts full.
class token_bucket {
public:
  /// Takes one token; when none is left, how long until one is.
  std::optional<std::chrono::milliseconds> take(const rate_limit& limit, limit_clock::time_point now);

  /// Whether the bucket is full at `now` (it may be forgotten).
  bool full(const rate_limit& limit, limit_clock::time_point now) const;

private:
  double tokens_ = -1; ///< -1: not used yet (full)
  limit_clock::time_point last_{};
};

/// What the connection limits said when a connection opened.
enum class admission { admitted, too_many_total, too_many_from_address, too_many_unauthenticated };

class gateway_limits {
public:
  explicit gateway_limits(gateway_limit_config config) : config_(config) {}

  const gateway_limit_config& config() const { return config_; }

  /// A connection from `address` opened; it counts as not logged in until `logged_in`.
  /// When refused, nothing is counted.
  admission open(const std::string& address);
  /// The connection logged in.
  void logged_in(const std::string& address);
  /// The connection closed (`logged_in` says whether it had).
  void closed(const std::string& address, bool was_logged_in);

  std::optional<std::chrono::milliseconds> handshake(const std::string& address);
  std::optional<std::chrono::milliseconds> registration(const std::string& address);
  /// A link or setup code tried from `address`, right or wrong.
  std::optional<std::chrono::milliseconds> code_guess(const std::string& address);

  /// The request bucket of `account` while one of its sessions is logged in here; given
  /// back when it closes, so that logging in again does not refill it.
  token_bucket take_account_bucket(account_id account);
  void return_account_bucket(account_id account, token_bucket bucket);

private:
  struct per_address {
    size_t connections = 0;
    size_t unauthenticated = 0;
    token_bucket handshakes;
    token_bucket registrations;
    token_bucket code_guesses;
  };

  per_address& of(const std::string& address);
  void forget_idle(limit_clock::time_point now);

  gateway_limit_config config_;
  std::mutex mutex_;
  size_t connections_ = 0;
  token_bucket node_registrations_;
  std::unordered_map<std::string, per_address> addresses_;
  std::unordered_map<account_id, token_bucket> accounts_;
  limit_clock::time_point last_sweep_{};
};

} // namespace kinbox
