#define CAF_SUITE shard_map
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <algorithm>
#include <map>

#include "cluster/membership.hpp"
#include "cluster/shard_map.hpp"

using namespace kinbox;

namespace {

constexpr uint32_t shards = 4096;
constexpr entity_kind kind = 1;

std::vector<std::string> nodes(size_t n, size_t first = 1) {
  std::vector<std::string> out;
  for (size_t i = first; i < first + n; ++i)
    out.push_back("node" + std::to_string(i));
  std::sort(out.begin(), out.end());
  return out;
}

/// Owner name of every shard under rendezvous targets over `ns`.
std::vector<std::string> owners(const std::vector<std::string>& ns) {
  std::vector<std::string> out;
  for (auto t : rendezvous_targets(shards, ns))
    out.push_back(ns[t]);
  return out;
}

} // namespace

CAF_TEST(the shard of an entity and the targets of shards are deterministic) {
  // Fixed values: a change of either hash would move the entities of a running cluster.
  CAF_CHECK_EQUAL(shard_of(shards, kind, 1234567890), 3185u);
  CAF_CHECK_EQUAL(shard_of(shards, kind, 9876543210), 2372u);
  CAF_CHECK_NOT_EQUAL(shard_of(shards, 1, 1234567890), shard_of(shards, 2, 1234567890));
  auto three = rendezvous_targets(shards, nodes(3));
  CAF_CHECK_EQUAL(three[0], 0u);
  CAF_CHECK_EQUAL(three[1], 1u);
  CAF_CHECK_EQUAL(three[4095], 0u);
  CAF_CHECK(owners(nodes(3)) == owners(nodes(3)));
  auto a = rendezvous_targets(shards, {"a", "b", "c"});
  auto b = rendezvous_targets(shards, {"a", "b", "c"});
  CAF_CHECK(a == b);
  std::map<uint32_t, int> per_shard;
  for (uint64_t id = 1000000000; id < 1000100000; ++id)
    per_shard[shard_of(shards, kind, id)]++;
  CAF_CHECK_EQUAL(per_shard.size(), shards);
}

CAF_TEST(shards spread evenly over 2 to 10 nodes) {
  for (size_t n = 2; n <= 10; ++n) {
    std::map<std::string, size_t> load;
    for (auto& o : owners(nodes(n)))
      ++load[o];
    CAF_CHECK_EQUAL(load.size(), n);
    auto mean = static_cast<double>(shards) / static_cast<double>(n);
    size_t max = 0;
    for (auto& [node, count] : load)
      max = std::max(max, count);
    CAF_MESSAGE(n << " nodes: mean " << mean << ", max " << max);
    CAF_CHECK_LESS_OR_EQUAL(static_cast<double>(max), 1.15 * mean);
  }
}

CAF_TEST(a join or a leave moves at most 1.2 of 1/N of the shards and nothing else) {
  for (size_t n = 2; n <= 10; ++n) {
    auto before = owners(nodes(n));
    // Join: node n+1 starts.
    auto joined = owners(nodes(n + 1));
    size_t moved = 0;
    for (uint32_t s = 0; s < shards; ++s)
      if (before[s] != joined[s]) {
        CAF_CHECK_EQUAL(joined[s], "node" + std::to_string(n + 1)); // only to the new node
        ++moved;
      }
    CAF_CHECK_LESS_OR_EQUAL(moved, 1.2 * shards / static_cast<double>(n + 1));
    // Leave: each node in turn goes; only its shards move.
    for (size_t gone = 1; gone <= n; ++gone) {
      auto rest = nodes(n);
      auto name = "node" + std::to_string(gone);
      rest.erase(std::find(rest.begin(), rest.end(), name));
      auto after = owners(rest);
      size_t left = 0;
      for (uint32_t s = 0; s < shards; ++s)
        if (before[s] != after[s]) {
          CAF_CHECK_EQUAL(before[s], name);
          ++left;
        }
      CAF_CHECK_LESS_OR_EQUAL(left, 1.2 * shards / static_cast<double>(n));
    }
  }
}

