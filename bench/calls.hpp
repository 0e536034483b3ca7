// The call mode of kinbox-bench (`--suite calls`): a caller rings a friend who answers at
// once, call after call, on one node or with the two on two nodes. Figures: the time from
// the offer to the callee's push, and from the answer to the caller's push, p50 and p99,
// beside the time from a 1:1 message's send to its push in the same run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kinbox::bench {

struct call_run_figures {
  std::string where; ///< "one node" or "across nodes"
  uint64_t calls = 0;
  double offer_p50_ms = 0, offer_p99_ms = 0;     ///< offer sent to the callee's push
  double answer_p50_ms = 0, answer_p99_ms = 0;   ///< answer sent to the caller's push
  double message_p50_ms = 0, message_p99_ms = 0; ///< a 1:1 message sent to its push
  uint64_t lost = 0;                             ///< offers, answers or messages that never came
};

/// Runs the call mode: the caller on (`c_host`, `c_port`), the callee on (`m_host`,
/// `m_port`), `calls` calls and as many messages.
call_run_figures kinbox_calls(const std::string& c_host, uint16_t c_port, const std::string& m_host,
                              uint16_t m_port, const std::string& work_dir, uint64_t calls,
                              const std::string& where);

} // namespace kinbox::bench
