// The family actor under CAF's deterministic test coordinator: link codes, the PIN and
// its lockout (kept across a restart), approvals by one parent and by both, the policy,
// expiry, and who may do what.
#define CAF_SUITE family
#define FAIL(x) CAF_FAIL(x)
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <map>

#include "actors/family_actor.hpp"
#include "actors/user_actor.hpp"
#include "config/caf_error.hpp"
#include "fakes.hpp"
#include "protocol/wire.hpp"

using namespace kinbox;
using fakes::value;

namespace {

constexpr account_id mia = 1111111111; // a child
constexpr account_id leo = 2222222222; // a child
constexpr account_id mum = 3333333333; // Mia's parent
constexpr account_id dad = 4444444444; // Leo's parent
constexpr account_id eve = 5555555555; // a stranger
constexpr uint64_t code_secret = 424242;

struct world : fakes::kv_world {
  std::vector<entity_request> to_users; ///< what the family actors asked of user actors
  std::string pin_hash;                 ///< what a parent's link code carries
  uint64_t now = 1'000'000;
};

/// Every user actor: records the request; a parent's link code is `code_secret`.
caf::behavior fake_user(caf::event_based_actor*, std::shared_ptr<world> w) {
  return {
      [=](std::vector<entity_request>& reqs) {
        std::vector<entity_reply> out;
        for (auto& r : reqs) {
          w->to_users.push_back(r);
          if (r.op != static_cast<uint8_t>(user_op::redeem_link_code)) {
            out.push_back(ok_reply());
            continue;
          }
          auto secret = r.args.get_as<link_secret>(0).secret;
          out.push_back(secret == code_secret && (r.id == mum || r.id == dad)
                            ? ok_reply(pin_hash_reply{w->pin_hash})
                            : error_reply(errc::not_found, "no such link code"));
        }
        return out;
      },
  };
}

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<world> w = std::make_shared<world>();
  fakes::no_bus bus;
  std::shared_ptr<entity_service> service;
  family_deps deps;
  entity_host host;
  crypto::pin_pepper pepper;
  crypto::pin_hash_params cheap{1, 8192};

  fixture() {
    service = fakes::lone_node_service(bus);
    service->register_kind(user_kind, sys.spawn(fakes::host, sys.spawn(fake_user, w)),
                           user_codec());
    pepper.key.fill(7);
    w->pin_hash = *crypto::hash_pin("1234", pepper, cheap);
    pin_service_config pcfg{pepper, cheap, 1, 4, false};
    deps.kv = sys.spawn(fakes::kv, w);
    deps.service = service;
    deps.pins = std::make_shared<pin_service>(sys, pcfg);
    deps.now_ms = [w = w] { return w->now; };
    deps.approval_ttl_ms = 3600 * 1000;
    start_host();
  }

  ~fixture() {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    deps.pins->stop();
    consume_messages();
  }

  void start_host() {
    host = host_kind(sys, service, family_kind_spec(deps), family_codec());
    consume_messages();
  }

  /// Stops every family actor, as a node restart would; their state is only what KV has.
  void restart() {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    consume_messages();
    start_host();
  }

  entity_reply call(account_id child, account_id caller, family_op op, bytes body = {}) {
    return fakes::call_entity(*this, host, family_kind, child, caller, family_interface::codec(),
                              static_cast<uint8_t>(op), body);
  }

  static uint16_t code(errc e) { return static_cast<uint16_t>(e); }

  void link(account_id child, account_id parent) {
    auto r = call(child, child, family_op::redeem, encode_body(link_redeem_request{parent, code_secret, {}}));
    if (!r.ok())
      CAF_FAIL("link failed: " << r.message);
  }

  family_state stored(account_id child) {
    auto i = w->kv.find({kv_space::families, std::to_string(child)});
    CAF_REQUIRE(i != w->kv.end());
    return *family_state::decode(i->second);
  }

  static bytes approval(account_id other, bool ours) {
    bytes b;
    wire::writer{b}.u64(other).u8(ours ? 1 : 0);
    return b;
  }

