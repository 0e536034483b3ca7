// The operations of the user entity: the access table (user_access.hpp) decides whether a
// request runs; then each operation reads its typed argument (user_interface.hpp) and
// hands it to its job's function.
#include "actors/user_access.hpp"
#include "actors/user_parts.hpp"

namespace kinbox::user_parts {

namespace {

void bad(reply_to& rp, const char* why) {
  rp.deliver(error_reply(errc::invalid_argument, why));
}

/// The other account a request names (target_request), if it is another one.
std::optional<account_id> target_of(const user_state& st, const target_request* t) {
  if (t == nullptr || t->id == 0 || t->id == st.id)
    return std::nullopt;
  return t->id;
}

relation relation_of(const user_state& st, account_id caller) {
  if (caller == operator_caller)
    return relation::operator_;
  if (caller == st.id)
    return relation::self;
  if (st.account && caller == st.contacts.parent())
    return relation::parent;
  if (st.account && st.contacts.children().count(caller) != 0)
    return relation::child;
  return relation::other;
}

// -- what other entities tell the account -----------------------------------------------

void on_deliver(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::deliver>(req);
  if (!body)
    return bad(rp, "malformed deliver body");
  if (body->kind == mail_kind::retraction)
    return retract_moment(self, req.caller, *body, rp);
  self->state.incoming.push_back({req.caller, std::move(*body), std::move(rp)});
}

void on_friend_step(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto now = st.deps->now_ms();
  switch (static_cast<user_op>(req.op)) {
  case user_op::friend_request:
    if (frozen(st))
      return rp.deliver(ok_reply()); // dropped without a sign, as a block drops it
    return apply_contact_effect(self, st.contacts.receive_request(req.caller, now), req.caller, rp);
  case user_op::friend_accepted:
    return apply_contact_effect(self, st.contacts.receive_accept(req.caller, now), req.caller, rp);
  case user_op::friend_declined:
    return apply_contact_effect(
        self, st.contacts.receive_decline(req.caller, now, st.deps->friend_limits), req.caller, rp);
  default: {
    auto effect = st.contacts.receive_remove(req.caller);
    end_group_relation(self, req.caller);
    end_calls_with(self, req.caller);
    return apply_contact_effect(self, effect, req.caller, rp);
  }
  }
}

void on_account_gone(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto gone = req.caller;
  // A step with it waiting for this child's parent goes from the family too.
  if (st.contacts.state_of(gone) == contact_state::awaiting_parent) {
    send_entity(self, family_request<family_op::forget>(st.id, st.id, {gone}));
  }
  bool was_frozen = frozen(st);
  if (!st.contacts.forget(gone))
    return rp.deliver(ok_reply());
  tell_session_if_frozen(self, was_frozen); // its parent's account went
  purge_mail(self, gone, 0, [=, rp = std::move(rp)]() mutable {
    compact_soon(self); // the mailbox file keeps no trace of the deleted account
    apply_contact_effect(self, contact_effect::changed, gone, std::move(rp));
  });
}

void on_child_linked(user_pointer self, entity_request& req, reply_to& rp) {
  self->state.contacts.add_child(req.caller);
  apply_contact_effect(self, contact_effect::changed, req.caller, rp);
}

void on_child_unlinked(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto now = st.deps->now_ms();
  auto* notice = arg<user_op::child_unlinked>(req);
  if (!notice)
    return bad(rp, "malformed unlink");
  auto reason = notice->reason;
  auto child = req.caller;
  st.contacts.remove_child(child);
  // Told by this actor itself: the child's family may send nothing once it is no child.
  if (reason == unlink_reason::moved)
    notify_self(self, notice_type::unlinked, child, 0, now);
  if (reason == unlink_reason::deleted_by_child)
    notify_self(self, notice_type::child_deleted, child, 0, now);
  if (reason != unlink_reason::deleted && reason != unlink_reason::deleted_by_child)
    return apply_contact_effect(self, contact_effect::changed, child, rp);
  // A deleted child: its family's notices waiting here go, and the mailbox file keeps
  // none of them.
  purge_mail(self, child, 0, [=, rp = std::move(rp)]() mutable {
    compact_soon(self);
    apply_contact_effect(self, contact_effect::changed, child, std::move(rp));
  });
}

void on_card(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::card>(req);
  if (!body)
    return bad(rp, "malformed card request");
  get_card(self, req.caller, body->with_avatar, rp);
}

void on_friend_renamed(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  if (st.contacts.are_friends(req.caller))
    notify_parent(self, notice_type::friend_renamed, req.caller, st.deps->now_ms());
  rp.deliver(ok_reply());
}

void on_found_account(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::found_account>(req);
  if (!body)
    return bad(rp, "malformed account");
  found_account(self, req.caller, *body, rp);
}

void on_location(user_pointer self, entity_request& req, reply_to& rp) {
  auto* loc = arg<user_op::location>(req);
  if (!loc)
    return bad(rp, "malformed location");
  push(self, {location_push(req.caller, *loc)}); // an offline parent fetches it at login
  rp.deliver(ok_reply());
}

/// What an operator sees of the account: where it is served, its session's node, and how
/// much mail it has stored; never a name, a contact or content.
void on_summary(user_pointer self, reply_to& rp) {
  auto& st = self->state;
  account_summary out;
  out.role = st.account->role;
  out.banned = st.banned;
  out.frozen = frozen(st);
  out.node = st.deps->service->node_id();
  if (st.session)
    out.session_node = st.session->node;
  ++st.store_calls;
  self->request(st.deps->store, caf::infinite, usage_atom::value, st.id)
      .then(
          [=](uint64_t envelopes, uint64_t bytes) mutable {
            --self->state.store_calls;
            out.envelopes = envelopes;
            out.bytes = bytes;
            rp.deliver(ok_reply(out));
            finish_leaving(self);
          },
          store_reply<caf::error>(self,
                                  [=](caf::error& err) mutable { rp.deliver(error_reply(err)); }));
}

void on_ban(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto* order = arg<user_op::ban>(req);
  if (!order)
    return bad(rp, "malformed ban");
  bool on = order->ban.has_value();
  st.banned = on;
  log::get("user")->info("event={} account={}", st.banned ? "account_banned" : "ban_lifted", st.id);
  if (st.banned)
    leave_groups(self);
  if (st.banned && st.session) {
    st.deps->service->push(
        *st.session, user_kind,
        caf::make_message(kick_atom::value, st.id, static_cast<uint16_t>(errc::banned)));
    detach_session(self, st.deps->now_ms());
  }
  ban_keys(self, on, on ? encode_ban(*order->ban) : bytes{}, rp);
}

void on_relations(user_pointer self, entity_request& req, reply_to& rp) {
  auto* q = arg<user_op::relations>(req);
  if (!q)
    return bad(rp, "malformed relations query");
  if (self->state.banned)
    return rp.deliver(error_reply(errc::not_found)); // a banned account joins no group
  rp.deliver(ok_reply(relations_to(self->state, *q)));
}

void on_group_joined(user_pointer self, entity_request& req, reply_to& rp) {
  auto* group = arg<user_op::group_joined>(req);
  if (!group || group->id == 0)
    return bad(rp, "malformed group");
  group_membership(self, *group, true, rp);
}

void on_group_left(user_pointer self, entity_request& req, reply_to& rp) {
  auto* group = arg<user_op::group_left>(req);
  if (!group || group->id == 0)
    return bad(rp, "malformed group");
  group_membership(self, group_info{group->id, {}, 0, 0, {}}, false, rp);
}

void on_typing(user_pointer self, entity_request& req, reply_to& rp) {
  if (auto* body = arg<user_op::typing>(req))
    typing_from(self, req.caller, *body);
  rp.deliver(ok_reply()); // the sender learns nothing of who saw it
}

// -- the account's own requests (and its parent's oversight) ----------------------------

void on_create_child(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto* body = arg<user_op::create_child>(req);
  if (!body)
    return bad(rp, "malformed child");
  if (st.account->role != account_role::parent)
    return bad(rp, "only a parent account makes child accounts");
  if (auto why = validate_child(*body, st.deps->now_ms(), st.deps->ages))
    return bad(rp, why->c_str());
  create_child(self, std::move(*body), rp);
}

void on_add_friend(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto t = target_of(st, arg<user_op::add_friend>(req));
  if (!t)
    return bad(rp, "friend id must be another account");
  bool is_child = st.account->role == account_role::child;
  apply_contact_result(
      self, st.contacts.add(*t, st.deps->now_ms(), st.deps->friend_limits, is_child), *t, rp);
}

void on_answer_friend(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  // accept_friend and decline_friend take the same argument
  auto t = target_of(st, arg<user_op::accept_friend>(req));
  if (!t)
    return bad(rp, "friend id must be another account");
  bool is_child = st.account->role == account_role::child;
  auto effect = static_cast<user_op>(req.op) == user_op::accept_friend
                    ? st.contacts.accept(*t, st.deps->now_ms(), is_child)
                    : st.contacts.decline(*t);
  if (!effect)
    return rp.deliver(error_reply(errc::not_found, "no friend request from this account"));
  apply_contact_effect(self, *effect, *t, rp);
}

void on_block_or_remove(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto t = target_of(st, arg<user_op::block_contact>(req)); // as remove_contact's
  if (!t)
    return bad(rp, "contact id must be another account");
  bool blocking = static_cast<user_op>(req.op) == user_op::block_contact;
  // At once in memory: nothing from `other` is admitted from here on, and what it sent
  // before is purged before the answer.
  auto effect = blocking ? st.contacts.block(*t, st.deps->now_ms()) : st.contacts.remove(*t);
  log::get("user")->info("event={} account={} by={}",
                         blocking ? "contact_blocked" : "contact_removed", st.id,
                         req.caller == st.id ? "self" : "parent");
  auto other = *t;
  end_group_relation(self, other);
  end_calls_with(self, other);
  purge_mail(self, other, 0, [=, rp = std::move(rp)]() mutable {
    apply_contact_effect(self, effect, other, std::move(rp));
  });
}

void on_report(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::report>(req);
  if (!body)
    return bad(rp, "malformed report");
  if (body->other == 0 || body->other == self->state.id)
    return bad(rp, "report another account");
  report(self, body->other, body->category, rp);
}

void on_link_change(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  account_id parent = 0;
  if (static_cast<user_op>(req.op) == user_op::linked) {
    auto* body = arg<user_op::linked>(req);
    if (!body || body->id == 0)
      return bad(rp, "malformed link");
    parent = body->id;
  }
  bool was_frozen = frozen(st);
  auto old_parent = st.contacts.parent();
  st.contacts.set_parent(parent);
  end_group_relation(self, old_parent);
  if (parent != old_parent)
    clear_quiet(self); // the old parent's schedule is not the new one's
  tell_session_if_frozen(self, was_frozen);
  apply_contact_effect(self, contact_effect::changed, parent, rp);
}

void on_parent_decision(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto* body = arg<user_op::parent_decision>(req);
  if (!body)
    return bad(rp, "malformed decision");
  auto effect = body->yes ? st.contacts.parent_approved(body->other, st.deps->now_ms())
                          : st.contacts.parent_denied(body->other);
  apply_contact_effect(self, effect, body->other, rp);
}

void on_get_key_or_status(user_pointer self, entity_request& req, reply_to& rp) {
  auto t = target_of(self->state, arg<user_op::get_key>(req)); // as get_status's
  if (!t)
    return bad(rp, "id must be another account");
  if (static_cast<user_op>(req.op) == user_op::get_key)
    return get_key(self, *t, rp);
  get_status(self, *t, rp);
}

void on_ack(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::ack>(req);
  if (!body)
    return bad(rp, "malformed ack body");
  ack(self, *body, rp);
}

void on_attach(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::attach>(req);
  if (!body)
    return bad(rp, "malformed attach");
  if (check_device(body->device))
    return bad(rp, "malformed device info");
  attach(self, body->session, rp);
  note_device(self, body->device);
}

void on_detach(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto* session = arg<user_op::detach>(req);
  if (!session)
    return bad(rp, "malformed endpoint");
  // A session that closed: it may have gone while its attach was on the way, or while
  // the account moved (then the attach, or nothing, reaches this actor after it).
  remember_gone(st, *session);
  if (!st.session || *st.session == *session)
    detach_session(self, st.deps->now_ms());
  rp.deliver(ok_reply());
}

void on_delete(user_pointer self, entity_request& req, reply_to& rp) {
  auto& st = self->state;
  auto* body = arg<user_op::delete_account>(req);
  if (!body)
    return bad(rp, "malformed delete");
  auto pin = body->pin;
  sodium_memzero(body->pin.data(), body->pin.size());
  if (req.caller == st.id && st.account->role == account_role::child)
    return delete_self_with_pin(self, std::move(pin), rp);
  sodium_memzero(pin.data(), pin.size()); // a parent needs none
  delete_account(self, req.caller, rp);
}

void on_set_profile(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::set_profile>(req);
  if (!body)
    return bad(rp, "malformed profile");
  set_profile(self, *body, rp);
}

void on_make_link_code(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::make_link_code>(req);
  if (!body)
    return bad(rp, "malformed link request");
  make_link_code(self, std::move(*body), rp);
}

void on_redeem_link_code(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::redeem_link_code>(req);
  if (!body)
    return bad(rp, "malformed link code");
  redeem_link_code(self, req.caller, body->secret, rp);
}

void on_complete_setup(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::complete_setup>(req);
  if (!body)
    return rp.deliver(error_reply(errc::not_found, "no such setup code"));
  complete_setup(self, *body, rp);
}

void on_set_quiet(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::set_quiet>(req);
  if (!body)
    return bad(rp, "malformed quiet hours");
  set_quiet(self, *body, rp);
}

void on_call_out(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::call_out>(req);
  if (!body)
    return bad(rp, "malformed call");
  call_out(self, *body, rp);
}

void on_call_in(user_pointer self, entity_request& req, reply_to& rp) {
  auto* body = arg<user_op::call_in>(req);
  if (!body)
    return bad(rp, "malformed call");
  call_in(self, req.caller, *body, rp);
}

template <user_op Op, class F>
void with_arg(entity_request& req, reply_to& rp, F f) {
  auto* body = arg<Op>(req);
  if (!body)
    return bad(rp, "malformed request");
  f(*body);
}

/// Runs operation `req.op`, which the access table let through.
void run(user_pointer self, entity_request& req, reply_to& rp) {
  switch (static_cast<user_op>(req.op)) {
  case user_op::deliver:
    return on_deliver(self, req, rp);
  case user_op::friend_request:
  case user_op::friend_accepted:
  case user_op::friend_declined:
  case user_op::friend_removed:
    return on_friend_step(self, req, rp);
  case user_op::account_gone:
    return on_account_gone(self, req, rp);
  case user_op::child_linked:
    return on_child_linked(self, req, rp);
  case user_op::child_unlinked:
    return on_child_unlinked(self, req, rp);
  case user_op::get_profile:
    return get_profile(self, req.caller, rp);
  case user_op::card:
    return on_card(self, req, rp);
  case user_op::friend_renamed:
    return on_friend_renamed(self, req, rp);
  case user_op::relations:
    return on_relations(self, req, rp);
  case user_op::group_joined:
    return on_group_joined(self, req, rp);
  case user_op::group_left:
    return on_group_left(self, req, rp);
  case user_op::typing:
    return on_typing(self, req, rp);
  case user_op::list_groups:
    return list_groups(self, rp);
  case user_op::set_quiet:
    return on_set_quiet(self, req, rp);
  case user_op::call_out:
    return on_call_out(self, req, rp);
  case user_op::call_in:
    return on_call_in(self, req, rp);
  case user_op::post_moment:
    return with_arg<user_op::post_moment>(req, rp, [&](auto& b) { post_moment(self, b, rp); });
  case user_op::react_moment:
    return with_arg<user_op::react_moment>(req, rp, [&](auto& b) { react_moment(self, b, rp); });
  case user_op::moment_reaction:
    return with_arg<user_op::moment_reaction>(
        req, rp, [&](auto& b) { moment_reacted(self, req.caller, b, rp); });
  case user_op::delete_moment:
    return with_arg<user_op::delete_moment>(
        req, rp, [&](auto& b) { delete_moment(self, req.caller, b.post, rp); });
  case user_op::end_calls:
    end_calls(self, call_outcome::ended);
    return rp.deliver(ok_reply());
  case user_op::get_quiet:
    return rp.deliver(ok_reply(quiet_state(self->state)));
  case user_op::found_account:
    return on_found_account(self, req, rp);
  case user_op::complete_setup:
    return on_complete_setup(self, req, rp);
  case user_op::redeem_link_code:
    return on_redeem_link_code(self, req, rp);
  case user_op::location:
    return on_location(self, req, rp);
  case user_op::ban:
    return on_ban(self, req, rp);
  case user_op::summary:
    return on_summary(self, rp);
  case user_op::list_contacts:
    return list_contacts(self, rp);
  case user_op::block_contact:
  case user_op::remove_contact:
    return on_block_or_remove(self, req, rp);
  case user_op::export_account:
    return export_account(self, rp);
  case user_op::delete_account:
    return on_delete(self, req, rp);
  case user_op::new_setup_code:
    return new_setup_code(self, rp);
  case user_op::attach:
    return on_attach(self, req, rp);
  case user_op::detach:
    return on_detach(self, req, rp);
  case user_op::ack:
    return on_ack(self, req, rp);
  case user_op::linked:
  case user_op::unlinked:
    return on_link_change(self, req, rp);
  case user_op::parent_decision:
    return on_parent_decision(self, req, rp);
  case user_op::add_friend:
    return on_add_friend(self, req, rp);
  case user_op::accept_friend:
  case user_op::decline_friend:
    return on_answer_friend(self, req, rp);
  case user_op::get_key:
  case user_op::get_status:
    return on_get_key_or_status(self, req, rp);
  case user_op::report:
    return on_report(self, req, rp);
  case user_op::set_profile:
    return on_set_profile(self, req, rp);
  case user_op::create_child:
    return on_create_child(self, req, rp);
  case user_op::make_link_code:
    return on_make_link_code(self, req, rp);
  }
  bad(rp, "unknown user operation");
}

} // namespace

void handle(user_pointer self, entity_request& req, reply_to rp) {
  auto& st = self->state;
  bool known = st.account.has_value();
  switch (check_access(req.op, relation_of(st, req.caller), known, known && frozen(st))) {
  case access::run:
    return run(self, req, rp);
  case access::not_found:
    return rp.deliver(error_reply(errc::not_found));
  case access::silent_ok:
    return rp.deliver(ok_reply());
  case access::frozen:
    return rp.deliver(error_reply(errc::account_frozen));
  case access::unknown_op:
    return bad(rp, "unknown user operation");
  }
}

} // namespace kinbox::user_parts
