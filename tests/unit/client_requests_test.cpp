// The session's frame-to-request mapping as a plain function: which entity each client
// frame reaches, with which operation and typed argument, and what is refused before any
// entity sees it (a malformed body closes the session; a role, a frozen child or a send
// to oneself gets an error reply). And the one mapping back: each typed result to the
// frame that answers the client.
#define CAF_SUITE client_requests
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "gateway/client_replies.hpp"
#include "gateway/client_requests.hpp"
#include "protocol/wire.hpp"

using namespace kinbox;

namespace {

constexpr account_id me = 1001;
constexpr account_id other = 2002;
constexpr account_id child = 3003;

const session_who parent_who{me, true, false};
const session_who child_who{me, false, false};
const session_who frozen_who{me, false, true};
constexpr account_id my_parent = 1231231231;
const session_who asleep_who{me, false, false, true, my_parent};

template <class Body>
mapped_request map(frame_type type, const Body& body, const session_who& who = parent_who) {
  bytes raw;
  write_body(raw, body);
  return map_request(frame_view{type, 7, raw}, who);
}

mapped_request map_raw(frame_type type, const bytes& raw, const session_who& who = parent_who) {
  return map_request(frame_view{type, 7, raw}, who);
}

entity_request call(mapped_request m) {
  auto* c = std::get_if<entity_call>(&m);
  CAF_CHECK(c != nullptr);
  return c != nullptr ? std::move(c->req) : entity_request{};
}

entity_call whole_call(mapped_request m) {
  auto* c = std::get_if<entity_call>(&m);
  CAF_REQUIRE(c != nullptr);
  return std::move(*c);
}

/// The argument `r` carries, if it is a T.
template <class T>
const T* arg(const entity_request& r) {
  return r.args.match_elements<T>() ? &r.args.get_as<T>(0) : nullptr;
}

std::optional<request_refusal> refusal(const mapped_request& m) {
  if (auto* r = std::get_if<request_refusal>(&m))
    return *r;
  return std::nullopt;
}

} // namespace

CAF_TEST(a send goes to the recipient as a deliver and is answered accepted with its id) {
  message_id id{};
  id.fill(9);
  auto m = whole_call(map(frame_type::send, send_request{other, id, bytes{1, 2, 3}}, child_who));
  auto& c = m.req;
  CAF_CHECK_EQUAL(c.kind, user_kind);
  CAF_CHECK_EQUAL(c.id, other);
  CAF_CHECK_EQUAL(c.caller, me);
  CAF_CHECK_EQUAL(c.op, static_cast<uint8_t>(user_op::deliver));
  auto* d = arg<deliver_body>(c);
  CAF_REQUIRE(d);
  CAF_CHECK(d->kind == mail_kind::message);
  CAF_CHECK(d->id == id);
  CAF_CHECK(d->payload == (bytes{1, 2, 3}));
  CAF_REQUIRE(m.accepts);
  CAF_CHECK(*m.accepts == id);
  auto answer = client_reply(7, ok_reply(), m.accepts);
  CAF_CHECK(answer.type == frame_type::accepted);
  CAF_CHECK(decode_body<accepted_reply>(answer.body)->id == id);
  // A payload past the largest one closes the session, as any malformed body.
  auto oversize = refusal(
      map(frame_type::send, send_request{other, id, bytes(max_payload_size + 1, 1)}, child_who));
  CAF_REQUIRE(oversize);
  CAF_CHECK(oversize->closes);
}

CAF_TEST(a send to oneself or from a frozen child is refused and the session goes on) {
  auto self_send = refusal(map(frame_type::send, send_request{me, {}, bytes{1}}));
  CAF_REQUIRE(self_send);
  CAF_CHECK(self_send->why.code == errc::invalid_argument);
  CAF_CHECK(!self_send->closes);
  auto frozen = refusal(map(frame_type::send, send_request{other, {}, bytes{1}}, frozen_who));
  CAF_REQUIRE(frozen);
  CAF_CHECK(frozen->why.code == errc::account_frozen);
  CAF_CHECK(!frozen->closes);
  // A frozen child reads its own profile, not another's.
  CAF_CHECK(refusal(map(frame_type::profile_get, profile_request{other, 0}, frozen_who)));
  CAF_CHECK_EQUAL(call(map(frame_type::profile_get, profile_request{me, 0}, frozen_who)).id, me);
}

