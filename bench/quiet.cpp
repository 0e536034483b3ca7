#include "bench/quiet.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "bench/accounts.hpp"
#include "bench/histogram.hpp"
#include "client/client.hpp"
#include "protocol/quiet.hpp"

namespace kinbox::bench {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::system_clock;
using what = client::received::what;

constexpr size_t children_per_parent = 10;
constexpr size_t worker_threads = 4;
/// The conversation's figures before the end are of its last 5 s (the first ones may
/// meet the tail of the setup).
constexpr int64_t baseline_ns = 5'000'000'000;
/// The longest the conversation runs, which sizes its stamps.
constexpr double max_conversation_s = 600;

struct family {
  kinbox_user parent;
  std::vector<kinbox_user> children;
};

/// Runs `work(f)` for every family on `worker_threads` threads; the first error is thrown.
void for_each_family(std::vector<family>& families,
                     const std::function<void(family&, size_t)>& work) {
  std::atomic<size_t> next{0};
  std::mutex mtx;
  std::string error;
  std::vector<std::thread> workers;
  for (size_t t = 0; t < worker_threads; ++t)
    workers.emplace_back([&] {
      for (size_t f = next++; f < families.size(); f = next++) {
        try {
          work(families[f], f);
        } catch (const std::exception& e) {
          std::lock_guard lock{mtx};
          error = e.what();
          next = families.size();
        }
      }
    });
  for (auto& w : workers)
    w.join();
  if (!error.empty())
    throw std::runtime_error(error);
}

/// Send or arrival times of the conversation's messages, by index: ns after `start`, 0 for
/// not yet.
struct stamps {
  explicit stamps(size_t n) : at(n) {}
  std::vector<std::atomic<int64_t>> at;
  void set(size_t i, clock::time_point t, clock::time_point start) {
    at[i] = std::max<int64_t>(1, std::chrono::nanoseconds(t - start).count());
  }
};

/// p50 and p99 (ms) of the messages sent in [from, to) ns after the start; those that never
/// came are counted in `lost`.
std::pair<double, double> latency(const stamps& sent, const stamps& got, int64_t from, int64_t to,
                                  uint64_t& lost) {
  histogram h;
  for (size_t i = 0; i < sent.at.size(); ++i) {
    auto s = sent.at[i].load();
    if (s == 0 || s < from || s >= to)
      continue;
    auto g = got.at[i].load();
    if (g == 0) {
      ++lost;
      continue;
    }
    h.record(static_cast<uint64_t>(g - s));
  }
  return {static_cast<double>(h.percentile(50)) / 1e6, static_cast<double>(h.percentile(99)) / 1e6};
}

uint16_t utc_minute(system_clock::time_point t) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return static_cast<uint16_t>(s / 60 % 1440);
}

} // namespace

