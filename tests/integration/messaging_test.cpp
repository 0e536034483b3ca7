// End-to-end messaging through real kinbox-node processes, a real nats-server, real TCP.
#define CAF_SUITE messaging
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

using fixture = nats_fixture;

void online_delivery_with_receipts(const node& n) {
  auto [alice, bob] = make_friends(n);
  auto sent = alice->send_text(bob.id, "hello bob");
  CAF_REQUIRE(sent);
  auto got = receive_n(bob, 1, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(got[0].kind == client::received::what::text);
  CAF_CHECK_EQUAL(got[0].text, "hello bob");
  CAF_CHECK_EQUAL(got[0].from, alice.id);
  CAF_CHECK(got[0].id == *sent);
  auto receipt = receive_n(alice, 1, 5s);
  CAF_REQUIRE_EQUAL(receipt.size(), 1u);
  CAF_CHECK(receipt[0].kind == client::received::what::delivered);
  CAF_CHECK(receipt[0].id == *sent);
  CAF_CHECK_EQUAL(receipt[0].from, bob.id);
  // And back the other way.
  CAF_REQUIRE(bob->send_text(alice.id, "hi alice"));
  auto back = receive_n(alice, 1, 5s);
  CAF_REQUIRE_EQUAL(back.size(), 1u);
  CAF_CHECK_EQUAL(back[0].text, "hi alice");
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(messaging_tests, fixture)

CAF_TEST(online delivery and receipts through the local shortcut) {
  node n{&nats};
  online_delivery_with_receipts(n);
}

CAF_TEST(online delivery and receipts through NATS subjects) {
  node n{&nats, {"--local-shortcut", "false"}};
  online_delivery_with_receipts(n);
}

CAF_TEST(offline mail is delivered in order when the recipient logs in) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  bob.conn.reset(); // bob goes offline
  std::vector<message_id> ids;
  for (int i = 0; i < 20; ++i) {
    auto sent = alice->send_text(bob.id, "offline " + std::to_string(i));
    CAF_REQUIRE(sent);
    ids.push_back(*sent);
  }
  reconnect(bob, n);
  auto got = receive_n(bob, 20, 10s);
  CAF_REQUIRE_EQUAL(got.size(), 20u);
  for (size_t i = 0; i < got.size(); ++i) {
    CAF_CHECK(got[i].id == ids[i]);
    CAF_CHECK_EQUAL(got[i].text, "offline " + std::to_string(i));
  }
  auto receipts = receive_n(alice, 20, 10s);
  CAF_CHECK_EQUAL(receipts.size(), 20u);
  // Acked mail is gone: a new login gets nothing.
  reconnect(bob, n);
  auto again = bob->receive(500ms);
  CAF_REQUIRE(again);
  CAF_CHECK(again->empty());
}

CAF_TEST(a long offline backlog sent pipelined arrives complete and in order) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  bob.conn.reset();
  constexpr size_t count = 2500; // more than two drain pages
  std::vector<std::string> texts;
  for (size_t i = 0; i < count; ++i)
    texts.push_back("backlog " + std::to_string(i));
  auto ids = send_pipelined(alice, bob.id, texts);
  reconnect(bob, n);
  auto got = receive_n(bob, count, 30s);
  CAF_REQUIRE_EQUAL(got.size(), count);
  for (size_t i = 0; i < count; ++i)
    CAF_CHECK(got[i].id == ids[i]);
  // Live mail flows again once the backlog is through.
  CAF_REQUIRE(alice->send_text(bob.id, "live again"));
  auto live = receive_n(bob, 1, 5s);
  CAF_REQUIRE_EQUAL(live.size(), 1u);
  CAF_CHECK_EQUAL(live[0].text, "live again");
}

CAF_TEST(pipelined messages to an online friend arrive in the order they were sent) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  reconnect(alice, n); // a fresh session: its first requests race its actor lookups
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i)
    texts.push_back("in order " + std::to_string(i));
  auto ids = send_pipelined(alice, bob.id, texts);
  auto got = receive_n(bob, ids.size(), 10s);
  CAF_REQUIRE_EQUAL(got.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    CAF_CHECK(got[i].id == ids[i]);
}

