// The quiet-hours mode of kinbox-bench (`--suite quiet`): children online in their quiet
// hours, each with messages from its parent waiting, while two unrelated accounts talk at
// a steady rate; then every child's period ends at the same minute. Figures: how long the
// release takes, and the unrelated conversation's latency before and during it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kinbox::bench {

struct quiet_release_figures {
  size_t children = 0;
  uint64_t waiting = 0;     ///< messages waiting for the children when the period ends
  double release_s = 0;     ///< from the period's end to the last waiting message's push
  double release_cores = 0; ///< the servers' CPU during the release, in cores
  uint64_t lost = 0;        ///< waiting messages that never came
  double rate = 0;          ///< the unrelated conversation's messages/s
  double before_p50_ms = 0, before_p99_ms = 0; ///< its send-to-push latency, 5 s before the end
  double during_p50_ms = 0, during_p99_ms = 0; ///< ... during the release (at least 2 s)
  uint64_t conversation_lost = 0;
};

/// Runs the quiet mode on (`host`, `port`): `children` children (ten to a parent), each
/// with `per_child` messages waiting, and a conversation of `rate` messages/s; the server
/// CPU is that of `pids`.
quiet_release_figures kinbox_quiet_release(const std::string& host, uint16_t port,
                                           const std::string& work_dir, size_t children,
                                           size_t per_child, double rate,
                                           const std::vector<pid_t>& pids);

} // namespace kinbox::bench