  static bytes decision(account_id other, bool approve) {
    return encode_body(approval_decision{0, other, approve});
  }

  /// A PIN to check (`verify_pin`).
  static bytes pin(const std::string& p) { return encode_body(pin_check{p}); }

  /// A parent's new PIN (`set_pin`).
  static bytes new_pin(const std::string& p) { return encode_body(pin_set_request{0, p}); }

  static bytes policy(uint8_t p) { return encode_body(policy_request{0, p}); }

  static bytes sharing(bool on) { return encode_body(location_sharing_request{0, on}); }

  size_t sent(account_id to, user_op op) const {
    return std::count_if(w->to_users.begin(), w->to_users.end(), [&](const entity_request& r) {
      return r.id == to && r.op == static_cast<uint8_t>(op);
    });
  }

  /// The `child_unlinked` requests `parent` got for `reason`.
  size_t unlinked_for(account_id parent, unlink_reason reason) const {
    return std::count_if(w->to_users.begin(), w->to_users.end(), [&](const entity_request& r) {
      return r.id == parent && r.op == static_cast<uint8_t>(user_op::child_unlinked) &&
             r.args.get_as<unlink_notice>(0).reason == reason;
    });
  }

  /// The notices a parent got, by type.
  size_t notices(account_id parent, notice_type type) const {
    size_t n = 0;
    for (auto& r : w->to_users)
      if (auto notice = fakes::notice_in(r); r.id == parent && notice && notice->type == type)
        ++n;
    return n;
  }
};

} // namespace

CAF_TEST(an account and a flag travel as nine bytes and nothing else decodes) {
  auto body = encode_body(account_flag{4242, true});
  CAF_CHECK_EQUAL(body.size(), 9u);
  auto back = decode_body<account_flag>(body);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->other, 4242u);
  CAF_CHECK(back->yes);
  CAF_CHECK(!decode_body<account_flag>(encode_body(account_flag{7, false}))->yes);
  body.back() = 2;
  CAF_CHECK(!decode_body<account_flag>(body));
  body.pop_back();
  CAF_CHECK(!decode_body<account_flag>(body));
  body.insert(body.end(), {1, 0});
  CAF_CHECK(!decode_body<account_flag>(body));
}

CAF_TEST_FIXTURE_SCOPE(family_tests, fixture)

CAF_TEST(a family actor looked up and never sent anything passivates) {
  auto lookup = [&] {
    auto pending = self->request(host, caf::infinite, lookup_atom::value, uint64_t{mia});
    consume_messages();
    caf::actor out;
    pending.receive([&](caf::actor& a) { out = a; },
                    [&](caf::error& err) { CAF_FAIL("lookup failed: " << sys.render(err)); });
    return out;
  };
  auto first = lookup();
  CAF_CHECK(lookup() == first);
  w->now += 61'000;
  sched.advance_time(std::chrono::seconds(61));
  consume_messages();
  CAF_CHECK(lookup() != first); // the host forgot it: a new actor
}

CAF_TEST(a child redeems a link code once and is linked to that one parent) {
  auto wrong = call(mia, mia, family_op::redeem, encode_body(link_redeem_request{mum, 1, {}}));
  CAF_CHECK_EQUAL(wrong.status, code(errc::not_found));
  link(mia, mum);
  auto f = stored(mia);
  CAF_CHECK_EQUAL(f.parent, mum);
  CAF_CHECK_EQUAL(f.pin_hash, w->pin_hash);
  CAF_CHECK_EQUAL(sent(mia, user_op::linked), 1u);
  CAF_CHECK_EQUAL(sent(mum, user_op::child_linked), 1u);
  CAF_CHECK_EQUAL(notices(mum, notice_type::linked), 1u);
  // A second link is refused while one exists, even with a valid code of another parent.
  auto again = call(mia, mia, family_op::redeem, encode_body(link_redeem_request{dad, code_secret, {}}));
  CAF_CHECK_EQUAL(again.status, code(errc::already_linked));
  auto info = value<link_info>(call(mia, mum, family_op::get_link));
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->parent, mum);
  CAF_CHECK(info->pin_set);
  // The parent unlinks; then another parent may link.
  CAF_CHECK(call(mia, mum, family_op::unlink).ok());
  CAF_CHECK_EQUAL(stored(mia).parent, 0u);
  CAF_CHECK(stored(mia).pin_hash.empty());
  CAF_CHECK_EQUAL(sent(mum, user_op::child_unlinked), 1u);
  link(mia, dad);
  CAF_CHECK_EQUAL(stored(mia).parent, dad);
}

