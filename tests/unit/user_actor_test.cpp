#define CAF_SUITE user_actor
#define FAIL(x) CAF_FAIL(x)
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "actors/chat_interface.hpp"
#include "actors/contacts.hpp"
#include "actors/family_actor.hpp"
#include "actors/profile.hpp"
#include "actors/safety.hpp"
#include "actors/user_actor.hpp"
#include "cluster/shard_map.hpp"
#include "config/caf_error.hpp"
#include "fakes.hpp"
#include "protocol/wire.hpp"
#include "tests/images.hpp"

using namespace kinbox;
using fakes::value;

namespace {

constexpr account_id alice = 1111111111;
constexpr account_id bob = 2222222222;
constexpr account_id carol = 3333333333;
constexpr account_id nobody = 9999999999;

/// In-memory stand-ins for the store, the KV buckets and the router, so the user
/// actor's rules run under CAF's deterministic test coordinator.
struct world : fakes::kv_world {
  /// Keyed as the real mailbox keys it: recipient, kind, sender, id.
  std::map<std::tuple<account_id, mail_kind, account_id, message_id>, envelope> mail;
  std::vector<entity_request> routed;
  std::vector<mail_push> pushes;
  size_t puts = 0;        ///< put requests the store got
  size_t compactions = 0; ///< compactions the store was asked for
  std::vector<uint16_t> kicks;
  size_t reattaches = 0;
  size_t thaws = 0;         ///< sessions told their frozen child may send again
  std::vector<bool> asleep; ///< what sessions were told of quiet hours, in order
  uint64_t now = 1000;
  uint64_t next_seq = 0;
  caf::message family_answer; ///< what every family answers (e.g. its latest location)
  caf::message call_answer;   ///< what every other account answers a call signal
};

store_actor::behavior_type fake_store(store_actor::pointer, std::shared_ptr<world> w) {
  return {
      [=](put_atom, std::vector<envelope>& batch, bool) -> std::vector<put_result> {
        ++w->puts;
        std::vector<put_result> stored;
        for (auto& e : batch) {
          auto key = std::make_tuple(e.recipient, e.kind, e.sender, e.id);
          e.seq = ++w->next_seq;
          stored.push_back(w->mail.emplace(key, e).second ? put_result::stored
                                                          : put_result::duplicate);
        }
        return stored;
      },
      [=](ack_atom, std::vector<mail_ref>& refs) -> std::vector<envelope> {
        std::vector<envelope> out;
        for (auto& r : refs) {
          auto i = w->mail.find(std::make_tuple(r.recipient, r.key.kind, r.key.sender, r.key.id));
          if (i != w->mail.end()) {
            out.push_back(i->second);
            w->mail.erase(i);
          }
        }
        return out;
      },
      [=](pending_atom, account_id who, uint64_t after, uint64_t max_count, uint64_t) -> mail_page {
        mail_page page;
        for (auto& [key, e] : w->mail)
          if (e.recipient == who && e.seq > after)
            page.mail.push_back(e);
        std::sort(page.mail.begin(), page.mail.end(),
                  [](const envelope& a, const envelope& b) { return a.seq < b.seq; });
        if (page.mail.size() > max_count) {
          page.mail.resize(max_count);
          page.more = true;
        }
        return page;
      },
      [=](expire_atom, uint64_t) -> expired_mail { return {}; },
      [=](count_atom) -> uint64_t { return w->mail.size(); },
      [=](usage_atom, account_id who) -> caf::result<uint64_t, uint64_t> {
        uint64_t count = 0, bytes = 0;
        for (auto& [key, e] : w->mail)
          if (e.recipient == who) {
            ++count;
            bytes += e.payload.size();
          }
        return {count, bytes};
      },
      [=](recipients_atom, account_id after, uint64_t) {
        std::vector<account_id> out;
        for (auto& [key, e] : w->mail)
          if (e.recipient > after && (out.empty() || out.back() != e.recipient))
            out.push_back(e.recipient);
        return out;
      },
      [=](flush_atom) {},
      [=](compact_atom) { ++w->compactions; },
      [=](compact_now_atom, bool) {},
      [=](gauges_atom) {},
  };
}

/// Every other entity: records what reaches it and answers ok.
caf::behavior fake_entity(caf::event_based_actor*, std::shared_ptr<world> w) {
  return {
      [=](std::vector<entity_request>& reqs) {
        w->routed.insert(w->routed.end(), reqs.begin(), reqs.end());
        std::vector<entity_reply> out;
        for (auto& r : reqs)
          out.push_back(
              entity_reply{0,
                           {},
                           0,
                           r.kind == family_kind ? w->family_answer
                           : r.kind == user_kind && r.op == static_cast<uint8_t>(user_op::call_in)
                               ? w->call_answer
                               : caf::message{}});
        return out;
      },
  };
}

caf::behavior fake_session(caf::event_based_actor*, std::shared_ptr<world> w) {
  return {
      [=](push_atom, account_id, std::vector<mail_push>& mail) {
        w->pushes.insert(w->pushes.end(), mail.begin(), mail.end());
      },
      [=](kick_atom, account_id, uint16_t code) { w->kicks.push_back(code); },
      [=](reattach_atom, account_id) { ++w->reattaches; },
      [=](thawed_atom, account_id) { ++w->thaws; },
      [=](asleep_atom, account_id, bool asleep) { w->asleep.push_back(asleep); },
  };
}

/// The mail a routed request delivers, if it is a delivery.
std::optional<deliver_body> deliver_of(const entity_request& r) {
  if (r.op != static_cast<uint8_t>(user_op::deliver) || !r.args.match_elements<deliver_body>())
    return std::nullopt;
  return r.args.get_as<deliver_body>(0);
}

message_id id_of(uint8_t tag) {
  message_id id;
  id.fill(tag);
  return id;
}

constexpr uint64_t incarnation = 7;

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<world> w = std::make_shared<world>();
  fakes::no_bus bus;
  std::shared_ptr<entity_service> service;
  user_deps deps;
  std::vector<user_actor> users;
  std::vector<caf::actor> sessions;

  ~fixture() {
    for (auto& u : users)
      caf::anon_send_exit(u, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  fixture() {
    service = fakes::lone_node_service(bus, incarnation);
    service->register_kind(user_kind, sys.spawn(fakes::host, sys.spawn(fake_entity, w)),
                           user_codec());
    service->register_kind(family_kind, sys.spawn(fakes::host, sys.spawn(fake_entity, w)),
                           family_codec());
    service->register_kind(chat_kind, sys.spawn(fakes::host, sys.spawn(fake_entity, w)),
                           chat_codec());
    deps.store = sys.spawn(fake_store, w);
    deps.images = spawn_image_worker(sys, false);
    deps.kv = sys.spawn(fakes::kv, w);
    deps.service = service;
    deps.now_ms = [w = w] { return w->now; };
    deps.mail_ttl = std::chrono::milliseconds(5000);
    for (auto id : {alice, bob, carol}) {
      account_record a;
      a.id = id;
      a.name = "user" + std::to_string(id % 10);
      a.role = account_role::parent; // a child's friends wait for its parent (family tests)
      a.birth_date = "2015-01-01";
      a.box_key.fill(static_cast<uint8_t>(id % 10));
      w->kv[{kv_space::accounts, std::to_string(id)}] = encode_account(a);
    }
  }

  /// Lets `t` pass on the world's clock and the scheduler's (timers fire).
  void pass(std::chrono::milliseconds t) {
    w->now += static_cast<uint64_t>(t.count());
    sched.advance_time(t);
    consume_messages();
  }

  /// Records `parent` as the linked parent in `child`'s contact list (kept or made).
  void link_parent(account_id child, account_id parent) {
    auto& record = w->kv[{kv_space::contacts, std::to_string(child)}];
    auto list = record.empty() ? contact_list_state{} : *contact_list_state::decode(record);
    list.set_parent(parent);
    record = list.encode();
  }

  /// Makes `other` a friend of `owner`, besides those it has.
  void befriend(account_id owner, account_id other) {
    contact_list_state list;
    if (auto i = w->kv.find({kv_space::contacts, std::to_string(owner)}); i != w->kv.end())
      list = *contact_list_state::decode(i->second);
    list.receive_request(other, w->now);
    list.accept(other, w->now, false);
    w->kv[{kv_space::contacts, std::to_string(owner)}] = list.encode();
  }

  entity_reply call(const user_actor& user, account_id caller, user_op op, bytes body = {}) {
    auto args = fakes::arg_from(user_interface::codec(), static_cast<uint8_t>(op), body);
    entity_request req{user_kind, 0, static_cast<uint8_t>(op), caller, std::move(args)};
    auto pending = self->request(user, caf::infinite, std::move(req));
    consume_messages();
    entity_reply out = error_reply(errc::internal, "no reply");
    pending.receive([&](entity_reply& r) { out = std::move(r); },
                    [&](caf::error& err) { CAF_FAIL("unexpected error: " << sys.render(err)); });
    return out;
  }

  /// Sends a request whose reply may come later (held mail is answered at its ack): the
  /// reply lands in the returned slot once it comes.
  std::shared_ptr<std::optional<entity_reply>> call_later(const user_actor& user, account_id caller,
                                                          user_op op, bytes body = {}) {
    auto out = std::make_shared<std::optional<entity_reply>>();
    auto args = fakes::arg_from(user_interface::codec(), static_cast<uint8_t>(op), body);
    entity_request req{user_kind, 0, static_cast<uint8_t>(op), caller, std::move(args)};
    sys.spawn([=](caf::event_based_actor* a) {
      a->request(user, caf::infinite, req)
          .then([=](entity_reply& r) { *out = std::move(r); },
                [=](caf::error&) { *out = error_reply(errc::internal, "request failed"); });
    });
    consume_messages();
    return out;
  }

  /// Whether a message `tag` from anyone waits for `recipient`.
  bool stored(account_id recipient, uint8_t tag) const {
    return std::any_of(w->mail.begin(), w->mail.end(), [&](auto& entry) {
      auto& e = entry.second;
      return e.recipient == recipient && e.kind == mail_kind::message && e.id == id_of(tag);
    });
  }

  user_actor spawn(account_id id) {
    auto user = spawn_user(sys, id, std::make_shared<const user_deps>(deps));
    users.push_back(user);
    consume_messages();
    return user;
  }

  static bytes session_endpoint(uint64_t session_id) {
    return encode_endpoint({"test", incarnation, session_id});
  }

  static bytes attach_of(uint64_t session_id, const device_info& device = {}) {
    return encode_body(attach_body{{"test", incarnation, session_id}, device});
  }

  /// Attaches a new session of `owner` (as its gateway would, through an entity request).
  attach_reply attach(const user_actor& user, account_id owner, uint64_t session_id,
                      const device_info& device = {}) {
    auto session = sys.spawn(fake_session, w);
    sessions.push_back(session);
    service->add_endpoint(session_id, session);
    auto reply = call(user, owner, user_op::attach, attach_of(session_id, device));
    if (!reply.ok())
      CAF_FAIL("attach failed: " << reply.message);
    auto attached = value<attach_reply>(reply);
    CAF_REQUIRE(attached);
    CAF_CHECK_EQUAL(attached->account.id, owner);
    CAF_CHECK_EQUAL(attached->node, "test");
    consume_messages();
    return *attached;
  }

  void detach(const user_actor& user, account_id owner, uint64_t session_id) {
    CAF_CHECK(call(user, owner, user_op::detach, session_endpoint(session_id)).ok());
    consume_messages();
  }

  /// Makes `id`'s account a child's.
  void make_child(account_id id) {
    auto& record = w->kv[{kv_space::accounts, std::to_string(id)}];
    auto a = *decode_account(record);
    a.role = account_role::child;
    record = encode_account(a);
  }

  /// The requests of operation `op` that reached group chats.
  std::vector<entity_request> to_chats(chat_op op) const {
    std::vector<entity_request> out;
    for (auto& r : w->routed)
      if (r.kind == chat_kind && r.op == static_cast<uint8_t>(op))
        out.push_back(r);
    return out;
  }

  std::optional<contact_state> stored_state(account_id owner, account_id other) {
    auto i = w->kv.find({kv_space::contacts, std::to_string(owner)});
    if (i == w->kv.end())
      return std::nullopt;
    return contact_list_state::decode(i->second)->state_of(other);
  }
};

bytes target(account_id id) {
  return encode_body(target_request{id});
}

bytes message(uint8_t tag) {
  return encode_body(deliver_body{mail_kind::message, id_of(tag), bytes{1, 2}});
}

/// Milliseconds since the epoch of a UTC wall-clock time.
uint64_t utc_ms(int y, unsigned m, unsigned d, unsigned h, unsigned min) {
  using namespace std::chrono;
  auto date = sys_days{year{y} / month{m} / std::chrono::day{d}};
  return static_cast<uint64_t>(
      duration_cast<milliseconds>((date + hours{h} + minutes{min}).time_since_epoch()).count());
}

/// Quiet hours from 21:00 to 07:00 every night, UTC.
bytes nights(account_id child) {
  return encode_body(quiet_set_request{child, quiet_schedule{0x7f, 21 * 60, 7 * 60, "UTC"}});
}

/// A `complete_setup` argument: the secret and a device's two keys.
bytes setup_body(uint64_t secret, uint8_t key_fill = 5) {
  public_key key;
  key.fill(key_fill);
  return encode_body(register_child_request{0, secret, key, key});
}

/// A `delete_account` argument (the account is the one asked), with a PIN or none.
bytes deletion(const std::string& pin = {}) {
  return encode_body(account_delete_request{0, pin});
}

} // namespace

/// A host that only records which ids' actors told it they stop unused.
entity_host::behavior_type passivate_recorder(entity_host::pointer,
                                              std::shared_ptr<std::vector<uint64_t>> told) {
  return {
      [=](lookup_atom, uint64_t) -> caf::result<caf::actor> { return make_error(errc::moved); },
      [=](release_atom, uint32_t, std::string&) { return true; },
      [=](handoff_atom, uint32_t, bytes&) { return true; },
      [=](node_down_atom, std::string&, uint64_t, uint64_t) {},
      [=](view_atom) {},
      [=](lost_atom, std::vector<uint32_t>&) {},
      [=](passivate_atom, uint64_t id) { told->push_back(id); },
      [=](flush_atom) { return true; },
  };
}

CAF_TEST_FIXTURE_SCOPE(user_actor_tests, fixture)

CAF_TEST(the actor of an id without an account tells its host and sends late callers on) {
  constexpr account_id ghost = 9999999999;
  auto told = std::make_shared<std::vector<uint64_t>>();
  auto host = sys.spawn(passivate_recorder, told);
  auto ghost_actor = spawn_user(sys, ghost, std::make_shared<const user_deps>(deps), host);
  users.push_back(ghost_actor);
  consume_messages();
  CAF_CHECK_EQUAL(call(ghost_actor, alice, user_op::get_profile).status,
                  static_cast<uint16_t>(errc::not_found));
  pass(std::chrono::seconds(61));
  CAF_CHECK(*told == std::vector<uint64_t>{ghost});
  // A caller that looked it up a moment before is routed again, not failed.
  CAF_CHECK(call(ghost_actor, alice, user_op::get_profile).moved());
}

CAF_TEST(a stranger cannot deliver and gets the same answer as for an unknown account) {
  auto bob_actor = spawn(bob);
  auto reply = call(bob_actor, alice, user_op::deliver, message(1));
  CAF_CHECK_EQUAL(reply.status, static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(w->mail.empty());
  auto ghost = spawn(nobody);
  auto ghost_reply = call(ghost, alice, user_op::deliver, message(1));
  CAF_CHECK_EQUAL(ghost_reply.status, reply.status);
}

CAF_TEST(a friend request to anyone answers ok and tells the target) {
  auto alice_actor = spawn(alice);
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(bob)).ok());
  CAF_CHECK(stored_state(alice, bob) == contact_state::outgoing);
  CAF_REQUIRE_EQUAL(w->routed.size(), 1u);
  CAF_CHECK_EQUAL(w->routed[0].id, bob);
  CAF_CHECK_EQUAL(w->routed[0].op, static_cast<uint8_t>(user_op::friend_request));
  CAF_CHECK_EQUAL(w->routed[0].caller, alice);
  auto ghost = spawn(nobody);
  CAF_CHECK(call(ghost, alice, user_op::friend_request).ok()); // no probing
}

