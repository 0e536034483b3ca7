// Group chats through real gateways, a real nats-server and real TCP: the Messenger Kids
// case (no group lets anyone reach a child who was not approved for it), a parent's
// removal fixing the child's groups, blocks inside a group, typing that never reaches a
// disk, read receipts, what parents see, and a fan-out across three nodes that survives
// kill -9 of the node holding a member's stored copies.
#define CAF_SUITE group
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <thread>

#include "cluster/shard_map.hpp"
#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

/// A child made by `parent`, allowed to add friends alone (the approval flow has its own
/// suites: here it is about groups).
user child_of(const node& n, user& parent, const std::string& name) {
  auto child = make_child(n, parent, name);
  CAF_REQUIRE(parent->policy_set(child.id, client::friend_policy_choice::child_alone));
  return child;
}

/// The group messages `u` receives within `timeout`: sender and text, by group.
std::vector<client::received> group_texts(user& u, size_t count,
                                          std::chrono::milliseconds timeout) {
  std::vector<client::received> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto items = u->receive(200ms);
    if (!items)
      continue;
    for (auto& r : *items)
      if (r.group != 0 && r.kind == client::received::what::text)
        out.push_back(r);
  }
  return out;
}

/// Whether the group, as `asker` sees it, has exactly `members` (in any order).
bool members_are(user& asker, group_id g, std::vector<account_id> members) {
  auto info = asker->group_show(g);
  if (!info)
    return false;
  auto have = info->members;
  std::sort(have.begin(), have.end());
  std::sort(members.begin(), members.end());
  return have == members;
}