quiet_release_figures kinbox_quiet_release(const std::string& host, uint16_t port,
                                           const std::string& dir, size_t children,
                                           size_t per_child, double rate,
                                           const std::vector<pid_t>& pids) {
  quiet_release_figures out;
  out.children = children;
  out.waiting = children * per_child;
  out.rate = rate;
  std::vector<family> families((children + children_per_parent - 1) / children_per_parent);
  for_each_family(families, [&](family& f, size_t index) {
    auto fdir = dir + "/family" + std::to_string(index);
    f.parent = kinbox_join(host, port, fdir + "/parent", "Parent");
    for (size_t c = index * children_per_parent;
         c < std::min(children, (index + 1) * children_per_parent); ++c) {
      auto child =
          kinbox_register_child(host, port, fdir + "/child" + std::to_string(c), "Child", f.parent);
      kinbox_login(child, host, port);
      f.children.push_back(std::move(child));
    }
  });
  auto amy = kinbox_join(host, port, dir + "/amy", "Amy");
  auto ben = kinbox_join(host, port, dir + "/ben", "Ben");
  kinbox_befriend(amy, ben);

  // The children's apps read all along (quiet began, then the released mail).
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> released{0};
  std::atomic<int64_t> last_release{0}; // ns after `start`
  auto start = clock::now();
  std::vector<kinbox_user*> kids;
  for (auto& f : families)
    for (auto& c : f.children)
      kids.push_back(&c);
  std::vector<std::thread> readers;
  for (size_t t = 0; t < worker_threads; ++t)
    readers.emplace_back([&, t] {
      while (!stop) {
        bool any = false;
        for (size_t i = t; i < kids.size(); i += worker_threads) {
          auto got = kids[i]->conn->receive(std::chrono::milliseconds(0));
          if (!got)
            continue;
          for (auto& r : *got)
            if (r.kind == what::text) {
              any = true;
              ++released;
              auto at = std::chrono::nanoseconds(clock::now() - start).count();
              auto seen = last_release.load();
              while (at > seen && !last_release.compare_exchange_weak(seen, at)) {
              }
            }
        }
        // A pass over idle sessions is a poll each: rest between them, or the load
        // generator's core goes to polling and the conversation's figures are its own.
        if (!any)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });

  // Every period ends at the same minute, far enough ahead for the mail to be stored.
  auto margin = std::chrono::seconds(15 + out.waiting / 1000);
  auto end = std::chrono::ceil<std::chrono::minutes>(system_clock::now() + margin);
  auto end_minute = utc_minute(end);
  quiet_schedule night{0x7f, static_cast<uint16_t>((end_minute + 1440 - 10) % 1440), end_minute,
                       "UTC"};
  for_each_family(families, [&](family& f, size_t) {
    for (auto& c : f.children) {
      auto set = f.parent.conn->quiet_set(c.id, night);
      if (!set || !set->asleep)
        throw std::runtime_error("quiet_set did not put a child to sleep");
    }
    for (size_t k = 0; k < per_child; ++k)
      for (auto& c : f.children)
        if (auto sent = f.parent.conn->send_text(c.id, "good night " + std::to_string(k)); !sent)
          throw std::runtime_error("send to a sleeping child failed: " + sent.error().message);
  });
  if (system_clock::now() + std::chrono::seconds(6) > end)
    throw std::runtime_error("the mail took longer to store than the quiet period had left");
  if (released != 0)
    throw std::runtime_error("a sleeping child got mail");

  // The conversation, open loop, from now until a second after the release.
  auto capacity = static_cast<size_t>(rate * max_conversation_s);
  stamps sent(capacity), got(capacity);
  std::thread listener([&] {
    while (!stop) {
      auto items = ben.conn->receive(std::chrono::milliseconds(20));
      if (!items)
        continue;
      auto now = clock::now();
      for (auto& r : *items)
        if (r.kind == what::text && r.text.rfind("c:", 0) == 0)
          got.set(std::stoull(r.text.substr(2)), now, start);
    }
  });
  std::atomic<bool> talk{true};
  std::thread talker([&] {
    auto from = clock::now();
    auto period = std::chrono::duration<double>(1.0 / rate);
    for (size_t i = 0; i < capacity && talk; ++i) {
      auto due =
          from + std::chrono::duration_cast<clock::duration>(period * static_cast<double>(i));
      std::this_thread::sleep_until(due);
      sent.set(i, due, start); // a send held up by a stall counts from when it was due
      (void)amy.conn->send_text(ben.id, "c:" + std::to_string(i));
    }
  });
  std::this_thread::sleep_until(end);
  auto cpu_before = cpu_of(pids);
  auto release_from = std::chrono::nanoseconds(clock::now() - start).count();
  auto deadline = clock::now() + std::chrono::seconds(60 + out.waiting / 200);
  while (released < out.waiting && clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto cpu = cpu_of(pids) - cpu_before;
  auto release_to = std::max(last_release.load(), release_from);
  // "During" is the release, and at least the two seconds after the end.
  auto during_to = std::max<int64_t>(release_to, release_from + 2'000'000'000);
  std::this_thread::sleep_until(start + std::chrono::nanoseconds(during_to) +
                                std::chrono::seconds(1));
  talk = false;
  talker.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  listener.join();
  for (auto& r : readers)
    r.join();
  out.lost = out.waiting - std::min<uint64_t>(released, out.waiting);
  out.release_s = static_cast<double>(release_to - release_from) / 1e9;
  out.release_cores = out.release_s > 0 ? cpu / out.release_s : 0;
  std::tie(out.before_p50_ms, out.before_p99_ms) =
      latency(sent, got, std::max<int64_t>(0, release_from - baseline_ns), release_from,
              out.conversation_lost);
  std::tie(out.during_p50_ms, out.during_p99_ms) =
      latency(sent, got, release_from, during_to, out.conversation_lost);
  return out;
}

} // namespace kinbox::bench