CAF_TEST(the contact list names friends only) {
  befriend(alice, bob);
  auto alice_actor = spawn(alice);
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(carol)).ok());
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(nobody)).ok());
  auto reply = call(alice_actor, alice, user_op::list_contacts);
  CAF_REQUIRE(reply.ok());
  auto list = value<contact_list>(reply);
  CAF_REQUIRE(list);
  CAF_REQUIRE_EQUAL(list->entries.size(), 3u);
  for (auto& e : list->entries) {
    if (e.id == bob)
      CAF_CHECK_EQUAL(e.name, "user2");
    else
      CAF_CHECK_EQUAL(e.name, ""); // carol exists, nobody does not: they look the same
    CAF_CHECK(e.id == bob ? e.state == contact_state::friends : e.state == contact_state::outgoing);
  }
}

CAF_TEST(friend requests are limited per account and a declined one cools down) {
  deps.friend_limits.requests = rate_limit{1.0 / 3600, 2};
  auto alice_actor = spawn(alice);
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(bob)).ok());
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(carol)).ok());
  auto limited = call(alice_actor, alice, user_op::add_friend, target(nobody));
  CAF_CHECK_EQUAL(limited.status, static_cast<uint16_t>(errc::friend_request_limit));
  auto wait = limited.to_failure().retry_after_ms;
  CAF_CHECK(wait > 0 && wait <= 3600 * 1000);
  // Bob declines: a new request to him must wait for the cooldown, and gets its own code.
  CAF_CHECK(call(alice_actor, bob, user_op::friend_declined).ok());
  CAF_CHECK(!stored_state(alice, bob));
  w->now += wait;
  auto cooled = call(alice_actor, alice, user_op::add_friend, target(bob));
  CAF_CHECK_EQUAL(cooled.status, static_cast<uint16_t>(errc::friend_request_cooldown));
  CAF_CHECK(cooled.to_failure().retry_after_ms > 0);
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(nobody)).ok());
  // The limit state is kept with the list: a fresh activation still refuses.
  caf::anon_send_exit(alice_actor, caf::exit_reason::user_shutdown);
  consume_messages();
  auto again = spawn(alice);
  CAF_CHECK_EQUAL(call(again, alice, user_op::add_friend, target(bob)).status,
                  static_cast<uint16_t>(errc::friend_request_cooldown));
}

CAF_TEST(an unanswered request expires) {
  auto alice_actor = spawn(alice);
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(bob)).ok());
  w->now += deps.friend_limits.request_ttl_ms;
  CAF_CHECK(call(alice_actor, alice, user_op::list_contacts).ok());
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(carol)).ok());
  CAF_CHECK(!stored_state(alice, bob)); // gone from the list, persisted with the next change
  CAF_CHECK_EQUAL(call(alice_actor, alice, user_op::add_friend, target(bob)).status,
                  static_cast<uint16_t>(errc::friend_request_cooldown));
}

CAF_TEST(the full friend handshake makes both sides friends) {
  auto alice_actor = spawn(alice);
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(alice_actor, alice, user_op::add_friend, target(bob)).ok());
  CAF_CHECK(call(bob_actor, alice, user_op::friend_request).ok());
  CAF_CHECK(stored_state(bob, alice) == contact_state::incoming);
  // Accepting a request that does not exist fails; the real one works.
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::accept_friend, target(carol)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(call(bob_actor, bob, user_op::accept_friend, target(alice)).ok());
  CAF_CHECK(stored_state(bob, alice) == contact_state::friends);
  CAF_CHECK_EQUAL(w->routed.back().op, static_cast<uint8_t>(user_op::friend_accepted));
  CAF_CHECK(call(alice_actor, bob, user_op::friend_accepted).ok());
  CAF_CHECK(stored_state(alice, bob) == contact_state::friends);
  // An accept nobody asked for changes nothing.
  CAF_CHECK(call(alice_actor, carol, user_op::friend_accepted).ok());
  CAF_CHECK(!stored_state(alice, carol));
}

CAF_TEST(only the owner may use owner operations) {
  befriend(alice, bob);
  auto alice_actor = spawn(alice);
  CAF_CHECK_EQUAL(call(alice_actor, bob, user_op::list_contacts).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(alice_actor, bob, user_op::get_key, target(bob)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(alice_actor, carol, user_op::add_friend, target(carol)).status,
                  static_cast<uint16_t>(errc::not_found));
}

CAF_TEST(keys and status are for friends only) {
  befriend(alice, bob);
  auto alice_actor = spawn(alice);
  auto key = call(alice_actor, alice, user_op::get_key, target(bob));
  CAF_REQUIRE(key.ok());
  auto decoded = value<key_reply>(key);
  CAF_REQUIRE(decoded);
  CAF_CHECK_EQUAL(decoded->box_key[0], bob % 10);
  CAF_CHECK_EQUAL(call(alice_actor, alice, user_op::get_key, target(carol)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(alice_actor, alice, user_op::get_status, target(carol)).status,
                  static_cast<uint16_t>(errc::not_found));
  auto status = call(alice_actor, alice, user_op::get_status, target(bob));
  CAF_REQUIRE(status.ok());
  CAF_CHECK(!value<status_reply>(status)->online);
}

CAF_TEST(blocking a friend refuses its mail at once and purges what waits from it alone) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(1)).ok());
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(2)).ok());
  CAF_CHECK(call(bob_actor, carol, user_op::deliver,
                 encode_body(deliver_body{mail_kind::delivered, id_of(3), {}}))
                .ok());
  w->routed.clear();
  CAF_CHECK(call(bob_actor, bob, user_op::block_contact, target(alice)).ok());
  CAF_CHECK(!stored(bob, 1) && !stored(bob, 2));
  CAF_CHECK_EQUAL(w->mail.size(), 1u); // carol's receipt stays
  CAF_CHECK(stored_state(bob, alice) == contact_state::blocked);
  // Alice hears only that she is no longer a contact (as for a removal) and no receipts.
  CAF_REQUIRE_EQUAL(w->routed.size(), 1u);
  CAF_CHECK_EQUAL(w->routed[0].op, static_cast<uint8_t>(user_op::friend_removed));
  CAF_CHECK_EQUAL(w->routed[0].id, alice);
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::deliver, message(4)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(call(bob_actor, alice, user_op::friend_request).ok()); // dropped silently
  CAF_CHECK(stored_state(bob, alice) == contact_state::blocked);
  // Removing the block leaves no entry: alice may ask again.
  CAF_CHECK(call(bob_actor, bob, user_op::remove_contact, target(alice)).ok());
  CAF_CHECK(!stored_state(bob, alice));
}

CAF_TEST(a blocked account that was deleted leaves the list of the one who blocked it) {
  contact_list_state list;
  list.block(alice, w->now);
  list.block(carol, w->now);
  w->kv[{kv_space::contacts, std::to_string(bob)}] = list.encode();
  w->kv.erase({kv_space::accounts, std::to_string(carol)}); // carol was deleted since
  auto bob_actor = spawn(bob);
  CAF_CHECK(stored_state(bob, alice) == contact_state::blocked);
  CAF_CHECK(!stored_state(bob, carol));
}

CAF_TEST(removing a friend purges its waiting mail and pages drop what came later) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(1)).ok());
  CAF_CHECK(call(bob_actor, bob, user_op::remove_contact, target(alice)).ok());
  CAF_CHECK(w->mail.empty());
  CAF_CHECK(!stored_state(bob, alice));
  // Mail from alice that reached the store without the actor (a handoff from a node that
  // stored it before the removal) is dropped when paged, not pushed.
  w->mail.emplace(std::make_tuple(bob, mail_kind::message, alice, id_of(2)),
                  envelope{bob, mail_kind::message, id_of(2), alice, w->now, w->now + 5000,
                           bytes{9}, ++w->next_seq});
  attach(bob_actor, bob, 1);
  CAF_CHECK(w->pushes.empty());
  CAF_CHECK(w->mail.empty());
}

CAF_TEST(a linked parent lists blocks and removes the contacts of the child and no one else may) {
  befriend(bob, alice);
  link_parent(bob, carol);
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(1)).ok());
  auto listed = call(bob_actor, carol, user_op::list_contacts);
  CAF_REQUIRE(listed.ok());
  auto list = value<contact_list>(listed);
  CAF_REQUIRE(list && list->entries.size() == 2u);
  CAF_CHECK_EQUAL(list->entries[0].id, alice);
  CAF_CHECK_EQUAL(list->entries[0].name, "user1");
  // The parent is in the list too, by its current name: no friend passes for it there.
  CAF_CHECK_EQUAL(list->entries[1].id, carol);
  CAF_CHECK(list->entries[1].state == contact_state::parent);
  CAF_CHECK_EQUAL(list->entries[1].name, "user3");
  // The friend may not use the parent's controls, nor the parent the child's other ones.
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::list_contacts).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::remove_contact, target(alice)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(bob_actor, carol, user_op::add_friend, target(alice)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(bob_actor, carol, user_op::get_key, target(alice)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(call(bob_actor, carol, user_op::block_contact, target(alice)).ok());
  CAF_CHECK(w->mail.empty());
  CAF_CHECK(stored_state(bob, alice) == contact_state::blocked);
}

CAF_TEST(a report blocks at once purges files the report and tells the parent of a child) {
  befriend(bob, alice);
  link_parent(bob, carol);
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(1)).ok());
  w->routed.clear();
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::report,
                       encode_body(report_request{bob, report_category::bullying}))
                      .status,
                  static_cast<uint16_t>(errc::invalid_argument));
  CAF_CHECK_EQUAL(call(bob_actor, carol, user_op::report,
                       encode_body(report_request{alice, report_category::bullying}))
                      .status,
                  static_cast<uint16_t>(errc::not_found)); // the parent blocks, not reports
  CAF_CHECK(call(bob_actor, bob, user_op::report,
                 encode_body(report_request{alice, report_category::bullying}))
                .ok());
  CAF_CHECK(w->mail.empty());
  CAF_CHECK(stored_state(bob, alice) == contact_state::blocked);
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::deliver, message(2)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_REQUIRE_EQUAL(w->reports.size(), 1u);
  auto filed = decode_report(w->reports[0]);
  CAF_REQUIRE(filed);
  CAF_CHECK_EQUAL(filed->reporter, bob);
  CAF_CHECK_EQUAL(filed->reported, alice);
  CAF_CHECK(filed->category == report_category::bullying);
  CAF_CHECK_EQUAL(filed->reporter_parent, carol);
  CAF_CHECK_EQUAL(filed->at_ms, w->now);
  size_t told = 0;
  for (auto& r : w->routed) {
    if (auto n = fakes::notice_in(r); r.id == carol && n) {
      CAF_CHECK(n->type == notice_type::reported);
      CAF_CHECK_EQUAL(n->other, alice);
      CAF_CHECK_EQUAL(n->value, static_cast<uint64_t>(report_category::bullying));
      ++told;
    }
  }
  CAF_CHECK_EQUAL(told, 1u);
}

CAF_TEST(only the operator bans and a banned account is kicked and cannot attach) {
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto ban_body = bytes{1};
  auto record = encode_ban({bob, 5, report_category::harassment});
  ban_body.insert(ban_body.end(), record.begin(), record.end());
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::ban, ban_body).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::ban, ban_body).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(bob_actor, operator_caller, user_op::ban, bytes{1}).status,
                  static_cast<uint16_t>(errc::invalid_argument)); // no record
  CAF_CHECK(w->kicks.empty());
  CAF_CHECK(call(bob_actor, operator_caller, user_op::ban, ban_body).ok());
  consume_messages();
  CAF_REQUIRE_EQUAL(w->kicks.size(), 1u);
  CAF_CHECK_EQUAL(w->kicks[0], static_cast<uint16_t>(errc::banned));
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 0);
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::attach, attach_of(2)).status,
                  static_cast<uint16_t>(errc::banned));
  // Both of his public keys are banned, so that neither registers again.
  auto account = decode_account(w->kv[{kv_space::accounts, std::to_string(bob)}]);
  CAF_REQUIRE(account);
  CAF_CHECK(w->kv.count({kv_space::bans, ban_key_of_sign_key(account->sign_key)}) == 1);
  CAF_CHECK(w->kv.count({kv_space::bans, ban_key_of_box_key(account->box_key)}) == 1);
  CAF_CHECK(call(bob_actor, operator_caller, user_op::ban, bytes{0}).ok());
  CAF_CHECK(w->kv.count({kv_space::bans, ban_key_of_box_key(account->box_key)}) == 0);
  attach(bob_actor, bob, 3);
}