CAF_TEST(who may do what: strangers and the wrong side hear not_found) {
  link(mia, mum);
  for (auto op : {family_op::unlink, family_op::set_pin, family_op::get_link,
                  family_op::list_approvals, family_op::decide, family_op::set_policy,
                  family_op::redeem, family_op::change_pin, family_op::decide_with_pin,
                  family_op::approval_needed}) {
    CAF_CHECK_EQUAL(call(mia, eve, op, pin("1234")).status, code(errc::not_found));
    CAF_CHECK_EQUAL(call(mia, dad, op, pin("1234")).status, code(errc::not_found));
  }
  // The child cannot do the parent's part, nor the parent the child's.
  CAF_CHECK_EQUAL(call(mia, mia, family_op::unlink).status, code(errc::not_found));
  CAF_CHECK_EQUAL(call(mia, mia, family_op::set_pin, new_pin("0000")).status, code(errc::not_found));
  CAF_CHECK_EQUAL(call(mia, mia, family_op::decide, decision(leo, true)).status,
                  code(errc::not_found));
  CAF_CHECK_EQUAL(call(mia, mia, family_op::set_policy, policy(2)).status, code(errc::not_found));
  CAF_CHECK_EQUAL(call(mia, mum, family_op::approval_needed, approval(leo, true)).status,
                  code(errc::not_found));
  CAF_CHECK_EQUAL(
      call(mia, mum, family_op::decide_with_pin, encode_body(approval_by_pin{leo, true, "1234"})).status,
      code(errc::not_found));
  CAF_CHECK(stored(mia).is_parent(mum));
}

CAF_TEST(a friend step of each child waits for its own parent and both parents approve) {
  link(mia, mum);
  link(leo, dad);
  // Mia asks Leo: her step waits for mum.
  auto asked = call(mia, mia, family_op::approval_needed, approval(leo, true));
  CAF_REQUIRE(asked.ok());
  CAF_CHECK(!value<approval_answer>(asked)->approved);
  CAF_CHECK_EQUAL(notices(mum, notice_type::approval_needed), 1u);
  auto list = value<approval_list>(call(mia, mum, family_op::list_approvals));
  CAF_REQUIRE(list && list->entries.size() == 1);
  CAF_CHECK_EQUAL(list->entries[0].other, leo);
  CAF_CHECK(list->entries[0].ours);
  CAF_CHECK(call(mia, mum, family_op::decide, decision(leo, true)).ok());
  CAF_CHECK_EQUAL(sent(mia, user_op::parent_decision), 1u);
  CAF_CHECK(fakes::arg_bytes(user_interface::codec(), w->to_users.back()) == approval(leo, true));
  CAF_CHECK(stored(mia).approvals.empty());
  // Leo accepts Mia's request: his step waits for dad, who approves by PIN on Leo's device.
  CAF_CHECK(!value<approval_answer>(call(leo, leo, family_op::approval_needed, approval(mia, false)))->approved);
  CAF_CHECK_EQUAL(notices(dad, notice_type::approval_needed), 1u);
  CAF_CHECK(call(leo, leo, family_op::decide_with_pin,
                 encode_body(approval_by_pin{mia, true, "1234"}))
                .ok());
  CAF_CHECK_EQUAL(sent(leo, user_op::parent_decision), 1u);
  // A decision for a step that no longer waits is refused.
  CAF_CHECK_EQUAL(call(leo, dad, family_op::decide, decision(mia, false)).status,
                  code(errc::not_found));
}

