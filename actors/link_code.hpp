// A link code a parent made for its child's app: one at a time, single use, short-lived.
// A plain class: what a try of a secret means is decided here, the actor only acts on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kinbox {

class link_code {
public:
  /// Secrets have up to 10 decimal digits and are never 0.
  static constexpr uint64_t secret_span = 10'000'000'000ull;
  /// Wrong secrets against one code after which its parent is told.
  static constexpr uint32_t attack_tries = 5;

  /// A code of secret `random` (any 64 bits; brought into range) valid for `ttl` from
  /// `now_ms`, carrying the hash of the PIN the parent gave.
  link_code(uint64_t random, uint64_t now_ms, std::chrono::milliseconds ttl, std::string pin_hash);

  uint64_t secret() const { return secret_; }
  uint64_t expires_ms() const { return expires_ms_; }
  bool expired(uint64_t now_ms) const { return expires_ms_ <= now_ms; }
  /// The PIN hash the child's family keeps once the code is redeemed.
  const std::string& pin_hash() const { return pin_hash_; }

  enum class outcome : uint8_t {
    right,    ///< the code is used: forget it
    expired,  ///< forget it
    wrong,    ///< refused; the code stays (a stranger could void any parent's code else)
    attacked, ///< refused, and this was the `attack_tries`-th wrong one: tell the parent
  };
  /// Tries `secret` at `now_ms` (compared in constant time); counts wrong ones.
  outcome attempt(uint64_t secret, uint64_t now_ms);

private:
  uint64_t secret_ = 0;
  uint64_t expires_ms_ = 0;
  uint32_t wrong_tries_ = 0;
  std::string pin_hash_;
};

} // namespace kinbox
