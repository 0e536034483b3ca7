// Mail that must survive: expiry, kill -9, clean shutdown, and what is written to disk.
#define CAF_SUITE durability
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <signal.h>

#include "cluster/kv_actor.hpp"
#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

using fixture = nats_fixture;

} // namespace

CAF_TEST_FIXTURE_SCOPE(durability_tests, fixture)

CAF_TEST(a deleted account opens on no node and none of its records is written again) {
  auto link = nats_link::connect({nats.url()}, "test", std::nullopt);
  CAF_REQUIRE(link);
  auto buckets = kv_buckets::open(**link, "test", 1, 10s, 1 << 20);
  CAF_REQUIRE(buckets);
  crypto::pin_pepper root;
  root.key.fill(3);
  auto secrets = crypto::storage_secrets::derive(root);
  // Two nodes' views: `here` deletes, `there` read the account a moment before.
  auto here = sealed_view(**buckets, secrets);
  auto there = sealed_view(**buckets, secrets, 300ms);
  bytes profile{'M', 'i', 'a'};
  CAF_REQUIRE(here.put(kv_space::profiles, "42", profile));
  CAF_REQUIRE(here.put(kv_space::last_seen, "42", bytes{1}));
  auto seen = there.get(kv_space::profiles, "42");
  CAF_REQUIRE(seen && *seen);
  CAF_CHECK(**seen == profile);
  CAF_REQUIRE(here.shred("42"));
  auto gone = here.get(kv_space::profiles, "42");
  CAF_REQUIRE(gone);
  CAF_CHECK(!*gone);
  // A late write (a detach's last-seen time) is refused, not sealed under a new key.
  auto late = here.put(kv_space::last_seen, "42", bytes{2});
  CAF_REQUIRE(!late);
  CAF_CHECK(late.error().code == errc::not_found);
  // An id of a deleted account is taken for good: a registration draws another.
  auto again = here.create(kv_space::accounts, "42", bytes{3});
  CAF_REQUIRE(again);
  CAF_CHECK(!*again);
  // The other node stops using the key it had in memory within its key life.
  CAF_CHECK(eventually([&] {
    auto r = there.get(kv_space::profiles, "42");
    return r && !*r;
  }));
  CAF_CHECK(!there.put(kv_space::profiles, "42", profile));
  // A deletion asked again finds the tombstone and leaves it.
  CAF_CHECK(here.shred("42"));
  CAF_CHECK(!here.put(kv_space::profiles, "42", profile));
  // Other accounts are untouched.
  CAF_CHECK(here.put(kv_space::profiles, "43", profile));
}

CAF_TEST(undelivered mail expires and the sender gets an expired receipt) {
  node n{&nats, {"--mail-ttl", "1s", "--sweep-interval", "200ms"}};
  auto [alice, bob] = make_friends(n);
  bob.conn.reset();
  auto sent = alice->send_text(bob.id, "too late");
  CAF_REQUIRE(sent);
  auto receipt = receive_n(alice, 1, 5s);
  CAF_REQUIRE_EQUAL(receipt.size(), 1u);
  CAF_CHECK(receipt[0].kind == client::received::what::expired);
  CAF_CHECK(receipt[0].id == *sent);
  CAF_CHECK_EQUAL(receipt[0].from, bob.id);
  reconnect(bob, n);
  auto got = bob->receive(500ms);
  CAF_REQUIRE(got);
  CAF_CHECK(got->empty());
}

CAF_TEST(mail accepted before a kill -9 is delivered after the restart) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  bob.conn.reset();
  std::vector<message_id> ids;
  for (int i = 0; i < 50; ++i) {
    auto sent = alice->send_text(bob.id, "durable " + std::to_string(i));
    CAF_REQUIRE(sent);
    ids.push_back(*sent);
  }
  n.kill9();
  alice.conn.reset();
  n.start();
  reconnect(bob, n);
  auto got = receive_n(bob, 50, 10s);
  CAF_REQUIRE_EQUAL(got.size(), 50u);
  for (size_t i = 0; i < got.size(); ++i)
    CAF_CHECK(got[i].id == ids[i]);
  reconnect(alice, n);
  CAF_CHECK_EQUAL(receive_n(alice, 50, 10s).size(), 50u);
}

