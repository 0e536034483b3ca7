#include "bench/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench/payload.hpp"

namespace kinbox::bench {

namespace {

using namespace std::chrono_literals;

/// Open-loop senders stop when this many messages of a pair are outstanding, or when they
/// are this far behind their schedule (a system whose client blocks while it falls
/// behind): past either the system is saturated and the latency figures already say so.
constexpr uint64_t open_loop_backlog_cap = 200000;
constexpr uint64_t open_loop_max_lag_ns = 5'000'000'000;

struct pair_state {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::atomic<bool> sender_done{false};
  sequence_tracker tracker;
  histogram latency;
};

/// Waits until `due` (steady clock, ns): sleeps while it is far, then yields. A sleep per
/// message would cost the load generator's core more than the wait at high rates.
void sleep_until_ns(uint64_t due) {
  for (;;) {
    auto now = now_ns();
    if (now >= due)
      return;
    auto left = due - now;
    if (left > 200'000)
      std::this_thread::sleep_for(std::chrono::nanoseconds(left - 100'000));
    else
      std::this_thread::yield();
  }
}

} // namespace

const char* mode_name(load_mode m) {
  switch (m) {
  case load_mode::closed:
    return "closed";
  case load_mode::open:
    return "open";
  case load_mode::sweep:
    return "sweep";
  case load_mode::timeline:
    return "timeline";
  }
  return "?";
}

double recovery_seconds(const run_result& r, const timed_event& e) {
  auto floor = static_cast<uint64_t>(0.9 * r.target_rate);
  auto first = static_cast<size_t>(e.at_seconds);
  for (size_t s = first; s + 3 <= r.per_second.size(); ++s)
    if (r.per_second[s] >= floor && r.per_second[s + 1] >= floor && r.per_second[s + 2] >= floor)
      return static_cast<double>(s) - e.at_seconds;
  return -1;
}

uint64_t worst_second(const run_result& r, double from_seconds) {
  uint64_t worst = UINT64_MAX;
  for (size_t s = static_cast<size_t>(from_seconds); s < r.per_second.size(); ++s)
    worst = std::min(worst, r.per_second[s]);
  return worst == UINT64_MAX ? 0 : worst;
}

namespace {

double cpu_of(const std::vector<pid_t>& pids) {
  double total = 0;
  for (auto pid : pids)
    total += process_cpu_seconds(pid);
  return total;
}

} // namespace

uint64_t process_disk_writes(pid_t pid) {
  if (pid <= 0)
    return 0;
  std::ifstream in{"/proc/" + std::to_string(pid) + "/io"};
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value)
    if (key == "write_bytes:")
      return value;
  return 0;
}

double process_cpu_seconds(pid_t pid) {
  if (pid <= 0)
    return 0;
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return 0;
  auto close = line.rfind(')');
  std::istringstream fields{line.substr(close + 2)};
  std::string skip;
  // Fields after the command: state(3) ... utime is field 14, stime 15 (1-based).
  for (int i = 3; i < 14; ++i)
    fields >> skip;
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

uint64_t process_rss_bytes(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      uint64_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

run_result run_workload(system_under_test& sys, const run_config& cfg,
                        const std::vector<pid_t>& server_pids, const progress_fn& progress) {
  std::vector<pair_links> links;
  for (size_t i = 0; i < cfg.pairs; ++i)
    links.push_back(sys.connect_pair(i));
  std::vector<pair_state> pairs(cfg.pairs);
  auto per_pair = cfg.messages / cfg.pairs;
  std::atomic<bool> broken{false};
  auto cpu_before = cpu_of(server_pids);
  auto start = now_ns();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cfg.pairs; ++i) {
    threads.emplace_back([&, i] { // receiver
      auto& st = pairs[i];
      auto& rx = *links[i].receiver;
      std::vector<payload_bytes> batch;
      auto idle_since = now_ns();
      while (st.received < per_pair) {
        batch.clear();
        if (!rx.receive(100ms, batch)) {
          broken = true;
          return;
        }
        auto now = now_ns();
        for (auto& p : batch) {
          auto s = read_payload(p);
          if (!s)
            continue;
          if (st.tracker.record(s->seq)) {
            st.latency.record(now > s->due_ns ? now - s->due_ns : 0);
            ++st.received;
          }
        }
        if (!batch.empty())
          idle_since = now;
        else if (st.sender_done &&
                 now - idle_since >
                     static_cast<uint64_t>(cfg.drain_timeout.count()) * 1'000'000'000)
          return; // the rest is lost
      }
    });
    threads.emplace_back([&, i] { // sender
      auto& st = pairs[i];
      auto& tx = *links[i].sender;
      auto interval = cfg.mode == load_mode::closed
                          ? 0
                          : static_cast<uint64_t>(1e9 * static_cast<double>(cfg.pairs) / cfg.rate);
      // Reads what came back (acceptances, receipts, which it acks) every 64 messages and
      // at least every 5 ms, also while it waits to send: an app reads as data arrives,
      // and receipts left unacked past the node's ack window would be written to its disk.
      constexpr uint64_t pump_interval_ns = 5'000'000;
      uint64_t last_pump = now_ns();
      auto read_back = [&] {
        tx.pump();
        last_pump = now_ns();
      };
      for (uint64_t seq = 0; seq < per_pair && !broken; ++seq) {
        uint64_t due = 0;
        if (cfg.mode == load_mode::closed) {
          while (st.sent - st.received >= cfg.window && !broken) {
            tx.pump();
            std::this_thread::sleep_for(20us);
          }
          due = now_ns();
        } else {
          due = start + seq * interval;
          while (last_pump + pump_interval_ns < due) {
            sleep_until_ns(last_pump + pump_interval_ns);
            read_back();
          }
          sleep_until_ns(due);
          if (st.sent - st.received > open_loop_backlog_cap ||
              now_ns() - due > open_loop_max_lag_ns)
            break;
        }
        // Another message follows at once: in closed loop while the window has room, in
        // open loop when the next one is due already (a late sender catches up in one
        // write, as an app with several messages queued would).
        bool more = seq + 1 < per_pair &&
                    (cfg.mode == load_mode::closed ? st.sent + 1 - st.received < cfg.window
                                                   : start + (seq + 1) * interval <= now_ns());
        if (!tx.send(make_payload(stamp{static_cast<uint32_t>(i), seq, due}), more)) {
          broken = true;
          break;
        }
        ++st.sent;
        if ((seq & 63) == 0 || now_ns() - last_pump > pump_interval_ns)
          read_back();
      }
      tx.finish();
      st.sender_done = true;
    });
  }
  std::atomic<bool> finished{false};
  std::vector<uint64_t> delivered_at; // delivered in all, at the end of each second
  std::vector<std::thread> event_threads;
  for (auto& e : cfg.events)
    event_threads.emplace_back([&, e] {
      sleep_until_ns(start + static_cast<uint64_t>(e.at_seconds * 1e9));
      progress("event at " + std::to_string(static_cast<int>(e.at_seconds)) + "s: " + e.label);
      if (std::system(e.command.c_str()) != 0)
        progress("event '" + e.label + "' failed");
    });
  std::thread reporter([&] {
    for (uint64_t second = 1; !finished; ++second) {
      sleep_until_ns(start + second * 1'000'000'000);
      uint64_t sent = 0, received = 0;
      for (auto& p : pairs) {
        sent += p.sent;
        received += p.received;
      }
      delivered_at.push_back(received);
      auto secs = static_cast<double>(now_ns() - start) / 1e9;
      char line[200];
      std::snprintf(line, sizeof(line), "%-10s %-6s %6.1fs sent %10lu delivered %10lu (%.0f/s)",
                    sys.name().c_str(), mode_name(cfg.mode), secs, static_cast<unsigned long>(sent),
                    static_cast<unsigned long>(received), static_cast<double>(received) / secs);
      if (!finished)
        progress(line);
    }
  });
  for (auto& t : threads)
    t.join();
  auto end = now_ns();
  finished = true;
  reporter.join();
  for (auto& t : event_threads)
    t.join();
  run_result r;
  r.system = sys.name();
  r.mode = cfg.mode;
  r.target_rate = cfg.mode == load_mode::closed ? 0 : cfg.rate;
  for (auto& p : pairs) {
    r.sent += p.sent;
    r.delivered += p.tracker.unique();
    r.duplicates += p.tracker.duplicates();
    r.out_of_order += p.tracker.out_of_order();
    r.latency.merge(p.latency);
  }
  r.lost = r.sent - r.delivered;
  for (auto& l : links)
    r.resent += l.sender->resent();
  r.seconds = static_cast<double>(end - start) / 1e9;
  r.throughput = static_cast<double>(r.delivered) / r.seconds;
  r.server_cpu_seconds = cpu_of(server_pids) - cpu_before;
  r.server_cores = r.seconds > 0 ? r.server_cpu_seconds / r.seconds : 0;
  if (r.delivered > 0)
    r.cpu_seconds_per_million = r.server_cpu_seconds / static_cast<double>(r.delivered) * 1e6;
  uint64_t previous = 0;
  auto whole_seconds = static_cast<size_t>(r.seconds);
  for (size_t s = 0; s < delivered_at.size() && s < whole_seconds; ++s) {
    r.per_second.push_back(delivered_at[s] - previous);
    previous = delivered_at[s];
  }
  r.events = cfg.events;
  links.clear();
  return r;
}

} // namespace kinbox::bench