CAF_TEST(each profile field is seen by self and parent only and a friend sees the public ones) {
  befriend(bob, alice);
  link_parent(bob, carol);
  auto bob_actor = spawn(bob);
  auto sent = testing::make_image(testing::image_format::png, 8, 8);
  auto png = *normalize_avatar(sent, deps.avatar_max); // what is kept of it
  auto set = [&](profile_set_request p) {
    return call(bob_actor, bob, user_op::set_profile, encode_body(p));
  };
  CAF_REQUIRE(set({"Bobby", "AT", gender::female, sent}).ok());
  attach(bob_actor, bob, 1, {"android 14", "1.4.2", "de-AT", "Europe/Vienna"});
  auto seen_by = [&](account_id caller) { return call(bob_actor, caller, user_op::get_profile); };
  for (auto who : {bob, carol}) {
    auto r = seen_by(who);
    CAF_REQUIRE(r.ok());
    auto p = value<profile_reply>(r);
    CAF_REQUIRE(p);
    CAF_CHECK(p->full);
    CAF_CHECK_EQUAL(p->id, bob);
    CAF_CHECK_EQUAL(p->name, "Bobby");
    CAF_CHECK(p->avatar == png);
    CAF_CHECK(p->online);
    CAF_CHECK_EQUAL(p->birth_date, "2015-01-01");
    CAF_CHECK_EQUAL(p->country, "AT");
    CAF_CHECK(p->gender_of == gender::female);
    CAF_CHECK_EQUAL(p->device.os, "android 14");
    CAF_CHECK_EQUAL(p->device.app_version, "1.4.2");
    CAF_CHECK_EQUAL(p->device.language, "de-AT");
    CAF_CHECK_EQUAL(p->device.time_zone, "Europe/Vienna");
  }
  auto friendly = seen_by(alice);
  CAF_REQUIRE(friendly.ok());
  auto p = value<profile_reply>(friendly);
  CAF_REQUIRE(p);
  CAF_CHECK(!p->full);
  CAF_CHECK_EQUAL(p->name, "Bobby");
  CAF_CHECK(p->avatar == png);
  CAF_CHECK(p->online);
  CAF_CHECK(p->birth_date.empty() && p->country.empty() && p->device.os.empty());
  CAF_CHECK(p->gender_of == gender::unsaid);
  // The encoding itself carries nothing more for a contact: id, name, avatar, two flags.
  CAF_CHECK_EQUAL(encode_body(*p).size(), 8u + 4 + 5 + 4 + png.size() + 2);
  CAF_CHECK_EQUAL(seen_by(nobody).status, static_cast<uint16_t>(errc::not_found));
  // Bad fields are refused with a reason, the profile stays as it was.
  for (auto bad :
       {profile_set_request{"Bo\u202eb", "AT", gender::female, sent},
        profile_set_request{"Bob", "at", gender::female, sent},
        profile_set_request{"Bob", "AT", gender::female, bytes{1, 2, 3}},
        profile_set_request{"Bob", "AT", gender::female, bytes(deps.avatar_max + 1, 0xff)}}) {
    auto r = set(bad);
    CAF_CHECK_EQUAL(r.status, static_cast<uint16_t>(errc::invalid_argument));
    CAF_CHECK(!r.message.empty());
  }
  CAF_CHECK_EQUAL(value<profile_reply>(seen_by(bob))->name, "Bobby");
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::set_profile,
                       encode_body(profile_set_request{"Mallory", "", gender::unsaid, {}}))
                      .status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(
      call(bob_actor, bob, user_op::attach, attach_of(2, {"bad\x01os", "", "", ""})).status,
      static_cast<uint16_t>(errc::invalid_argument));
}

CAF_TEST(the account or its parent exports everything held on it and no one else may) {
  befriend(bob, alice);
  {
    auto list = *contact_list_state::decode(w->kv[{kv_space::contacts, std::to_string(bob)}]);
    list.set_parent(carol);
    list.block(nobody, w->now);
    w->kv[{kv_space::contacts, std::to_string(bob)}] = list.encode();
    // An account, or its block would be forgotten at the load.
    w->kv[{kv_space::accounts, std::to_string(nobody)}] =
        w->kv[{kv_space::accounts, std::to_string(alice)}];
  }
  w->kv[{kv_space::last_seen, std::to_string(bob)}] = bytes{0, 0, 0, 0, 0, 0, 0x30, 0x39};
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, bob, user_op::add_friend, target(3000000001)).ok());
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(1)).ok());
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(2)).ok());
  attach(bob_actor, bob, 1, {"ios 17", "2.0", "fr-FR", "Europe/Paris"});
  for (auto who : {bob, carol}) {
    auto r = call(bob_actor, who, user_op::export_account);
    CAF_REQUIRE(r.ok());
    auto doc = nlohmann::json::parse(value<account_document>(r)->json);
    CAF_CHECK_EQUAL(doc["account"]["id"].get<account_id>(), bob);
    CAF_CHECK_EQUAL(doc["account"]["birth_date"].get<std::string>(), "2015-01-01");
    CAF_CHECK_EQUAL(doc["contacts"].size(), 1u);
    CAF_CHECK_EQUAL(doc["contacts"][0]["id"].get<account_id>(), alice);
    CAF_CHECK_EQUAL(doc["blocked"].size(), 1u);
    CAF_CHECK_EQUAL(doc["pending_requests"].size(), 1u);
    CAF_CHECK_EQUAL(doc["link"]["parent"].get<account_id>(), carol);
    CAF_CHECK_EQUAL(doc["device"]["time_zone"].get<std::string>(), "Europe/Paris");
    CAF_CHECK_EQUAL(doc["presence"]["last_seen_ms"].get<uint64_t>(), 12345u);
    CAF_CHECK(doc["presence"]["online"].get<bool>());
    CAF_CHECK_EQUAL(doc["undelivered_mail"]["count"].get<uint64_t>(), 2u);
    CAF_CHECK_EQUAL(doc["undelivered_mail"]["listed"].size(), 2u);
    CAF_CHECK_EQUAL(doc["undelivered_mail"]["listed"][0]["from"].get<account_id>(), alice);
  }
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::export_account).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::delete_account, deletion()).status,
                  static_cast<uint16_t>(errc::not_found));
}

CAF_TEST(deleting an account leaves nothing of it and its contacts forget it) {
  befriend(bob, alice);
  befriend(alice, bob);
  link_parent(bob, carol);
  w->kv[{kv_space::last_seen, std::to_string(bob)}] = bytes(8, 1);
  auto bob_actor = spawn(bob);
  auto alice_actor = spawn(alice);
  CAF_CHECK(call(bob_actor, bob, user_op::set_profile,
                 encode_body(profile_set_request{"Bob", "NL", gender::male, {}}))
                .ok());
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(1)).ok());
  CAF_CHECK(call(alice_actor, bob, user_op::deliver, message(2)).ok()); // from bob, at alice
  attach(bob_actor, bob, 1);
  // Attached past the idle time: its idle timer has run out, and the deletion ends the
  // session without a detach.
  pass(std::chrono::seconds(61));
  w->routed.clear();
  CAF_REQUIRE(call(bob_actor, carol, user_op::delete_account, deletion()).ok());
  consume_messages();
  // Every KV record of bob is gone, and his data key with them: whatever KV keeps of
  // their older revisions opens for no one.
  for (auto& [key, value] : w->kv)
    CAF_CHECK_NOT_EQUAL(key.second, std::to_string(bob));
  CAF_CHECK_EQUAL(w->shredded.count(std::to_string(bob)), 1u);
  CAF_CHECK_GREATER_OR_EQUAL(w->compactions, 1u); // and no freed page keeps his mail
  CAF_CHECK(!stored(bob, 1));
  CAF_CHECK_EQUAL(w->kicks.back(), static_cast<uint16_t>(errc::account_deleted));
  // His family was asked to erase the link, his friend to forget him.
  auto asked = [&](entity_kind kind, account_id to, uint8_t op) {
    return std::any_of(w->routed.begin(), w->routed.end(), [&](const entity_request& r) {
      return r.kind == kind && r.id == to && r.op == op && r.caller == bob;
    });
  };
  CAF_CHECK(asked(family_kind, bob, static_cast<uint8_t>(family_op::erase)));
  CAF_CHECK(asked(user_kind, alice, static_cast<uint8_t>(user_op::account_gone)));
  // Alice's actor forgets him and his waiting mail when that request comes.
  CAF_CHECK(call(alice_actor, bob, user_op::account_gone).ok());
  CAF_CHECK(!stored_state(alice, bob));
  CAF_CHECK(w->mail.empty());
  for (auto& [key, value] : w->kv)
    CAF_CHECK(std::string(value.begin(), value.end()).find(std::to_string(bob)) ==
              std::string::npos);
  // The actor now answers like one of an unknown account.
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::deliver, message(3)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::attach, attach_of(2)).status,
                  static_cast<uint16_t>(errc::not_found));
  // And it leaves memory as that of an unknown id does (after its linger).
  pass(std::chrono::seconds(130));
  pass(moved_linger);
  auto late = call_later(bob_actor, alice, user_op::deliver, message(4));
  CAF_REQUIRE(*late);
  CAF_CHECK_EQUAL((*late)->message, "request failed");
}

