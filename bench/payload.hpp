// The benchmark's message: 200 bytes carrying the pair, a sequence number and the time the
// message was due to be sent, and per-pair bookkeeping of loss, duplicates and order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace kinbox::bench {

constexpr size_t payload_size = 200;

struct stamp {
  uint32_t pair = 0;
  uint64_t seq = 0;
  uint64_t due_ns = 0; ///< steady-clock time the message was scheduled to be sent
};

std::vector<uint8_t> make_payload(const stamp& s);
std::optional<stamp> read_payload(std::span<const uint8_t> data);

uint64_t now_ns();

/// What one receiver saw of its pair's sequence.
class sequence_tracker {
public:
  /// Records `seq`; false if it is a duplicate.
  bool record(uint64_t seq);
  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t out_of_order() const { return out_of_order_; }

private:
  std::vector<bool> seen_;
  uint64_t unique_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t out_of_order_ = 0;
  uint64_t highest_ = 0;
  bool any_ = false;
};

} // namespace kinbox::bench