CAF_TEST(sigterm says bye to sessions and stops cleanly keeping stored mail) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  bob.conn.reset();
  CAF_REQUIRE(alice->send_text(bob.id, "across a restart"));
  CAF_CHECK_EQUAL(n.stop(), 0);
  auto bye = alice->conn().next_push(2s);
  CAF_REQUIRE(!bye);
  CAF_CHECK(bye.error().code == errc::shutting_down);
  CAF_CHECK(n.log().find("event=stopped") != std::string::npos);
  n.start();
  reconnect(bob, n);
  auto got = receive_n(bob, 1, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK_EQUAL(got[0].text, "across a restart");
}

CAF_TEST(mail pushed but not acked when the node stops is delivered after the restart) {
  node n{&nats, {"--ack-window", "1s"}}; // still held in memory when the node stops
  auto [alice, bob] = make_friends(n);
  std::vector<std::string> texts;
  for (int i = 0; i < 20; ++i)
    texts.push_back("unacked " + std::to_string(i));
  auto ids = send_pipelined(alice, bob.id, texts, false);
  for (size_t i = 0; i < ids.size(); ++i) { // pushed to bob, who never acks them
    auto push = bob->conn().next_push(5s);
    CAF_REQUIRE(push && *push);
  }
  CAF_CHECK_EQUAL(n.stop(), 0);
  n.start();
  reconnect(bob, n);
  auto got = receive_n(bob, ids.size(), 10s);
  CAF_REQUIRE_EQUAL(got.size(), ids.size());
  for (size_t i = 0; i < got.size(); ++i)
    CAF_CHECK(got[i].id == ids[i]);
}

CAF_TEST(no plaintext of a message reaches the mailbox the KV store or the logs) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  bob.conn.reset();
  const std::string marker = "PLAINTEXT-MARKER-7f3a9c";
  for (int i = 0; i < 5; ++i)
    CAF_REQUIRE(alice->send_text(bob.id, marker + " " + std::to_string(i)));
  // Force JetStream to write out what it holds, then look everywhere.
  CAF_CHECK_EQUAL(n.stop(), 0);
  CAF_CHECK(std::filesystem::exists(std::filesystem::path{n.data_dir()} / "mailbox" / "data.mdb"));
  CAF_CHECK(files_containing(n.data_dir(), marker).empty());
  CAF_CHECK(files_containing(nats.dir().path, marker).empty());
  CAF_CHECK(files_containing(alice.dir->path, marker).empty());
  n.start();
  reconnect(bob, n);
  auto got = receive_n(bob, 5, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 5u);
  CAF_CHECK_EQUAL(got[0].text, marker + " 0");
  CAF_CHECK(files_containing(bob.dir->path, marker).empty());
}

CAF_TEST(a full mailbox refuses new mail with a retryable error and keeps the old) {
  node n{&nats,
         {"--mailbox-initial-size", "1MiB", "--mailbox-max-size", "2MiB", "--max-frame-size",
          "256KiB"}};
  auto [alice, bob] = make_friends(n);
  bob.conn.reset();
  std::string big(200 * 1024, 'x');
  int stored = 0;
  std::optional<failure> refused;
  for (int i = 0; i < 40 && !refused; ++i) {
    auto sent = alice->send_text(bob.id, big + std::to_string(i));
    if (sent)
      ++stored;
    else
      refused = sent.error();
  }
  CAF_REQUIRE(refused);
  CAF_CHECK(refused->code == errc::mailbox_full);
  CAF_CHECK(errc_retryable(refused->code));
  CAF_CHECK_GREATER(stored, 2);
  reconnect(bob, n);
  auto got = receive_n(bob, static_cast<size_t>(stored), 10s);
  CAF_CHECK_EQUAL(got.size(), static_cast<size_t>(stored));
  // Acked mail made room: sending works again.
  CAF_CHECK(alice->send_text(bob.id, "room again"));
}

