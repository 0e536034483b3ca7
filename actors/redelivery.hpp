// When mail pushed to the attached session is checked for its ack, as a plain class: one
// check at a time, after a wait that doubles (up to 32 times) while checks find mail
// pushed again or no ack, and starts over with an ack or a new session.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace kinbox {

class redelivery {
public:
  /// Most doublings of the wait.
  static constexpr uint8_t max_backoff = 5;

  explicit redelivery(std::chrono::milliseconds base) : base_(base) {}

  /// Starts a check unless one is on its way: the wait until it, else nullopt.
  std::optional<std::chrono::milliseconds> arm() {
    if (armed_)
      return std::nullopt;
    armed_ = true;
    acks_at_check_ = acks_;
    return base_ * (1u << backoff_);
  }
  /// The check is due (its timer fired).
  void due() { armed_ = false; }
  /// The session acked: the wait starts over.
  void acked() {
    ++acks_;
    backoff_ = 0;
  }
  /// A new session attached: the wait starts over.
  void attached() { backoff_ = 0; }
  /// Whether an ack came since the check was armed.
  bool progress() const { return acks_ != acks_at_check_; }
  /// The check pushed mail again or found no ack: the next waits twice as long.
  void back_off() {
    if (backoff_ < max_backoff)
      ++backoff_;
  }
  std::chrono::milliseconds base() const { return base_; }

private:
  std::chrono::milliseconds base_;
  bool armed_ = false;
  uint64_t acks_ = 0;
  uint64_t acks_at_check_ = 0;
  uint8_t backoff_ = 0;
};

} // namespace kinbox