CAF_TEST(the same message id from two senders is two messages) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  auto carol = make_user(n, "Carol");
  befriend(carol, bob);
  auto send_both = [&](const message_id& id) {
    for (auto* from : {&alice, &carol}) {
      auto key = (*from)->keys_of(bob.id);
      CAF_REQUIRE(key);
      auto text = "from " + std::to_string(from->id);
      auto sent = (*from)->send_payload(
          bob.id, id,
          crypto::box_seal(client::encode_plaintext(text), key->box_key, from->prof->box));
      CAF_REQUIRE(sent);
    }
  };
  auto texts_of = [](const std::vector<client::received>& got) {
    std::set<std::string> out;
    for (auto& r : got)
      out.insert(r.text);
    return out;
  };
  std::set<std::string> expected{"from " + std::to_string(alice.id),
                                 "from " + std::to_string(carol.id)};
  send_both(crypto::new_message_id()); // bob online: held for his ack
  CAF_CHECK(texts_of(receive_n(bob, 2, 10s)) == expected);
  bob.conn.reset();
  send_both(crypto::new_message_id()); // bob offline: stored
  reconnect(bob, n);
  CAF_CHECK(texts_of(receive_n(bob, 2, 10s)) == expected);
}

CAF_TEST(a client that pipelines requests and never reads is cut before it grows the node) {
  node n{&nats, {"--max-outbound", "256KiB"}};
  auto u = make_user(n, "Pipe");
  auto before = peak_rss(n.pid());
  auto& conn = u->conn();
  // 2M whoami (about 60 MB of answers) if the node never cut the connection.
  bool cut = false;
  for (int batch = 0; batch < 2000 && !cut; ++batch) {
    for (int i = 0; i < 1000; ++i)
      conn.queue_frame(frame{frame_type::whoami, conn.next_request_id(), {}});
    cut = !conn.flush();
  }
  CAF_CHECK(cut);
  CAF_CHECK(eventually([&] { return n.log().find("event=slow_consumer") != std::string::npos; }));
  auto growth = peak_rss(n.pid()) - before;
  CAF_MESSAGE("node peak RSS grew by " << growth / 1024 << " KiB");
  CAF_CHECK_LESS(growth, 32u << 20);
}

CAF_TEST(a connection that stops reading is cut and its mail waits for the next login) {
  node n{&nats, {"--max-outbound", "64KiB", "--max-frame-size", "16KiB"}};
  auto [alice, bob] = make_friends(n);
  // Bob stays connected but never reads; alice sends far more than the socket buffers.
  constexpr size_t sent = 1000;
  send_pipelined(alice, bob.id, std::vector<std::string>(sent, std::string(8 * 1024, 'z')));
  CAF_CHECK(n.log().find("event=slow_consumer") != std::string::npos);
  reconnect(bob, n);
  auto got = receive_n(bob, sent, 30s);
  CAF_CHECK_EQUAL(got.size(), sent);
}

CAF_TEST(mail pushed to a session that went away unacked reaches the next one in order) {
  // A long ack window: the unacked mail is still held in memory when bob comes back.
  node n{&nats, {"--ack-window", "1s"}};
  auto [alice, bob] = make_friends(n);
  std::vector<std::string> texts{"one", "two", "three", "four", "five"};
  // Pushed to bob, whose app reads them but never acks: no commits, no accepted yet.
  auto ids = send_pipelined(alice, bob.id, texts, false);
  for (size_t pushed = 0; pushed < texts.size();) {
    auto f = bob->conn().read_frame(5s);
    CAF_REQUIRE(f);
    pushed += f->type == frame_type::mail ? 1 : 0;
  }
  reconnect(bob, n);
  await_accepted(alice, texts.size());
  auto more = alice->send_text(bob.id, "six");
  CAF_REQUIRE(more);
  ids.push_back(*more);
  auto got = receive_n(bob, ids.size(), 10s);
  CAF_REQUIRE_EQUAL(got.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    CAF_CHECK(got[i].id == ids[i]);
}

CAF_TEST(a receive whose profile cannot be saved acks nothing and loses nothing) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  auto ids = send_pipelined(alice, bob.id, {"kept"}, false);
  // The profile directory turns into a file: the seen ids cannot be saved.
  std::filesystem::path dir = bob.prof->dir;
  auto away = dir.string() + ".away";
  std::filesystem::rename(dir, away);
  { std::ofstream{dir}; }
  auto failed = bob->receive(5s);
  CAF_CHECK(!failed);
  std::filesystem::remove(dir);
  std::filesystem::rename(away, dir);
  reconnect(bob, n);
  auto got = receive_n(bob, 1, 10s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(got[0].id == ids[0] && got[0].text == "kept");
}

CAF_TEST(a receipt for an offline sender waits as mail) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  auto sent = alice->send_text(bob.id, "see you");
  CAF_REQUIRE(sent);
  alice.conn.reset();
  CAF_CHECK_EQUAL(receive_n(bob, 1, 5s).size(), 1u);
  reconnect(alice, n);
  auto receipt = receive_n(alice, 1, 5s);
  CAF_REQUIRE_EQUAL(receipt.size(), 1u);
  CAF_CHECK(receipt[0].kind == client::received::what::delivered);
  CAF_CHECK(receipt[0].id == *sent);
}