// Every request type to an account's actor, from every relation the caller can have to
// it: allowed (ok) or refused (not_found, the answer an unknown id gets). The account is
// a child (bob) with a linked parent (carol), a friend (alice), a pending request from
// erin, a blocked account (frank); dave is another child's parent, nobody a stranger or
// a deleted account (an id with no account is the same to bob).
CAF_TEST(the authorization matrix of every request type against every relation) {
  constexpr account_id dave = 4444444444, erin = 5555555555, frank = 6666666666;
  for (auto id : {dave, erin, frank}) {
    account_record a;
    a.id = id;
    a.name = "user" + std::to_string(id % 10);
    a.birth_date = "2015-01-01";
    a.box_key.fill(1);
    w->kv[{kv_space::accounts, std::to_string(id)}] = encode_account(a);
  }
  contact_list_state list;
  list.receive_request(alice, w->now);
  list.accept(alice, w->now, false);
  list.receive_request(erin, w->now);
  list.block(frank, w->now);
  list.set_parent(carol);
  auto contacts = list.encode();
  account_record child;
  child.id = bob;
  child.name = "user2";
  child.role = account_role::child;
  child.birth_date = "2015-01-01";
  child.box_key.fill(2);
  auto child_record = encode_account(child);
  w->kv[{kv_space::accounts, std::to_string(bob)}] = child_record;
  enum rel { self_, parent_, other_parent, friend_, pending, blocked, stranger, rel_count };
  const account_id callers[rel_count] = {bob, carol, dave, alice, erin, frank, nobody};
  const char* names[rel_count] = {"self",    "parent",  "other parent", "friend",
                                  "pending", "blocked", "stranger"};
  struct row {
    const char* what;
    user_op op;
    bytes body;
    std::array<bool, rel_count> allowed;
  };
  auto only_self = std::array<bool, rel_count>{true, false, false, false, false, false, false};
  auto self_and_parent = std::array<bool, rel_count>{true, true, false, false, false, false, false};
  auto only_parent = std::array<bool, rel_count>{false, true, false, false, false, false, false};
  auto none = std::array<bool, rel_count>{};
  std::vector<row> rows{
      {"message", user_op::deliver, message(9), {false, true, false, true, false, false, false}},
      {"profile", user_op::get_profile, {}, {true, true, false, true, false, false, false}},
      {"contacts", user_op::list_contacts, {}, self_and_parent},
      {"block", user_op::block_contact, target(alice), self_and_parent},
      {"remove", user_op::remove_contact, target(alice), self_and_parent},
      {"export", user_op::export_account, {}, self_and_parent},
      {"add friend", user_op::add_friend, target(dave), only_self},
      {"accept", user_op::accept_friend, target(erin), only_self},
      {"decline", user_op::decline_friend, target(erin), only_self},
      {"key", user_op::get_key, target(alice), only_self},
      {"status", user_op::get_status, target(alice), only_self},
      {"ack", user_op::ack, encode_body(ack_request{{}}), only_self},
      {"set profile", user_op::set_profile,
       encode_body(profile_set_request{"Bob", "", gender::unsaid, {}}), only_self},
      {"report", user_op::report, encode_body(report_request{dave, report_category::other}),
       only_self},
      {"link code", user_op::make_link_code, encode_body(link_create_request{"1234"}), none},
      {"attach", user_op::attach, attach_of(1), only_self},
      {"location", user_op::location, encode_body(location_body{1, bytes{1}}), none},
      // A notice from the account itself: its own actor telling it of a child that left
      // (no session sends to itself, nor anything but messages).
      {"notice", user_op::deliver, encode_body(deliver_body{mail_kind::notice, id_of(7), bytes{1}}),
       only_self},
      {"ban", user_op::ban, bytes{0}, none},
      {"create child", user_op::create_child,
       encode_body(child_create_request{"Mini", "2020-01-01"}), none},
      {"new setup code", user_op::new_setup_code, {}, only_parent},
      {"setup with a wrong code", user_op::complete_setup, setup_body(12345), none},
      // Who the account is, for the parent of a child it asked or answered.
      {"card", user_op::card, bytes{0}, {false, false, false, true, true, false, false}},
      // A friend's rename is heard silently from anyone (only a friend's is told on).
      {"renamed", user_op::friend_renamed, {}, {true, true, true, true, true, true, true}},
      {"delete", user_op::delete_account, deletion(), only_parent},
      {"delete with the PIN", user_op::delete_account, deletion("5827"), self_and_parent},
  };
  for (auto& r : rows)
    for (int who = 0; who < rel_count; ++who) {
      w->kv[{kv_space::contacts, std::to_string(bob)}] = contacts;
      w->mail.clear();
      auto bob_actor = spawn(bob);
      auto reply = call(bob_actor, callers[who], r.op, r.body);
      bool refused = !reply.ok();
      if (refused == r.allowed[who])
        CAF_MESSAGE(r.what << " from " << names[who] << ": "
                           << errc_name(static_cast<errc>(reply.status)) << " " << reply.message);
      CAF_CHECK_EQUAL(refused, !r.allowed[who]);
      // Others are refused as if the account did not exist: nothing to probe.
      if (refused && who != self_)
        CAF_CHECK_EQUAL(reply.status, static_cast<uint16_t>(errc::not_found));
      // The child itself hears why: its parent's say is needed.
      if (refused && who == self_ && r.op == user_op::delete_account)
        CAF_CHECK_EQUAL(reply.status, static_cast<uint16_t>(errc::parent_required));
      caf::anon_send_exit(bob_actor, caf::exit_reason::user_shutdown);
      consume_messages();
      w->kv[{kv_space::accounts, std::to_string(bob)}] = child_record;
      w->shredded.clear(); // a deletion erased its data key: the records are new ones
    }
  // Keys and status of others, asked by the account itself: friends and family only.
  w->kv[{kv_space::contacts, std::to_string(bob)}] = contacts;
  auto bob_actor = spawn(bob);
  for (int who = 1; who < rel_count; ++who)
    for (auto op : {user_op::get_key, user_op::get_status}) {
      bool allowed = who == parent_ || who == friend_;
      auto reply = call(bob_actor, bob, op, target(callers[who]));
      CAF_CHECK_EQUAL(reply.status == static_cast<uint16_t>(errc::not_found), !allowed);
    }
  // A deleted (unknown) account refuses everything but the silent friend steps.
  auto ghost = spawn(nobody);
  for (auto& r : rows)
    CAF_CHECK_EQUAL(call(ghost, nobody, r.op, r.body).status,
                    static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(call(ghost, alice, user_op::friend_request).ok());
}

CAF_TEST(a parent makes a child account whose device registers once with its code) {
  // Carol is a parent; her child's account is made by the child's own actor, its family
  // linked to her (the fake family answers ok).
  constexpr account_id dora = 7777777777;
  w->now = 1'796'558'400'000ull; // 2026-12-06: birth dates are checked against it
  auto carol_actor = spawn(carol);
  // The answer comes when the child's actor (here: dora's, which the fake host finds for
  // every user id) made the account.
  auto made = call(carol_actor, carol, user_op::create_child,
                   encode_body(child_create_request{"Mia", "2015-04-12"}));
  // The fake host routes the child's found_account to the fake entity, which answers ok
  // with no body: taken, so the parent's actor tries again with new ids, then gives up.
  CAF_CHECK_EQUAL(made.status, static_cast<uint16_t>(errc::unavailable));
  auto founds = std::count_if(w->routed.begin(), w->routed.end(), [](const entity_request& r) {
    return r.op == static_cast<uint8_t>(user_op::found_account) && r.caller == carol;
  });
  CAF_CHECK_EQUAL(founds, static_cast<long>(max_id_attempts));
  // A child's birth date is checked by the parent's actor before anything is made.
  CAF_CHECK_EQUAL(call(carol_actor, carol, user_op::create_child,
                       encode_body(child_create_request{"Mia", "1990-04-12"}))
                      .status,
                  static_cast<uint16_t>(errc::invalid_argument));
  // The child's own actor makes the record, once.
  auto secret = uint64_t{0x1122334455667788};
  found_body body{"Mia", "2015-04-12", setup_hash_of(secret), w->now + 60'000};
  auto dora_actor = spawn(dora);
  auto first = call(dora_actor, carol, user_op::found_account, encode_body(body));
  CAF_REQUIRE(first.ok());
  CAF_CHECK(value<found_reply>(first)->made);
  CAF_CHECK(!value<found_reply>(call(dora_actor, carol, user_op::found_account, encode_body(body)))
                 ->made);
  auto record = decode_account(w->kv[{kv_space::accounts, std::to_string(dora)}]);
  CAF_REQUIRE(record);
  CAF_CHECK(record->role == account_role::child);
  CAF_CHECK_EQUAL(record->setup_hash, setup_hash_of(secret));
  auto list = contact_list_state::decode(w->kv[{kv_space::contacts, std::to_string(dora)}]);
  CAF_REQUIRE(list);
  CAF_CHECK_EQUAL(list->parent(), carol);
  // A wrong code, an id without an account: the same answer.
  auto wrong = call(dora_actor, dora, user_op::complete_setup, setup_body(secret + 1));
  auto ghost = call(spawn(nobody), nobody, user_op::complete_setup, setup_body(secret));
  CAF_CHECK_EQUAL(wrong.status, static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(ghost.status, wrong.status);
  CAF_CHECK_EQUAL(ghost.message, wrong.message);
  // The right one sets the keys, once; the parent is told.
  w->routed.clear();
  auto done = call(dora_actor, dora, user_op::complete_setup, setup_body(secret));
  CAF_REQUIRE(done.ok());
  auto registered = value<register_reply>(done);
  CAF_REQUIRE(registered);
  CAF_CHECK_EQUAL(registered->id, dora);
  record = decode_account(w->kv[{kv_space::accounts, std::to_string(dora)}]);
  CAF_CHECK(record->sign_key[0] == 5 && record->setup_hash.empty());
  CAF_CHECK(std::any_of(w->routed.begin(), w->routed.end(), [](const entity_request& r) {
    auto n = fakes::notice_in(r);
    return r.id == carol && n && n->type == notice_type::registered;
  }));
  CAF_CHECK_EQUAL(call(dora_actor, dora, user_op::complete_setup, setup_body(secret, 6)).status,
                  static_cast<uint16_t>(errc::not_found));
  // A new code from the parent (a new phone) replaces the keys; an old one has expired.
  auto fresh = call(dora_actor, carol, user_op::new_setup_code);
  CAF_REQUIRE(fresh.ok());
  auto code = value<child_setup_reply>(fresh);
  CAF_REQUIRE(code);
  w->now += deps.setup_code_ttl.count();
  CAF_CHECK_EQUAL(
      call(dora_actor, dora, user_op::complete_setup, setup_body(code->secret, 6)).status,
      static_cast<uint16_t>(errc::not_found));
  fresh = call(dora_actor, carol, user_op::new_setup_code);
  code = value<child_setup_reply>(fresh);
  CAF_CHECK(call(dora_actor, dora, user_op::complete_setup, setup_body(code->secret, 6)).ok());
  record = decode_account(w->kv[{kv_space::accounts, std::to_string(dora)}]);
  CAF_CHECK(record->sign_key[0] == 6);
}

CAF_TEST(wrong secrets never void a parent link code and the parent is told of them) {
  deps.pins = std::make_shared<pin_service>(sys, pin_service_config{{}, {1, 8192}, 1, 4, false});
  auto carol_actor = spawn(carol); // a parent (the fixture's accounts are parents)
  auto made =
      call(carol_actor, carol, user_op::make_link_code, encode_body(link_create_request{"5827"}));
  CAF_REQUIRE(made.ok());
  auto code = value<link_code_reply>(made);
  CAF_REQUIRE(code);
  auto secret = [](uint64_t s) {
    bytes b;
    wire::writer{b}.u64(s);
    return b;
  };
  w->routed.clear();
  auto ghost = call(spawn(nobody), bob, user_op::redeem_link_code, secret(code->secret));
  for (uint64_t i = 1; i <= 20; ++i) {
    auto wrong = call(carol_actor, bob, user_op::redeem_link_code, secret(code->secret + i));
    CAF_CHECK_EQUAL(wrong.status, ghost.status);
    CAF_CHECK_EQUAL(wrong.message, ghost.message);
  }
  auto told = std::count_if(w->routed.begin(), w->routed.end(), [](const entity_request& r) {
    auto n = fakes::notice_in(r);
    return r.id == carol && r.caller == carol && n && n->type == notice_type::link_code_attacked;
  });
  CAF_CHECK_EQUAL(told, 1);
  // The parent's child still redeems it.
  CAF_CHECK(call(carol_actor, bob, user_op::redeem_link_code, secret(code->secret)).ok());
  deps.pins->stop();
}

CAF_TEST(a child without a parent is frozen until a parent links it) {
  // Bob is a child whose parent is gone: he logs in, exports, reads receipts; nothing else.
  account_record child;
  child.id = bob;
  child.name = "Bob";
  child.role = account_role::child;
  child.birth_date = "2015-01-01";
  child.box_key.fill(2);
  w->kv[{kv_space::accounts, std::to_string(bob)}] = encode_account(child);
  contact_list_state list;
  list.receive_request(alice, w->now);
  list.accept(alice, w->now, false);
  w->kv[{kv_space::contacts, std::to_string(bob)}] = list.encode();
  // A message from his friend waits from before.
  w->mail[std::make_tuple(bob, mail_kind::message, alice, id_of(3))] = envelope{
      bob, mail_kind::message, id_of(3), alice, w->now, w->now + 5000, bytes{1}, ++w->next_seq};
  auto bob_actor = spawn(bob);
  auto frozen = static_cast<uint16_t>(errc::account_frozen);
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::add_friend, target(carol)).status, frozen);
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::list_contacts).status, frozen);
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::delete_account, deletion("5827")).status, frozen);
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::set_profile,
                       encode_body(profile_set_request{"Bob", "", gender::unsaid, {}}))
                      .status,
                  frozen);
  CAF_CHECK(call(bob_actor, bob, user_op::export_account).ok());
  CAF_CHECK(attach(bob_actor, bob, 1).frozen); // his session refuses his sends
  // His friend's message is refused; the one stored before stays stored, unpushed.
  CAF_CHECK_EQUAL(call(bob_actor, alice, user_op::deliver, message(1)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(w->pushes.empty());
  CAF_CHECK(stored(bob, 3));
  CAF_CHECK(call(bob_actor, alice, user_op::friend_request).ok());
  CAF_CHECK(!stored_state(bob, carol));
  // Linked again by a new parent, he is himself again.
  bytes who;
  wire::writer{who}.u64(carol);
  CAF_CHECK(call(bob_actor, bob, user_op::linked, who).ok());
  CAF_CHECK_EQUAL(w->thaws, 1u);
  CAF_CHECK(call(bob_actor, bob, user_op::list_contacts).ok());
  auto later = call_later(bob_actor, alice, user_op::deliver, message(2));
  pass(std::chrono::seconds(1)); // pushed, held for its ack window, then stored
  CAF_REQUIRE(*later);
  CAF_CHECK((*later)->ok());
  CAF_CHECK(std::any_of(w->pushes.begin(), w->pushes.end(),
                        [](const mail_push& m) { return m.id == id_of(2); }));
  CAF_CHECK(std::none_of(w->pushes.begin(), w->pushes.end(),
                         [](const mail_push& m) { return m.id == id_of(1); }));
  // His next login brings the message that waited.
  CAF_CHECK(!attach(bob_actor, bob, 2).frozen);
  CAF_CHECK(std::any_of(w->pushes.begin(), w->pushes.end(),
                        [](const mail_push& m) { return m.id == id_of(3); }));
  // Unlinked again while logged in: his session is closed; the next login says why.
  CAF_CHECK(call(bob_actor, bob, user_op::unlinked).ok());
  CAF_CHECK(std::count(w->kicks.begin(), w->kicks.end(),
                       static_cast<uint16_t>(errc::account_frozen)) == 1);
}

CAF_TEST(a parent sees who asked its child and hears of a friend renamed) {
  // Bob, a child of Carol, is friends with Alice; Dave asked Bob; Bob asked Erin.
  constexpr account_id dave = 4444444444, erin = 5555555555;
  contact_list_state list;
  list.receive_request(alice, w->now);
  list.accept(alice, w->now, false);
  list.receive_request(dave, w->now);
  CAF_CHECK(list.add(erin, w->now, deps.friend_limits, false));
  list.set_parent(carol);
  w->kv[{kv_space::contacts, std::to_string(bob)}] = list.encode();
  {
    account_record a;
    a.id = dave;
    a.name = "Dave";
    a.box_key.fill(4);
    w->kv[{kv_space::accounts, std::to_string(dave)}] = encode_account(a);
  }
  auto bob_actor = spawn(bob);
  // The parent's listing names the friend, the one who asked, and the parent itself; not
  // the id Bob asked, which has not shown itself.
  auto listed = value<contact_list>(call(bob_actor, carol, user_op::list_contacts));
  CAF_REQUIRE(listed);
  std::map<account_id, std::string> names;
  for (auto& e : listed->entries)
    names[e.id] = e.name;
  CAF_CHECK_EQUAL(names[alice], "user1");
  CAF_CHECK_EQUAL(names[dave], "Dave");
  CAF_CHECK_EQUAL(names[erin], "");
  CAF_CHECK_EQUAL(names[carol], "user3");
  // A card for the family of a child Bob asked (Erin) or answered (Alice): who Bob is,
  // with his parent's name; none for a child Bob never met.
  auto card = call(bob_actor, erin, user_op::card, bytes{0});
  CAF_REQUIRE(card.ok());
  auto decoded = value<card_body>(card);
  CAF_REQUIRE(decoded);
  CAF_CHECK_EQUAL(decoded->profile.name, "user2");
  CAF_CHECK_EQUAL(decoded->parent_name, "user3");
  CAF_CHECK_EQUAL(call(bob_actor, nobody, user_op::card, bytes{0}).status,
                  static_cast<uint16_t>(errc::not_found));
  // Alice renames herself: Bob's parent is told; a stranger's rename tells no one.
  w->routed.clear();
  CAF_CHECK(call(bob_actor, alice, user_op::friend_renamed).ok());
  CAF_CHECK(call(bob_actor, nobody, user_op::friend_renamed).ok());
  auto told = std::count_if(w->routed.begin(), w->routed.end(), [](const entity_request& r) {
    auto n = fakes::notice_in(r);
    return r.id == carol && n && n->type == notice_type::friend_renamed && n->other == alice &&
           n->child == bob;
  });
  CAF_CHECK_EQUAL(told, 1);
  // Alice's own actor tells her friends when she renames herself.
  befriend(alice, bob);
  auto alice_actor = spawn(alice);
  w->routed.clear();
  CAF_CHECK(call(alice_actor, alice, user_op::set_profile,
                 encode_body(profile_set_request{"Mum", "", gender::unsaid, {}}))
                .ok());
  CAF_CHECK(std::any_of(w->routed.begin(), w->routed.end(), [](const entity_request& r) {
    return r.id == bob && r.caller == alice &&
           r.op == static_cast<uint8_t>(user_op::friend_renamed);
  }));
}

CAF_TEST(notices are taken only from the families of the children of the account) {
  {
    contact_list_state list;
    list.add_child(bob);
    w->kv[{kv_space::contacts, std::to_string(alice)}] = list.encode();
  }
  auto alice_actor = spawn(alice);
  auto notice = [](uint8_t tag) {
    return encode_body(deliver_body{mail_kind::notice, id_of(tag), bytes{1}});
  };
  CAF_CHECK(call(alice_actor, bob, user_op::deliver, notice(1)).ok());
  CAF_CHECK_EQUAL(call(alice_actor, carol, user_op::deliver, notice(2)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(w->mail.size(), 1u);
  // A child that leaves (deleted with the PIN): the parent's actor tells itself, since the
  // child's family may not send it a notice any more.
  w->routed.clear();
  CAF_CHECK(call(alice_actor, bob, user_op::child_unlinked,
                 bytes{static_cast<uint8_t>(unlink_reason::deleted_by_child)})
                .ok());
  auto told = std::find_if(w->routed.begin(), w->routed.end(), [](const entity_request& r) {
    return r.id == alice && r.caller == alice && r.op == static_cast<uint8_t>(user_op::deliver);
  });
  CAF_REQUIRE(told != w->routed.end());
  CAF_CHECK(
      call(alice_actor, alice, user_op::deliver, fakes::arg_bytes(user_interface::codec(), *told))
          .ok());
  CAF_CHECK_EQUAL(call(alice_actor, bob, user_op::deliver, notice(3)).status,
                  static_cast<uint16_t>(errc::not_found));
  // The notice that waited from the deleted child's family went with it; the one about
  // its deletion stays for the parent.
  CAF_CHECK_EQUAL(w->mail.size(), 1u);
  CAF_CHECK_GREATER_OR_EQUAL(w->compactions, 1u);
  CAF_CHECK_EQUAL(call(alice_actor, bob, user_op::child_unlinked, bytes{7}).status,
                  static_cast<uint16_t>(errc::invalid_argument));
}

CAF_TEST(a location from a child reaches the session of its parent only and is never stored) {
  {
    contact_list_state list;
    list.add_child(bob);
    w->kv[{kv_space::contacts, std::to_string(alice)}] = list.encode();
  }
  auto alice_actor = spawn(alice);
  auto loc = encode_body(location_body{w->now, bytes{4, 2}});
  CAF_CHECK(call(alice_actor, bob, user_op::location, loc).ok()); // offline: dropped here
  CAF_CHECK_EQUAL(call(alice_actor, carol, user_op::location, loc).status,
                  static_cast<uint16_t>(errc::not_found));
  // At login the parent's actor fetches each child's latest location from its family.
  w->family_answer = caf::make_message(location_reply{location_body{w->now - 5, bytes{7}}});
  attach(alice_actor, alice, 1);
  CAF_REQUIRE_EQUAL(w->pushes.size(), 1u);
  CAF_CHECK(w->pushes[0].kind == mail_kind::location);
  CAF_CHECK_EQUAL(w->pushes[0].from, bob);
  CAF_CHECK(w->pushes[0].payload == bytes{7});
  CAF_CHECK(std::any_of(w->routed.begin(), w->routed.end(), [](const entity_request& r) {
    return r.kind == family_kind && r.id == bob && r.caller == alice &&
           r.op == static_cast<uint8_t>(family_op::location_latest);
  }));
  CAF_CHECK(call(alice_actor, bob, user_op::location, loc).ok());
  CAF_REQUIRE_EQUAL(w->pushes.size(), 2u);
  CAF_CHECK(w->pushes[1].payload == (bytes{4, 2}));
  CAF_CHECK(w->mail.empty());
  CAF_CHECK_EQUAL(w->puts, 0u);
  // A deliver that claims to be a location is refused: locations never enter a mailbox.
  CAF_CHECK_EQUAL(call(alice_actor, bob, user_op::deliver,
                       encode_body(deliver_body{mail_kind::location, id_of(1), bytes{1}}))
                      .status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(w->mail.empty());
}

CAF_TEST(a linked parent and child see the keys and status of each other and strangers do not) {
  {
    contact_list_state list;
    list.set_parent(alice);
    w->kv[{kv_space::contacts, std::to_string(bob)}] = list.encode();
  }
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, bob, user_op::get_key, target(alice)).ok());
  CAF_CHECK(call(bob_actor, bob, user_op::get_status, target(alice)).ok());
  CAF_CHECK_EQUAL(call(bob_actor, bob, user_op::get_key, target(carol)).status,
                  static_cast<uint16_t>(errc::not_found));
}

CAF_TEST(mail to an online friend is pushed and held for the ack and never stored) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto accepted = call_later(bob_actor, alice, user_op::deliver, message(7));
  CAF_REQUIRE_EQUAL(w->pushes.size(), 1u);
  CAF_CHECK(w->pushes[0].id == id_of(7));
  CAF_CHECK_EQUAL(w->pushes[0].from, alice);
  CAF_CHECK(!*accepted); // accepted only at the ack (or once stored)
  // The same id again (a sender's retry) is answered with the first, when the mail is
  // safe (the device drops the second push).
  auto retried = call_later(bob_actor, alice, user_op::deliver, message(7));
  CAF_CHECK(!*retried);
  w->routed.clear();
  CAF_CHECK(call(bob_actor, bob, user_op::ack,
                 encode_body(ack_request{{{mail_kind::message, alice, id_of(7)}}}))
                .ok());
  CAF_REQUIRE(*accepted && *retried);
  CAF_CHECK((*accepted)->ok() && (*retried)->ok());
  CAF_CHECK_EQUAL(w->puts, 0u);
  CAF_CHECK(w->mail.empty());
  CAF_REQUIRE_EQUAL(w->routed.size(), 1u);
  CAF_CHECK_EQUAL(w->routed[0].id, alice);
  auto receipt = deliver_of(w->routed[0]);
  CAF_REQUIRE(receipt);
  CAF_CHECK(receipt->kind == mail_kind::delivered);
  CAF_CHECK(receipt->id == id_of(7));
}

CAF_TEST(held mail not acked within the window is stored and acked from the store later) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto accepted = call_later(bob_actor, alice, user_op::deliver, message(5));
  CAF_CHECK(!*accepted);
  sched.advance_time(deps.ack_window);
  consume_messages();
  CAF_CHECK(stored(bob, 5));
  CAF_REQUIRE(*accepted);
  CAF_CHECK((*accepted)->ok());
  CAF_CHECK_EQUAL(w->pushes.size(), 1u); // not pushed again once stored
  w->routed.clear();
  CAF_CHECK(call(bob_actor, bob, user_op::ack,
                 encode_body(ack_request{{{mail_kind::message, alice, id_of(5)}}}))
                .ok());
  CAF_CHECK(w->mail.empty());
  CAF_CHECK_EQUAL(w->routed.size(), 1u); // the receipt
}