struct fixture : nats_fixture {
  node n{&nats};
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(group_tests, fixture)

CAF_TEST(no group lets anyone reach a child who was not approved for it) {
  auto mum = make_user(n, "Mum");
  auto dad = make_user(n, "Dad");
  auto pat = make_user(n, "Pat");
  auto ann = child_of(n, mum, "Ann");
  auto bea = child_of(n, dad, "Bea");
  auto cal = child_of(n, pat, "Cal");
  befriend(ann, bea);
  befriend(ann, cal);
  // Ann may talk to Bea and to Cal; Bea and Cal were never approved for each other.
  auto all = ann->group_create("Lunch", {bea.id, cal.id});
  CAF_REQUIRE(!all);
  CAF_CHECK(all.error().code == errc::not_allowed);
  CAF_CHECK(all.error().message.find(std::to_string(bea.id)) == std::string::npos);
  CAF_CHECK(all.error().message.find(std::to_string(cal.id)) == std::string::npos);
  auto g = ann->group_create("Lunch", {bea.id});
  CAF_REQUIRE(g);
  CAF_CHECK_EQUAL(g->version, 1u);
  auto add_cal = ann->group_add(g->id, cal.id);
  CAF_REQUIRE(!add_cal);
  CAF_CHECK(add_cal.error().code == errc::not_allowed);
  CAF_CHECK(members_are(bea, g->id, {ann.id, bea.id}));
  // Cal cannot see or write to the group.
  CAF_CHECK(cal->group_show(g->id).error().code == errc::not_found);
  CAF_CHECK(!cal->group_send_text(g->id, "hi"));
  // Messages go to the members, each with its own copy.
  CAF_REQUIRE(ann->group_send_text(g->id, "hello group"));
  auto got = group_texts(bea, 1, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK_EQUAL(got[0].text, "hello group");
  CAF_CHECK_EQUAL(got[0].from, ann.id);
  CAF_CHECK_EQUAL(got[0].group, g->id);

  // Once Bea and Cal are friends, Cal may join.
  befriend(bea, cal);
  auto added = ann->group_add(g->id, cal.id);
  CAF_REQUIRE(added);
  CAF_CHECK_EQUAL(added->version, 2u);
  // Mum removes Cal from Ann's contacts: Ann is taken out of the groups she shares with
  // Cal, at once.
  CAF_REQUIRE(mum->contact_remove(ann.id, cal.id));
  // In the window before the fix, a copy from Cal, wrapped for the old members, is
  // dropped by Ann's own filter, or refused as stale: it never reaches Ann.
  auto late = cal->group_send_text(g->id, "are you there");
  CAF_CHECK(eventually([&] { return members_are(bea, g->id, {bea.id, cal.id}); }));
  auto ann_groups = ann->group_list_of(ann.id);
  CAF_REQUIRE(ann_groups);
  CAF_CHECK(ann_groups->groups.empty());
  for (auto& r : group_texts(ann, 1, 1500ms))
    CAF_CHECK_NOT_EQUAL(r.from, cal.id);
  if (late)
    CAF_CHECK_EQUAL(group_texts(bea, 1, 5s).size(), 1u);
}

CAF_TEST(a blocked member gets nothing from the blocker in a group and the blocker nothing from it) {
  auto amy = make_user(n, "Amy");
  auto ben = make_user(n, "Ben");
  auto cat = make_user(n, "Cat");
  befriend(amy, ben);
  befriend(amy, cat);
  befriend(ben, cat);
  auto g = amy->group_create("Parents", {ben.id, cat.id});
  CAF_REQUIRE(g);
  CAF_REQUIRE(amy->contact_block(amy.id, ben.id));
  // Adults stay in the group; each one's filter keeps the other out.
  CAF_REQUIRE(ben->group_send_text(g->id, "from ben"));
  CAF_REQUIRE(amy->group_send_text(g->id, "from amy"));
  auto cat_got = group_texts(cat, 2, 5s);
  CAF_CHECK_EQUAL(cat_got.size(), 2u);
  for (auto& r : group_texts(amy, 1, 1500ms))
    CAF_CHECK_NOT_EQUAL(r.from, ben.id);
  for (auto& r : group_texts(ben, 1, 1500ms))
    CAF_CHECK_NOT_EQUAL(r.from, amy.id);
}

CAF_TEST(typing never reaches a disk and read receipts go once acked) {
  auto [amy, ben] = make_friends(n, "Amy", "Ben");
  auto cat = make_user(n, "Cat");
  befriend(amy, cat);
  befriend(ben, cat);
  auto g = amy->group_create("Trio", {ben.id, cat.id});
  CAF_REQUIRE(g);
  cluster_probe probe{nats};
  // Ben is offline (once his last seen is written): a burst of typing to him, 1:1 and in
  // the group, goes nowhere.
  ben.conn.reset();
  std::vector<std::string> kv_before;
  CAF_REQUIRE(eventually([&] {
    auto now = probe.kv_entries();
    std::this_thread::sleep_for(300ms);
    kv_before = probe.kv_entries();
    return now == kv_before;
  }));
  for (int i = 0; i < 20; ++i) {
    CAF_REQUIRE(amy->typing(ben.id, false));
    CAF_REQUIRE(amy->typing(g->id, true));
  }
  // Cat is online: she sees Amy typing in the group.
  bool seen = eventually([&] {
    auto items = cat->receive(200ms);
    return items && std::any_of(items->begin(), items->end(), [&](auto& r) {
             return r.kind == client::received::what::typing && r.from == amy.id &&
                    r.group == g->id;
           });
  });
  CAF_CHECK(seen);
  CAF_CHECK(probe.kv_entries() == kv_before);
  reconnect(ben, n);
  for (auto& r : receive_n(ben, 1, 1s))
    CAF_CHECK(r.kind != client::received::what::typing);
  // A read receipt, for two messages at once, reaches the sender.
  auto m1 = ben->send_text(amy.id, "one");
  auto m2 = ben->send_text(amy.id, "two");
  CAF_REQUIRE(m1 && m2);
  auto texts = receive_n(amy, 2, 5s);
  CAF_REQUIRE(amy->mark_read(ben.id, {*m1, *m2}));
  std::vector<message_id> read_ids;
  CAF_CHECK(eventually([&] {
    auto items = ben->receive(200ms);
    if (items)
      for (auto& r : *items)
        if (r.kind == client::received::what::read && r.from == amy.id)
          read_ids.push_back(r.id);
    return read_ids.size() == 2;
  }));
  CAF_CHECK(std::find(read_ids.begin(), read_ids.end(), *m1) != read_ids.end());
  CAF_CHECK(std::find(read_ids.begin(), read_ids.end(), *m2) != read_ids.end());
  // Once acked (receive acks), nothing of it, or of the typing, stays in the mailbox.
  amy.conn.reset();
  ben.conn.reset();
  cat.conn.reset();
  CAF_CHECK_EQUAL(n.stop(), 0);
  for (auto& e : mailbox_contents(n)) {
    CAF_CHECK(e.kind != mail_kind::typing);
    CAF_CHECK(e.kind != mail_kind::read);
  }
}

CAF_TEST(parents see their children s groups and a deleted account leaves them) {
  auto mum = make_user(n, "Mum");
  auto dad = make_user(n, "Dad");
  auto ann = child_of(n, mum, "Ann");
  auto bea = child_of(n, dad, "Bea");
  befriend(ann, bea);
  auto g = bea->group_create("Best friends", {ann.id});
  CAF_REQUIRE(g);
  // Mum lists Ann's groups and finds them in Ann's export.
  auto seen = mum->group_list_of(ann.id);
  CAF_REQUIRE(seen);
  CAF_REQUIRE_EQUAL(seen->groups.size(), 1u);
  CAF_CHECK_EQUAL(seen->groups[0].id, g->id);
  CAF_CHECK_EQUAL(seen->groups[0].name, "Best friends");
  auto doc = mum->account_export(ann.id);
  CAF_REQUIRE(doc);
  auto j = nlohmann::json::parse(*doc);
  CAF_REQUIRE_EQUAL(j["groups"].size(), 1u);
  CAF_CHECK_EQUAL(j["groups"][0]["id"].get<uint64_t>(), g->id);
  CAF_CHECK_EQUAL(j["groups"][0]["members"].size(), 2u);
  // A stranger cannot list Ann's groups.
  CAF_CHECK(!dad->group_list_of(ann.id));
  // Mum may take Ann out of a group she is not in herself, and learns nothing more.
  auto removed = mum->group_remove(g->id, ann.id);
  CAF_REQUIRE(removed);
  CAF_CHECK(!*removed);
  CAF_CHECK(members_are(bea, g->id, {bea.id}));
  CAF_REQUIRE(bea->group_add(g->id, ann.id));
  // Deleting Ann takes her out of every group.
  CAF_REQUIRE(mum->account_delete(ann.id));
  CAF_CHECK(eventually([&] { return members_are(bea, g->id, {bea.id}); }));
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(a fan-out across three nodes delivers every copy once through a kill and a move) {
  CAF_REQUIRE(crypto::init());
  nats_cluster nats;
  node n1{nats, "node1"};
  node n2{nats, "node2"};
  node n3{nats, "node3"};
  cluster_probe probe{nats};
  CAF_REQUIRE(eventually([&] { return probe.settled(3); }, 30s));
  std::map<std::string, node*> by_id{{"node1", &n1}, {"node2", &n2}, {"node3", &n3}};
  auto amy = make_user(n1, "Amy");
  auto ben = make_user(n2, "Ben");
  befriend(amy, ben);
  auto home_of = [&](account_id id) { return probe.owner_of(id); };
  // A group whose chat actor lives on a node other than both members'.
  std::optional<group_info> g;
  for (int i = 0; i < 20 && !g; ++i) {
    auto made = amy->group_create("Across", {ben.id});
    CAF_REQUIRE(made);
    auto p = probe.placement_now();
    CAF_REQUIRE(p);
    auto* chat_home = p->owner(shard_of(p->shards, 3, made->id));
    if (chat_home && *chat_home != home_of(amy.id) && *chat_home != home_of(ben.id))
      g = *made;
  }
  CAF_REQUIRE(g);
  // Ben is offline: his copies are stored on the node of his shard, which is killed.
  ben.conn.reset();
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i) {
    texts.push_back("m" + std::to_string(i));
    CAF_REQUIRE(amy->group_send_text(g->id, texts.back()));
  }
  auto* ben_home = by_id.at(home_of(ben.id));
  ben_home->kill9();
  ben_home->start();
  CAF_REQUIRE(eventually([&] { return probe.settled(3); }, 30s));
  connect_any(ben, {n1.gateway(), n2.gateway(), n3.gateway()});
  auto got = group_texts(ben, texts.size() + 1, 10s);
  std::vector<std::string> seen;
  for (auto& r : got)
    seen.push_back(r.text);
  std::sort(seen.begin(), seen.end());
  CAF_CHECK(seen == texts);

  // The chat's node drains and stops while Amy writes: the group moves with its shard,
  // and every message she was told was accepted reaches Ben once.
  auto p = probe.placement_now();
  CAF_REQUIRE(p);
  auto chat_home = *p->owner(shard_of(p->shards, 3, g->id));
  connect_any(amy, {n1.gateway(), n2.gateway(), n3.gateway()});
  std::vector<std::string> moving;
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) {
      auto text = "d" + std::to_string(i);
      if (amy->group_send_text(g->id, text))
        moving.push_back(text);
      std::this_thread::sleep_for(50ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  CAF_CHECK_EQUAL(by_id.at(chat_home)->stop(), 0);
  writer.join();
  CAF_CHECK(eventually([&] { return probe.settled(2); }, 30s));
  CAF_CHECK_GREATER_OR_EQUAL(moving.size(), 25u); // the SDK retries what meets the move
  auto after = group_texts(ben, moving.size() + 1, 10s);
  std::vector<std::string> arrived;
  for (auto& r : after)
    arrived.push_back(r.text);
  std::sort(arrived.begin(), arrived.end());
  std::sort(moving.begin(), moving.end());
  CAF_CHECK(arrived == moving);
}