CAF_TEST(a parent may let a child add friends alone and waiting steps expire) {
  // Unlinked, a child's step waits for a parent to come.
  CAF_CHECK(!value<approval_answer>(call(mia, mia, family_op::approval_needed, approval(leo, true)))->approved);
  link(mia, mum);
  CAF_CHECK_EQUAL(notices(mum, notice_type::approval_needed), 1u); // told at the link
  CAF_CHECK(call(mia, mum, family_op::set_policy, policy(2)).ok());
  CAF_CHECK(value<approval_answer>(call(mia, mia, family_op::approval_needed, approval(eve, true)))->approved);
  CAF_CHECK(call(mia, mum, family_op::set_policy, policy(1)).ok());
  w->now += deps.approval_ttl_ms;
  auto list = value<approval_list>(call(mia, mum, family_op::list_approvals));
  CAF_REQUIRE(list);
  CAF_CHECK(list->entries.empty());
}

CAF_TEST(wrong PINs lock the PIN for longer and longer and the lockout survives a restart) {
  link(mia, mum);
  call(mia, mia, family_op::approval_needed, approval(leo, true));
  auto try_pin = [&](const std::string& p) {
    return call(mia, mia, family_op::decide_with_pin, encode_body(approval_by_pin{leo, true, p}));
  };
  for (int i = 0; i < 4; ++i)
    CAF_CHECK_EQUAL(try_pin("0000").status, code(errc::wrong_pin));
  CAF_CHECK_EQUAL(notices(mum, notice_type::pin_locked), 0u);
  CAF_CHECK_EQUAL(try_pin("9999").status, code(errc::wrong_pin)); // the fifth locks
  CAF_CHECK_EQUAL(notices(mum, notice_type::pin_locked), 1u);
  auto locked = try_pin("1234"); // even the right PIN waits now
  CAF_CHECK_EQUAL(locked.status, code(errc::pin_locked));
  CAF_CHECK_EQUAL(locked.to_failure().retry_after_ms, 60'000u);
  CAF_CHECK_EQUAL(stored(mia).pin_failures, 5u);
  restart();
  CAF_CHECK_EQUAL(try_pin("1234").status, code(errc::pin_locked));
  // After the lockout one more wrong try locks again, twice as long.
  w->now += 60'000;
  CAF_CHECK_EQUAL(try_pin("0001").status, code(errc::wrong_pin));
  CAF_CHECK_EQUAL(try_pin("1234").to_failure().retry_after_ms, 120'000u);
  CAF_CHECK_EQUAL(notices(mum, notice_type::pin_locked), 2u);
  // The right PIN after the lockout resets the count and approves.
  w->now += 120'000;
  CAF_CHECK(try_pin("1234").ok());
  CAF_CHECK_EQUAL(stored(mia).pin_failures, 0u);
  CAF_CHECK_EQUAL(stored(mia).lockouts, 0u);
}

CAF_TEST(the PIN changes with the old one on the child device or from the parent) {
  link(mia, mum);
  auto change = [&](std::string from, std::string to) {
    return call(mia, mia, family_op::change_pin, encode_body(pin_change_request{from, to}));
  };
  CAF_CHECK_EQUAL(change("0000", "5827").status, code(errc::wrong_pin));
  CAF_CHECK_EQUAL(change("1234", "55").status, code(errc::invalid_argument));
  // A PIN anyone would try first is refused before the old one is checked.
  for (auto* easy : {"5555", "4321", "0123", "1212", "1122", "2580"})
    CAF_CHECK_EQUAL(change("1234", easy).status, code(errc::invalid_argument));
  CAF_CHECK(change("1234", "5827").ok());
  CAF_CHECK(crypto::verify_pin(stored(mia).pin_hash, "5827", pepper));
  CAF_CHECK(!crypto::verify_pin(stored(mia).pin_hash, "1234", pepper));
  CAF_CHECK_EQUAL(call(mia, mum, family_op::set_pin, new_pin("12a4")).status,
                  code(errc::invalid_argument));
  CAF_CHECK_EQUAL(call(mia, mum, family_op::set_pin, new_pin("7777")).status,
                  code(errc::invalid_argument));
  CAF_CHECK(call(mia, mum, family_op::set_pin, new_pin("7394")).ok());
  CAF_CHECK(crypto::verify_pin(stored(mia).pin_hash, "7394", pepper));
  // The hash is all the record holds: no PIN in clear anywhere in KV.
  for (auto& [key, value] : w->kv) {
    std::string text(value.begin(), value.end());
    CAF_CHECK(text.find("7394") == std::string::npos);
  }
}

CAF_TEST(a location goes to the linked parent only is kept in memory alone and replaced) {
  deps.location_ttl_ms = 60'000;
  restart();
  auto update = [](uint8_t tag) { return encode_body(location_update{bytes(8, tag)}); };
  // Not linked: there is no one to share with.
  CAF_CHECK_EQUAL(call(mia, mia, family_op::location_update, update(1)).status, code(errc::not_found));
  link(mia, mum);
  auto kv_before = w->kv;
  CAF_CHECK(call(mia, mia, family_op::location_update, update(1)).ok());
  CAF_CHECK(call(mia, mia, family_op::location_update, update(2)).ok());
  CAF_CHECK(w->kv == kv_before); // nothing of it is written
  CAF_CHECK_EQUAL(sent(mum, user_op::location), 2u);
  CAF_CHECK_EQUAL(std::count_if(w->to_users.begin(), w->to_users.end(),
                                [](const entity_request& r) {
                                  return r.op == static_cast<uint8_t>(user_op::location) && r.id != mum;
                                }),
                  0);
  // Only the parent fetches it, and only the latest.
  CAF_CHECK_EQUAL(call(mia, eve, family_op::location_latest).status, code(errc::not_found));
  CAF_CHECK_EQUAL(call(mia, mia, family_op::location_latest).status, code(errc::not_found));
  CAF_CHECK(call(mia, mia, family_op::location_update, update(3)).ok());
  auto latest = call(mia, mum, family_op::location_latest);
  CAF_REQUIRE(latest.ok());
  auto loc = value<location_reply>(latest)->fix;
  CAF_REQUIRE(loc);
  CAF_CHECK(loc->payload == bytes(8, 3));
  CAF_CHECK_EQUAL(loc->at_ms, w->now);
  // Past the TTL it is gone.
  w->now += 60'000;
  CAF_CHECK(!value<location_reply>(call(mia, mum, family_op::location_latest))->fix);
  // A restart forgets it: it never was anywhere but in memory.
  CAF_CHECK(call(mia, mia, family_op::location_update, update(4)).ok());
  restart();
  CAF_CHECK(!value<location_reply>(call(mia, mum, family_op::location_latest))->fix);
  // Sharing off: the child hears so, the latest is dropped, the parent gets nothing.
  CAF_CHECK(call(mia, mia, family_op::location_update, update(5)).ok());
  CAF_CHECK_EQUAL(call(mia, mia, family_op::location_sharing, sharing(false)).status, code(errc::not_found));
  CAF_CHECK(call(mia, mum, family_op::location_sharing, sharing(false)).ok());
  CAF_CHECK(!stored(mia).location_sharing);
  CAF_CHECK(!value<location_reply>(call(mia, mum, family_op::location_latest))->fix);
  auto sent_before = sent(mum, user_op::location);
  CAF_CHECK_EQUAL(call(mia, mia, family_op::location_update, update(6)).status, code(errc::location_off));
  CAF_CHECK_EQUAL(sent(mum, user_op::location), sent_before);
  CAF_CHECK(call(mia, mum, family_op::location_sharing, sharing(true)).ok());
  CAF_CHECK(call(mia, mia, family_op::location_update, update(7)).ok());
  // An unlink forgets it too.
  CAF_CHECK(call(mia, mum, family_op::unlink).ok());
  link(mia, mum);
  CAF_CHECK(!value<location_reply>(call(mia, mum, family_op::location_latest))->fix);
}

CAF_TEST(a child deleting its account erases its family record and its parent is told) {
  link(mia, mum);
  CAF_CHECK_EQUAL(call(mia, mum, family_op::erase, bytes{0}).status, code(errc::not_found));
  CAF_CHECK(call(mia, mia, family_op::erase, bytes{1}).ok());
  CAF_CHECK(w->kv.count({kv_space::families, std::to_string(mia)}) == 0);
  CAF_CHECK_EQUAL(sent(mum, user_op::child_unlinked), 1u);
  CAF_CHECK_EQUAL(unlinked_for(mum, unlink_reason::deleted_by_child), 1u);
  auto info = value<link_info>(call(mia, mia, family_op::get_link));
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->parent, 0u);
  CAF_CHECK(!info->pin_set);
}

CAF_TEST(a child tries a few link codes an hour and every refusal reads the same) {
  // The fake user actors answer "no such link code" for a wrong secret and an id that is
  // no parent; a family turns any other refusal (here: an unknown id's plain not_found)
  // into the same words.
  auto redeem = [&](account_id parent, uint64_t secret) {
    return call(leo, leo, family_op::redeem, encode_body(link_redeem_request{parent, secret, {}}));
  };
  auto first = redeem(mum, 1);
  for (auto [parent, secret] : {std::pair{eve, code_secret}, {leo, code_secret}, {mum, 2}}) {
    auto r = redeem(parent, secret);
    CAF_CHECK_EQUAL(r.status, first.status);
    CAF_CHECK_EQUAL(r.message, first.message);
  }
  CAF_CHECK_EQUAL(first.status, code(errc::not_found));
  CAF_CHECK_EQUAL(first.message, "no such link code");
  // Five tries, then the child waits: the bucket is kept in the family record.
  CAF_CHECK_EQUAL(redeem(dad, 3).status, code(errc::not_found));
  restart();
  auto limited = redeem(mum, code_secret);
  CAF_CHECK_EQUAL(limited.status, code(errc::rate_limited));
  CAF_CHECK_GREATER(limited.to_failure().retry_after_ms, 0u);
  w->now += 3600 * 1000;
  CAF_CHECK(redeem(mum, code_secret).ok());
}

CAF_TEST(the PIN workers are shared fairly between accounts) {
  pin_service pins{sys, pin_service_config{pepper, cheap, 2, 8, false}};
  auto flood = pins.acquire(mia);
  CAF_REQUIRE(flood);
  // One hash of an account at a time: its next ones are refused, not queued.
  for (int i = 0; i < 100; ++i)
    CAF_CHECK(!pins.acquire(mia));
  // Another family's check gets the other worker, the least loaded: it waits for no one.
  auto other = pins.acquire(leo);
  CAF_REQUIRE(other);
  CAF_CHECK_NOT_EQUAL(other->index, flood->index);
  CAF_CHECK_EQUAL(pins.waiting(), 2u);
  pins.done(*flood);
  CAF_CHECK(pins.acquire(mia));
  pins.stop();
}

CAF_TEST(an unused family leaves memory and comes back from KV) {
  link(mia, mum);
  auto lookup = [&](account_id child) {
    auto pending = self->request(host, caf::infinite, lookup_atom::value, uint64_t{child});
    consume_messages();
    caf::actor out;
    pending.receive([&](caf::actor& a) { out = a; }, [](caf::error&) {});
    return out;
  };
  auto before = lookup(mia);
  auto probed = lookup(leo); // an id a stranger asked about
  CAF_CHECK(call(leo, eve, family_op::get_link).status == code(errc::not_found));
  w->now += 61'000;
  sched.advance_time(std::chrono::seconds(61));
  consume_messages();
  // A caller that still has the old handle is sent on to the new actor, not failed.
  std::vector<entity_request> late{
      entity_request{family_kind, mia, static_cast<uint8_t>(family_op::get_link), mum, {}}};
  auto answer = self->request(caf::actor_cast<caf::actor>(before), caf::infinite, std::move(late));
  consume_messages();
  answer.receive([&](std::vector<entity_reply>& r) { CAF_CHECK(r.at(0).moved()); },
                 [&](caf::error& err) { CAF_FAIL("the late batch failed: " << sys.render(err)); });
  auto after = lookup(mia);
  CAF_CHECK(after != before);
  CAF_CHECK(lookup(leo) != probed);
  auto info = value<link_info>(call(mia, mum, family_op::get_link));
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->parent, mum);
}

