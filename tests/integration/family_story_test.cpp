// The family story through real gateways, with the parents, the children and their
// friend on different nodes of one cluster: link codes, the PIN, a friend request that
// both parents approve (one from the parent's app, one by PIN on the child's device), the
// chat that follows, what strangers are told, the child's location (to its parent only,
// the latest one after the parent was away, never on disk), a parent's block that purges
// the mail waiting from that contact, a report that an operator resolves with a ban, and
// the parent's export and deletion of the child's account, after which no KV bucket and
// no node's mailbox holds anything of it.
#define CAF_SUITE family_story
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <nlohmann/json.hpp>

#include <thread>

#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

std::optional<contact_state> state_in(user& owner, account_id other) {
  auto list = owner->friends();
  if (!list)
    return std::nullopt;
  for (auto& e : list->entries)
    if (e.id == other)
      return e.state;
  return std::nullopt;
}

/// What `u` receives within `wait`, all of it.
command_result admin(const nats_cluster& nats, std::vector<std::string> args) {
  std::vector<std::string> argv{
      KINBOX_ADMIN_BIN,        "--nats",    nats.urls(), "--nats-credentials",
      nats.credentials_file(), "--cluster", "test",      "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  if (r.status != 0)
    CAF_MESSAGE("kinbox-admin said: " << r.out << r.err);
  return r;
}

std::vector<client::received> drain(user& u, std::chrono::milliseconds wait = 500ms) {
  std::vector<client::received> out;
  for (;;) {
    auto items = u->receive(wait);
    if (!items || items->empty())
      return out;
    out.insert(out.end(), items->begin(), items->end());
  }
}

size_t count_of(const std::vector<client::received>& items, client::received::what kind) {
  return std::count_if(items.begin(), items.end(),
                       [&](const client::received& r) { return r.kind == kind; });
}

/// Waits for a notice of `type` in `parent`'s mail.
bool got_notice(user& parent, notice_type type, account_id child) {
  return eventually([&] {
    auto items = parent->receive(200ms);
    if (!items)
      return false;
    for (auto& r : *items)
      if (r.kind == client::received::what::notice && r.notice && r.notice->type == type &&
          r.notice->child == child)
        return true;
    return false;
  });
}

} // namespace