CAF_TEST(an account filled to its cap refuses its senders while others get mail) {
  node n{&nats, {"--mailbox-cap-count", "40"}};
  auto [alice, bob] = make_friends(n);
  auto carol = make_user(n, "Carol");
  befriend(alice, carol);
  bob.conn.reset();
  carol.conn.reset();
  size_t stored = 0;
  std::optional<failure> refused;
  for (int i = 0; i < 60 && !refused; ++i) {
    auto sent = alice->send_text(bob.id, "to bob " + std::to_string(i));
    if (sent)
      ++stored;
    else
      refused = sent.error();
  }
  CAF_REQUIRE(refused);
  CAF_CHECK(refused->code == errc::mailbox_cap);
  CAF_CHECK(errc_retryable(refused->code));
  CAF_CHECK_EQUAL(stored, 40u);
  CAF_CHECK(alice->send_text(carol.id, "carol is not full")); // others still get mail
  reconnect(carol, n);
  CAF_CHECK_EQUAL(receive_n(carol, 1, 10s).size(), 1u);
  reconnect(bob, n);
  auto got = receive_n(bob, stored, 10s);
  CAF_REQUIRE_EQUAL(got.size(), stored);
  CAF_CHECK_EQUAL(got.front().text, "to bob 0"); // the oldest mail was kept
  // His acks made room again (once they are committed: the cap is retryable).
  bob.conn.reset();
  CAF_CHECK(eventually([&] { return static_cast<bool>(alice->send_text(bob.id, "room again")); }));
}

CAF_TEST(a NATS outage gives retryable errors and no crash and service resumes) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  CAF_REQUIRE(alice->keys_of(bob.id)); // the app has its friend's key cached
  bob.conn.reset();
  nats.stop();
  // Mail between active accounts still lands in the mailbox; anything needing KV fails
  // with a retryable error.
  auto sent = alice->send_text(bob.id, "during the outage");
  CAF_CHECK(sent);
  auto status = alice->status(bob.id);
  CAF_REQUIRE(!status);
  CAF_CHECK(errc_retryable(status.error().code));
  auto fresh = client::profile::create((alice.dir->path / "fresh").string());
  auto c = client::client::connect(fresh, "127.0.0.1", n.port());
  CAF_REQUIRE(c);
  auto reg = (*c)->register_account("Dora", "1980-01-01", account_role::parent);
  CAF_REQUIRE(!reg);
  CAF_CHECK(errc_retryable(reg.error().code));
  CAF_CHECK(n.log().find("event=nats_disconnected") != std::string::npos);
  nats.start();
  bool registered = false;
  for (int i = 0; i < 50 && !registered; ++i) {
    auto again = client::client::connect(fresh, "127.0.0.1", n.port());
    CAF_REQUIRE(again);
    registered =
        static_cast<bool>((*again)->register_account("Dora", "1980-01-01", account_role::parent));
    if (!registered)
      std::this_thread::sleep_for(200ms);
  }
  CAF_CHECK(registered);
  reconnect(bob, n);
  auto got = receive_n(bob, 1, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK_EQUAL(got[0].text, "during the outage");
}

CAF_TEST(mail whose sender key cannot be fetched during a NATS outage is not acked and comes again) {
  node n{&nats};
  auto [alice, bob] = make_friends(n);
  CAF_REQUIRE(alice->keys_of(bob.id));
  reconnect(bob, n); // an app that has not fetched alice's key yet
  nats.stop();
  CAF_REQUIRE(alice->send_text(bob.id, "sealed for bob"));
  auto during = bob->receive(2s); // the key lookup reads KV, which is down
  CAF_REQUIRE(!during);
  CAF_CHECK(errc_retryable(during.error().code));
  nats.start();
  CAF_REQUIRE(eventually([&] { return static_cast<bool>(alice->status(bob.id)); }, 20s));
  reconnect(bob, n);
  auto got = receive_n(bob, 1, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK_EQUAL(got[0].text, "sealed for bob");
}

CAF_TEST_FIXTURE_SCOPE_END()
