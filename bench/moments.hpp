// The Moments mode of kinbox-bench (`--suite moments`): a poster posts to N friends, half
// of them online, on one node or with the poster and its friends on two nodes. Figures:
// server CPU per post and per delivered copy, beside group mail to the same accounts (a
// group of the poster and its friends) in the same run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kinbox::bench {

struct moment_run_figures {
  std::string where;  ///< "one node" or "across nodes"
  size_t friends = 0; ///< the poster's friends, each given a copy
  size_t online = 0;  ///< friends with a session, reading
  uint64_t posts = 0;
  double post_rate = 0;             ///< posts/s, one poster, closed loop
  double cpu_per_post_us = 0;       ///< server CPU per post
  double cpu_per_copy_us = 0;       ///< ... per copy handed to a friend
  double group_cpu_per_copy_us = 0; ///< a group message to the same friends, per copy
  uint64_t lost = 0;                ///< copies an online friend never got
};

/// Runs the Moments mode: the poster on (`p_host`, `p_port`), its `friends` friends on
/// (`f_host`, `f_port`), `posts` posts and as many group messages; the server CPU is that
/// of `pids`.
moment_run_figures kinbox_moments(const std::string& p_host, uint16_t p_port,
                                  const std::string& f_host, uint16_t f_port,
                                  const std::string& work_dir, size_t friends, uint64_t posts,
                                  const std::vector<pid_t>& pids, const std::string& where);

} // namespace kinbox::bench
