// The seeded fault runner: apps do random operations (send, receive, friend requests,
// log in again, drop the connection) on a 3-node cluster (3 NATS servers) while random
// faults happen: kill -9 of a node, a node paused with SIGSTOP, a
// NATS server killed and restarted, an app's connection dropped before it acks. At the end
// every accepted message has reached its app, none twice, and no plaintext is at rest.
//
// The seed is printed; KINBOX_FAULT_SEED=N replays the same schedule of operations and
// faults, KINBOX_FAULT_STEPS=N runs longer (scripts/fault). ctest runs a short run.
#define CAF_SUITE fault
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

struct fixture {
  fixture() { CAF_REQUIRE(crypto::init()); }
};

uint64_t env_or(const char* name, uint64_t fallback) {
  auto* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

/// A message as the app sees it: who sent it and its id.
using message_key = std::pair<account_id, message_id>;

struct world {
  std::vector<std::unique_ptr<node>> nodes;
  std::vector<bool> down;
  std::vector<user> users;
  std::map<account_id, std::map<message_key, size_t>> accepted; ///< per recipient: at which step
  std::map<account_id, std::map<message_key, int>> got; ///< per recipient: times the app got it
  std::vector<std::string> gateways;
  size_t refused = 0;
  size_t undecryptable = 0;
};

/// Logs the user in on any gateway that answers; false if none did now.
bool relogin(world& w, user& u) {
  u.conn.reset();
  auto c = client::client::connect_any(*u.prof, w.gateways);
  if (!c)
    return false;
  u.conn = std::move(*c);
  if (!u.conn->login()) {
    u.conn.reset();
    return false;
  }
  return true;
}

void receive(world& w, user& u, std::chrono::milliseconds wait) {
  if (!u.conn && !relogin(w, u))
    return;
  auto items = u->receive(wait);
  if (!items) {
    u.conn.reset();
    return;
  }
  for (auto& r : *items)
    if (r.kind == client::received::what::text)
      ++w.got[u.id][{r.from, r.id}];
    else if (r.kind == client::received::what::undecryptable)
      ++w.undecryptable; // every sender is a friend with a good key: never
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(fault_tests, fixture)

CAF_TEST(seeded faults lose no accepted mail and deliver none twice) {
  auto seed = env_or("KINBOX_FAULT_SEED", std::random_device{}());
  auto steps = env_or("KINBOX_FAULT_STEPS", 40);
  std::cout << "fault runner: seed " << seed << ", " << steps << " steps" << std::endl;
  CAF_MESSAGE("seed " << seed);
  std::mt19937_64 rng{seed};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  nats_cluster nats;
  world w;
  for (int i = 0; i < 3; ++i)
    w.nodes.push_back(std::make_unique<node>(nats, "node" + std::to_string(i)));
  w.down.assign(w.nodes.size(), false);
  for (auto& n : w.nodes)
    w.gateways.push_back(n->gateway());
  cluster_probe probe{nats};
  CAF_REQUIRE(eventually([&] { return probe.settled(3); }, 30s));
  for (int i = 0; i < 4; ++i)
    w.users.push_back(make_user_on(*w.nodes[i % 3], "Kid" + std::to_string(i), w.gateways));
  for (size_t a = 0; a < w.users.size(); ++a)
    for (size_t b = a + 1; b < w.users.size(); ++b)
      befriend(w.users[a], w.users[b]);
  const std::string marker = "fault-plaintext-" + std::to_string(seed);

  size_t sent = 0;
  std::map<size_t, size_t> restart_at; // node -> step at which it starts again
  for (size_t step = 0; step < steps; ++step) {
    for (auto i = restart_at.begin(); i != restart_at.end();) {
      if (i->second > step) {
        ++i;
        continue;
      }
      w.nodes[i->first]->start();
      w.down[i->first] = false;
      i = restart_at.erase(i);
    }
    auto roll = pick(100);
    auto& u = w.users[pick(w.users.size())];
    if (roll < 50) { // send a few messages to a friend
      auto& to = w.users[pick(w.users.size())];
      if (to.id == u.id || (!u.conn && !relogin(w, u)))
        continue;
      for (size_t k = 0, n = 1 + pick(5); k < n; ++k) {
        auto id = u->send_text(to.id, marker + " " + std::to_string(sent++));
        if (id)
          w.accepted[to.id][{u.id, *id}] = step;
        else
          ++w.refused; // retryable: not accepted, so not owed
      }
    } else if (roll < 54) { // a friend request (to a friend already: answered, no change)
      auto& other = w.users[pick(w.users.size())];
      if (other.id != u.id && (u.conn || relogin(w, u)) && !u->friend_add(other.id))
        u.conn.reset();
    } else if (roll < 70) {
      receive(w, u, 200ms);
    } else if (roll < 78) {
      relogin(w, u);
    } else if (roll < 84) {
      u.conn.reset(); // mail pushed to it is unread and unacked
    } else if (roll < 90) {
      auto victim = pick(w.nodes.size());
      if (!w.down[victim] && std::count(w.down.begin(), w.down.end(), true) == 0) {
        CAF_MESSAGE("step " << step << ": kill -9 node" << victim);
        w.nodes[victim]->kill9();
        w.down[victim] = true;
        restart_at[victim] = step + 2 + pick(4);
      }
    } else if (roll < 95) {
      auto victim = pick(w.nodes.size());
      if (!w.down[victim]) {
        CAF_MESSAGE("step " << step << ": SIGSTOP node" << victim);
        ::kill(w.nodes[victim]->pid(), SIGSTOP);
        std::this_thread::sleep_for(std::chrono::milliseconds(500 + pick(1000)));
        ::kill(w.nodes[victim]->pid(), SIGCONT);
      }
    } else {
      auto server = pick(nats.size());
      CAF_MESSAGE("step " << step << ": NATS server " << server << " killed and restarted");
      nats.kill(server);
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + pick(800)));
      nats.start(server);
    }
  }
  // Heal: every node up, the cluster settled, every app logged in and reading.
  for (auto& [i, at] : restart_at)
    w.nodes[i]->start();
  CAF_REQUIRE(eventually([&] { return probe.settled(3); }, 60s));
  auto missing = [&] {
    size_t n = 0;
    for (auto& [recipient, keys] : w.accepted)
      for (auto& [k, step] : keys)
        n += w.got[recipient].count(k) == 0 ? 1 : 0;
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (missing() > 0 && std::chrono::steady_clock::now() < deadline)
    for (auto& u : w.users)
      receive(w, u, 300ms);
  size_t accepted = 0, twice = 0;
  for (auto& [recipient, keys] : w.accepted)
    accepted += keys.size();
  for (auto& [recipient, counts] : w.got)
    for (auto& [k, times] : counts)
      twice += times > 1 ? 1 : 0;
  for (auto& [recipient, keys] : w.accepted)
    for (auto& [k, step] : keys)
      if (w.got[recipient].count(k) == 0)
        std::cout << "fault runner: lost message " << crypto::to_hex(k.second) << " from "
                  << k.first << " to " << recipient << ", accepted at step " << step << std::endl;
  std::cout << "fault runner: seed " << seed << ": " << accepted << " accepted, " << w.refused
            << " refused (retryable), " << missing() << " lost, " << twice << " twice, "
            << w.undecryptable << " undecryptable" << std::endl;
  CAF_CHECK_GREATER(accepted, 0u);
  CAF_CHECK_EQUAL(missing(), 0u);
  CAF_CHECK_EQUAL(twice, 0u);
  CAF_CHECK_EQUAL(w.undecryptable, 0u);
  for (auto& n : w.nodes)
    CAF_CHECK(files_containing(n->data_dir(), marker).empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
