#include "bench/moments.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/accounts.hpp"
#include "bench/payload.hpp"
#include "client/client.hpp"

namespace kinbox::bench {

namespace {

using clock = std::chrono::steady_clock;
using what = client::received::what;

/// The text of post or group message `index`, of the bench's payload size.
std::string text_of(uint64_t index) {
  auto head = std::to_string(index) + ":";
  return head + std::string(payload_size - head.size(), 'x');
}

/// Waits until `count` reaches `want` or 10 s pass.
void await_count(const std::atomic<uint64_t>& count, uint64_t want) {
  auto deadline = clock::now() + std::chrono::seconds(10);
  while (count < want && clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

} // namespace

moment_run_figures kinbox_moments(const std::string& p_host, uint16_t p_port,
                                  const std::string& f_host, uint16_t f_port,
                                  const std::string& dir, size_t friends, uint64_t posts,
                                  const std::vector<pid_t>& pids, const std::string& where) {
  moment_run_figures out;
  out.where = where;
  out.friends = friends;
  out.posts = posts;
  auto poster = kinbox_join(p_host, p_port, dir + "/poster", "Poster");
  std::vector<kinbox_user> mates;
  std::vector<account_id> ids;
  for (size_t i = 0; i < friends; ++i) {
    mates.push_back(kinbox_join(f_host, f_port, dir + "/f" + std::to_string(i), "Friend"));
    kinbox_befriend(mates.back(), poster);
    ids.push_back(mates.back().id);
  }
  auto group = poster.conn->group_create("Bench", ids);
  for (int tries = 0; tries < 100 && !group; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50)); // friend steps on their way
    group = poster.conn->group_create("Bench", ids);
  }
  if (!group)
    throw std::runtime_error("group_create failed: " + group.error().message);
  // Half the friends online, reading; the others' copies are stored.
  out.online = friends / 2;
  for (size_t i = out.online; i < mates.size(); ++i)
    mates[i].conn.reset();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> moments{0}, group_mail{0};
  std::vector<std::thread> readers;
  for (size_t i = 0; i < out.online; ++i)
    readers.emplace_back([&, i] {
      while (!stop) {
        auto got = mates[i].conn->receive(std::chrono::milliseconds(20));
        if (got)
          for (auto& r : *got) {
            moments += r.kind == what::moment;
            group_mail += r.kind == what::text && r.group != 0;
          }
      }
    });
  auto copies = static_cast<double>(posts * friends);
  // Posts, closed loop: each waits for its `accepted`; the CPU is counted until the
  // online friends have their copies.
  auto cpu_before = cpu_of(pids);
  auto start = clock::now();
  for (uint64_t i = 0; i < posts; ++i)
    if (auto sent = poster.conn->moment_send(poster.conn->moment_upload(text_of(i), ids)); !sent)
      throw std::runtime_error("moment_post failed: " + sent.error().message);
  auto elapsed = std::chrono::duration<double>(clock::now() - start).count();
  await_count(moments, posts * out.online);
  auto cpu = cpu_of(pids) - cpu_before;
  out.post_rate = static_cast<double>(posts) / elapsed;
  out.cpu_per_post_us = 1e6 * cpu / static_cast<double>(posts);
  out.cpu_per_copy_us = 1e6 * cpu / copies;
  out.lost = posts * out.online - moments;
  // The same copies as group mail.
  cpu_before = cpu_of(pids);
  for (uint64_t i = 0; i < posts; ++i) {
    auto key = crypto::new_content_key();
    auto content = crypto::content_seal(client::encode_plaintext(text_of(i)), key);
    auto sent = poster.conn->group_send(
        poster.conn->group_upload(*group, crypto::new_message_id(), key, std::move(content)));
    if (!sent || *sent)
      throw std::runtime_error("group_send failed");
  }
  await_count(group_mail, posts * out.online);
  out.group_cpu_per_copy_us = 1e6 * (cpu_of(pids) - cpu_before) / copies;
  stop = true;
  for (auto& t : readers)
    t.join();
  return out;
}

} // namespace kinbox::bench
