// The chat actor under CAF's deterministic test coordinator, with user actors as a
// relation table: every membership rule and each refusal, the version, stale sends, the
// fan-out through the members' filters, typing, and the fix when a child's relation ends.
#define CAF_SUITE chat
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "actors/chat_actor.hpp"
#include "actors/user_actor.hpp"
#include "fakes.hpp"

using namespace kinbox;
using fakes::value;

namespace {

constexpr account_id ann = 1111111111; // a child, friend of bea and cal
constexpr account_id bea = 2222222222; // a child, friend of ann
constexpr account_id cal = 3333333333; // a child, friend of ann; bea and cal never met
constexpr account_id mum = 4444444444; // ann's parent, a friend of bea
constexpr account_id dan = 5555555555; // an adult, friend of ann's parent only
constexpr account_id zed = 6666666666; // no account
constexpr group_id grp = 0x8000000000000001ull;

struct world : fakes::kv_world {
  std::set<account_id> children{ann, bea, cal};
  std::map<account_id, account_id> parent_of{{ann, mum}};
  std::set<std::pair<account_id, account_id>> approves; ///< (who, whom)
  std::vector<entity_request> to_users;
  uint64_t now = 1'000'000;

  void befriend(account_id a, account_id b) {
    approves.insert({a, b});
    approves.insert({b, a});
  }
  void part(account_id a, account_id b) {
    approves.erase({a, b});
    approves.erase({b, a});
  }
  bool exists(account_id a) const { return a != zed; }
  std::set<account_id> refuse_join; ///< accounts whose actor refuses `group_joined`
  std::set<account_id> full;        ///< accounts in as many groups as allowed
};

/// Every user actor: answers `relations` from the table, admits a group copy only from a
/// sender it approves (the per-recipient filter), records everything.
caf::behavior fake_user(caf::event_based_actor*, std::shared_ptr<world> w) {
  return {
      [=](std::vector<entity_request>& reqs) {
        std::vector<entity_reply> out;
        for (auto& r : reqs) {
          w->to_users.push_back(r);
          if (!w->exists(r.id)) {
            out.push_back(error_reply(errc::not_found));
            continue;
          }
          switch (static_cast<user_op>(r.op)) {
          case user_op::relations: {
            relation_answer a;
            a.child = w->children.count(r.id) != 0;
            a.parent = w->parent_of.count(r.id) ? w->parent_of[r.id] : 0;
            a.full = w->full.count(r.id) != 0;
            for (auto id : r.args.get_as<relation_query>(0).ids)
              if (w->approves.count({r.id, id}))
                a.approved.push_back(id);
            out.push_back(ok_reply(a));
            break;
          }
          case user_op::group_joined:
            out.push_back(w->refuse_join.count(r.id) ? error_reply(errc::not_allowed) : ok_reply());
            break;
          case user_op::deliver:
            out.push_back(w->approves.count({r.id, r.caller}) ? ok_reply()
                                                               : error_reply(errc::not_found));
            break;
          case user_op::call_in: // rings if the member approves the caller
            out.push_back(w->approves.count({r.id, r.caller})
                              ? ok_reply(call_ring_result{{call_ring{r.id, call_outcome::ringing}}})
                              : error_reply(errc::not_found));
            break;
          default:
            out.push_back(ok_reply());
          }
        }
        return out;
      },
  };
}

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<world> w = std::make_shared<world>();
  fakes::no_bus bus;
  std::shared_ptr<entity_service> service;
  chat_deps deps;
  entity_host host;

  fixture() {
    w->befriend(ann, bea);
    w->befriend(ann, cal);
    w->befriend(ann, mum);
    w->befriend(mum, dan);
    w->befriend(mum, bea);
    service = fakes::lone_node_service(bus);
    service->register_kind(user_kind, sys.spawn(fakes::host, sys.spawn(fake_user, w)),
                           user_codec());
    deps.kv = sys.spawn(fakes::kv, w);
    deps.service = service;
    deps.now_ms = [w = w] { return w->now; };
    deps.max_members = 4;
    start_host();
  }

