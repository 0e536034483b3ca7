#include "bench/calls.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/accounts.hpp"
#include "bench/histogram.hpp"
#include "client/client.hpp"

namespace kinbox::bench {

namespace {

using clock = std::chrono::steady_clock;
using what = client::received::what;

/// One timestamp per call or message, written by one thread and read by another.
struct stamps {
  explicit stamps(size_t n) : at(n) {}
  std::vector<std::atomic<int64_t>> at; ///< ns since the run's start; 0: not yet
  void set(size_t i, clock::time_point t, clock::time_point start) {
    at[i] = std::max<int64_t>(1, std::chrono::nanoseconds(t - start).count());
  }
};

std::pair<double, double> percentiles(const stamps& from, const stamps& to, uint64_t& lost) {
  histogram h;
  for (size_t i = 0; i < from.at.size(); ++i) {
    auto a = from.at[i].load();
    auto b = to.at[i].load();
    if (a == 0 || b == 0 || b < a) {
      ++lost;
      continue;
    }
    h.record(static_cast<uint64_t>(b - a));
  }
  return {static_cast<double>(h.percentile(50)) / 1e6, static_cast<double>(h.percentile(99)) / 1e6};
}

} // namespace

call_run_figures kinbox_calls(const std::string& c_host, uint16_t c_port, const std::string& m_host,
                              uint16_t m_port, const std::string& dir, uint64_t calls,
                              const std::string& where) {
  call_run_figures out;
  out.where = where;
  out.calls = calls;
  auto caller = kinbox_join(c_host, c_port, dir + "/caller", "Caller");
  auto callee = kinbox_join(m_host, m_port, dir + "/callee", "Callee");
  kinbox_befriend(callee, caller);
  // Warm both sides' keys and actors.
  if (!caller.conn->send_text(callee.id, "warm") || !callee.conn->receive(std::chrono::seconds(2)))
    throw std::runtime_error("first message failed");
  stamps offered(calls), rung(calls), answered(calls), heard(calls), sent(calls), got(calls);
  auto start = clock::now();
  std::atomic<bool> stop{false};
  // The callee answers each offer at once; it also times the messages.
  std::thread callee_side([&] {
    while (!stop) {
      auto items = callee.conn->receive(std::chrono::milliseconds(20));
      if (!items)
        continue;
      auto now = clock::now();
      for (auto& r : *items) {
        if (r.kind == what::call && r.call && r.call->signal == call_signal::offer &&
            r.call->id < calls) {
          rung.set(r.call->id, now, start);
          answered.set(r.call->id, clock::now(), start);
          (void)callee.conn->call_signal_to(r.call->id, call_signal::answer);
        } else if (r.kind == what::text && r.text.rfind("m:", 0) == 0) {
          got.set(std::stoull(r.text.substr(2)), now, start);
        }
      }
    }
  });
  for (uint64_t i = 0; i < calls; ++i) {
    offered.set(i, clock::now(), start);
    auto ring = caller.conn->call_offer(callee.id, i, true);
    if (!ring)
      throw std::runtime_error("call offer failed: " + ring.error().message);
    auto deadline = clock::now() + std::chrono::seconds(5);
    while (heard.at[i] == 0 && clock::now() < deadline) {
      auto items = caller.conn->receive(std::chrono::milliseconds(20));
      if (!items)
        continue;
      auto now = clock::now();
      for (auto& r : *items)
        if (r.kind == what::call && r.call && r.call->id == i &&
            r.call->signal == call_signal::answer)
          heard.set(i, now, start);
    }
    (void)caller.conn->call_signal_to(i, call_signal::hangup);
  }
  for (uint64_t i = 0; i < calls; ++i) {
    sent.set(i, clock::now(), start);
    if (!caller.conn->send_text(callee.id, "m:" + std::to_string(i)))
      throw std::runtime_error("send failed");
    auto deadline = clock::now() + std::chrono::seconds(5);
    while (got.at[i] == 0 && clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stop = true;
  callee_side.join();
  std::tie(out.offer_p50_ms, out.offer_p99_ms) = percentiles(offered, rung, out.lost);
  std::tie(out.answer_p50_ms, out.answer_p99_ms) = percentiles(answered, heard, out.lost);
  std::tie(out.message_p50_ms, out.message_p99_ms) = percentiles(sent, got, out.lost);
  return out;
}

} // namespace kinbox::bench
