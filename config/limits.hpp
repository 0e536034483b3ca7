// The gateway's abuse limits as configured: rates with their bursts, and counts. The
// gateway enforces them (gateway/limits.hpp); the defaults are far above what an app does.
#pragma once

#include <cstddef>

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
  size_t connections_per_address = 1024;
  size_t connections_total = 100'000;
  size_t unauthenticated_per_address = 128;
};

} // namespace kinbox