  ~fixture() {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  void start_host() {
    host = host_kind(sys, service, chat_kind_spec(deps), chat_codec());
    consume_messages();
  }

  /// Operation `op` of group `group` by `caller`, its argument as it would cross nodes.
  entity_reply call(group_id group, account_id caller, chat_op op, bytes body = {}) {
    return fakes::call_entity(*this, host, chat_kind, group, caller, chat_interface::codec(),
                              static_cast<uint8_t>(op), body);
  }

  entity_reply create(account_id creator, std::vector<account_id> members,
                      std::string name = "Lunch club") {
    return call(grp, creator, chat_op::create,
                encode_body(group_create_request{std::move(name), std::move(members)}));
  }

  entity_reply add(account_id by, account_id who) {
    return call(grp, by, chat_op::add, encode_body(target_request{who}));
  }

  entity_reply remove(account_id by, account_id who) {
    return call(grp, by, chat_op::remove, encode_body(target_request{who}));
  }

  /// The record as KV has it now (an empty one if there is none).
  chat_record record() {
    auto r = stored();
    return r ? *r : chat_record{};
  }
  uint64_t version_now() { return record().version; }
  std::vector<account_id> members_now() { return record().members; }

  std::optional<chat_record> stored() {
    auto i = w->kv.find({kv_space::chats, chat_key(grp)});
    if (i == w->kv.end())
      return std::nullopt;
    return chat_record::decode(i->second);
  }

  size_t sent(account_id to, user_op op) const {
    return std::count_if(w->to_users.begin(), w->to_users.end(), [&](const entity_request& r) {
      return r.id == to && r.op == static_cast<uint8_t>(op);
    });
  }

  /// The group copies `to` was handed.
  std::vector<group_mail> copies(account_id to) const {
    std::vector<group_mail> out;
    for (auto& r : w->to_users)
      if (r.id == to && r.op == static_cast<uint8_t>(user_op::deliver)) {
        auto& d = r.args.get_as<deliver_body>(0);
        CAF_CHECK(d.kind == mail_kind::group);
        out.push_back(*decode_body<group_mail>(d.payload));
      }
    return out;
  }

  static uint16_t code(errc e) { return static_cast<uint16_t>(e); }

  static bytes upload(uint64_t version, std::vector<account_id> to) {
    group_send_request up{grp, version, message_id{7}, bytes{1, 2, 3}, {}};
    for (auto m : to)
      up.keys.push_back({m, bytes(72, static_cast<uint8_t>(m % 251))});
    return encode_body(up);
  }
};

} // namespace

CAF_TEST(group bodies and the chat record travel and decode only whole) {
  group_send_request up{grp, 3, message_id{1}, bytes{9, 9}, {{ann, bytes(72, 1)}}};
  auto body = encode_body(up);
  auto back = decode_body<group_send_request>(body);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->keys.size(), 1u);
  CAF_CHECK_EQUAL(back->keys[0].member, ann);
  body.pop_back();
  CAF_CHECK(!decode_body<group_send_request>(body));
  auto result = encode_body(group_send_result{true, group_info{grp, "x", ann, 2, {ann, bea}}});
  auto stale = decode_body<group_send_result>(result);
  CAF_REQUIRE(stale);
  CAF_CHECK(stale->stale);
  CAF_CHECK_EQUAL(stale->current.members.size(), 2u);
  CAF_CHECK(!decode_body<group_send_result>(bytes{2}));
  chat_record rec{grp, "Lunch club", ann, 4, {ann, bea}};
  auto again = chat_record::decode(rec.encode());
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->version, 4u);
  CAF_CHECK(again->members == rec.members);
  CAF_CHECK(!chat_record::decode(bytes{'{', '}'}));
  CAF_CHECK(is_group_id(random_group_id()));
  CAF_CHECK(!is_group_id(ann));
}

CAF_TEST_FIXTURE_SCOPE(chat_tests, fixture)

CAF_TEST(a child makes a group of its friends and each member is told) {
  auto made = create(ann, {bea, mum});
  auto info = value<group_info>(made);
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->id, grp);
  CAF_CHECK_EQUAL(info->version, 1u);
  CAF_CHECK_EQUAL(info->creator, ann);
  CAF_CHECK((info->members == std::vector<account_id>{ann, bea, mum}));
  CAF_REQUIRE(stored());
  auto name = record().name;
  CAF_CHECK_EQUAL(name, "Lunch club");
  for (auto m : {ann, bea, mum})
    CAF_CHECK_EQUAL(sent(m, user_op::group_joined), 1u);
}