CAF_TEST(a message id seen before is dropped by the client even if stored again) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  auto key = alice->keys_of(bob.id);
  CAF_REQUIRE(key);
  auto id = crypto::new_message_id();
  auto payload = crypto::box_seal(client::encode_plaintext("once"), key->box_key, alice.prof->box);
  CAF_REQUIRE(alice->send_payload(bob.id, id, payload));
  CAF_REQUIRE(alice->send_payload(bob.id, id, payload)); // a retry: stored once
  auto got = receive_n(bob, 1, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(bob->receive(300ms)->empty());
  // After the ack the server forgot it; a late duplicate is stored again, and the SDK
  // (remembering ids in the profile) drops it, also across a new login.
  CAF_REQUIRE(alice->send_payload(bob.id, id, payload));
  reconnect(bob, n);
  auto late = bob->receive(1s);
  CAF_REQUIRE(late);
  CAF_CHECK(late->empty());
}

CAF_TEST(a stranger cannot send read keys or status and learns nothing) {
  node n{&nats};
  auto alice = make_user(n, "Alice");
  auto bob = make_user(n, "Bob");
  auto mallory = make_user(n, "Mallory");
  befriend(alice, bob);
  auto send = mallory->send_payload(bob.id, crypto::new_message_id(), bytes(64, 1));
  CAF_REQUIRE(!send);
  CAF_CHECK(send.error().code == errc::not_found);
  auto key = mallory->keys_of(bob.id);
  CAF_REQUIRE(!key);
  CAF_CHECK(key.error().code == errc::not_found);
  auto status = mallory->status(bob.id);
  CAF_REQUIRE(!status);
  CAF_CHECK(status.error().code == errc::not_found);
  // An unknown id answers exactly like a real one.
  auto unknown = mallory->send_payload(1000000001, crypto::new_message_id(), bytes(64, 1));
  CAF_REQUIRE(!unknown);
  CAF_CHECK(unknown.error().code == send.error().code);
  CAF_CHECK_EQUAL(unknown.error().message, send.error().message);
  CAF_CHECK(mallory->friend_add(1000000001));
  CAF_CHECK(mallory->friend_add(bob.id));
  // A pending request gives no access either.
  CAF_CHECK(!mallory->keys_of(bob.id));
  CAF_CHECK(bob->receive(300ms)->empty());
}

CAF_TEST(friend requests can be declined and cannot be accepted by the requester) {
  node n{&nats};
  auto alice = make_user(n, "Alice");
  auto bob = make_user(n, "Bob");
  CAF_REQUIRE(alice->friend_add(bob.id));
  auto self_accept = alice->friend_accept(bob.id);
  CAF_CHECK(!self_accept);
  CAF_REQUIRE(eventually([&] { return !bob->friends()->entries.empty(); }));
  auto list = bob->friends();
  CAF_REQUIRE(list);
  CAF_REQUIRE_EQUAL(list->entries.size(), 1u);
  CAF_CHECK(list->entries[0].state == contact_state::incoming);
  CAF_CHECK_EQUAL(list->entries[0].name, "Alice"); // who asked shows itself to the one asked
  auto asked = alice->friends();
  CAF_REQUIRE(asked && asked->entries.size() == 1u);
  CAF_CHECK_EQUAL(asked->entries[0].name, ""); // an id asked shows nothing of who holds it
  CAF_REQUIRE(bob->friend_decline(alice.id));
  CAF_CHECK(bob->friends()->entries.empty());
  CAF_CHECK(eventually([&] { return alice->friends()->entries.empty(); }));
  CAF_CHECK(!alice->send_text(bob.id, "hi"));
  // Declined: asking again at once is refused with its own code and a retry-after.
  auto again = alice->friend_add(bob.id);
  CAF_REQUIRE(!again);
  CAF_CHECK(again.error().code == errc::friend_request_cooldown);
  CAF_CHECK(again.error().retry_after_ms > 0);
}