CAF_TEST(the same id from two senders is two messages held stored and acked apart) {
  befriend(bob, alice);
  befriend(bob, carol);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto from_alice = call_later(bob_actor, alice, user_op::deliver, message(5));
  auto from_carol = call_later(bob_actor, carol, user_op::deliver, message(5));
  CAF_CHECK_EQUAL(w->pushes.size(), 2u);
  sched.advance_time(deps.ack_window);
  consume_messages();
  CAF_REQUIRE(*from_alice && *from_carol);
  CAF_CHECK((*from_alice)->ok() && (*from_carol)->ok());
  CAF_CHECK_EQUAL(w->mail.size(), 2u);
  CAF_CHECK(call(bob_actor, bob, user_op::ack,
                 encode_body(ack_request{{{mail_kind::message, alice, id_of(5)}}}))
                .ok());
  CAF_REQUIRE_EQUAL(w->mail.size(), 1u);
  CAF_CHECK_EQUAL(w->mail.begin()->second.sender, carol);
}

CAF_TEST(a retry of held mail is accepted only once the mail is stored) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto accepted = call_later(bob_actor, alice, user_op::deliver, message(5));
  auto retried = call_later(bob_actor, alice, user_op::deliver, message(5));
  CAF_CHECK(!*accepted && !*retried); // neither acked nor durable yet
  sched.advance_time(deps.ack_window);
  consume_messages();
  CAF_CHECK(stored(bob, 5));
  CAF_REQUIRE(*accepted && *retried);
  CAF_CHECK((*accepted)->ok() && (*retried)->ok());
  CAF_CHECK_EQUAL(w->mail.size(), 1u); // stored once
}

CAF_TEST(held mail is stored when its session goes and paged to the next in order) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto first = call_later(bob_actor, alice, user_op::deliver, message(1));
  auto second = call_later(bob_actor, alice, user_op::deliver, message(2));
  detach(bob_actor, bob, 1);
  CAF_CHECK(stored(bob, 1) && stored(bob, 2)); // no ack can come now: stored at once
  CAF_CHECK(*first && *second);
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(3)).ok()); // offline: stored
  w->pushes.clear();
  attach(bob_actor, bob, 2);
  CAF_REQUIRE_EQUAL(w->pushes.size(), 3u);
  for (uint8_t i = 0; i < 3; ++i)
    CAF_CHECK(w->pushes[i].id == id_of(static_cast<uint8_t>(i + 1)));
}

CAF_TEST(a new session gets held mail paged before newer mail) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto held = call_later(bob_actor, alice, user_op::deliver, message(1));
  w->pushes.clear();
  attach(bob_actor, bob, 2); // takes over without a detach first
  CAF_CHECK(stored(bob, 1));
  CAF_REQUIRE_EQUAL(w->pushes.size(), 1u);
  CAF_CHECK(w->pushes[0].id == id_of(1));
  CAF_CHECK(*held);
}

CAF_TEST(past the held bounds mail is stored at once and in order) {
  befriend(bob, alice);
  deps.max_held_per_user = 2;
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto one = call_later(bob_actor, alice, user_op::deliver, message(1));
  auto two = call_later(bob_actor, alice, user_op::deliver, message(2));
  CAF_CHECK(!*one && !*two);
  // A third would pass the user's bound: the held two are stored first, then it.
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(3)).ok());
  CAF_CHECK(*one && *two);
  CAF_REQUIRE_EQUAL(w->mail.size(), 3u);
  std::vector<std::pair<uint64_t, uint8_t>> by_seq;
  for (auto& [key, e] : w->mail)
    by_seq.emplace_back(e.seq, e.id[0]);
  std::sort(by_seq.begin(), by_seq.end());
  CAF_CHECK_EQUAL(by_seq[0].second, 1);
  CAF_CHECK_EQUAL(by_seq[1].second, 2);
  CAF_CHECK_EQUAL(by_seq[2].second, 3);
  CAF_CHECK_EQUAL(w->pushes.size(), 3u); // all pushed at once all the same
  // The node-wide byte budget: nothing fits, so mail is stored at once.
  deps.held = std::make_shared<held_budget>(1);
  befriend(carol, alice);
  auto carol_actor = spawn(carol);
  attach(carol_actor, carol, 3);
  CAF_CHECK(call(carol_actor, alice, user_op::deliver, message(4)).ok());
  CAF_CHECK(stored(carol, 4));
  CAF_CHECK_EQUAL(deps.held->used(), 0u);
}

CAF_TEST(acks in any order find their held mail across compactions) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  constexpr size_t count = 1200;
  auto id_at = [](size_t i) {
    message_id id{};
    id[0] = static_cast<uint8_t>(i >> 8);
    id[1] = static_cast<uint8_t>(i);
    id[15] = 0x5a;
    return id;
  };
  std::vector<std::shared_ptr<std::optional<entity_reply>>> accepted;
  for (size_t i = 0; i < count; ++i)
    accepted.push_back(
        call_later(bob_actor, alice, user_op::deliver,
                   encode_body(deliver_body{mail_kind::message, id_at(i), bytes{1}})));
  auto ack = [&](size_t i) {
    CAF_CHECK(call(bob_actor, bob, user_op::ack,
                   encode_body(ack_request{{{mail_kind::message, alice, id_at(i)}}}))
                  .ok());
  };
  w->routed.clear();
  for (size_t i = 0; i < 1100; ++i) // past 1024 done at the front: the front is dropped
    ack(i);
  for (size_t i = count; i-- > 1100;) // the rest newest first
    ack(i);
  consume_messages();
  size_t ok = 0;
  for (auto& a : accepted)
    ok += *a && (*a)->ok() ? 1 : 0;
  CAF_CHECK_EQUAL(ok, count);
  CAF_CHECK_EQUAL(w->puts, 0u);
  CAF_REQUIRE_EQUAL(w->routed.size(), count);
  for (size_t i = 0; i < count; ++i) { // one receipt per ack, for the acked message
    auto receipt = deliver_of(w->routed[i]);
    CAF_REQUIRE(receipt);
    CAF_CHECK(receipt->id == id_at(i < 1100 ? i : count - 1 - (i - 1100)));
  }
  CAF_CHECK_EQUAL(deps.held->used(), 0u);
}

CAF_TEST(with the ack window off pushed mail is stored at once) {
  befriend(bob, alice);
  deps.ack_window = std::chrono::milliseconds(0);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(8)).ok());
  CAF_CHECK(stored(bob, 8));
  CAF_REQUIRE_EQUAL(w->pushes.size(), 1u); // pushed before its commit all the same
  CAF_CHECK(w->pushes[0].id == id_of(8));
}

CAF_TEST(a flush stores all held mail) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto held = call_later(bob_actor, alice, user_op::deliver, message(6));
  auto done = self->request(bob_actor, caf::infinite, flush_atom::value);
  consume_messages();
  done.receive([](bool) {}, [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK(stored(bob, 6));
  CAF_CHECK(*held);
}

CAF_TEST(receipts are accepted from anyone and acking them sends nothing) {
  auto alice_actor = spawn(alice);
  CAF_CHECK(call(alice_actor, bob, user_op::deliver,
                 encode_body(deliver_body{mail_kind::delivered, id_of(3), {}}))
                .ok());
  CAF_CHECK_EQUAL(w->mail.size(), 1u);
  w->routed.clear();
  CAF_CHECK(call(alice_actor, alice, user_op::ack,
                 encode_body(ack_request{{{mail_kind::delivered, bob, id_of(3)}}}))
                .ok());
  CAF_CHECK(w->mail.empty());
  CAF_CHECK(w->routed.empty());
}

CAF_TEST(stored mail is drained when a session attaches and presence goes online) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(1)).ok());
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(2)).ok());
  CAF_CHECK(w->pushes.empty());
  attach(bob_actor, bob, 1);
  CAF_CHECK_EQUAL(w->pushes.size(), 2u);
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 1);
  detach(bob_actor, bob, 1);
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 0);
  CAF_CHECK(w->kv.count({kv_space::last_seen, std::to_string(bob)}) == 1);
}

CAF_TEST(a backlog is pushed two pages ahead of the acks and new mail waits its turn) {
  befriend(bob, alice);
  deps.drain_page_count = 2;
  auto bob_actor = spawn(bob);
  for (uint8_t i = 1; i <= 7; ++i)
    CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(i)).ok());
  attach(bob_actor, bob, 1);
  CAF_REQUIRE_EQUAL(w->pushes.size(), 4u);
  CAF_CHECK(w->pushes[3].id == id_of(4));
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(8)).ok());
  consume_messages();
  CAF_CHECK_EQUAL(w->pushes.size(), 4u); // not overtaking the backlog
  CAF_CHECK(stored(bob, 8));             // so it is stored, not held
  auto ack = [&](std::initializer_list<uint8_t> tags) {
    ack_request req;
    for (auto t : tags)
      req.keys.push_back({mail_kind::message, alice, id_of(t)});
    CAF_CHECK(call(bob_actor, bob, user_op::ack, encode_body(req)).ok());
    consume_messages();
  };
  ack({1});
  CAF_CHECK_EQUAL(w->pushes.size(), 4u); // the first page is not through yet
  ack({2});
  CAF_REQUIRE_EQUAL(w->pushes.size(), 6u);
  CAF_CHECK(w->pushes[5].id == id_of(6));
  ack({3, 4});
  CAF_REQUIRE_EQUAL(w->pushes.size(), 8u);
  CAF_CHECK(w->pushes[7].id == id_of(8));
  ack({5, 6, 7, 8});
  // The backlog is through: new mail is pushed at once (and held for its ack).
  auto accepted = call_later(bob_actor, alice, user_op::deliver, message(9));
  CAF_REQUIRE_EQUAL(w->pushes.size(), 9u);
  CAF_CHECK(w->pushes[8].id == id_of(9));
  CAF_CHECK(!stored(bob, 9));
  ack({9});
  CAF_CHECK(*accepted);
}

