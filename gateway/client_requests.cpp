#include "gateway/client_requests.hpp"

#include <sodium.h>

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

/// Wipes a PIN of the decoded frame once the request holds its copy: a moved short
/// string leaves its characters behind.
void wipe(std::string& pin) {
  sodium_memzero(pin.data(), pin.size());
}

/// Why the session's account may not reach account `to` (0: anyone but its parent) now:
/// a frozen child reaches no one, a child in its quiet hours only its parent.
std::optional<request_refusal> refusal_to_reach(const session_who& who, uint64_t to) {
  if (who.frozen)
    return refused(errc::account_frozen);
  if (who.asleep && (to == 0 || to != who.linked_parent))
    return refused(errc::asleep, "it is quiet time; only your parent can be reached until it ends");
  return std::nullopt;
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
    return with_body<link_create_request>(f, [&](auto& b) {
      return only(who.parent, "a parent account",
                  entity_call{user_request<user_op::make_link_code>(own, own, std::move(b))});
    });
  case frame_type::link_redeem:
    return with_body<link_redeem_request>(f, [&](auto& b) {
      entity_call call{family_request<family_op::redeem>(own, own, b)};
      wipe(b.pin);
      call.guesses_code = true;
      return only(!who.parent, "a child account", std::move(call));
    });
  case frame_type::child_create:
    return with_body<child_create_request>(f, [&](auto& b) {
      return only(who.parent, "a parent account",
                  entity_call{user_request<user_op::create_child>(own, own, std::move(b))});
    });
  case frame_type::child_setup_code:
    return with_body<target_request>(f, [&](auto& t) {
      return only(who.parent, "a parent account",
                  entity_call{user_request<user_op::new_setup_code>(t.id, own)});
    });
  case frame_type::link_remove:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return entity_call{family_request<family_op::unlink>(t.id, own)};
    });
  case frame_type::link_get:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return entity_call{family_request<family_op::get_link>(t.id, own)};
    });
  case frame_type::pin_set:
    return with_body<pin_set_request>(f, [&](auto& b) -> mapped_request {
      auto call = entity_call{family_request<family_op::set_pin>(b.child, own, b)};
      wipe(b.pin);
      return call;
    });
  case frame_type::pin_change:
    return with_body<pin_change_request>(f, [&](auto& b) -> mapped_request {
      auto call = entity_call{family_request<family_op::change_pin>(own, own, b)};
      wipe(b.old_pin);
      wipe(b.new_pin);
      return call;
    });
  case frame_type::approvals_get:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return entity_call{family_request<family_op::list_approvals>(t.id, own)};
    });
  case frame_type::approval_decide:
    return with_body<approval_decision>(f, [&](auto& b) -> mapped_request {
      return entity_call{family_request<family_op::decide>(b.child, own, b)};
    });
  case frame_type::approval_pin:
    return with_body<approval_by_pin>(f, [&](auto& b) -> mapped_request {
      auto call = entity_call{family_request<family_op::decide_with_pin>(own, own, b)};
      wipe(b.pin);
      return call;
    });
  case frame_type::policy_set:
    return with_body<policy_request>(f, [&](auto& b) -> mapped_request {
      return entity_call{family_request<family_op::set_policy>(b.child, own, b)};
    });
  case frame_type::location_send:
    return with_body<location_update>(f, [&](auto& b) {
      return only(!who.parent, "a child account",
                  entity_call{family_request<family_op::location_update>(own, own, std::move(b))});
    });
  case frame_type::call:
    return with_body<call_request>(f, [&](auto& b) -> mapped_request {
      // An offer reaches others; the other signals go to peers of a call already made,
      // or end it (a hangup, a decline), which a child may always do.
      bool ends = b.signal == call_signal::hangup || b.signal == call_signal::decline ||
                  b.signal == call_signal::busy;
      if (!ends)
        if (auto no = refusal_to_reach(who, is_group_id(b.to) ? 0 : b.to))
          return *no;
      return entity_call{user_request<user_op::call_out>(own, own, std::move(b))};
    });
  case frame_type::moment_post:
    return with_body<moment_post>(f, [&](auto& b) -> mapped_request {
      if (auto no = refusal_to_reach(who, 0))
        return *no;
      return entity_call{user_request<user_op::post_moment>(own, own, std::move(b))};
    });
  case frame_type::moment_react:
    return with_body<moment_reaction>(f, [&](auto& b) -> mapped_request {
      if (auto no = refusal_to_reach(who, 0))
        return *no;
      return entity_call{user_request<user_op::react_moment>(own, own, std::move(b))};
    });
  case frame_type::moment_delete:
    return with_body<moment_delete>(f, [&](auto& b) -> mapped_request {
      return entity_call{user_request<user_op::delete_moment>(b.owner, own, b)};
    });
  case frame_type::call_end:
    return with_body<target_request>(f, [&](auto& t) {
      return only(who.parent, "a parent account",
                  entity_call{user_request<user_op::end_calls>(t.id, own)});
    });
  case frame_type::quiet_set:
    return with_body<quiet_set_request>(f, [&](auto& b) {
      return only(who.parent, "a parent account",
                  entity_call{user_request<user_op::set_quiet>(b.child, own, std::move(b))});
    });
  case frame_type::quiet_get:
    return with_body<target_request>(f, [&](auto& t) -> mapped_request {
      return entity_call{user_request<user_op::get_quiet>(t.id, own)};
    });
  case frame_type::location_sharing:
    return with_body<location_sharing_request>(f, [&](auto& b) -> mapped_request {
      return entity_call{family_request<family_op::location_sharing>(b.child, own, b)};
    });
  default:
    return not_a_request(f);
  }
}