CAF_TEST(presence is online while attached and last seen after) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  auto online = alice->status(bob.id);
  CAF_REQUIRE(online);
  CAF_CHECK(online->online);
  bob.conn.reset();
  CAF_CHECK(eventually([&] {
    auto s = alice->status(bob.id);
    return s && !s->online && s->last_seen_ms > 0;
  }));
}

CAF_TEST(a second login takes over and the first connection is told why) {
  node n{&nats};
  auto alice = make_user(n, "Alice");
  auto first = std::move(alice.conn);
  reconnect(alice, n);
  auto bye = first->conn().next_push(3s);
  CAF_REQUIRE(!bye);
  CAF_CHECK(bye.error().code == errc::session_replaced);
  CAF_CHECK(first->conn().closed());
  CAF_CHECK(alice->whoami());
}

CAF_TEST(the CLI registers befriends sends and receives with json output) {
  node n{&nats};
  temp_dir a{"kinbox-cli-a"}, b{"kinbox-cli-b"};
  auto gw = "127.0.0.1:" + std::to_string(n.port());
  auto cli = [&](const temp_dir& p, std::vector<std::string> args) {
    std::vector<std::string> argv{KINBOX_CLI_BIN, "--profile", p.str(), "--gateway", gw, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  auto ra = cli(a, {"register", "--name", "Ann", "--birth-date", "1984-01-01"});
  CAF_REQUIRE_EQUAL(ra.status, 0);
  auto rb = cli(b, {"register", "--name", "Ben", "--birth-date", "1984-01-01", "--role", "parent"});
  CAF_REQUIRE_EQUAL(rb.status, 0);
  auto id_of = [](const std::string& out) {
    auto pos = out.find("\"id\":");
    return out.substr(pos + 5, out.find_first_of(",}", pos) - pos - 5);
  };
  auto ann = id_of(ra.out), ben = id_of(rb.out);
  CAF_CHECK_EQUAL(cli(a, {"friend", "add", ben}).status, 0);
  CAF_CHECK(eventually([&] { return cli(b, {"friend", "accept", ann}).status == 0; }));
  CAF_CHECK(eventually([&] {
    return cli(a, {"friend", "list"}).out.find("\"state\":\"friend\"") != std::string::npos;
  }));
  auto sent = cli(a, {"send", ben, "cli hello"});
  CAF_CHECK_EQUAL(sent.status, 0);
  CAF_CHECK(sent.out.find("\"accepted\"") != std::string::npos);
  auto got = cli(b, {"recv", "--wait", "2"});
  CAF_CHECK_EQUAL(got.status, 0);
  CAF_CHECK(got.out.find("\"text\":\"cli hello\"") != std::string::npos);
  auto whoami = cli(a, {"whoami"});
  CAF_CHECK(whoami.out.find("\"name\":\"Ann\"") != std::string::npos);
  auto stranger = cli(a, {"status", "1000000001"});
  CAF_CHECK_NOT_EQUAL(stranger.status, 0);
  CAF_CHECK(stranger.err.find("not_found") != std::string::npos);
  auto usage = run_command({KINBOX_CLI_BIN, "bogus"});
  CAF_CHECK_EQUAL(usage.status, 2);
  // The profile keeps secrets to its owner.
  CAF_CHECK_EQUAL(std::filesystem::status(a.path / "profile.json").permissions() &
                      std::filesystem::perms::all,
                  std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // A gateway presenting another cluster key (another cluster: a node with another key
  // does not join this one) is refused.
  node impostor{nullptr};
  auto refused = run_command({KINBOX_CLI_BIN, "--profile", a.str(), "--gateway",
                              "127.0.0.1:" + std::to_string(impostor.port()), "whoami"});
  CAF_CHECK_NOT_EQUAL(refused.status, 0);
  CAF_CHECK(refused.err.find("key_mismatch") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
