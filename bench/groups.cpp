#include "bench/groups.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "bench/accounts.hpp"
#include "bench/histogram.hpp"
#include "bench/payload.hpp"
#include "bench/runner.hpp"
#include "client/client.hpp"

namespace kinbox::bench {

namespace {

using clock = std::chrono::steady_clock;

/// Bytes a frame with a body of `body` bytes takes on the wire, sealed.
double wire_bytes(size_t body) {
  return static_cast<double>(length_prefix_size + frame_header_size + body +
                             crypto::record_channel::overhead);
}

/// Arrivals at the online members: per message index, how many got it and when the last did.
class arrivals {
public:
  explicit arrivals(size_t online) : online_(online) {}
  void got(uint64_t index, clock::time_point at) {
    std::lock_guard lock{mtx_};
    auto& a = by_index_[index];
    if (++a.count == online_)
      a.last = at;
  }
  std::optional<clock::time_point> all_at(uint64_t index) {
    std::lock_guard lock{mtx_};
    auto i = by_index_.find(index);
    if (i == by_index_.end() || i->second.count < online_)
      return std::nullopt;
    return i->second.last;
  }

private:
  struct arrival {
    size_t count = 0;
    clock::time_point last;
  };
  size_t online_;
  std::mutex mtx_;
  std::map<uint64_t, arrival> by_index_;
};

/// The run whose pushes are timed: the open loop.
constexpr uint64_t open_run = 3;

/// The text of message `index` of a run (its run and index, readable by the receivers),
/// `size` bytes long.
std::string text_of(uint64_t run, uint64_t index, size_t size = payload_size) {
  auto head = std::to_string(run) + ":" + std::to_string(index) + ":";
  return head + std::string(size > head.size() ? size - head.size() : 0, 'x');
}

/// What the sender uploads per message of `size` bytes to `members` other members: one
/// group frame (the content once, a wrapped key each), or a send frame each.
std::pair<double, double> upload_bytes(size_t size, size_t members) {
  auto plain = client::encode_plaintext(text_of(0, 0, size));
  auto sealed = plain.size() + crypto_box_NONCEBYTES + crypto_box_MACBYTES;
  group_send_request up{
      1,
      1,
      message_id{},
      bytes(plain.size() + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES),
      {}};
  for (size_t m = 0; m < members; ++m)
    up.keys.push_back({m + 1, bytes(crypto_box_NONCEBYTES + crypto_box_MACBYTES + 32)});
  auto one = wire_bytes(encode_body(send_request{1, message_id{}, bytes(sealed)}).size());
  return {wire_bytes(encode_body(up).size()), one * static_cast<double>(members)};
}

group_run_figures run_size(const std::string& s_host, uint16_t s_port, const std::string& m_host,
                           uint16_t m_port, const std::string& dir, size_t size, uint64_t messages,
                           const std::vector<pid_t>& pids) {
  group_run_figures out;
  out.members = size;
  out.messages = messages;
  auto sender = kinbox_join(s_host, s_port, dir + "/sender", "Sender");
  std::vector<kinbox_user> members;
  for (size_t i = 1; i < size; ++i) {
    members.push_back(kinbox_join(m_host, m_port, dir + "/m" + std::to_string(i), "Member"));
    kinbox_befriend(members.back(), sender);
  }
  std::vector<account_id> ids;
  for (auto& m : members)
    ids.push_back(m.id);
  std::optional<group_info> group;
  for (int tries = 0; tries < 100 && !group; ++tries) {
    auto made = sender.conn->group_create("Bench", ids);
    if (made)
      group = *made;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(50)); // friend steps still on their way
  }
  if (!group)
    throw std::runtime_error("group_create failed");
  // Half the group online (the sender is one of them), the rest offline: their copies are
  // stored.
  out.online = size / 2 - 1;
  for (size_t i = out.online; i < members.size(); ++i)
    members[i].conn.reset();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> run{0};
  auto seen = std::make_shared<arrivals>(out.online);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < out.online; ++i)
    readers.emplace_back([&, i] {
      while (!stop) {
        auto got = members[i].conn->receive(std::chrono::milliseconds(20));
        if (!got)
          continue;
        auto now = clock::now();
        for (auto& r : *got) {
          if (r.kind != client::received::what::text)
            continue;
          auto colon = r.text.find(':');
          if (colon == std::string::npos || std::stoull(r.text.substr(0, colon)) != open_run)
            continue;
          seen->got(std::stoull(r.text.substr(colon + 1)), now);
        }
      }
    });
  auto upload = [&](uint64_t index) {
    auto key = crypto::new_content_key();
    auto content = crypto::content_seal(client::encode_plaintext(text_of(run, index)), key);
    return sender.conn->group_upload(*group, crypto::new_message_id(), key, std::move(content));
  };
  auto send = [&](const group_send_request& up) {
    auto sent = sender.conn->group_send(up);
    if (!sent || *sent)
      throw std::runtime_error("group_send failed");
  };
  std::tie(out.upload_bytes_group, out.upload_bytes_one_to_one) =
      upload_bytes(payload_size, ids.size());
  std::tie(out.upload_bytes_group_4k, out.upload_bytes_one_to_one_4k) =
      upload_bytes(4096, ids.size());
  // Closed loop: each send waits for its `accepted`.
  run = 1;
  auto cpu_before = cpu_of(pids);
  auto start = clock::now();
  for (uint64_t i = 0; i < messages; ++i)
    send(upload(i));
  auto elapsed = std::chrono::duration<double>(clock::now() - start).count();
  auto cpu = cpu_of(pids) - cpu_before;
  out.closed_rate = static_cast<double>(messages) / elapsed;
  out.cpu_per_message_us = 1e6 * cpu / static_cast<double>(messages);
  out.cpu_per_copy_us = out.cpu_per_message_us / static_cast<double>(ids.size());
  // The same copies 1:1: a send to each member per message (a quarter of the messages).
  auto rounds = std::max<uint64_t>(1, messages / 4);
  run = 2;
  cpu_before = cpu_of(pids);
  for (uint64_t i = 0; i < rounds; ++i)
    for (auto m : ids)
      if (!sender.conn->send_text(m, text_of(run, i)))
        throw std::runtime_error("send failed");
  cpu = cpu_of(pids) - cpu_before;
  out.one_to_one_cpu_per_copy_us = 1e6 * cpu / static_cast<double>(rounds * ids.size());
  // Open loop at half the closed-loop rate: the time to the last online member's push.
  run = open_run;
  out.open_rate = out.closed_rate / 2;
  auto period = std::chrono::duration<double>(1.0 / out.open_rate);
  std::vector<clock::time_point> sent_at(messages);
  start = clock::now();
  for (uint64_t i = 0; i < messages; ++i) {
    auto due = start + std::chrono::duration_cast<clock::duration>(period * static_cast<double>(i));
    std::this_thread::sleep_until(due);
    auto up = upload(i);
    sent_at[i] = clock::now();
    send(up);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (auto& t : readers)
    t.join();
  histogram h;
  for (uint64_t i = 0; i < messages; ++i) {
    auto at = seen->all_at(i);
    if (!at) {
      ++out.late_or_lost;
      continue;
    }
    h.record(static_cast<uint64_t>(std::chrono::nanoseconds(*at - sent_at[i]).count()));
  }
  out.p50_ms = static_cast<double>(h.percentile(50)) / 1e6;
  out.p99_ms = static_cast<double>(h.percentile(99)) / 1e6;
  return out;
}

} // namespace

std::vector<group_run_figures>
kinbox_groups(const std::string& s_host, uint16_t s_port, const std::string& m_host,
              uint16_t m_port, const std::string& work_dir, const std::vector<size_t>& sizes,
              uint64_t messages, const std::vector<pid_t>& pids, const std::string& where) {
  std::vector<group_run_figures> out;
  for (auto size : sizes) {
    out.push_back(run_size(s_host, s_port, m_host, m_port,
                           work_dir + "/group" + std::to_string(size), size, messages, pids));
    out.back().where = where;
  }
  return out;
}

} // namespace kinbox::bench