CAF_TEST(a child in its quiet hours reaches only its parent and the session goes on) {
  auto asleep = [](const mapped_request& m) {
    auto r = refusal(m);
    return r && r->why.code == errc::asleep && !r->closes;
  };
  CAF_CHECK(asleep(map(frame_type::send, send_request{other, {}, bytes{1}}, asleep_who)));
  CAF_CHECK(asleep(map(frame_type::typing, typing_request{other, false}, asleep_who)));
  CAF_CHECK(asleep(map(frame_type::typing, typing_request{group_id{1} << 40, true}, asleep_who)));
  CAF_CHECK(asleep(map(frame_type::group_create, group_create_request{"g", {other}}, asleep_who)));
  CAF_CHECK(asleep(map(frame_type::read, read_request{other, {message_id{}}}, asleep_who)));
  CAF_CHECK_EQUAL(call(map(frame_type::send, send_request{my_parent, {}, bytes{1}}, asleep_who)).id,
                  my_parent);
  CAF_CHECK_EQUAL(call(map(frame_type::typing, typing_request{my_parent, false}, asleep_who)).id,
                  my_parent);
  // Quiet hours are set by a parent and read by either.
  auto set = call(map(frame_type::quiet_set,
                      quiet_set_request{other, quiet_schedule{0x7f, 1, 2, "UTC"}}));
  CAF_CHECK_EQUAL(set.id, other);
  CAF_CHECK_EQUAL(set.op, static_cast<uint8_t>(user_op::set_quiet));
  CAF_CHECK(refusal(map(frame_type::quiet_set, quiet_set_request{other, {}}, child_who)));
  CAF_CHECK_EQUAL(call(map(frame_type::quiet_get, target_request{me}, asleep_who)).op,
                  static_cast<uint8_t>(user_op::get_quiet));
}

CAF_TEST(a malformed body or a frame that is no request closes the session) {
  for (auto type : {frame_type::send, frame_type::friend_add, frame_type::pin_set,
                    frame_type::link_redeem, frame_type::ack, frame_type::account_delete}) {
    auto r = refusal(map_raw(type, bytes{1, 2}));
    CAF_REQUIRE(r);
    CAF_CHECK(r->closes);
    CAF_CHECK(r->why.code == errc::malformed_frame);
  }
  auto r = refusal(map_raw(frame_type::login_ok, {}));
  CAF_REQUIRE(r);
  CAF_CHECK(r->closes);
  CAF_CHECK(r->why.code == errc::unexpected_frame);
}

CAF_TEST(friend steps go to the own account and name the other one) {
  auto add = call(map(frame_type::friend_add, target_request{other}));
  CAF_CHECK_EQUAL(add.id, me);
  CAF_CHECK_EQUAL(add.op, static_cast<uint8_t>(user_op::add_friend));
  auto* t = arg<target_request>(add);
  CAF_REQUIRE(t);
  CAF_CHECK_EQUAL(t->id, other);
  CAF_CHECK_EQUAL(call(map(frame_type::friend_decline, target_request{other})).op,
                  static_cast<uint8_t>(user_op::decline_friend));
  // A parent blocks for its child at the child's account.
  auto block = call(map(frame_type::contact_block, contact_action{child, other}));
  CAF_CHECK_EQUAL(block.id, child);
  CAF_CHECK_EQUAL(block.op, static_cast<uint8_t>(user_op::block_contact));
  auto* blocked = arg<target_request>(block);
  CAF_REQUIRE(blocked);
  CAF_CHECK_EQUAL(blocked->id, other);
  auto list = call(map(frame_type::contacts_get, target_request{child}));
  CAF_CHECK_EQUAL(list.id, child);
  CAF_CHECK_EQUAL(list.op, static_cast<uint8_t>(user_op::list_contacts));
}

CAF_TEST(family requests go to the child family and roles are checked first) {
  auto unlink = call(map(frame_type::link_remove, target_request{child}));
  CAF_CHECK_EQUAL(unlink.kind, family_kind);
  CAF_CHECK_EQUAL(unlink.id, child);
  CAF_CHECK_EQUAL(unlink.op, static_cast<uint8_t>(family_op::unlink));
  // Only a parent makes link codes and child accounts; only a child redeems and sends
  // locations.
  auto code = refusal(map(frame_type::link_create, link_create_request{"1234"}, child_who));
  CAF_REQUIRE(code);
  CAF_CHECK(code->why.code == errc::invalid_argument);
  CAF_CHECK(!code->closes);
  CAF_CHECK(refusal(map(frame_type::link_redeem, link_redeem_request{other, 42, ""}, parent_who)));
  auto redeem = whole_call(map(frame_type::link_redeem, link_redeem_request{other, 42, ""}, child_who));
  CAF_CHECK_EQUAL(redeem.req.id, me);
  CAF_CHECK(redeem.guesses_code); // counted against the address first
  CAF_CHECK(!whole_call(map(frame_type::link_get, target_request{child})).guesses_code);
}

