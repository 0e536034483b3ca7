#include "gateway/client_requests.hpp"

#include <sodium.h>

#include "protocol/wire.hpp"

namespace kinbox {

namespace {

request_refusal malformed(const std::string& why) {
  return {{errc::malformed_frame, why}, true};
}

request_refusal refused(errc code, std::string why = {}) {
  if (why.empty())
    why = std::string{errc_description(code)};
  return {{code, std::move(why)}, false};
}

entity_call user(uint64_t id, user_op op, bytes body = {}, on_success answer = {}) {
  return {user_kind, id, static_cast<uint8_t>(op), std::move(body), answer};
}

entity_call family(uint64_t child, family_op op, bytes body = {}, on_success answer = {}) {
  return {family_kind, child, static_cast<uint8_t>(op), std::move(body), answer};
}

bytes raw(const frame_view& f) {
  return bytes(f.body.begin(), f.body.end());
}

/// Decodes `f`'s body as T, then `make(T&)`; a malformed body closes the session.
template <class T, class F>
mapped_request with_body(const frame_view& f, F make) {
  auto body = decode_body<T>(f.body);
  if (!body)
    return malformed(body.error().message);
  return make(*body);
}

/// A request only one role may make.
mapped_request only(bool allowed, const char* who, mapped_request ok) {
  if (!allowed)
    return refused(errc::invalid_argument, std::string{"only "} + who + " may do this");
  return ok;
}

bytes pin_field(std::string& pin) {
  bytes out;
  if (!pin.empty())
    wire::writer{out}.str(pin);
  sodium_memzero(pin.data(), pin.size());
  return out;
}

request_refusal not_a_request(const frame_view& f) {
  return {{errc::unexpected_frame, std::string{frame_type_name(f.type)} + " is not a client request"},
          true};
}

/// The family requests of the parent and child apps, each to the child's family entity.
mapped_request map_family(const frame_view& f, const session_who& who) {
  auto own = who.account;
  switch (f.type) {
  case frame_type::link_create:
    return with_body<link_create_request>(f, [&](auto&) {
      return only(who.parent, "a parent account",
                  user(own, user_op::make_link_code, raw(f), {frame_type::link_code}));
    });
  case frame_type::link_redeem:
    return with_body<link_redeem_request>(f, [&](auto&) {
      auto call = family(own, family_op::redeem, raw(f));
      call.guesses_code = true;
      return only(!who.parent, "a child account", std::move(call));
    });
  case frame_type::child_create:
    return with_body<child_create_request>(f, [&](auto&) {
      return only(who.parent, "a parent account",
                  user(own, user_op::create_child, raw(f), {frame_type::child_setup}));
    });
  case frame_type::child_setup_code:
    return with_body<target_request>(f, [&](auto& t) {
      return only(who.parent, "a parent account",
                  user(t.id, user_op::new_setup_code, {}, {frame_type::child_setup}));
    });
  case frame_type::link_remove:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return family(t.id, family_op::unlink);
    });
  case frame_type::link_get:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return family(t.id, family_op::get_link, {}, {frame_type::link_info});
    });
  case frame_type::pin_set:
    return with_body<pin_set_request>(f, [&](auto& b) -> mapped_request {
      bytes pin;
      wire::writer{pin}.str(b.pin);
      sodium_memzero(b.pin.data(), b.pin.size());
      return family(b.child, family_op::set_pin, std::move(pin));
    });
  case frame_type::pin_change:
    return with_body<pin_change_request>(f, [&](auto&) -> mapped_request {
      return family(own, family_op::change_pin, raw(f));
    });
  case frame_type::approvals_get:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return family(t.id, family_op::list_approvals, {}, {frame_type::approval_list});
    });
  case frame_type::approval_decide:
    return with_body<approval_decision>(f, [&](auto& b) -> mapped_request {
      return family(b.child, family_op::decide, encode_account_flag({b.other, b.approve}));
    });
  case frame_type::approval_pin:
    return with_body<approval_by_pin>(f, [&](auto&) -> mapped_request {
      return family(own, family_op::decide_with_pin, raw(f));
    });
  case frame_type::policy_set:
    return with_body<policy_request>(f, [&](auto& b) -> mapped_request {
      return family(b.child, family_op::set_policy, bytes{b.policy});
    });
  case frame_type::location_send:
    return with_body<location_update>(f, [&](auto&) {
      return only(!who.parent, "a child account",
                  family(own, family_op::location_update, raw(f)));
    });
  case frame_type::location_sharing:
    return with_body<location_sharing_request>(f, [&](auto& b) -> mapped_request {
      return family(b.child, family_op::location_sharing, bytes{uint8_t(b.on ? 1 : 0)});
    });
  default:
    return not_a_request(f);
  }
}

} // namespace