/// The group requests, each to the group's chat entity (a group's list, to the account's
/// user entity), and the typing signals and read receipts of 1:1 and group conversations.
mapped_request map_group(const frame_view& f, const session_who& who) {
  auto own = who.account;
  auto call = [](entity_request req) -> mapped_request { return entity_call{std::move(req)}; };
  // What reaches other accounts waits for a frozen child's new parent, as its sends do,
  // and for the end of a child's quiet hours (but what goes to its parent).
  auto reaches_others = [&](mapped_request ok, uint64_t to = 0) -> mapped_request {
    if (auto no = refusal_to_reach(who, to))
      return *no;
    return ok;
  };
  switch (f.type) {
  case frame_type::group_create:
    return with_body<group_create_request>(f, [&](auto& b) {
      return reaches_others(call(chat_request<chat_op::create>(random_group_id(), own, std::move(b))));
    });
  case frame_type::group_add:
    return with_body<group_member_request>(f, [&](auto& b) {
      return reaches_others(call(chat_request<chat_op::add>(b.group, own, {b.id})));
    });
  case frame_type::group_remove:
    return with_body<group_member_request>(f, [&](auto& b) {
      return call(chat_request<chat_op::remove>(b.group, own, {b.id}));
    });
  case frame_type::group_leave:
    return with_body<target_request>(f, [&](auto& t) {
      return call(chat_request<chat_op::leave>(t.id, own));
    });
  case frame_type::group_show:
    return with_body<target_request>(f, [&](auto& t) {
      return call(chat_request<chat_op::show>(t.id, own));
    });
  case frame_type::group_list:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::list_groups>(t.id, own));
    });
  case frame_type::group_send:
    return with_body<group_send_request>(f, [&](auto& b) {
      auto id = b.id;
      auto group = b.group;
      return reaches_others(entity_call{chat_request<chat_op::send>(group, own, std::move(b)), id});
    });
  case frame_type::typing:
    return with_body<typing_request>(f, [&](auto& b) {
      if (!b.group && b.to == own)
        return mapped_request{refused(errc::invalid_argument, "cannot type to yourself")};
      return reaches_others(b.group ? call(chat_request<chat_op::typing>(b.to, own))
                                    : call(user_request<user_op::typing>(b.to, own, {0})),
                            b.group ? 0 : b.to);
    });
  case frame_type::read:
    return with_body<read_request>(f, [&](auto& b) {
      if (b.to == own)
        return mapped_request{refused(errc::invalid_argument, "cannot send a receipt to yourself")};
      auto mail = std::move(receipt_mail(mail_kind::read, b.ids).front());
      return reaches_others(call(user_request<user_op::deliver>(b.to, own, std::move(mail))), b.to);
    });
  default:
    return map_family(f, who);
  }
}

} // namespace

