// Runs one workload against one system: closed loop (a window of W messages in flight
// per pair, for maximum throughput) or open loop (a fixed total rate; latency counted
// from each message's scheduled send time, so a stalled system cannot hide its queueing:
// no coordinated omission). Counts loss, duplicates and per-pair order, and the server
// process's CPU time.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "bench/histogram.hpp"
#include "bench/systems.hpp"

namespace kinbox::bench {

/// closed: a window in flight per pair; open: a fixed rate (by default half of the
/// system's closed-loop throughput); sweep: open loop at each of a list of rates that
/// every system runs alike (latency against load); timeline: open loop at one rate while
/// timed events happen (a node joins, one drains), delivered messages counted per second.
enum class load_mode { closed, open, sweep, timeline };

/// "closed", "open", "sweep" or "timeline".
const char* mode_name(load_mode m);

/// A shell command run (in the background) this many seconds into a timeline run.
struct timed_event {
  double at_seconds = 0;
  std::string label;
  std::string command;
};

struct run_config {
  load_mode mode = load_mode::closed;
  size_t pairs = 8;
  uint64_t messages = 100000; ///< in total, over all pairs
  size_t window = 64;         ///< closed loop: in flight per pair
  double rate = 10000;        ///< open loop and sweep: messages per second in total
  std::chrono::seconds drain_timeout{10};
  std::vector<timed_event> events; ///< timeline mode
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
  uint64_t resent = 0; ///< refused for a moment and sent again by the sender (same id)
  double seconds = 0;
  double throughput = 0; ///< delivered per second
  histogram latency;
  double server_cpu_seconds = 0; ///< of all the system's server processes
  double cpu_seconds_per_million = 0;
  double server_cores = 0;          ///< server CPU seconds per second: 1.0 is one core busy
  std::vector<uint64_t> per_second; ///< delivered in each second of the run
  std::vector<timed_event> events;  ///< what happened during a timeline run
};

/// A server CPU share from which a throughput ratio compares servers (not load
/// generators): both sides busy at least this much of their (one) core.
constexpr double server_bound_share = 0.9;

/// CPU seconds (user + system) a process has used so far; 0 if it cannot be read.
double process_cpu_seconds(pid_t pid);

/// Resident memory of a process in bytes; 0 if it cannot be read.
uint64_t process_rss_bytes(pid_t pid);

/// Bytes the process has caused to be written to storage (/proc/PID/io write_bytes).
uint64_t process_disk_writes(pid_t pid);

using progress_fn = std::function<void(const std::string&)>;

/// Runs `cfg` against `sys`; the CPU of `server_pids` (all of the system's server
/// processes) is counted.
run_result run_workload(system_under_test& sys, const run_config& cfg,
                        const std::vector<pid_t>& server_pids, const progress_fn& progress);

/// Seconds from an event until delivery is back within 10% of the offered rate for three
/// seconds in a row; -1 if it never is.
double recovery_seconds(const run_result& r, const timed_event& e);

/// The fewest messages delivered in any whole second at or after `from_seconds`.
uint64_t worst_second(const run_result& r, double from_seconds = 0);

} // namespace kinbox::bench