CAF_TEST(two children on two nodes become friends with both parents approval and chat) {
  CAF_REQUIRE(crypto::init());
  nats_cluster nats;
  node n1{nats, "node1"};
  node n2{nats, "node2"};
  cluster_probe probe{nats};
  auto mum = make_user(n1, "Mum");
  auto dad = make_user(n2, "Dad");
  auto eve = make_user(n2, "Eve");
  // Each parent makes its child's account; the child's device registers with the code.
  auto mia = make_child(n1, mum, "Mia");
  auto leo = make_child(n2, dad, "Leo");
  CAF_CHECK(got_notice(mum, notice_type::registered, mia.id));
  CAF_REQUIRE(mum->pin_set(mia.id, "2741"));
  CAF_REQUIRE(dad->pin_set(leo.id, "5813"));
  // Only a parent makes child accounts and link codes; a linked child takes none.
  CAF_CHECK(!mia->child_create("Mini", "2020-01-01"));
  CAF_CHECK(!mia->link_create("3847"));
  auto code = eve->link_create("3958");
  CAF_REQUIRE(code);
  auto taken = mia->link_redeem(eve.id, code->secret);
  CAF_REQUIRE(!taken);
  CAF_CHECK(taken.error().code == errc::already_linked);
  CAF_CHECK(!dad->link_redeem(eve.id, code->secret)); // a parent redeems nothing
  auto info = mum->link_get(mia.id);
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->parent, mum.id);
  CAF_CHECK(info->pin_set);

  // Mia asks Leo: nothing reaches Leo until her mum approves.
  CAF_REQUIRE(mia->friend_add(leo.id));
  CAF_CHECK(state_in(mia, leo.id) == contact_state::awaiting_parent);
  CAF_CHECK(got_notice(mum, notice_type::approval_needed, mia.id));
  CAF_CHECK(!state_in(leo, mia.id));
  auto waiting = mum->approvals(mia.id);
  CAF_REQUIRE(waiting && waiting->entries.size() == 1);
  CAF_CHECK_EQUAL(waiting->entries[0].other, leo.id);
  CAF_REQUIRE(mum->approval_decide(mia.id, leo.id, true));
  CAF_CHECK(eventually([&] { return state_in(leo, mia.id) == contact_state::incoming; }));
  CAF_CHECK(state_in(mia, leo.id) == contact_state::outgoing);

  // Leo accepts; it waits for his dad, approved by the PIN typed on Leo's device.
  CAF_REQUIRE(leo->friend_accept(mia.id));
  CAF_CHECK(state_in(leo, mia.id) == contact_state::awaiting_parent);
  CAF_CHECK(!mia->send_text(leo.id, "too early"));
  auto wrong = leo->approval_by_pin(mia.id, true, "0000");
  CAF_REQUIRE(!wrong);
  CAF_CHECK(wrong.error().code == errc::wrong_pin);
  CAF_REQUIRE(leo->approval_by_pin(mia.id, true, "5813"));
  CAF_CHECK(eventually([&] { return state_in(mia, leo.id) == contact_state::friends; }));
  CAF_CHECK(state_in(leo, mia.id) == contact_state::friends);

  CAF_REQUIRE(mia->send_text(leo.id, "hi Leo"));
  bool got = eventually([&] {
    auto items = leo->receive(200ms);
    return items && !items->empty() && (*items)[0].text == "hi Leo";
  });
  CAF_CHECK(got);

  // A stranger, and the other child's parent, learn nothing of Mia's family.
  for (auto* other : {&eve, &dad}) {
    auto link = (*other)->link_get(mia.id);
    CAF_REQUIRE(!link);
    CAF_CHECK(link.error().code == errc::not_found);
    auto approvals = (*other)->approvals(mia.id);
    CAF_REQUIRE(!approvals);
    CAF_CHECK(approvals.error().code == errc::not_found);
    CAF_CHECK((*other)->approval_decide(mia.id, leo.id, true).error().code == errc::not_found);
  }

  // Mia shares her location: it reaches Mum only, never Leo, her friend.
  drain(mum);
  drain(leo);
  CAF_REQUIRE(mia->location_share({48.8584, 2.2945, 12}));
  bool located = eventually([&] {
    auto items = mum->receive(200ms);
    if (!items)
      return false;
    for (auto& r : *items)
      if (r.kind == client::received::what::location && r.from == mia.id && r.location)
        return r.location->lat == 48.8584 && r.location->lon == 2.2945;
    return false;
  });
  CAF_CHECK(located);
  auto zoe = make_child(n2, eve, "Zoe");
  CAF_REQUIRE(eve->link_remove(zoe.id));
  await_frozen(zoe, n2);
  CAF_CHECK(!zoe->location_share({1, 1, 1})); // not linked: no one to share with
  CAF_CHECK(!dad->location_share({1, 1, 1})); // a parent shares nothing
  CAF_CHECK_EQUAL(count_of(drain(leo), client::received::what::location), 0u);
  // Mum is away while Mia moves: back, she gets the latest location only.
  mum.conn.reset();
  CAF_REQUIRE(mia->location_share({1.5, 1.5, 5}));
  CAF_REQUIRE(mia->location_share({2.5, 2.5, 5}));
  // An envelope the server cannot read, with a marker to look for on disk.
  const std::string marker = "LOCATION-MARKER-7f3a9c1e-never-on-disk";
  auto raw = mia->conn().request(frame_type::location_send,
                                 encode_body(location_update{bytes(marker.begin(), marker.end())}));
  CAF_REQUIRE(raw);
  CAF_REQUIRE(mia->location_share({3.5, 3.5, 5}));
  reconnect(mum, n1);
  // (The newest may come twice, live and from the login's fetch: same `stored_at_ms`.)
  auto back = drain(mum, 1s);
  CAF_CHECK_GREATER_OR_EQUAL(count_of(back, client::received::what::location), 1u);
  for (auto& r : back)
    if (r.kind == client::received::what::location)
      CAF_CHECK_EQUAL(r.location->lat, 3.5);
  // Mum switches sharing off: Mia hears so, Mum gets nothing more.
  CAF_REQUIRE(mum->location_sharing(mia.id, false));
  auto off = mia->location_share({4.5, 4.5, 5});
  CAF_REQUIRE(!off);
  CAF_CHECK(off.error().code == errc::location_off);
  CAF_CHECK(!dad->location_sharing(mia.id, true)); // not Dad's child
  CAF_CHECK(mum->link_get(mia.id)->location_sharing == false);

  // Leo writes to Mia while she is away; Mum blocks Leo for her. The waiting mail goes,
  // Leo's next message is refused, and Mia, back, gets nothing from him.
  mia.conn.reset();
  CAF_REQUIRE(leo->send_text(mia.id, "are you there?"));
  CAF_REQUIRE(leo->send_text(mia.id, "hello?"));
  auto listed = mum->contacts(mia.id);
  CAF_REQUIRE(listed && listed->entries.size() == 2); // Leo, and Mum as her parent
  CAF_CHECK_EQUAL(listed->entries[0].id, leo.id);
  CAF_CHECK(listed->entries[0].state == contact_state::friends);
  CAF_CHECK_EQUAL(listed->entries[1].id, mum.id);
  CAF_CHECK(listed->entries[1].state == contact_state::parent);
  CAF_CHECK(!eve->contacts(mia.id));
  CAF_CHECK(!dad->contact_block(mia.id, leo.id));
  CAF_REQUIRE(mum->contact_block(mia.id, leo.id));
  CAF_CHECK(!leo->send_text(mia.id, "after the block"));
  CAF_CHECK(eventually([&] { return !state_in(leo, mia.id); })); // he only sees he is gone
  reconnect(mia, n1);
  auto after = drain(mia, 1s);
  for (auto& r : after)
    CAF_CHECK(r.from != leo.id);
  CAF_CHECK(state_in(mia, leo.id) == contact_state::blocked);

  // Mia reports Eve, who wrote to her nowhere: Eve is blocked at once, Mum is told, and the
  // operator sees the report, resolves it with a ban, and Eve is out.
  drain(mum);
  CAF_REQUIRE(mia->report(eve.id, report_category::harassment));
  CAF_CHECK(state_in(mia, eve.id) == contact_state::blocked);
  bool told = eventually([&] {
    auto items = mum->receive(200ms);
    if (!items)
      return false;
    for (auto& r : *items)
      if (r.kind == client::received::what::notice && r.notice &&
          r.notice->type == notice_type::reported && r.notice->other == eve.id)
        return r.notice->value == static_cast<uint64_t>(report_category::harassment);
    return false;
  });
  CAF_CHECK(told);
  auto listed_reports = admin(nats, {"reports", "list"});
  CAF_REQUIRE_EQUAL(listed_reports.status, 0);
  auto open = nlohmann::json::parse(listed_reports.out)["reports"];
  CAF_REQUIRE_EQUAL(open.size(), 1u);
  CAF_CHECK_EQUAL(open[0]["reporter"].get<account_id>(), mia.id);
  CAF_CHECK_EQUAL(open[0]["reported"].get<account_id>(), eve.id);
  CAF_CHECK_EQUAL(open[0]["category"].get<std::string>(), "harassment");
  CAF_CHECK_EQUAL(open[0]["reporter_parent"].get<account_id>(), mum.id);
  auto seq = std::to_string(open[0]["seq"].get<uint64_t>());
  CAF_REQUIRE_EQUAL(admin(nats, {"reports", "resolve", seq, "--ban"}).status, 0);
  auto after_resolve = admin(nats, {"reports", "list"});
  CAF_CHECK(nlohmann::json::parse(after_resolve.out)["reports"].empty());
  // Eve's session ends with `banned`, her login is refused, and her keys cannot register.
  auto gone = eve->receive(5s);
  CAF_REQUIRE(!gone);
  CAF_CHECK(gone.error().code == errc::banned);
  auto again = client::client::connect(*eve.prof, "127.0.0.1", n2.port());
  CAF_REQUIRE(again);
  auto login = (*again)->login();
  CAF_REQUIRE(!login);
  CAF_CHECK(login.error().code == errc::banned);
  auto fresh = client::client::connect(*eve.prof, "127.0.0.1", n1.port());
  CAF_REQUIRE(fresh);
  auto reregistered = (*fresh)->register_account("Eve Again", "1990-01-01", account_role::parent);
  CAF_REQUIRE(!reregistered);
  CAF_CHECK(reregistered.error().code == errc::banned);
  // Nor with her box key and a new signing key.
  auto eve_conn = client::connection::open("127.0.0.1", n1.port(), std::nullopt);
  CAF_REQUIRE(eve_conn);
  auto half_new = (*eve_conn)->request(
      frame_type::register_account,
      encode_body(register_request{"Eve Again", "1990-01-01", account_role::parent,
                                   crypto::sign_keypair::generate().pk, eve.prof->box.pk}));
  CAF_REQUIRE(!half_new);
  CAF_CHECK(half_new.error().code == errc::banned);
  CAF_REQUIRE_EQUAL(admin(nats, {"unban", std::to_string(eve.id)}).status, 0);
  CAF_CHECK((*client::client::connect(*eve.prof, "127.0.0.1", n2.port()))->login());

  // Mum exports what the cluster holds on Mia: the link, her blocks, her device.
  auto exported = mum->account_export(mia.id);
  CAF_REQUIRE(exported);
  auto doc = nlohmann::json::parse(*exported);
  CAF_CHECK_EQUAL(doc["account"]["id"].get<account_id>(), mia.id);
  CAF_CHECK_EQUAL(doc["link"]["parent"].get<account_id>(), mum.id);
  CAF_CHECK_EQUAL(doc["blocked"].size(), 2u); // Leo and Eve
  CAF_CHECK(doc["link"]["pin_set"].get<bool>());
  CAF_CHECK(doc.contains("device") && doc["presence"].contains("last_seen_ms"));
  CAF_CHECK(!eve->account_export(mia.id));
  CAF_CHECK(!leo->account_delete(mia.id));

  // Leo leaves Mia a message she will never read: he is her friend again first.
  CAF_REQUIRE(mum->contact_remove(mia.id, leo.id));
  CAF_REQUIRE(mum->policy_set(mia.id, client::friend_policy_choice::child_alone));
  CAF_REQUIRE(dad->policy_set(leo.id, client::friend_policy_choice::child_alone));
  CAF_REQUIRE(leo->friend_add(mia.id));
  CAF_CHECK(eventually([&] { return state_in(mia, leo.id) == contact_state::incoming; }));
  CAF_REQUIRE(mia->friend_accept(leo.id));
  CAF_CHECK(eventually([&] { return state_in(leo, mia.id) == contact_state::friends; }));
  mia.conn.reset();
  CAF_REQUIRE(leo->send_text(mia.id, "never read"));

  // Mum deletes Mia's account. Nothing of it stays in any bucket or mailbox.
  CAF_REQUIRE(mum->account_delete(mia.id));
  CAF_CHECK(!state_in(leo, mia.id));
  auto id_text = std::to_string(mia.id);
  bool clean = eventually([&] {
    for (auto& entry : probe.kv_entries())
      if (entry.find(id_text) != std::string::npos)
        return false;
    return true;
  });
  CAF_CHECK(clean);
  if (!clean)
    for (auto& entry : probe.kv_entries())
      if (entry.find(id_text) != std::string::npos)
        CAF_MESSAGE("still in KV: " << entry);
  auto gone_login = client::client::connect(*mia.prof, "127.0.0.1", n1.port());
  CAF_REQUIRE(gone_login);
  CAF_CHECK(!(*gone_login)->login());
  CAF_CHECK(!mum->link_get(mia.id)); // no longer her child: not_found

  // The location was never written: not in any node's files, not in NATS's store.
  for (auto* dir : {&n1, &n2})
    CAF_CHECK(files_containing(dir->data_dir(), marker).empty());
  CAF_CHECK(files_containing(nats.dir().path, marker).empty());

  // Each node's mailbox, read once the node has stopped, holds nothing to or from Mia.
  for (auto* n : {&n1, &n2}) {
    CAF_CHECK_EQUAL(n->stop(), 0);
    for (auto& e : mailbox_contents(*n)) {
      CAF_CHECK_NOT_EQUAL(e.recipient, mia.id);
      CAF_CHECK_NOT_EQUAL(e.sender, mia.id);
    }
  }
}