CAF_TEST(children who were never approved for each other cannot share a group) {
  // The Messenger Kids case: ann may talk to bea and to cal, bea and cal have never met.
  auto refused = create(ann, {bea, cal});
  CAF_CHECK_EQUAL(refused.status, code(errc::not_allowed));
  // The refusal names no one and no relation.
  for (auto id : {bea, cal})
    CAF_CHECK(refused.message.find(std::to_string(id)) == std::string::npos);
  CAF_CHECK(!stored());
  CAF_CHECK_EQUAL(sent(bea, user_op::group_joined), 0u);
  // Nor can cal be added to a group that has bea.
  CAF_REQUIRE(create(ann, {bea}).ok());
  CAF_CHECK_EQUAL(add(ann, cal).status, code(errc::not_allowed));
  CAF_CHECK_EQUAL(members_now().size(), 2u);
  CAF_CHECK_EQUAL(version_now(), 1u);
  // Once bea and cal are friends, cal may join.
  w->befriend(bea, cal);
  auto added = value<group_info>(add(ann, cal));
  CAF_REQUIRE(added);
  CAF_CHECK_EQUAL(added->version, 2u);
  CAF_CHECK_EQUAL(sent(cal, user_op::group_joined), 1u);
}

CAF_TEST(an adult joins a group with a child only as its friend or parent) {
  // dan is mum's friend, not ann's: mum may not bring him to ann.
  CAF_REQUIRE(create(mum, {ann}).ok());
  CAF_CHECK_EQUAL(add(mum, dan).status, code(errc::not_allowed));
  // A group is made from the creator's own friends only.
  CAF_CHECK_EQUAL(call(grp + 1, cal, chat_op::create,
                       encode_body(group_create_request{"x", {mum}}))
                      .status,
                  code(errc::not_allowed));
  // No account is refused the same way.
  CAF_CHECK_EQUAL(add(mum, zed).status, code(errc::not_allowed));
}

CAF_TEST(a child joining must approve every member) {
  // bea's friend is mum, but not dan.
  CAF_REQUIRE(create(mum, {dan}).ok());
  CAF_CHECK_EQUAL(add(mum, bea).status, code(errc::not_allowed)); // bea never met dan
  w->befriend(bea, dan);
  CAF_CHECK(add(mum, bea).ok());
}