CAF_TEST(mail pushed and never acked is pushed again after the redeliver wait until it is acked) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto accepted = call_later(bob_actor, alice, user_op::deliver, message(3)); // push lost
  sched.advance_time(deps.ack_window);
  consume_messages();
  CAF_CHECK(stored(bob, 3));
  CAF_CHECK(*accepted); // durable
  CAF_REQUIRE_EQUAL(w->pushes.size(), 1u);
  auto wait = [&](int times) {
    for (int i = 0; i < times; ++i) {
      w->now += static_cast<uint64_t>(deps.redeliver_after.count());
      sched.advance_time(deps.redeliver_after);
      consume_messages();
    }
  };
  wait(1);
  CAF_REQUIRE_EQUAL(w->pushes.size(), 2u);
  CAF_CHECK(w->pushes[1].id == id_of(3));
  wait(1); // still no ack: the next wait is twice as long
  CAF_CHECK_EQUAL(w->pushes.size(), 2u);
  wait(1);
  CAF_CHECK_EQUAL(w->pushes.size(), 3u);
  CAF_CHECK(call(bob_actor, bob, user_op::ack,
                 encode_body(ack_request{{{mail_kind::message, alice, id_of(3)}}}))
                .ok());
  wait(8);
  CAF_CHECK_EQUAL(w->pushes.size(), 3u);
}

CAF_TEST(mail still held when the redeliver check comes is checked again later) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto advance = [&](std::chrono::milliseconds t) {
    w->now += static_cast<uint64_t>(t.count());
    sched.advance_time(t);
    consume_messages();
  };
  auto ack = [&](uint8_t tag) {
    CAF_CHECK(call(bob_actor, bob, user_op::ack,
                   encode_body(ack_request{{{mail_kind::message, alice, id_of(tag)}}}))
                  .ok());
  };
  call_later(bob_actor, alice, user_op::deliver, message(1)); // arms the check
  ack(1);
  advance(deps.redeliver_after - std::chrono::milliseconds(10));
  call_later(bob_actor, alice, user_op::deliver, message(2)); // its push is lost
  advance(std::chrono::milliseconds(10)); // the check: 2 is held, not stored yet
  CAF_REQUIRE_EQUAL(w->pushes.size(), 2u);
  advance(deps.ack_window);
  CAF_CHECK(stored(bob, 2));
  advance(deps.redeliver_after);
  CAF_REQUIRE_EQUAL(w->pushes.size(), 3u);
  CAF_CHECK(w->pushes[2].id == id_of(2));
}

CAF_TEST(a backlog page that is never acked is paged again from the start) {
  befriend(bob, alice);
  deps.drain_page_count = 2;
  deps.drain_pages_in_flight = 1;
  auto bob_actor = spawn(bob);
  for (uint8_t i = 1; i <= 3; ++i)
    CAF_CHECK(call(bob_actor, alice, user_op::deliver, message(i)).ok());
  attach(bob_actor, bob, 1);
  CAF_REQUIRE_EQUAL(w->pushes.size(), 2u); // the first page, lost on its way
  sched.advance_time(deps.redeliver_after);
  consume_messages();
  CAF_REQUIRE_EQUAL(w->pushes.size(), 4u);
  CAF_CHECK(w->pushes[2].id == id_of(1) && w->pushes[3].id == id_of(2));
  ack_request req{{{mail_kind::message, alice, id_of(1)}, {mail_kind::message, alice, id_of(2)}}};
  CAF_CHECK(call(bob_actor, bob, user_op::ack, encode_body(req)).ok());
  consume_messages();
  CAF_REQUIRE_EQUAL(w->pushes.size(), 5u); // and the drain goes on
  CAF_CHECK(w->pushes[4].id == id_of(3));
}

CAF_TEST(a second session takes over and the first is told why) {
  auto alice_actor = spawn(alice);
  attach(alice_actor, alice, 1);
  attach(alice_actor, alice, 2);
  CAF_REQUIRE_EQUAL(w->kicks.size(), 1u);
  CAF_CHECK_EQUAL(w->kicks[0], static_cast<uint16_t>(errc::session_replaced));
  // A late detach of the replaced session leaves the new one online.
  detach(alice_actor, alice, 1);
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(alice)}) == 1);
}

CAF_TEST(a released user stores its held mail sends its session to the next owner and stops) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto held = call_later(bob_actor, alice, user_op::deliver, message(1));
  CAF_CHECK(!*held);
  auto released = self->request(bob_actor, caf::infinite, release_atom::value);
  // Arrives while the held mail's put is on its way: moved, with its argument for the retry.
  auto late = call_later(bob_actor, alice, user_op::deliver, message(2));
  CAF_CHECK(stored(bob, 1));
  CAF_REQUIRE(*held);
  CAF_CHECK((*held)->ok());
  CAF_REQUIRE(*late);
  CAF_CHECK((*late)->moved());
  CAF_REQUIRE((*late)->value.match_elements<deliver_body>());
  CAF_CHECK(encode_body((*late)->value.get_as<deliver_body>(0)) == message(2));
  CAF_CHECK(!stored(bob, 2));
  CAF_CHECK_EQUAL(w->reattaches, 1u);
  released.receive([](bool ok) { CAF_CHECK(ok); },
                   [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  // The session stays online: the next owner's actor attaches it.
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 1);
}

CAF_TEST(unused without a session an account drops its state and an unknown id stops) {
  auto bob_actor = spawn(bob);
  auto ghost = spawn(nobody);
  auto alice_actor = spawn(alice);
  attach(alice_actor, alice, 1);
  // An actor that loads again sees what KV holds now: here, no account.
  auto forget_account = [&](account_id id) {
    w->kv.erase({kv_space::accounts, std::to_string(id)});
  };
  auto knows_itself = [&](const user_actor& user, account_id id) {
    return call(user, id, user_op::list_contacts, {}).ok();
  };
  pass(std::chrono::seconds(40));
  CAF_CHECK(knows_itself(bob_actor, bob)); // used: its idle time starts again
  pass(std::chrono::seconds(40));
  forget_account(bob);
  CAF_CHECK(knows_itself(bob_actor, bob)); // still loaded
  // The unknown id's actor stopped after its linger: a request to it fails (the entity
  // client then asks the host for a new one).
  pass(moved_linger);
  auto to_ghost = call_later(ghost, nobody, user_op::list_contacts);
  CAF_REQUIRE(*to_ghost);
  CAF_CHECK_EQUAL((*to_ghost)->message, "request failed");
  pass(std::chrono::seconds(130));
  CAF_CHECK(!knows_itself(bob_actor, bob)); // loaded again, from KV
  forget_account(alice);
  pass(std::chrono::seconds(130));
  CAF_CHECK(knows_itself(alice_actor, alice)); // a session keeps the state
  detach(alice_actor, alice, 1);
  pass(std::chrono::seconds(130));
  CAF_CHECK(!knows_itself(alice_actor, alice));
}

CAF_TEST(a session on a node that went away is detached with last seen at its last heartbeat) {
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto presence = decode_presence(w->kv[{kv_space::presence, std::to_string(bob)}]);
  CAF_REQUIRE(presence);
  CAF_CHECK_EQUAL(presence->node, "test");
  CAF_CHECK_EQUAL(presence->incarnation, incarnation);
  caf::anon_send(bob_actor, node_down_atom::value, std::string{"other"}, incarnation,
                 uint64_t{555});
  consume_messages();
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 1); // not its node
  caf::anon_send(bob_actor, node_down_atom::value, std::string{"test"}, incarnation, uint64_t{555});
  consume_messages();
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 0);
  auto seen = w->kv[{kv_space::last_seen, std::to_string(bob)}];
  wire::reader r{seen};
  uint64_t ms = 0;
  CAF_REQUIRE(r.u64(ms));
  CAF_CHECK_EQUAL(ms, 555u);
}

CAF_TEST(a friend on a live node is online and one on a node that went away is not) {
  befriend(alice, bob);
  auto alice_actor = spawn(alice);
  auto status_of_bob = [&] {
    auto reply = call(alice_actor, alice, user_op::get_status, target(bob));
    CAF_REQUIRE(reply.ok());
    return *value<status_reply>(reply);
  };
  w->kv[{kv_space::presence, std::to_string(bob)}] = encode_presence({"test", incarnation, 100});
  CAF_CHECK(status_of_bob().online);
  auto view = std::make_shared<cluster_view>(*service->view());
  view->departed.push_back(departed_node{"gone", 3, 900});
  service->publish_view(view);
  w->kv[{kv_space::presence, std::to_string(bob)}] = encode_presence({"gone", 3, 100});
  auto gone = status_of_bob();
  CAF_CHECK(!gone.online);
  CAF_CHECK_EQUAL(gone.last_seen_ms, 900u);
  // A node this one never saw go: last seen falls back to the attach time.
  w->kv[{kv_space::presence, std::to_string(bob)}] = encode_presence({"unknown", 4, 100});
  CAF_CHECK_EQUAL(status_of_bob().last_seen_ms, 100u);
}

CAF_TEST(a detach that overtakes its attach leaves the account offline) {
  auto bob_actor = spawn(bob);
  w->kv[{kv_space::presence, std::to_string(bob)}] = encode_presence({"test", incarnation, 1});
  detach(bob_actor, bob, 5); // the session closed; its attach is still on the way
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 0);
  CAF_CHECK(w->kv.count({kv_space::last_seen, std::to_string(bob)}) == 1);
  auto late = call(bob_actor, bob, user_op::attach, attach_of(5));
  CAF_CHECK(!late.ok());
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 0);
  attach(bob_actor, bob, 6); // a new session of the account works as ever
  CAF_CHECK(w->kv.count({kv_space::presence, std::to_string(bob)}) == 1);
}

CAF_TEST(mail handed over from another node is paged to the attached session) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  CAF_CHECK(w->pushes.empty());
  // What the host stores from a handoff batch, then tells the actor.
  envelope e{bob, mail_kind::message, id_of(4), alice, 1, 9999, {1}, ++w->next_seq};
  w->mail.emplace(std::make_tuple(bob, mail_kind::message, alice, id_of(4)), e);
  caf::anon_send(bob_actor, stored_atom::value);
  consume_messages();
  CAF_REQUIRE_EQUAL(w->pushes.size(), 1u);
  CAF_CHECK(w->pushes[0].id == id_of(4));
}

CAF_TEST(malformed bodies are refused) {
  auto alice_actor = spawn(alice);
  CAF_CHECK_EQUAL(call(alice_actor, bob, user_op::deliver, bytes{1, 2, 3}).status,
                  static_cast<uint16_t>(errc::invalid_argument));
  CAF_CHECK_EQUAL(call(alice_actor, alice, user_op::add_friend, target(alice)).status,
                  static_cast<uint16_t>(errc::invalid_argument));
  CAF_CHECK_EQUAL(call(alice_actor, alice, static_cast<user_op>(99)).status,
                  static_cast<uint16_t>(errc::invalid_argument));
}

/// A `group_joined` argument: group `g` with `members`.
bytes joined(group_id g, std::vector<account_id> members = {}) {
  return encode_body(group_info{g, "g", 0, 1, std::move(members)});
}

CAF_TEST(a group chat hears whom an account approves and a child without a parent none) {
  constexpr group_id grp = 0x8000000000000001ull;
  make_child(bob);
  link_parent(bob, carol);
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  auto answer = value<relation_answer>(
      call(bob_actor, 0, user_op::relations, encode_body(relation_query{{alice, carol, nobody}})));
  CAF_REQUIRE(answer);
  CAF_CHECK(answer->child);
  CAF_CHECK_EQUAL(answer->parent, carol);
  CAF_CHECK((answer->approved == std::vector<account_id>{alice, carol}));
  // The account keeps its groups with its contacts.
  CAF_CHECK(call(bob_actor, 0, user_op::group_joined, joined(grp)).ok());
  auto list = contact_list_state::decode(w->kv[{kv_space::contacts, std::to_string(bob)}]);
  CAF_REQUIRE(list);
  CAF_CHECK_EQUAL(list->groups().count(grp), 1u);
  // Unlinked, the child approves no one (not even its old parent) and leaves the groups
  // its old parent is in.
  CAF_CHECK(call(bob_actor, bob, user_op::unlinked).ok());
  consume_messages();
  auto frozen = value<relation_answer>(
      call(bob_actor, 0, user_op::relations, encode_body(relation_query{{alice, carol}})));
  CAF_REQUIRE(frozen);
  CAF_CHECK(frozen->approved.empty());
  auto ended = to_chats(chat_op::relation_ended);
  CAF_REQUIRE_EQUAL(ended.size(), 1u);
  CAF_CHECK_EQUAL(ended[0].id, grp);
  CAF_CHECK_EQUAL(ended[0].caller, bob);
  CAF_CHECK_EQUAL(ended[0].args.get_as<relation_end>(0).other, carol);
}

CAF_TEST(a child that blocks or loses a contact tells its groups and an adult tells none) {
  constexpr group_id grp = 0x8000000000000001ull;
  make_child(bob);
  link_parent(bob, carol);
  befriend(bob, alice);
  befriend(alice, bob);
  auto bob_actor = spawn(bob);
  auto alice_actor = spawn(alice);
  for (auto& actor : {bob_actor, alice_actor})
    CAF_CHECK(call(actor, 0, user_op::group_joined, joined(grp)).ok());
  // Alice, an adult, removes Bob: her groups keep her; Bob, told, leaves those with her.
  CAF_CHECK(call(alice_actor, alice, user_op::remove_contact, target(bob)).ok());
  consume_messages();
  CAF_CHECK(to_chats(chat_op::relation_ended).empty());
  CAF_CHECK(call(bob_actor, alice, user_op::friend_removed).ok());
  consume_messages();
  auto ended = to_chats(chat_op::relation_ended);
  CAF_REQUIRE_EQUAL(ended.size(), 1u);
  CAF_CHECK_EQUAL(ended[0].caller, bob);
  CAF_CHECK_EQUAL(ended[0].args.get_as<relation_end>(0).other, alice);
  // Carol, his parent, blocks a friend of his: he leaves its groups too.
  befriend(bob, nobody);
  auto again = spawn(bob);
  CAF_CHECK(call(again, carol, user_op::block_contact, target(nobody)).ok());
  consume_messages();
  CAF_CHECK_EQUAL(to_chats(chat_op::relation_ended).size(), 2u);
}

