// Runs one workload against one system: closed loop (a window of W messages in flight
// per pair, for maximum throughput) or open loop (a fixed total rate; latency counted
// from each message's scheduled send time, so a stalled system cannot hide its queueing:
// no coordinated omission). Counts loss, duplicates and per-pair order, and the server
// process's CPU time.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "bench/histogram.hpp"
#include "bench/systems.hpp"

namespace kinbox::bench {

/// closed: a window in flight per pair; open: a fixed rate (by default half of the
/// system's closed-loop throughput); sweep: open loop at each of a list of rates that
/// every system runs alike (latency against load).
enum class load_mode { closed, open, sweep };

/// "closed", "open" or "sweep".
const char* mode_name(load_mode m);

struct run_config {
  load_mode mode = load_mode::closed;
  size_t pairs = 8;
  uint64_t messages = 100000; ///< in total, over all pairs
  size_t window = 64;         ///< closed loop: in flight per pair
  double rate = 10000;        ///< open loop and sweep: messages per second in total
  std::chrono::seconds drain_timeout{10};
};

struct run_result {
  std::string system;
  load_mode mode = load_mode::closed;
  double target_rate = 0;
  uint64_t sent = 0;
  uint64_t delivered = 0; ///< unique messages received
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  double seconds = 0;
  double throughput = 0; ///< delivered per second
  histogram latency;
  double server_cpu_seconds = 0;
  double cpu_seconds_per_million = 0;
};

/// CPU seconds (user + system) a process has used so far; 0 if it cannot be read.
double process_cpu_seconds(pid_t pid);

/// Resident memory of a process in bytes; 0 if it cannot be read.
uint64_t process_rss_bytes(pid_t pid);

using progress_fn = std::function<void(const std::string&)>;

run_result run_workload(system_under_test& sys, const run_config& cfg, pid_t server_pid,
                        const progress_fn& progress);

} // namespace kinbox::bench