CAF_TEST(group requests outside the rules are refused) {
  CAF_CHECK_EQUAL(create(ann, {}).status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(create(ann, {bea, bea}).status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(create(ann, {ann}).status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(create(ann, {bea}, std::string(65, 'x')).status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(create(ann, {bea}, "bad\u202ename").status, code(errc::invalid_argument));
  // Names that show nothing, as display names may not, and a name far too long.
  CAF_CHECK_EQUAL(create(ann, {bea}, "\u2800").status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(create(ann, {bea}, "a\u3164b").status, code(errc::invalid_argument));
  std::string long_name;
  for (int i = 0; i < 65; ++i)
    long_name += "\U0001F600";
  CAF_CHECK_EQUAL(create(ann, {bea}, long_name).status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(create(ann, {bea, cal, mum, dan}).status, code(errc::invalid_argument)); // > 4
  CAF_CHECK(create(ann, {bea}, std::string(64, 'x')).ok());
  // The id is taken now.
  CAF_CHECK_EQUAL(create(ann, {bea}).status, code(errc::unavailable));
  // Strangers learn nothing of the group.
  CAF_CHECK_EQUAL(call(grp, cal, chat_op::show).status, code(errc::not_found));
  CAF_CHECK_EQUAL(add(cal, ann).status, code(errc::not_found));
  CAF_CHECK_EQUAL(remove(cal, bea).status, code(errc::not_found));
  CAF_CHECK_EQUAL(call(grp, cal, chat_op::send, upload(1, {ann})).status, code(errc::not_found));
  CAF_CHECK_EQUAL(call(grp + 5, ann, chat_op::show).status, code(errc::not_found));
  // A full group takes no one more.
  w->befriend(bea, mum);
  CAF_REQUIRE(add(ann, mum).ok());
  w->befriend(cal, bea);
  w->befriend(cal, mum);
  CAF_REQUIRE(add(ann, cal).ok());
  w->befriend(ann, dan);
  CAF_CHECK_EQUAL(add(ann, dan).status, code(errc::invalid_argument));
}

CAF_TEST(the creator and the parent of a child remove and anyone leaves) {
  w->befriend(mum, bea);
  CAF_REQUIRE(create(bea, {ann, mum}).ok());
  // ann is no creator: it may not take mum out.
  CAF_CHECK_EQUAL(remove(ann, mum).status, code(errc::not_allowed));
  // ann's parent may take ann out; as a member or not.
  auto out = value<group_info>(remove(mum, ann));
  CAF_REQUIRE(out);
  CAF_CHECK_EQUAL(out->version, 2u);
  CAF_CHECK_EQUAL(sent(ann, user_op::group_left), 1u);
  CAF_CHECK((members_now() == std::vector<account_id>{bea, mum}));
  // The creator removes a member.
  auto after = value<group_info>(remove(bea, mum));
  CAF_REQUIRE(after);
  auto version = after->version;
  CAF_CHECK_EQUAL(version, 3u);
  // The last one leaves: the group is gone.
  CAF_CHECK(call(grp, bea, chat_op::leave).ok());
  CAF_CHECK(!stored());
  CAF_CHECK_EQUAL(call(grp, bea, chat_op::show).status, code(errc::not_found));
}

CAF_TEST(a parent takes its child out from outside the group) {
  w->befriend(bea, cal);
  CAF_REQUIRE(create(bea, {ann, cal}).ok());
  CAF_CHECK_EQUAL(remove(dan, ann).status, code(errc::not_found)); // not ann's parent
  CAF_CHECK(remove(mum, ann).ok());
  CAF_CHECK((members_now() == std::vector<account_id>{bea, cal}));
}

CAF_TEST(a send of a stale version is answered with the group as it is) {
  CAF_REQUIRE(create(ann, {bea}).ok());
  CAF_REQUIRE(add(ann, mum).status == 0);
  auto r = value<group_send_result>(call(grp, ann, chat_op::send, upload(1, {bea})));
  CAF_REQUIRE(r);
  CAF_CHECK(r->stale);
  CAF_CHECK_EQUAL(r->current.version, 2u);
  CAF_CHECK((r->current.members == std::vector<account_id>{ann, bea, mum}));
  CAF_CHECK(copies(bea).empty());
}

CAF_TEST(one upload reaches each member with its own key only) {
  CAF_REQUIRE(create(ann, {bea, mum}).ok());
  auto r = value<group_send_result>(call(grp, ann, chat_op::send, upload(1, {bea, mum})));
  CAF_REQUIRE(r);
  CAF_CHECK(!r->stale);
  for (auto m : {bea, mum}) {
    auto got = copies(m);
    CAF_REQUIRE_EQUAL(got.size(), 1u);
    CAF_CHECK_EQUAL(got[0].group, grp);
    CAF_CHECK(got[0].key == bytes(72, static_cast<uint8_t>(m % 251)));
    CAF_CHECK(got[0].content == (bytes{1, 2, 3}));
  }
  CAF_CHECK(copies(ann).empty());
  CAF_CHECK_EQUAL(deps.counters->copies.load(), 2u);
  // Keys for no member, for the sender, or twice are refused.
  CAF_CHECK_EQUAL(call(grp, ann, chat_op::send, upload(1, {cal})).status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(call(grp, ann, chat_op::send, upload(1, {ann})).status, code(errc::invalid_argument));
  CAF_CHECK_EQUAL(call(grp, ann, chat_op::send, upload(1, {bea, bea})).status,
                  code(errc::invalid_argument));
}

CAF_TEST(copies a member no longer admits are dropped and the sender is not told who) {
  CAF_REQUIRE(create(ann, {bea, mum}).ok());
  // bea blocked ann; the group is not fixed yet.
  w->part(ann, bea);
  auto r = call(grp, ann, chat_op::send, upload(1, {bea, mum}));
  CAF_CHECK(r.ok());
  auto result = value<group_send_result>(r);
  CAF_CHECK(result && !result->stale);
  CAF_CHECK_EQUAL(deps.counters->dropped.load(), 1u);
}

CAF_TEST(a child whose relation with a member ended leaves the groups they share) {
  w->befriend(mum, bea);
  CAF_REQUIRE(create(ann, {bea, mum}).ok());
  w->part(ann, bea);
  CAF_CHECK(call(grp, bea, chat_op::relation_ended, encode_body(relation_end{ann})).ok());
  CAF_CHECK((members_now() == std::vector<account_id>{ann, mum}));
  CAF_CHECK_EQUAL(version_now(), 2u);
  CAF_CHECK_EQUAL(sent(bea, user_op::group_left), 1u);
  // About someone not in the group: nothing changes.
  CAF_CHECK(call(grp, ann, chat_op::relation_ended, encode_body(relation_end{cal})).ok());
  CAF_CHECK_EQUAL(version_now(), 2u);
}

CAF_TEST(typing reaches the other members and nothing is stored) {
  CAF_REQUIRE(create(ann, {bea, mum}).ok());
  auto before = w->kv.size();
  CAF_CHECK(call(grp, ann, chat_op::typing).ok());
  CAF_CHECK_EQUAL(sent(bea, user_op::typing), 1u);
  CAF_CHECK_EQUAL(sent(mum, user_op::typing), 1u);
  CAF_CHECK_EQUAL(sent(ann, user_op::typing), 0u);
  CAF_CHECK_EQUAL(w->kv.size(), before);
  CAF_CHECK_EQUAL(call(grp, cal, chat_op::typing).status, code(errc::not_found));
}

CAF_TEST(a group call rings each member through its filter up to max ring) {
  CAF_REQUIRE(create(ann, {bea, mum}).ok());
  w->part(bea, ann); // bea's filter no longer lets ann through (the fix is on its way)
  auto offer = encode_body(call_request{grp, 42, call_signal::offer, true, bytes{9}});
  auto rung = value<call_ring_result>(call(grp, ann, chat_op::ring, offer));
  CAF_REQUIRE(rung);
  auto outcomes = rung->rung;
  CAF_REQUIRE_EQUAL(outcomes.size(), 2u);
  // The filtered member looks offline: the caller learns nothing of its filter.
  CAF_CHECK(outcomes[0].id == bea && outcomes[0].outcome == call_outcome::offline);
  CAF_CHECK(outcomes[1].id == mum && outcomes[1].outcome == call_outcome::ringing);
  CAF_CHECK_EQUAL(sent(ann, user_op::call_in), 0u);
  CAF_CHECK_EQUAL(call(grp, cal, chat_op::ring, offer).status, code(errc::not_found));
  // A smaller --max-ring rings the first members only.
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  consume_messages();
  deps.max_ring = 1;
  start_host();
  auto one = value<call_ring_result>(call(grp, ann, chat_op::ring, offer));
  CAF_REQUIRE(one);
  auto size = one->rung.size();
  CAF_CHECK_EQUAL(size, 1u);
}

CAF_TEST(a member that refuses its join is taken out again) {
  // A relation of bea's ended while the group was made: her actor refuses the join.
  w->refuse_join.insert(bea);
  CAF_REQUIRE(create(ann, {bea, mum}).ok());
  consume_messages();
  CAF_CHECK((members_now() == std::vector<account_id>{ann, mum}));
  CAF_CHECK_EQUAL(version_now(), 2u);
}

CAF_TEST(a parent outside the group takes its child out and learns no member) {
  CAF_REQUIRE(create(bea, {ann, mum}).ok());
  w->befriend(bea, cal);
  w->parent_of[cal] = dan;
  w->befriend(cal, ann);
  w->befriend(cal, mum);
  CAF_REQUIRE(add(bea, cal).ok());
  auto out = remove(dan, cal);
  CAF_CHECK(out.ok());
  CAF_CHECK(!value<group_info>(out));
  CAF_CHECK((members_now() == std::vector<account_id>{bea, ann, mum}));
}

CAF_TEST(an account in as many groups as allowed joins no other) {
  w->full.insert(bea);
  CAF_CHECK_EQUAL(create(ann, {bea}).status, code(errc::not_allowed));
}

CAF_TEST(a flood of requests answered at once does not nest) {
  // Leaves of a group that does not exist are answered at once, one after the other.
  auto pending = self->request(host, caf::infinite, lookup_atom::value, uint64_t{grp});
  consume_messages();
  caf::actor chat;
  pending.receive([&](caf::actor& a) { chat = a; }, [&](caf::error&) {});
  std::vector<entity_request> reqs;
  for (int i = 0; i < 20000; ++i)
    reqs.push_back(chat_request<chat_op::leave>(grp, ann));
  auto answer = self->request(chat, caf::infinite, std::move(reqs));
  consume_messages();
  size_t ok = 0;
  answer.receive(
      [&](std::vector<entity_reply>& r) {
        ok = static_cast<size_t>(std::count_if(r.begin(), r.end(), [](auto& x) { return x.ok(); }));
      },
      [&](caf::error& err) { CAF_FAIL("request failed: " << sys.render(err)); });
  CAF_CHECK_EQUAL(ok, 20000u);
}

CAF_TEST(a group outlives its actor) {
  CAF_REQUIRE(create(ann, {bea}).ok());
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  consume_messages();
  start_host();
  auto info = value<group_info>(call(grp, bea, chat_op::show));
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->name, "Lunch club");
  CAF_CHECK((info->members == std::vector<account_id>{ann, bea}));
}

CAF_TEST_FIXTURE_SCOPE_END()