CAF_TEST(a parent PIN goes to the child family in the parent request as it came) {
  auto set = call(map(frame_type::pin_set, pin_set_request{child, "1234"}));
  CAF_CHECK_EQUAL(set.kind, family_kind);
  CAF_CHECK_EQUAL(set.id, child);
  CAF_CHECK_EQUAL(set.op, static_cast<uint8_t>(family_op::set_pin));
  auto* pin = arg<pin_set_request>(set);
  CAF_REQUIRE(pin);
  CAF_CHECK_EQUAL(pin->pin, "1234");
  auto del = call(map(frame_type::account_delete, account_delete_request{child, ""}));
  CAF_CHECK_EQUAL(del.id, child);
  CAF_REQUIRE(arg<account_delete_request>(del));
  CAF_CHECK(arg<account_delete_request>(del)->pin.empty());
}

CAF_TEST(a parent asking about a friend step of its child asks the child family) {
  auto friend_step = call(map(frame_type::profile_get, profile_request{other, child}));
  CAF_CHECK_EQUAL(friend_step.kind, family_kind);
  CAF_CHECK_EQUAL(friend_step.id, child);
  CAF_CHECK_EQUAL(friend_step.op, static_cast<uint8_t>(family_op::approval_profile));
  CAF_REQUIRE(arg<target_request>(friend_step));
  CAF_CHECK_EQUAL(arg<target_request>(friend_step)->id, other);
}

CAF_TEST(each result is answered with its frame and errors keep their retry after) {
  auto type_of = [](const entity_reply& r) { return client_reply(7, r).type; };
  CAF_CHECK(type_of(ok_reply()) == frame_type::ok);
  CAF_CHECK(type_of(ok_reply(profile_reply{})) == frame_type::profile);
  CAF_CHECK(type_of(ok_reply(contact_list{})) == frame_type::friend_list_result);
  CAF_CHECK(type_of(ok_reply(key_reply{})) == frame_type::key_result);
  CAF_CHECK(type_of(ok_reply(status_reply{})) == frame_type::status_result);
  CAF_CHECK(type_of(ok_reply(account_document{"{}"})) == frame_type::account_data);
  CAF_CHECK(type_of(ok_reply(child_setup_reply{})) == frame_type::child_setup);
  CAF_CHECK(type_of(ok_reply(link_code_reply{})) == frame_type::link_code);
  CAF_CHECK(type_of(ok_reply(link_info{})) == frame_type::link_info);
  CAF_CHECK(type_of(ok_reply(approval_list{})) == frame_type::approval_list);
  CAF_CHECK(type_of(ok_reply(register_reply{})) == frame_type::register_ok);
  // The export document is the frame body as it is.
  CAF_CHECK(client_reply(7, ok_reply(account_document{"{}"})).body == (bytes{'{', '}'}));
  // A result no client frame carries is an internal error, not a guess.
  auto odd = client_reply(7, ok_reply(found_reply{true}));
  CAF_CHECK(odd.type == frame_type::error);
  CAF_CHECK(decode_body<error_body>(odd.body)->code == errc::internal);
  auto limited = client_reply(7, error_reply(failure{errc::rate_limited, "slow down", 1500}));
  CAF_CHECK(limited.type == frame_type::error);
  CAF_CHECK_EQUAL(limited.request_id, 7u);
  auto e = decode_body<error_body>(limited.body);
  CAF_REQUIRE(e);
  CAF_CHECK(e->code == errc::rate_limited);
  CAF_CHECK_EQUAL(e->retry_after_ms, 1500u);
}