CAF_TEST(a deleted child leaves nothing readable in any node data dir or NATS store) {
  CAF_REQUIRE(crypto::init());
  nats_cluster nats;
  std::vector<std::string> fast_compaction{"--mailbox-compact-delay", "0s"};
  node n1{nats, "node1", fast_compaction};
  node n2{nats, "node2", fast_compaction};
  node n3{nats, "node3", fast_compaction};
  auto mum = make_user(n1, "Mum");
  auto dad = make_user(n3, "Dad");
  // A child with a name and a birth date found nowhere else, on another node than Mum.
  const std::string name = "Zephyrine Quillfeather";
  const std::string born = "2016-07-23";
  auto setup = mum->child_create(name, born);
  CAF_REQUIRE(setup);
  user mia;
  mia.dir = std::make_unique<temp_dir>("kinbox-profile");
  mia.prof = std::make_unique<client::profile>(client::profile::create(mia.dir->str()));
  {
    auto c = client::client::connect(*mia.prof, "127.0.0.1", n2.port());
    CAF_REQUIRE(c);
    CAF_REQUIRE((*c)->register_child(setup->child, setup->secret));
    mia.id = setup->child;
  }
  mia.conn.reset();
  {
    auto c = client::client::connect(*mia.prof, "127.0.0.1", n2.port());
    CAF_REQUIRE(c);
    (*c)->set_device({"android 14", "1.4.2", "de-AT", "Europe/Vienna"});
    CAF_REQUIRE((*c)->login());
    mia.conn = std::move(*c);
  }
  auto leo = make_child(n3, dad, "Leo");
  auto zoe = make_child(n1, dad, "Zoe");
  auto max = make_user(n2, "Max");
  CAF_REQUIRE(mum->pin_set(mia.id, "2741"));
  CAF_REQUIRE(mum->policy_set(mia.id, client::friend_policy_choice::child_alone));
  CAF_REQUIRE(dad->policy_set(leo.id, client::friend_policy_choice::child_alone));
  CAF_REQUIRE(mia->profile_set({name, "AT", gender::female, {}}));
  // Friends who wrote each other; mail delivered, and mail waiting for Mia.
  befriend(mia, leo);
  CAF_REQUIRE(mia->send_text(leo.id, "hi Leo"));
  CAF_CHECK_EQUAL(receive_n(leo, 1, 5s).size(), 1u);
  CAF_CHECK(!receive_n(mia, 1, 5s).empty()); // the receipt
  mia.conn.reset();
  CAF_REQUIRE(leo->send_text(mia.id, "waiting for you"));
  // Max asked Mia, who blocked him; Mia asked Zoe, whose step waits for Dad.
  CAF_REQUIRE(max->friend_add(mia.id));
  reconnect(mia, n2);
  CAF_CHECK(eventually([&] {
    auto list = mia->friends();
    return list && std::any_of(list->entries.begin(), list->entries.end(),
                               [&](auto& e) { return e.id == max.id; });
  }));
  CAF_REQUIRE(mia->contact_block(mia.id, max.id));
  CAF_REQUIRE(mia->friend_add(zoe.id));
  CAF_CHECK(eventually([&] { return static_cast<bool>(zoe->friend_accept(mia.id)); }));
  CAF_CHECK(eventually([&] {
    auto waiting = dad->approvals(zoe.id);
    return waiting && waiting->entries.size() == 1;
  }));
  mia.conn.reset();
  // Mum deletes Mia.
  CAF_REQUIRE(mum->account_delete(mia.id));
  auto waiting = dad->approvals(zoe.id);
  CAF_REQUIRE(waiting);
  CAF_CHECK(eventually([&] {
    auto w = dad->approvals(zoe.id);
    return w && w->entries.empty();
  }));
  // Nothing readable of her in any node's data dir, nor in any NATS server's store: not her
  // id (in decimal, or as 8 bytes either way round), her name or her birth date.
  std::vector<std::pair<std::string, std::string>> needles{
      {"her id", std::to_string(mia.id)}, {"her name", name}, {"her birth date", born}};
  std::string big(8, '\0'), little(8, '\0');
  for (int i = 0; i < 8; ++i) {
    big[i] = static_cast<char>(mia.id >> (56 - 8 * i));
    little[i] = static_cast<char>(mia.id >> (8 * i));
  }
  needles.emplace_back("her id in binary", big);
  needles.emplace_back("her id in binary, little-endian", little);
  std::vector<std::filesystem::path> dirs{n1.data_dir(), n2.data_dir(), n3.data_dir(),
                                          nats.dir().path};
  auto found = [&] {
    std::vector<std::string> out;
    for (auto& dir : dirs)
      for (auto& [what, needle] : needles)
        for (auto& file : files_containing(dir, needle))
          out.push_back(what + " in " + file);
    return out;
  };
  // The mailbox files are rewritten once the purges have run (at once with these nodes).
  CAF_CHECK(eventually([&] { return found().empty(); }, 20s));
  // And it stays so while the cluster goes on (shards settle and move mail between nodes).
  std::this_thread::sleep_for(2s);
  auto left = found();
  for (auto& f : left)
    CAF_MESSAGE("still readable: " << f);
  CAF_CHECK(left.empty());
}