CAF_TEST(a new child account is linked to the parent that made it from its start) {
  bytes who;
  wire::writer{who}.u64(mum);
  CAF_CHECK_EQUAL(call(mia, dad, family_op::found, who).status, code(errc::not_found));
  CAF_CHECK(call(mia, mia, family_op::found, who).ok());
  CAF_CHECK_EQUAL(stored(mia).parent, mum);
  CAF_CHECK_EQUAL(sent(mum, user_op::child_linked), 1u);
  // Linked, it takes no second founding.
  bytes other;
  wire::writer{other}.u64(dad);
  CAF_CHECK_EQUAL(call(mia, mia, family_op::found, other).status, code(errc::already_linked));
  CAF_CHECK_EQUAL(stored(mia).parent, mum);
}

CAF_TEST(a linked child moves to another parent only with its parent PIN and the old one is told) {
  link(mia, mum);
  auto move = [&](std::string pin) {
    return call(mia, mia, family_op::redeem, encode_body(link_redeem_request{dad, code_secret, pin}));
  };
  CAF_CHECK_EQUAL(move("").status, code(errc::already_linked));
  CAF_CHECK_EQUAL(move("0000").status, code(errc::wrong_pin));
  CAF_CHECK_EQUAL(stored(mia).parent, mum);
  CAF_CHECK_EQUAL(stored(mia).pin_failures, 1u); // counted as any wrong try
  // A move that cannot be recorded did not happen: nobody is told, Mum keeps her say.
  w->puts_fail = true;
  CAF_CHECK_EQUAL(move("1234").status, code(errc::unavailable));
  w->puts_fail = false;
  CAF_CHECK_EQUAL(sent(mum, user_op::child_unlinked), 0u);
  CAF_CHECK_EQUAL(sent(dad, user_op::child_linked), 0u);
  CAF_CHECK(call(mia, mum, family_op::get_link).ok());
  CAF_CHECK(move("1234").ok());
  CAF_CHECK_EQUAL(stored(mia).parent, dad);
  CAF_CHECK_EQUAL(sent(mum, user_op::child_unlinked), 1u);
  CAF_CHECK_EQUAL(unlinked_for(mum, unlink_reason::moved), 1u);
  CAF_CHECK_EQUAL(sent(dad, user_op::child_linked), 1u);
  CAF_CHECK_EQUAL(notices(dad, notice_type::linked), 1u);
  // The old parent has no say any more.
  CAF_CHECK_EQUAL(call(mia, mum, family_op::get_link).status, code(errc::not_found));
}

CAF_TEST(the PIN a child deletes itself with is checked and counted like any try) {
  link(mia, mum);
  CAF_CHECK_EQUAL(call(mia, mum, family_op::verify_pin, pin("1234")).status, code(errc::not_found));
  CAF_CHECK_EQUAL(call(mia, mia, family_op::verify_pin, pin("4321")).status, code(errc::wrong_pin));
  CAF_CHECK_EQUAL(stored(mia).pin_failures, 1u);
  CAF_CHECK(call(mia, mia, family_op::verify_pin, pin("1234")).ok());
  CAF_CHECK_EQUAL(stored(mia).pin_failures, 0u);
}

CAF_TEST(a PIN changed on the child device is told to the parent) {
  link(mia, mum);
  CAF_CHECK(call(mia, mia, family_op::change_pin, encode_body(pin_change_request{"1234", "5827"})).ok());
  CAF_CHECK_EQUAL(notices(mum, notice_type::pin_changed), 1u);
  CAF_CHECK(call(mia, mum, family_op::set_pin, new_pin("7394")).ok());
  CAF_CHECK_EQUAL(notices(mum, notice_type::pin_changed), 1u); // the parent's own change
}

CAF_TEST_FIXTURE_SCOPE_END()