CAF_TEST(a placement changes owners at the next epoch and survives its encoding) {
  auto p = placement::initial(16, {"b", "a"});
  CAF_CHECK_EQUAL(p.epoch, 1u);
  CAF_CHECK_EQUAL(p.owned_by("a") + p.owned_by("b"), 16u);
  auto q = p.with_owners({{0, "c"}, {1, "c"}});
  CAF_CHECK_EQUAL(q.epoch, 2u);
  CAF_CHECK_EQUAL(*q.owner(0), "c");
  CAF_CHECK_EQUAL(*q.owner(1), "c");
  for (uint32_t s = 2; s < 16; ++s)
    CAF_CHECK_EQUAL(*q.owner(s), *p.owner(s));
  // A node that owns nothing any more leaves the list.
  std::vector<std::pair<uint32_t, std::string>> all_to_c;
  for (uint32_t s = 0; s < 16; ++s)
    all_to_c.emplace_back(s, "c");
  auto r = q.with_owners(all_to_c);
  CAF_CHECK(r.nodes == std::vector<std::string>{"c"});
  auto decoded = placement::decode(q.encode());
  CAF_REQUIRE(decoded);
  CAF_CHECK_EQUAL(decoded->epoch, q.epoch);
  CAF_CHECK(decoded->owners == q.owners);
  CAF_CHECK(decoded->nodes == q.nodes);
  auto bad = q.encode();
  bad.back() = 0x7f; // an owner index past the node list
  CAF_CHECK(!placement::decode(bad));
  bad.pop_back();
  CAF_CHECK(!placement::decode(bad));
}

CAF_TEST(the planner claims orphaned shards at their targets and hands off the others) {
  auto p = placement::initial(64, {"a", "b"});
  // c joins: a and b hand off what c is the target of; c has nothing to claim.
  std::vector<std::string> live{"a", "b", "c"};
  auto for_a = plan_moves(p, live, live, "a");
  auto for_b = plan_moves(p, live, live, "b");
  auto for_c = plan_moves(p, live, live, "c");
  CAF_CHECK(for_c.claims.empty() && for_c.handoffs.empty());
  CAF_CHECK(for_a.claims.empty() && for_b.claims.empty());
  CAF_CHECK(!for_a.handoffs.empty());
  for (auto& [s, to] : for_a.handoffs) {
    CAF_CHECK_EQUAL(*p.owner(s), "a");
    CAF_CHECK_EQUAL(to, "c");
  }
  // b dies: its shards are claimed by their targets among a and c, each once.
  std::vector<std::string> without_b{"a", "c"};
  auto claims_a = plan_moves(p, without_b, without_b, "a").claims;
  auto claims_c = plan_moves(p, without_b, without_b, "c").claims;
  CAF_CHECK_EQUAL(claims_a.size() + claims_c.size(), p.owned_by("b"));
  for (auto s : claims_a)
    CAF_CHECK(std::find(claims_c.begin(), claims_c.end(), s) == claims_c.end());
  // a drains: it is live but no target; it hands everything off and claims nothing.
  std::vector<std::string> targets{"b"};
  auto draining = plan_moves(p, {"a", "b"}, targets, "a");
  CAF_CHECK_EQUAL(draining.handoffs.size(), p.owned_by("a"));
  CAF_CHECK(draining.claims.empty());
  // Nobody to take shards: nothing moves.
  CAF_CHECK(plan_moves(p, {"a"}, {}, "a").handoffs.empty());
}