mapped_request map_request(const frame_view& f, const session_who& who) {
  auto own = who.account;
  switch (f.type) {
  case frame_type::profile_set:
    return with_body<profile_set_request>(f, [&](auto&) -> mapped_request {
      return user(own, user_op::set_profile, raw(f));
    });
  case frame_type::account_export:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return user(t.id, user_op::export_account, {}, {frame_type::account_data});
    });
  case frame_type::account_delete:
    return with_body<account_delete_request>(f, [&](auto& b) -> mapped_request {
      return user(b.id, user_op::delete_account, pin_field(b.pin));
    });
  case frame_type::profile_get:
    return with_body<profile_request>(f, [&](auto& b) -> mapped_request {
      // Another account's profile is read at its actor, which cannot know the asker is a
      // frozen child: refused here, as its sends are.
      if (who.frozen && b.id != own)
        return refused(errc::account_frozen);
      if (b.child == 0)
        return user(b.id, user_op::get_profile, {}, {frame_type::profile});
      // A parent looking at who its child's friend step is with.
      bytes other;
      wire::writer{other}.u64(b.id);
      return family(b.child, family_op::approval_profile, std::move(other), {frame_type::profile});
    });
  case frame_type::friend_add:
  case frame_type::friend_accept:
  case frame_type::friend_decline:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      auto op = f.type == frame_type::friend_add      ? user_op::add_friend
                : f.type == frame_type::friend_accept ? user_op::accept_friend
                                                      : user_op::decline_friend;
      return user(own, op, encode_body(t));
    });
  case frame_type::friend_list:
    return user(own, user_op::list_contacts, {}, {frame_type::friend_list_result});
  case frame_type::contacts_get:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return user(t.id, user_op::list_contacts, {}, {frame_type::friend_list_result});
    });
  case frame_type::report:
    return with_body<report_request>(f, [&](auto&) -> mapped_request {
      return user(own, user_op::report, raw(f));
    });
  case frame_type::contact_block:
  case frame_type::contact_remove:
    return with_body<contact_action>(f, [&](auto& b) -> mapped_request {
      auto op = f.type == frame_type::contact_block ? user_op::block_contact
                                                    : user_op::remove_contact;
      return user(b.owner, op, encode_body(target_request{b.other}));
    });
  case frame_type::key_get:
  case frame_type::status_get:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      bool key = f.type == frame_type::key_get;
      return user(own, key ? user_op::get_key : user_op::get_status, encode_body(t),
                  {key ? frame_type::key_result : frame_type::status_result});
    });
  case frame_type::send: {
    auto send = deliver_from_send(f.body);
    if (!send)
      return malformed("the frame body does not match its type");
    if (send->to == own)
      return refused(errc::invalid_argument, "cannot send to yourself");
    // A send goes to the recipient's actor, which cannot know the sender is frozen.
    if (who.frozen)
      return refused(errc::account_frozen);
    return user(send->to, user_op::deliver, std::move(send->body), {frame_type::accepted, send->id});
  }
  case frame_type::ack:
    return with_body<ack_request>(f, [&](auto&) -> mapped_request {
      return user(own, user_op::ack, raw(f));
    });
  default:
    return map_family(f, who);
  }
}

} // namespace kinbox
