#include "bench/payload.hpp"

#include <chrono>
#include <cstring>

namespace kinbox::bench {

namespace {

constexpr uint32_t magic = 0x6b62656e; // "kben"

} // namespace

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::vector<uint8_t> make_payload(const stamp& s) {
  std::vector<uint8_t> out(payload_size, 0x2e);
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 4, &s.pair, 4);
  std::memcpy(out.data() + 8, &s.seq, 8);
  std::memcpy(out.data() + 16, &s.due_ns, 8);
  return out;
}

std::optional<stamp> read_payload(std::span<const uint8_t> data) {
  uint32_t m = 0;
  if (data.size() != payload_size)
    return std::nullopt;
  std::memcpy(&m, data.data(), 4);
  if (m != magic)
    return std::nullopt;
  stamp s;
  std::memcpy(&s.pair, data.data() + 4, 4);
  std::memcpy(&s.seq, data.data() + 8, 8);
  std::memcpy(&s.due_ns, data.data() + 16, 8);
  return s;
}

bool sequence_tracker::record(uint64_t seq) {
  if (seq >= seen_.size())
    seen_.resize(std::max<size_t>(seq + 1, seen_.size() * 2), false);
  if (seen_[seq]) {
    ++duplicates_;
    return false;
  }
  seen_[seq] = true;
  ++unique_;
  if (any_ && seq < highest_)
    ++out_of_order_;
  if (!any_ || seq > highest_)
    highest_ = seq;
  any_ = true;
  return true;
}

} // namespace kinbox::bench