CAF_TEST(a node is live while its record changes and gone a lease after) {
  using namespace std::chrono_literals;
  membership_view view{6s};
  membership_view::clock::time_point t0{};
  node_record a{"a", 1, "127.0.0.1:1", "", 0, 0, false, 0, 0, 0, "", 0, {}};
  node_record b{"b", 1, "127.0.0.1:2", "", 0, 0, false, 0, 0, 0, "", 0, {}};
  view.saw(a, 1, t0);
  view.saw(b, 2, t0);
  CAF_CHECK(view.is_live("a") && view.is_live("b"));
  view.saw(a, 3, t0 + 5s);
  view.saw(b, 2, t0 + 5s); // the same revision again (a replay) is no heartbeat
  auto gone = view.expire(t0 + 6s);
  CAF_REQUIRE_EQUAL(gone.size(), 1u);
  CAF_CHECK_EQUAL(gone[0].id, "b");
  CAF_CHECK(view.is_live("a") && !view.is_live("b"));
  // After this node could not see the bucket, silence says nothing: a fresh lease for all.
  view.heard_all(t0 + 10s);
  CAF_CHECK(view.expire(t0 + 15s).empty());
  CAF_CHECK(view.is_live("a"));
  // A restart within the lease: the old incarnation departs, the new one is live.
  node_record a2 = a;
  a2.incarnation = 2;
  auto replaced = view.saw(a2, 4, t0 + 15s);
  CAF_REQUIRE(replaced);
  CAF_CHECK_EQUAL(replaced->incarnation, 1u);
  // A draining node is live but takes no shards; a deleted record is a clean leave.
  node_record c{"c", 1, "127.0.0.1:3", "", 0, 0, true, 0, 0, 0, "", 0, {}};
  view.saw(c, 5, t0 + 15s);
  CAF_CHECK(view.targets() == std::vector<std::string>{"a"});
  CAF_CHECK(view.gone("c"));
  CAF_CHECK(!view.is_live("c"));
  auto decoded = node_record::decode(a2.encode());
  CAF_REQUIRE(decoded);
  CAF_CHECK_EQUAL(decoded->incarnation, 2u);
  CAF_CHECK(!node_record::decode(bytes{'{', '}'}));
}

CAF_TEST(a node serves a shard only as its owner with its lease and not while handing it off) {
  cluster_view v;
  v.me = "a";
  v.map = std::make_shared<const placement>(placement::initial(8, {"a", "b"}));
  auto now = std::chrono::steady_clock::now();
  v.lease_until = now + std::chrono::seconds(1);
  v.releasing.assign(8, 0);
  uint32_t mine = 0;
  while (*v.map->owner(mine) != "a")
    ++mine;
  uint32_t theirs = 0;
  while (*v.map->owner(theirs) != "b")
    ++theirs;
  CAF_CHECK(v.serves(mine, now));
  CAF_CHECK(!v.serves(theirs, now));
  CAF_CHECK(!v.serves(mine, now + std::chrono::seconds(2))); // the lease ran out
  v.releasing[mine] = 1;
  CAF_CHECK(!v.serves(mine, now));
}

CAF_TEST(shards claimed by others without a release are lost and released ones are not) {
  auto before = placement::initial(8, {"a", "b"});
  std::vector<uint32_t> mine;
  for (uint32_t s = 0; s < 8; ++s)
    if (*before.owner(s) == "a")
      mine.push_back(s);
  CAF_REQUIRE(mine.size() >= 2);
  auto after = before.with_owners({{mine[0], "b"}, {mine[1], "c"}});
  std::vector<uint8_t> releasing(8, 0);
  CAF_CHECK_EQUAL(before.lost_by("a", after, releasing), (std::vector<uint32_t>{mine[0], mine[1]}));
  releasing[mine[1]] = 1; // handed off by a itself
  CAF_CHECK_EQUAL(before.lost_by("a", after, releasing), (std::vector<uint32_t>{mine[0]}));
  CAF_CHECK(before.lost_by("b", after, releasing).empty()); // b only gained
  CAF_CHECK(before.lost_by("a", placement::initial(16, {"b"}), releasing).empty());
}
