// Each client request of a logged-in session turned into the entity request it is (to
// the account's own user actor, another account's, or a child's family), with the checks
// the gateway makes first: role, frozen child, guess limits.
#include "gateway/session_parts.hpp"

namespace kinbox::session_parts {

/// The family requests of the parent and child apps, each to the child's family entity.
void handle_family(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  auto rid = f.request_id;
  auto own = st.account;
  bool parent = st.info.role == account_role::parent;
  auto raw = bytes(f.body.begin(), f.body.end());
  auto for_role = [&](bool wanted, const char* who) {
    if (!wanted)
      reply_error(self, rid, {errc::invalid_argument, std::string{"only "} + who + " may do this"});
    return wanted;
  };
  switch (f.type) {
  case frame_type::link_create:
    if (body_of<link_create_request>(self, f) && for_role(parent, "a parent account"))
      call_entity(self, rid, own, user_op::make_link_code, std::move(raw), {frame_type::link_code});
    return;
  case frame_type::link_redeem:
    if (body_of<link_redeem_request>(self, f) && for_role(!parent, "a child account") &&
        within_code_guesses(self, rid))
      call_family(self, rid, own, family_op::redeem, std::move(raw));
    return;
  case frame_type::child_create:
    if (body_of<child_create_request>(self, f) && for_role(parent, "a parent account"))
      call_entity(self, rid, own, user_op::create_child, std::move(raw), {frame_type::child_setup});
    return;
  case frame_type::child_setup_code:
    if (auto t = body_of<target_request>(self, f); t && for_role(parent, "a parent account"))
      call_entity(self, rid, t->id, user_op::new_setup_code, {}, {frame_type::child_setup});
    return;
  case frame_type::link_remove:
    if (auto t = body_of<target_request>(self, f))
      call_family(self, rid, t->id, family_op::unlink, {});
    return;
  case frame_type::link_get:
    if (auto t = body_of<target_request>(self, f))
      call_family(self, rid, t->id, family_op::get_link, {}, {frame_type::link_info});
    return;
  case frame_type::pin_set:
    if (auto b = body_of<pin_set_request>(self, f)) {
      bytes pin;
      wire::writer{pin}.str(b->pin);
      sodium_memzero(b->pin.data(), b->pin.size());
      call_family(self, rid, b->child, family_op::set_pin, std::move(pin));
    }
    return;
  case frame_type::pin_change:
    if (body_of<pin_change_request>(self, f))
      call_family(self, rid, own, family_op::change_pin, std::move(raw));
    return;
  case frame_type::approvals_get:
    if (auto t = body_of<target_request>(self, f))
      call_family(self, rid, t->id, family_op::list_approvals, {}, {frame_type::approval_list});
    return;
  case frame_type::approval_decide:
    if (auto b = body_of<approval_decision>(self, f))
      call_family(self, rid, b->child, family_op::decide,
                  encode_account_flag({b->other, b->approve}));
    return;
  case frame_type::approval_pin:
    if (body_of<approval_by_pin>(self, f))
      call_family(self, rid, own, family_op::decide_with_pin, std::move(raw));
    return;
  case frame_type::policy_set:
    if (auto b = body_of<policy_request>(self, f))
      call_family(self, rid, b->child, family_op::set_policy, bytes{b->policy});
    return;
  case frame_type::location_send:
    if (body_of<location_update>(self, f) && for_role(!parent, "a child account"))
      call_family(self, rid, own, family_op::location_update, std::move(raw));
    return;
  case frame_type::location_sharing:
    if (auto b = body_of<location_sharing_request>(self, f))
      call_family(self, rid, b->child, family_op::location_sharing, bytes{uint8_t(b->on ? 1 : 0)});
    return;
  default:
    return fail(self, frame_type::error, rid, errc::unexpected_frame,
                std::string{frame_type_name(f.type)} + " is not a client request");
  }
}

std::optional<account_id> target_of(session_pointer self, const frame_view& f) {
  auto t = decode_body<target_request>(f.body);
  if (!t) {
    fail(self, frame_type::error, f.request_id, errc::malformed_frame, t.error().message);
    return std::nullopt;
  }
  return t->id;
}

failure frozen_failure() {
  return {errc::account_frozen, std::string{errc_description(errc::account_frozen)}};
}

void handle_ready(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  auto rid = f.request_id;
  auto own = st.account;
  switch (f.type) {
  case frame_type::whoami:
    return reply(self, frame_type::login_ok, rid, st.info);
  case frame_type::profile_set:
    if (!body_of<profile_set_request>(self, f))
      return;
    return call_entity(self, rid, own, user_op::set_profile, bytes(f.body.begin(), f.body.end()));
  case frame_type::account_export: {
    auto t = target_of(self, f);
    if (!t)
      return;
    return call_entity(self, rid, *t, user_op::export_account, {}, {frame_type::account_data});
  }
  case frame_type::account_delete: {
    auto req = body_of<account_delete_request>(self, f);
    if (!req)
      return;
    bytes pin;
    if (!req->pin.empty()) {
      wire::writer{pin}.str(req->pin);
      sodium_memzero(req->pin.data(), req->pin.size());
    }
    return call_entity(self, rid, req->id, user_op::delete_account, std::move(pin));
  }
  case frame_type::profile_get: {
    auto req = body_of<profile_request>(self, f);
    if (!req)
      return;
    // Another account's profile is read at its actor, which cannot know the asker is a
    // frozen child: refused here, as its sends are.
    if (st.frozen && req->id != own)
      return reply_error(self, rid, frozen_failure());
    if (req->child == 0)
      return call_entity(self, rid, req->id, user_op::get_profile, {}, {frame_type::profile});
    // A parent looking at who its child's friend step is with.
    bytes other;
    wire::writer{other}.u64(req->id);
    return call_family(self, rid, req->child, family_op::approval_profile, std::move(other),
                       {frame_type::profile});
  }
  case frame_type::friend_add:
  case frame_type::friend_accept:
  case frame_type::friend_decline: {
    auto t = target_of(self, f);
    if (!t)
      return;
    auto op = f.type == frame_type::friend_add      ? user_op::add_friend
              : f.type == frame_type::friend_accept ? user_op::accept_friend
                                                    : user_op::decline_friend;
    return call_entity(self, rid, own, op, encode_body(target_request{*t}));
  }
  case frame_type::friend_list:
    return call_entity(self, rid, own, user_op::list_contacts, {},
                       {frame_type::friend_list_result});
  case frame_type::contacts_get: {
    auto t = target_of(self, f);
    if (!t)
      return;
    return call_entity(self, rid, *t, user_op::list_contacts, {},
                       {frame_type::friend_list_result});
  }
  case frame_type::report: {
    if (!body_of<report_request>(self, f))
      return;
    return call_entity(self, rid, own, user_op::report, bytes(f.body.begin(), f.body.end()));
  }
  case frame_type::contact_block:
  case frame_type::contact_remove: {
    auto b = body_of<contact_action>(self, f);
    if (!b)
      return;
    auto op = f.type == frame_type::contact_block ? user_op::block_contact : user_op::remove_contact;
    return call_entity(self, rid, b->owner, op, encode_body(target_request{b->other}));
  }
  case frame_type::key_get:
  case frame_type::status_get: {
    auto t = target_of(self, f);
    if (!t)
      return;
    bool key = f.type == frame_type::key_get;
    return call_entity(self, rid, own, key ? user_op::get_key : user_op::get_status,
                       encode_body(target_request{*t}),
                       {key ? frame_type::key_result : frame_type::status_result});
  }
  case frame_type::send: {
    auto send = deliver_from_send(f.body);
    if (!send)
      return fail(self, frame_type::error, rid, errc::malformed_frame,
                  "the frame body does not match its type");
    if (send->to == own)
      return reply_error(self, rid, {errc::invalid_argument, "cannot send to yourself"});
    // A send goes to the recipient's actor, which cannot know the sender is frozen.
    if (st.frozen)
      return reply_error(self, rid, frozen_failure());
    return call_entity(self, rid, send->to, user_op::deliver, std::move(send->body),
                       {frame_type::accepted, send->id});
  }
  case frame_type::ack: {
    auto req = decode_body<ack_request>(f.body);
    if (!req)
      return fail(self, frame_type::error, rid, errc::malformed_frame, req.error().message);
    return call_entity(self, rid, own, user_op::ack, bytes(f.body.begin(), f.body.end()));
  }
  default:
    return handle_family(self, f);
  }
}

} // namespace kinbox::session_parts
