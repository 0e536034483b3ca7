// The group mode of kinbox-bench (`--suite group`): one sender writes to a group of N
// members, half of them online, on one node or with the sender and the members on two
// nodes. Figures: server CPU per group message and per delivered copy beside sending
// the same copies 1:1 in the same run, the bytes the sender uploads either way, and the
// time from a send to the last online member's push at half the closed-loop rate.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kinbox::bench {

struct group_run_figures {
  std::string where;  ///< "one node" or "across nodes"
  size_t members = 0; ///< the group's size, the sender included
  size_t online = 0;  ///< members with a session, reading
  uint64_t messages = 0;
  double closed_rate = 0;                ///< group messages/s, one sender, closed loop
  double cpu_per_message_us = 0;         ///< server CPU per group message (closed loop)
  double cpu_per_copy_us = 0;            ///< ... per copy handed to a member
  double one_to_one_cpu_per_copy_us = 0; ///< the same copies sent 1:1 (a send per member)
  double upload_bytes_group = 0;         ///< what the sender uploads per group message (of the
                                         ///< bench's payload size, as the other modes send)
  double upload_bytes_one_to_one = 0;    ///< ... sending it 1:1 to each member
  double upload_bytes_group_4k = 0;      ///< the same for a message of 4 KiB
  double upload_bytes_one_to_one_4k = 0;
  double open_rate = 0;          ///< the open loop's rate: half of `closed_rate`
  double p50_ms = 0, p99_ms = 0; ///< send to the last online member's push
  uint64_t late_or_lost = 0;     ///< open-loop messages some online member never got
};

/// Runs the group mode for each size in `sizes`: the sender on (`s_host`, `s_port`), the
/// members on (`m_host`, `m_port`); the server CPU is that of `pids`.
std::vector<group_run_figures>
kinbox_groups(const std::string& s_host, uint16_t s_port, const std::string& m_host,
              uint16_t m_port, const std::string& work_dir, const std::vector<size_t>& sizes,
              uint64_t messages, const std::vector<pid_t>& pids, const std::string& where);

} // namespace kinbox::bench
