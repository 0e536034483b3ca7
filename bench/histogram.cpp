#include "bench/histogram.hpp"

#include <bit>
#include <cmath>

namespace kinbox::bench {

size_t histogram::index_of(uint64_t v) {
  if (v < (1u << sub_bits))
    return static_cast<size_t>(v);
  auto msb = 63 - std::countl_zero(v); // >= sub_bits
  auto sub = (v >> (msb - sub_bits)) & ((1u << sub_bits) - 1);
  auto index = static_cast<size_t>(msb - sub_bits + 1) * (1u << sub_bits) + sub;
  return index < bucket_count ? index : bucket_count - 1;
}

uint64_t histogram::value_of(size_t index) {
  if (index < (1u << sub_bits))
    return index;
  auto msb = index / (1u << sub_bits) + sub_bits - 1;
  auto sub = index % (1u << sub_bits);
  return ((uint64_t{1} << sub_bits) | sub) << (msb - sub_bits);
}

void histogram::record(uint64_t value_ns) {
  ++buckets_[index_of(value_ns)];
  ++count_;
  if (value_ns > max_)
    max_ = value_ns;
}

void histogram::merge(const histogram& other) {
  for (size_t i = 0; i < bucket_count; ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  if (other.max_ > max_)
    max_ = other.max_;
}

uint64_t histogram::percentile(double p) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank)
      return std::min(value_of(i), max_);
  }
  return max_;
}

} // namespace kinbox::bench