CAF_TEST(a banned or deleted account leaves every group) {
  constexpr group_id grp = 0x8000000000000001ull;
  auto bob_actor = spawn(bob);
  CAF_CHECK(call(bob_actor, 0, user_op::group_joined, joined(grp)).ok());
  CAF_CHECK(call(bob_actor, 0, user_op::group_joined, joined(grp + 1)).ok());
  auto ban_body = bytes{1};
  auto record = encode_ban({bob, 5, report_category::harassment});
  ban_body.insert(ban_body.end(), record.begin(), record.end());
  CAF_CHECK(call(bob_actor, operator_caller, user_op::ban, ban_body).ok());
  consume_messages();
  CAF_CHECK_EQUAL(to_chats(chat_op::leave).size(), 2u);
  auto alice_actor = spawn(alice);
  CAF_CHECK(call(alice_actor, 0, user_op::group_joined, joined(grp)).ok());
  CAF_CHECK(call(alice_actor, alice, user_op::delete_account, deletion()).ok());
  consume_messages();
  auto left = to_chats(chat_op::leave);
  CAF_CHECK_EQUAL(left.size(), 3u);
  CAF_CHECK_EQUAL(left.back().caller, alice);
}

CAF_TEST(a child refuses a group it no longer approves every member of and a banned account any) {
  constexpr group_id grp = 0x8000000000000001ull;
  make_child(bob);
  link_parent(bob, carol);
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  // Alice is his friend; nobody is not (a relation that ended while the group was made).
  CAF_CHECK(call(bob_actor, 0, user_op::group_joined, joined(grp, {bob, alice, carol})).ok());
  CAF_CHECK_EQUAL(call(bob_actor, 0, user_op::group_joined, joined(grp + 1, {bob, nobody})).status,
                  static_cast<uint16_t>(errc::not_allowed));
  auto list = contact_list_state::decode(w->kv[{kv_space::contacts, std::to_string(bob)}]);
  CAF_REQUIRE(list);
  CAF_CHECK_EQUAL(list->groups().size(), 1u);
  // An adult joins whatever its friends add it to, up to the cap; a banned one joins none.
  auto alice_actor = spawn(alice);
  for (group_id g = 1; g <= max_groups_per_account; ++g)
    CAF_REQUIRE(call(alice_actor, 0, user_op::group_joined, joined(grp + g, {alice, nobody})).ok());
  CAF_CHECK_EQUAL(call(alice_actor, 0, user_op::group_joined, joined(grp, {alice})).status,
                  static_cast<uint16_t>(errc::not_allowed));
  auto full = value<relation_answer>(
      call(alice_actor, 0, user_op::relations, encode_body(relation_query{{bob}})));
  CAF_REQUIRE(full);
  CAF_CHECK(full->full);
  auto ban_body = bytes{1};
  auto record = encode_ban({carol, 5, report_category::harassment});
  ban_body.insert(ban_body.end(), record.begin(), record.end());
  auto carol_actor = spawn(carol);
  CAF_CHECK(call(carol_actor, operator_caller, user_op::ban, ban_body).ok());
  CAF_CHECK_EQUAL(
      call(carol_actor, 0, user_op::relations, encode_body(relation_query{{bob}})).status,
      static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(carol_actor, 0, user_op::group_joined, joined(grp, {carol})).status,
                  static_cast<uint16_t>(errc::not_allowed));
}

CAF_TEST(typing reaches an attached session from an approved account only and is never stored) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  attach(bob_actor, bob, 1);
  auto puts = w->puts;
  CAF_CHECK(call(bob_actor, alice, user_op::typing, encode_body(typing_body{0})).ok());
  CAF_CHECK(call(bob_actor, carol, user_op::typing, encode_body(typing_body{0})).ok());
  consume_messages();
  size_t typing = 0;
  for (auto& p : w->pushes)
    if (p.kind == mail_kind::typing) {
      ++typing;
      CAF_CHECK_EQUAL(p.from, alice);
    }
  CAF_CHECK_EQUAL(typing, 1u);
  detach(bob_actor, bob, 1);
  CAF_CHECK(call(bob_actor, alice, user_op::typing, encode_body(typing_body{7})).ok());
  CAF_CHECK_EQUAL(w->puts, puts);
  CAF_CHECK(std::none_of(w->mail.begin(), w->mail.end(),
                         [](auto& m) { return m.second.kind == mail_kind::typing; }));
}

CAF_TEST(a group copy is admitted from an approved sender only) {
  befriend(bob, alice);
  auto bob_actor = spawn(bob);
  auto copy = [](uint8_t tag) {
    return encode_body(deliver_body{mail_kind::group, id_of(tag),
                                    encode_body(group_mail{5, bytes(72, 1), bytes{1}})});
  };
  CAF_CHECK(call(bob_actor, alice, user_op::deliver, copy(1)).ok());
  CAF_CHECK_EQUAL(call(bob_actor, carol, user_op::deliver, copy(2)).status,
                  static_cast<uint16_t>(errc::not_found));
  auto kept = std::count_if(w->mail.begin(), w->mail.end(),
                            [](auto& m) { return m.second.kind == mail_kind::group; });
  CAF_CHECK_EQUAL(kept, 1);
}

