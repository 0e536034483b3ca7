// A log-linear latency histogram (in the spirit of HdrHistogram): 64 linear sub-buckets
// per power of two, so any recorded value is reported within ~1.6%, with fixed memory
// and O(1) recording. Not thread-safe: one per thread, merged at the end.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace kinbox::bench {

class histogram {
public:
  void record(uint64_t value_ns);
  void merge(const histogram& other);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  /// The value at percentile `p` (0 < p <= 100), 0 when empty.
  uint64_t percentile(double p) const;

private:
  static constexpr int sub_bits = 6;
  static constexpr size_t bucket_count = 64 * 64;
  static size_t index_of(uint64_t v);
  static uint64_t value_of(size_t index);

  std::array<uint64_t, bucket_count> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

} // namespace kinbox::bench