mapped_request map_request(const frame_view& f, const session_who& who) {
  auto own = who.account;
  auto call = [](entity_request req) -> mapped_request { return entity_call{std::move(req)}; };
  switch (f.type) {
  case frame_type::profile_set:
    return with_body<profile_set_request>(f, [&](auto& b) {
      return call(user_request<user_op::set_profile>(own, own, std::move(b)));
    });
  case frame_type::account_export:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::export_account>(t.id, own));
    });
  case frame_type::account_delete:
    return with_body<account_delete_request>(f, [&](auto& b) {
      auto req = call(user_request<user_op::delete_account>(b.id, own, b));
      wipe(b.pin);
      return req;
    });
  case frame_type::profile_get:
    return with_body<profile_request>(f, [&](auto& b) -> mapped_request {
      // Another account's profile is read at its actor, which cannot know the asker is a
      // frozen child: refused here, as its sends are.
      if (who.frozen && b.id != own)
        return refused(errc::account_frozen);
      if (b.child == 0)
        return call(user_request<user_op::get_profile>(b.id, own));
      // A parent looking at who its child's friend step is with.
      return call(family_request<family_op::approval_profile>(b.child, own, {b.id}));
    });
  case frame_type::friend_add:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::add_friend>(own, own, t));
    });
  case frame_type::friend_accept:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::accept_friend>(own, own, t));
    });
  case frame_type::friend_decline:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::decline_friend>(own, own, t));
    });
  case frame_type::friend_list:
    return call(user_request<user_op::list_contacts>(own, own));
  case frame_type::contacts_get:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::list_contacts>(t.id, own));
    });
  case frame_type::report:
    return with_body<report_request>(f, [&](auto& b) {
      return call(user_request<user_op::report>(own, own, b));
    });
  case frame_type::contact_block:
    return with_body<contact_action>(f, [&](auto& b) {
      return call(user_request<user_op::block_contact>(b.owner, own, {b.other}));
    });
  case frame_type::contact_remove:
    return with_body<contact_action>(f, [&](auto& b) {
      return call(user_request<user_op::remove_contact>(b.owner, own, {b.other}));
    });
  case frame_type::key_get:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::get_key>(own, own, t));
    });
  case frame_type::status_get:
    return with_body<target_request>(f, [&](auto& t) {
      return call(user_request<user_op::get_status>(own, own, t));
    });
  case frame_type::send:
    return with_body<send_request>(f, [&](auto& b) -> mapped_request {
      if (b.to == own)
        return refused(errc::invalid_argument, "cannot send to yourself");
      // A send goes to the recipient's actor, which cannot know the sender is frozen or
      // in its quiet hours.
      if (auto no = refusal_to_reach(who, b.to))
        return *no;
      auto id = b.id;
      deliver_body mail{mail_kind::message, id, std::move(b.payload)};
      return entity_call{user_request<user_op::deliver>(b.to, own, std::move(mail)), id};
    });
  case frame_type::ack:
    return with_body<ack_request>(f, [&](auto& b) {
      return call(user_request<user_op::ack>(own, own, std::move(b)));
    });
  default:
    return map_group(f, who);
  }
}

} // namespace kinbox