CAF_TEST(quiet hours hold a child mail from the evening to the morning on the actor timer) {
  make_child(alice);
  link_parent(alice, bob);
  befriend(alice, carol);
  w->now = utc_ms(2026, 12, 7, 20, 0); // a Monday
  auto child = spawn(alice);
  // Only the linked parent sets them; a zone the tz database does not know is refused.
  CAF_CHECK_EQUAL(call(child, carol, user_op::set_quiet, nights(alice)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK_EQUAL(call(child, alice, user_op::set_quiet, nights(alice)).status,
                  static_cast<uint16_t>(errc::not_found));
  auto nowhere = quiet_set_request{alice, quiet_schedule{0x7f, 21 * 60, 7 * 60, "Nowhere/Else"}};
  CAF_CHECK_EQUAL(call(child, bob, user_op::set_quiet, encode_body(nowhere)).status,
                  static_cast<uint16_t>(errc::invalid_argument));
  auto set = value<quiet_reply>(call(child, bob, user_op::set_quiet, nights(alice)));
  CAF_REQUIRE(set);
  auto asleep = set->asleep;
  auto next = set->next_change_ms;
  CAF_CHECK(!asleep);
  CAF_CHECK_EQUAL(next, utc_ms(2026, 12, 7, 21, 0));
  auto messages = [&](uint8_t tag) {
    return std::count_if(w->pushes.begin(), w->pushes.end(), [&](const mail_push& p) {
      return p.kind == mail_kind::message && p.id == id_of(tag);
    });
  };
  attach(child, alice, 1);
  call_later(child, carol, user_op::deliver, message(1)); // answered at its ack
  CAF_CHECK_EQUAL(messages(1), 1);
  pass(std::chrono::hours(1)); // 21:00: the timer fires
  CAF_CHECK_EQUAL(w->asleep, std::vector<bool>{true});
  CAF_CHECK(call(child, carol, user_op::deliver, message(2)).ok());
  CAF_CHECK(stored(alice, 2));
  pass(std::chrono::hours(6)); // 03:00, past midnight: still quiet
  CAF_CHECK_EQUAL(messages(2), 0);
  CAF_CHECK_EQUAL(w->asleep.size(), 1u);
  pass(std::chrono::hours(4)); // 07:00: the stored mail comes
  CAF_CHECK_EQUAL(w->asleep, (std::vector<bool>{true, false}));
  CAF_CHECK_EQUAL(messages(2), 1);
}

CAF_TEST(quiet hours outlive the actor and an attach inside them starts asleep) {
  make_child(alice);
  link_parent(alice, bob);
  befriend(alice, carol);
  w->now = utc_ms(2026, 12, 7, 20, 0);
  auto first = spawn(alice);
  CAF_CHECK(call(first, bob, user_op::set_quiet, nights(alice)).ok());
  caf::anon_send_exit(first, caf::exit_reason::kill); // the node went down
  consume_messages();
  w->now = utc_ms(2026, 12, 7, 23, 0);
  auto child = spawn(alice);
  auto shown = value<quiet_reply>(call(child, alice, user_op::get_quiet));
  CAF_REQUIRE(shown);
  auto kept = shown->schedule;
  CAF_CHECK(kept && kept->from_min == 21 * 60 && kept->tz == "UTC");
  auto attached = attach(child, alice, 1);
  CAF_CHECK(attached.asleep);
  CAF_CHECK_EQUAL(attached.parent, bob);
  CAF_CHECK(call(child, carol, user_op::deliver, message(3)).ok());
  CAF_CHECK(std::none_of(w->pushes.begin(), w->pushes.end(),
                         [](auto& p) { return p.kind == mail_kind::message; }));
  pass(std::chrono::hours(8)); // 07:00
  CAF_CHECK(std::any_of(w->pushes.begin(), w->pushes.end(),
                        [](auto& p) { return p.kind == mail_kind::message && p.id == id_of(3); }));
  // Off: the parent ends them, and the child reads that there are none.
  CAF_CHECK(call(child, bob, user_op::set_quiet, encode_body(quiet_set_request{alice, {}})).ok());
  auto off = value<quiet_reply>(call(child, alice, user_op::get_quiet));
  CAF_REQUIRE(off);
  CAF_CHECK(!off->schedule.has_value());
}

CAF_TEST(quiet hours begin and end at a shift of the child own within the release spread) {
  deps.quiet_release_spread = std::chrono::seconds(10);
  make_child(alice);
  link_parent(alice, bob);
  befriend(alice, carol);
  w->now = utc_ms(2026, 12, 7, 20, 0);
  auto child = spawn(alice);
  auto shift = std::chrono::milliseconds(mix64(alice) % 10001);
  CAF_REQUIRE(shift > std::chrono::seconds(1)); // Alice's id gives 6.8 s
  auto set = value<quiet_reply>(call(child, bob, user_op::set_quiet, nights(alice)));
  CAF_REQUIRE(set);
  auto next = set->next_change_ms;
  CAF_CHECK_EQUAL(next, utc_ms(2026, 12, 7, 21, 0) + static_cast<uint64_t>(shift.count()));
  attach(child, alice, 1);
  pass(std::chrono::hours(1)); // 21:00 sharp: not yet
  CAF_CHECK(w->asleep.empty());
  pass(shift);
  CAF_CHECK_EQUAL(w->asleep, std::vector<bool>{true});
  CAF_CHECK(call(child, carol, user_op::deliver, message(4)).ok());
  pass(std::chrono::hours(10) - shift); // 07:00 sharp: the mail is still held
  CAF_CHECK_EQUAL(w->asleep, std::vector<bool>{true});
  CAF_CHECK(std::none_of(w->pushes.begin(), w->pushes.end(),
                         [](auto& p) { return p.kind == mail_kind::message; }));
  auto still = value<quiet_reply>(call(child, alice, user_op::get_quiet));
  CAF_REQUIRE(still);
  auto still_asleep = still->asleep;
  CAF_CHECK(still_asleep);
  pass(shift);
  CAF_CHECK_EQUAL(w->asleep, (std::vector<bool>{true, false}));
  CAF_CHECK(std::any_of(w->pushes.begin(), w->pushes.end(),
                        [](auto& p) { return p.kind == mail_kind::message && p.id == id_of(4); }));
}

CAF_TEST(a parent account has no quiet hours) {
  link_parent(alice, bob); // alice stays a parent account
  auto actor = spawn(alice);
  CAF_CHECK_EQUAL(call(actor, bob, user_op::set_quiet, nights(alice)).status,
                  static_cast<uint16_t>(errc::invalid_argument));
}

namespace {

bytes offer(call_id id, bool video = false) {
  return encode_body(call_event{id, 0, call_signal::offer, 0, video, bytes{0xc0, 0xde}});
}

bytes signal(call_id id, call_signal s, uint64_t to = 0) {
  return encode_body(call_request{to, id, s, false, bytes{0xee}});
}

std::optional<call_outcome> outcome_of(const entity_reply& r) {
  auto* rung = result_as<call_ring_result>(r);
  if (rung == nullptr || rung->rung.size() != 1)
    return std::nullopt;
  return rung->rung[0].outcome;
}

} // namespace

/// The call events pushed to sessions, and the missed calls stored.
struct call_views {
  static std::vector<std::pair<account_id, call_event>> events(const world& w) {
    std::vector<std::pair<account_id, call_event>> out;
    for (auto& p : w.pushes)
      if (p.kind == mail_kind::call)
        out.emplace_back(p.from, *decode_body<call_event>(p.payload));
    return out;
  }
  static std::vector<std::pair<account_id, missed_call_body>> missed(const world& w,
                                                                     account_id owner) {
    std::vector<std::pair<account_id, missed_call_body>> out;
    for (auto& [key, e] : w.mail)
      if (e.recipient == owner && e.kind == mail_kind::missed_call)
        out.emplace_back(e.sender, *decode_body<missed_call_body>(e.payload));
    return out;
  }
  /// The call signals that left for other accounts.
  static std::vector<std::pair<account_id, call_event>> sent(const world& w) {
    std::vector<std::pair<account_id, call_event>> out;
    for (auto& r : w.routed)
      if (r.kind == user_kind && r.op == static_cast<uint8_t>(user_op::call_in))
        out.emplace_back(r.id, r.args.get_as<call_event>(0));
    return out;
  }
};

CAF_TEST(a call rings an attached friend who answers and the caller hangs up) {
  befriend(bob, alice);
  befriend(bob, carol);
  auto callee = spawn(bob);
  attach(callee, bob, 1);
  CAF_CHECK(outcome_of(call(callee, alice, user_op::call_in, offer(7, true))) ==
            call_outcome::ringing);
  auto pushed = call_views::events(*w);
  CAF_REQUIRE_EQUAL(pushed.size(), 1u);
  CAF_CHECK_EQUAL(pushed[0].first, alice);
  CAF_CHECK(pushed[0].second.signal == call_signal::offer && pushed[0].second.video);
  // In a call, another ring is busy; a stranger's is not_found, as for no account.
  CAF_CHECK(outcome_of(call(callee, carol, user_op::call_in, offer(8))) == call_outcome::busy);
  CAF_CHECK_EQUAL(call(callee, nobody, user_op::call_in, offer(9)).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(call(callee, bob, user_op::call_out, signal(7, call_signal::answer)).ok());
  auto sent = call_views::sent(*w);
  CAF_REQUIRE_EQUAL(sent.size(), 1u);
  CAF_CHECK(sent[0].first == alice && sent[0].second.signal == call_signal::answer);
  CAF_CHECK(call(callee, alice, user_op::call_in,
                 encode_body(call_event{7, 0, call_signal::ice, 0, true, bytes{1}}))
                .ok());
  CAF_CHECK(call(callee, alice, user_op::call_in,
                 encode_body(call_event{7, 0, call_signal::hangup, 0, true, {}}))
                .ok());
  CAF_CHECK_EQUAL(call_views::events(*w).size(), 3u);
  // Over: an answered call leaves no missed call, and its id is unknown now.
  CAF_CHECK(call_views::missed(*w, bob).empty());
  CAF_CHECK_EQUAL(call(callee, bob, user_op::call_out, signal(7, call_signal::hangup)).status,
                  static_cast<uint16_t>(errc::not_found));
  pass(std::chrono::seconds(61)); // the ring timer finds nothing to do
  CAF_CHECK(call_views::missed(*w, bob).empty());
}

CAF_TEST(a block or a removal by a parent ends the calls with that account at once) {
  make_child(bob);
  link_parent(bob, carol);
  befriend(bob, alice);
  auto callee = spawn(bob);
  attach(callee, bob, 1);
  CAF_CHECK(outcome_of(call(callee, alice, user_op::call_in, offer(41))) == call_outcome::ringing);
  CAF_CHECK(call(callee, carol, user_op::remove_contact, target(alice)).ok());
  auto sent = call_views::sent(*w);
  CAF_REQUIRE(!sent.empty());
  CAF_CHECK(sent.back().first == alice && sent.back().second.signal == call_signal::hangup &&
            sent.back().second.reason == static_cast<uint8_t>(call_outcome::ended));
  // The ring is over: the child cannot answer it any more.
  CAF_CHECK_EQUAL(call(callee, bob, user_op::call_out, signal(41, call_signal::answer)).status,
                  static_cast<uint16_t>(errc::not_found));
}

CAF_TEST(a ring nobody answers and a callee offline leave one missed call each) {
  befriend(bob, alice);
  auto callee = spawn(bob);
  CAF_CHECK(outcome_of(call(callee, alice, user_op::call_in, offer(1))) == call_outcome::offline);
  CAF_CHECK_EQUAL(call_views::missed(*w, bob).size(), 1u);
  attach(callee, bob, 1);
  CAF_CHECK(outcome_of(call(callee, alice, user_op::call_in, offer(2))) == call_outcome::ringing);
  pass(std::chrono::seconds(59));
  CAF_CHECK_EQUAL(call_views::missed(*w, bob).size(), 1u); // the first waits for its ack
  pass(std::chrono::seconds(2)); // the ring is over: the missed call is pushed, held...
  pass(std::chrono::seconds(1)); // ...and stored when no ack came
  auto missed = call_views::missed(*w, bob);
  auto no_answer = std::count_if(missed.begin(), missed.end(), [](auto& m) {
    return m.first == alice && m.second.id == 2 && m.second.why == call_outcome::no_answer;
  });
  CAF_CHECK_EQUAL(no_answer, 1);
  auto sent = call_views::sent(*w);
  CAF_REQUIRE_EQUAL(sent.size(), 1u);
  CAF_CHECK(sent[0].second.signal == call_signal::hangup &&
            sent[0].second.reason == static_cast<uint8_t>(call_outcome::no_answer));
  auto events = call_views::events(*w);
  CAF_CHECK(events.back().second.signal == call_signal::hangup);
}

CAF_TEST(a child in its quiet hours is asleep to calls and gets a missed call) {
  make_child(bob);
  link_parent(bob, carol);
  befriend(bob, alice);
  w->now = utc_ms(2026, 12, 7, 22, 0);
  auto callee = spawn(bob);
  CAF_CHECK(call(callee, carol, user_op::set_quiet, nights(bob)).ok());
  attach(callee, bob, 1);
  CAF_CHECK(outcome_of(call(callee, alice, user_op::call_in, offer(3))) == call_outcome::asleep);
  CAF_CHECK(call_views::events(*w).empty());
  auto missed = call_views::missed(*w, bob);
  CAF_REQUIRE_EQUAL(missed.size(), 1u);
  CAF_CHECK(missed[0].second.why == call_outcome::asleep);
}

CAF_TEST(a caller keeps a call while a peer rings and hears its hangup) {
  befriend(alice, bob);
  auto caller = spawn(alice);
  attach(caller, alice, 1);
  CAF_CHECK_EQUAL(call(caller, alice, user_op::call_out,
                       encode_body(call_request{carol, 5, call_signal::offer, false, {}}))
                      .status,
                  static_cast<uint16_t>(errc::not_found)); // not a friend
  w->call_answer = caf::make_message(call_ring_result{{call_ring{bob, call_outcome::ringing}}});
  auto rung = call(caller, alice, user_op::call_out,
                   encode_body(call_request{bob, 5, call_signal::offer, true, bytes{1}}));
  CAF_CHECK(outcome_of(rung) == call_outcome::ringing);
  CAF_CHECK(call(caller, bob, user_op::call_in,
                 encode_body(call_event{5, 0, call_signal::answer, 0, true, bytes{2}}))
                .ok());
  CAF_CHECK(call(caller, alice, user_op::call_out, signal(5, call_signal::ice)).ok());
  CAF_CHECK(call(caller, alice, user_op::call_out, signal(5, call_signal::hangup)).ok());
  auto sent = call_views::sent(*w);
  CAF_REQUIRE_EQUAL(sent.size(), 3u);
  CAF_CHECK(sent[2].first == bob && sent[2].second.signal == call_signal::hangup);
  // Gone: a signal of it now is not_found; an offline callee leaves no call behind.
  CAF_CHECK_EQUAL(call(caller, alice, user_op::call_out, signal(5, call_signal::ice)).status,
                  static_cast<uint16_t>(errc::not_found));
  w->call_answer = caf::make_message(call_ring_result{{call_ring{bob, call_outcome::offline}}});
  auto offline = call(caller, alice, user_op::call_out,
                      encode_body(call_request{bob, 6, call_signal::offer, false, {}}));
  CAF_CHECK(outcome_of(offline) == call_outcome::offline);
  CAF_CHECK_EQUAL(call(caller, alice, user_op::call_out, signal(6, call_signal::hangup)).status,
                  static_cast<uint16_t>(errc::not_found));
}

CAF_TEST(a linked parent ends its child call and nothing of a call is stored) {
  make_child(alice);
  link_parent(alice, bob);
  befriend(alice, carol);
  auto child = spawn(alice);
  attach(child, alice, 1);
  CAF_CHECK(outcome_of(call(child, carol, user_op::call_in, offer(11))) == call_outcome::ringing);
  CAF_CHECK(call(child, alice, user_op::call_out, signal(11, call_signal::answer)).ok());
  CAF_CHECK_EQUAL(call(child, carol, user_op::end_calls).status,
                  static_cast<uint16_t>(errc::not_found)); // only its parent
  CAF_CHECK(call(child, bob, user_op::end_calls).ok());
  auto sent = call_views::sent(*w);
  CAF_REQUIRE(!sent.empty());
  CAF_CHECK(sent.back().first == carol && sent.back().second.signal == call_signal::hangup &&
            sent.back().second.reason == static_cast<uint8_t>(call_outcome::ended));
  auto events = call_views::events(*w);
  CAF_CHECK(events.back().second.reason == static_cast<uint8_t>(call_outcome::ended));
  // No signal reached the store or KV: only the contact list and presence changed.
  CAF_CHECK(std::none_of(w->mail.begin(), w->mail.end(),
                         [](auto& m) { return m.second.kind == mail_kind::call; }));
  const bytes payload{0xc0, 0xde}; // what the offer carried
  for (auto& [key, value] : w->kv)
    CAF_CHECK(std::search(value.begin(), value.end(), payload.begin(), payload.end()) ==
              value.end());
}

/// The delivers of mail `kind` that left for other accounts: (recipient, sender).
std::vector<std::pair<account_id, account_id>> delivers_of(const world& w, mail_kind kind) {
  std::vector<std::pair<account_id, account_id>> out;
  for (auto& r : w.routed)
    if (auto d = deliver_of(r); d && d->kind == kind)
      out.emplace_back(r.id, r.caller);
  return out;
}

bytes post(post_id id, std::vector<account_id> to) {
  moment_post p{id, bytes{7, 7, 7}, {}};
  for (auto m : to)
    p.keys.push_back({m, bytes(72, static_cast<uint8_t>(m % 100))});
  return encode_body(p);
}

CAF_TEST(a post reaches the approved contacts it has a key for and no one else) {
  befriend(alice, bob);
  link_parent(alice, carol);
  auto poster = spawn(alice);
  CAF_CHECK(call(poster, alice, user_op::post_moment, post(9, {bob, carol, nobody, alice})).ok());
  auto sent = delivers_of(*w, mail_kind::moment);
  CAF_CHECK((sent == std::vector<std::pair<account_id, account_id>>{{bob, alice}, {carol, alice}}));
  auto copy = deliver_of(w->routed.front());
  CAF_REQUIRE(copy);
  CAF_CHECK(copy->id == post_mail_id(9));
  auto mail = decode_body<moment_mail>(copy->payload);
  CAF_REQUIRE(mail);
  CAF_CHECK_EQUAL(mail->key.size(), 72u); // its own key only
  CAF_CHECK(w->mail.empty());             // the poster keeps nothing
}

CAF_TEST(a like reaches the poster and its contacts through each one filter) {
  befriend(bob, alice);
  befriend(bob, carol);
  auto poster = spawn(bob);
  auto like = encode_body(moment_reaction{bob, 9, reaction_kind::like, id_of(1), {}, {}});
  CAF_CHECK_EQUAL(call(poster, nobody, user_op::moment_reaction, like).status,
                  static_cast<uint16_t>(errc::not_found)); // not approved by the poster
  CAF_CHECK(call(poster, alice, user_op::moment_reaction, like).ok());
  auto sent = delivers_of(*w, mail_kind::reaction);
  CAF_CHECK((sent == std::vector<std::pair<account_id, account_id>>{{bob, alice}, {carol, alice}}));
  // Carol's own filter decides: a comment from someone she never approved stays out.
  befriend(carol, bob);
  auto recipient = spawn(carol);
  auto copy = encode_body(deliver_body{
      mail_kind::reaction, id_of(2),
      encode_body(reaction_mail{bob, 9, reaction_kind::comment, bytes(72, 1), bytes{5}})});
  CAF_CHECK_EQUAL(call(recipient, alice, user_op::deliver, copy).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(w->mail.empty());
  CAF_CHECK(call(recipient, bob, user_op::deliver, copy).ok());
  CAF_CHECK_EQUAL(w->mail.size(), 1u);
}

CAF_TEST(a comment goes to the poster and the contacts it has a key for) {
  befriend(bob, alice);
  befriend(bob, carol);
  auto poster = spawn(bob);
  moment_reaction comment{bob, 9, reaction_kind::comment, id_of(3), bytes{1, 2}, {}};
  for (auto m : {bob, carol, nobody})
    comment.keys.push_back({m, bytes(72, 3)});
  CAF_CHECK(call(poster, alice, user_op::moment_reaction, encode_body(comment)).ok());
  auto sent = delivers_of(*w, mail_kind::reaction);
  CAF_CHECK((sent == std::vector<std::pair<account_id, account_id>>{{bob, alice}, {carol, alice}}));
}

CAF_TEST(a retraction deletes what waits of the post and reaches the app) {
  befriend(bob, alice);
  auto reader = spawn(bob);
  auto copy = [](post_id id) {
    return encode_body(deliver_body{mail_kind::moment, post_mail_id(id),
                                    encode_body(moment_mail{id, bytes(72, 1), bytes{4}})});
  };
  auto retraction = [](post_id id) {
    return encode_body(
        deliver_body{mail_kind::retraction, post_mail_id(id), encode_body(retraction_mail{id})});
  };
  auto kinds = [&] {
    std::vector<mail_kind> out;
    for (auto& [key, e] : w->mail)
      out.push_back(e.kind);
    return out;
  };
  CAF_CHECK(call(reader, alice, user_op::deliver, copy(1)).ok());
  auto like =
      encode_body(deliver_body{mail_kind::reaction, id_of(9),
                               encode_body(reaction_mail{alice, 1, reaction_kind::like, {}, {}})});
  CAF_CHECK(call(reader, alice, user_op::deliver, like).ok());
  CAF_CHECK(call(reader, alice, user_op::deliver, retraction(1)).ok());
  // The copy and the like are gone; the retraction stays (a copy paged out and not acked
  // yet may be on the app's screen).
  CAF_CHECK((kinds() == std::vector<mail_kind>{mail_kind::retraction}));
  w->mail.clear();
  CAF_CHECK(call(reader, alice, user_op::deliver, copy(2)).ok());
  attach(reader, bob, 1);
  auto pushed = std::find_if(w->pushes.begin(), w->pushes.end(),
                             [](auto& p) { return p.kind == mail_kind::moment; });
  CAF_REQUIRE(pushed != w->pushes.end());
  CAF_CHECK(call(reader, bob, user_op::ack,
                 encode_body(ack_request{{mail_key{mail_kind::moment, alice, post_mail_id(2)}}}))
                .ok());
  CAF_CHECK(kinds().empty());
  detach(reader, bob, 1);
  CAF_CHECK(call(reader, alice, user_op::deliver, retraction(2)).ok());
  CAF_CHECK((kinds() == std::vector<mail_kind>{mail_kind::retraction})); // the app deletes it
}

CAF_TEST(a parent deletes its child post from every contact) {
  make_child(alice);
  link_parent(alice, bob);
  befriend(alice, carol);
  auto child = spawn(alice);
  auto deletion = encode_body(moment_delete{alice, 9});
  CAF_CHECK_EQUAL(call(child, carol, user_op::delete_moment, deletion).status,
                  static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(call(child, bob, user_op::delete_moment, deletion).ok());
  auto sent = delivers_of(*w, mail_kind::retraction);
  // To its contacts, and to the child itself: its app deletes the post too.
  CAF_CHECK((sent == std::vector<std::pair<account_id, account_id>>{
                         {carol, alice}, {bob, alice}, {alice, alice}}));
  CAF_CHECK(call(child, alice, user_op::deliver,
                 encode_body(deliver_body{mail_kind::retraction, post_mail_id(9),
                                          encode_body(retraction_mail{9})}))
                .ok());
}

CAF_TEST(a frozen child keeps a retraction for when it is linked again) {
  make_child(alice); // no parent: frozen
  befriend(alice, carol);
  auto child = spawn(alice);
  CAF_CHECK(call(child, carol, user_op::deliver,
                 encode_body(deliver_body{mail_kind::retraction, post_mail_id(4),
                                          encode_body(retraction_mail{4})}))
                .ok());
  CAF_CHECK(std::any_of(w->mail.begin(), w->mail.end(),
                        [](auto& m) { return m.second.kind == mail_kind::retraction; }));
}

CAF_TEST_FIXTURE_SCOPE_END()