CAF_TEST(group requests go to the group and a send to its chat with its id) {
  constexpr group_id grp = 0x8000000000000007ull;
  auto made = call(map(frame_type::group_create, group_create_request{"Trio", {other, child}}));
  CAF_CHECK_EQUAL(made.kind, chat_kind);
  CAF_CHECK(is_group_id(made.id)); // a new random group id
  CAF_CHECK_EQUAL(made.caller, me);
  CAF_REQUIRE(arg<group_create_request>(made));
  CAF_CHECK_EQUAL(arg<group_create_request>(made)->members.size(), 2u);
  auto add = call(map(frame_type::group_add, group_member_request{grp, other}));
  CAF_CHECK_EQUAL(add.id, grp);
  CAF_CHECK(add.op == static_cast<uint8_t>(chat_op::add));
  CAF_CHECK_EQUAL(arg<target_request>(add)->id, other);
  auto remove = call(map(frame_type::group_remove, group_member_request{grp, child}));
  CAF_CHECK(remove.op == static_cast<uint8_t>(chat_op::remove));
  CAF_CHECK(call(map(frame_type::group_leave, target_request{grp})).op ==
            static_cast<uint8_t>(chat_op::leave));
  CAF_CHECK(call(map(frame_type::group_show, target_request{grp})).op ==
            static_cast<uint8_t>(chat_op::show));
  auto list = call(map(frame_type::group_list, target_request{child}));
  CAF_CHECK_EQUAL(list.kind, user_kind);
  CAF_CHECK_EQUAL(list.id, child);
  group_send_request up{grp, 3, message_id{9}, bytes{1}, {{other, bytes(72, 1)}}};
  auto send = whole_call(map(frame_type::group_send, up));
  CAF_CHECK_EQUAL(send.req.id, grp);
  CAF_REQUIRE(send.accepts);
  CAF_CHECK(*send.accepts == message_id{9});
  CAF_CHECK_EQUAL(arg<group_send_request>(send.req)->version, 3u);
  // A frozen child reaches no one through a group either; it may still leave one.
  for (auto type : {frame_type::group_create, frame_type::group_add, frame_type::group_send}) {
    bytes raw;
    if (type == frame_type::group_create)
      write_body(raw, group_create_request{"x", {other}});
    else if (type == frame_type::group_add)
      write_body(raw, group_member_request{grp, other});
    else
      write_body(raw, up);
    auto r = refusal(map_raw(type, raw, frozen_who));
    CAF_REQUIRE(r);
    CAF_CHECK(r->why.code == errc::account_frozen);
    CAF_CHECK(!r->closes);
  }
  CAF_CHECK(call(map(frame_type::group_leave, target_request{grp}, frozen_who)).id == grp);
}

CAF_TEST(typing goes to a friend or a group and a read receipt to the sender) {
  constexpr group_id grp = 0x8000000000000007ull;
  auto to_friend = call(map(frame_type::typing, typing_request{other, false}));
  CAF_CHECK_EQUAL(to_friend.kind, user_kind);
  CAF_CHECK(to_friend.op == static_cast<uint8_t>(user_op::typing));
  auto to_group = call(map(frame_type::typing, typing_request{grp, true}));
  CAF_CHECK_EQUAL(to_group.kind, chat_kind);
  CAF_CHECK(to_group.op == static_cast<uint8_t>(chat_op::typing));
  CAF_CHECK(refusal(map(frame_type::typing, typing_request{me, false})));
  auto read = call(map(frame_type::read, read_request{other, {message_id{1}, message_id{2}}}));
  CAF_CHECK_EQUAL(read.id, other);
  CAF_REQUIRE(arg<deliver_body>(read));
  auto& mail = *arg<deliver_body>(read);
  CAF_CHECK(mail.kind == mail_kind::read);
  CAF_CHECK(mail.id == message_id{1});
  auto more = decode_body<receipt_ids>(mail.payload);
  CAF_REQUIRE(more);
  CAF_CHECK((more->more == std::vector<message_id>{message_id{2}}));
  CAF_CHECK(refusal(map(frame_type::read, read_request{me, {message_id{1}}})));
  // A receipt naming nothing is malformed.
  auto empty = refusal(map(frame_type::read, read_request{other, {}}));
  CAF_REQUIRE(empty);
  CAF_CHECK(empty->closes);
}

CAF_TEST(a group send is answered accepted or stale with the group as it is) {
  auto stale = client_reply(7, ok_reply(group_send_result{true, group_info{5, "x", me, 4, {me}}}),
                            message_id{1});
  CAF_CHECK(stale.type == frame_type::group_stale);
  auto current = decode_body<group_info>(stale.body);
  CAF_REQUIRE(current);
  auto version = current->version;
  CAF_CHECK_EQUAL(version, 4u);
  auto accepted = client_reply(7, ok_reply(group_send_result{}), message_id{1});
  CAF_CHECK(accepted.type == frame_type::accepted);
  CAF_CHECK(client_reply(7, ok_reply(group_info{})).type == frame_type::group_info);
  CAF_CHECK(client_reply(7, ok_reply(group_list{})).type == frame_type::group_list_result);
}
