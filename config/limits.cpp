#include "config/limits.hpp"

#include <algorithm>
#include <cmath>

namespace kinbox {

std::optional<uint32_t> stored_bucket::take(const rate_limit& limit, uint64_t now_ms) {
  if (limit.per_second <= 0)
    return std::nullopt;
  double now_tokens = tokens < 0 ? limit.burst : tokens;
  if (now_ms > at_ms)
    now_tokens = std::min(limit.burst,
                          now_tokens + limit.per_second * static_cast<double>(now_ms - at_ms) / 1000);
  at_ms = std::max(at_ms, now_ms);
  if (now_tokens < 1) {
    tokens = now_tokens;
    return static_cast<uint32_t>(std::ceil((1 - now_tokens) / limit.per_second * 1000));
  }
  tokens = now_tokens - 1;
  return std::nullopt;
}

} // namespace kinbox
