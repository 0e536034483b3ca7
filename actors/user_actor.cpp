// The user actor: one per account, activated on its first request and kept while used.
// This file has its activation (load, idle, release), the dispatch of requests with who
// may ask what, and the behavior; the rest of its jobs are in the files user_parts.hpp
// lists.
#include "actors/user_actor.hpp"

#include <sodium.h>

#include "actors/user_parts.hpp"

namespace kinbox {

namespace user_parts {

/// Loads account and contacts from KV; every other message waits (await) meanwhile. An
/// id without an account reads both too, so it answers in the time an account takes.
void load(user_pointer self, std::function<void()> then) {
  auto kv = self->state.deps->kv;
  auto key = key_of(self->state.id);
  auto failed = [=](caf::error&) {
    self->state.load_failed = true;
    then();
  };
  self->request(kv, caf::infinite, kv_get_atom::value, kv_space::accounts, key)
      .await(
          [=](kv_lookup& acc) {
            self->request(kv, caf::infinite, kv_get_atom::value, kv_space::contacts, key)
                .await(
                    [=](kv_lookup& list) {
                      auto& st = self->state;
                      st.load_failed = false;
                      st.account.reset();
                      if (!acc.found)
                        return then();
                      st.account = decode_account(acc.value);
                      if (!st.account) {
                        log::get("user")->error("event=bad_account_record id={}", st.id);
                        st.load_failed = true;
                        return then();
                      }
                      if (list.found) {
                        auto decoded = contact_list_state::decode(list.value);
                        if (!decoded)
                          log::get("user")->error("event=bad_contacts_record id={}", st.id);
                        else
                          st.contacts = std::move(*decoded);
                      }
                      then();
                    },
                    failed);
          },
          failed);
}

/// Sends requests to other entities through the entity service (one message per local
/// entity or remote node) and logs what fails: notifications and receipts have no one to
/// answer.
void send_entities(user_pointer self, std::vector<entity_request> reqs) {
  auto& st = self->state;
  if (!st.client)
    st.client = std::make_unique<entity_client<notice>>(
        st.deps->service, [self](notice& n, entity_reply& reply) {
          if (n.then)
            n.then(reply);
          else if (!reply.ok())
            log::get("user")->warn("event=notify_failed account={} op={} code={}",
                                   self->state.id, n.op, errc_name(static_cast<errc>(reply.status)));
          finish_leaving(self);
        });
  for (auto& req : reqs) {
    auto op = req.op;
    st.client->call(std::move(req), notice{op, {}});
  }
  st.client->flush(self);
}

void send_entity(user_pointer self, account_id to, user_op op, bytes body) {
  std::vector<entity_request> reqs;
  reqs.push_back({user_kind, to, static_cast<uint8_t>(op), self->state.id, std::move(body)});
  send_entities(self, std::move(reqs));
}

/// A request to the family of `child` (this account, or a child of this parent) whose
/// answer `then` gets.
void ask_family(user_pointer self, account_id child, family_op op, bytes body,
                std::function<void(entity_reply&)> then) {
  send_entities(self, {});
  auto& st = self->state;
  st.client->call({family_kind, child, static_cast<uint8_t>(op), st.id, std::move(body)},
                  notice{static_cast<uint8_t>(op), std::move(then)});
  st.client->flush(self);
}

/// Whether no store or KV write and no request to another entity is unanswered.
bool quiet(const user_state& st) {
  return st.store_calls == 0 && (!st.client || st.client->idle());
}

/// For a read whose answer came after the account's state went (deleted, or dropped while
/// idle): asked again, it is answered from KV.
entity_reply account_changed_reply() {
  return error_reply(errc::unavailable, "the account changed meanwhile; retry");
}

/// What a frozen child may still do itself: log in, read and ack what is not a message,
/// export its data. Its family takes a new parent's link code (and says so: `linked`).
bool allowed_when_frozen(user_op op) {
  return op == user_op::attach || op == user_op::detach || op == user_op::ack ||
         op == user_op::export_account || op == user_op::linked || op == user_op::unlinked;
}

/// A child's messages go from its session straight to the recipients' actors, so the
/// session refuses them while the child is frozen: freezing closes the attached session
/// (the next login's attach says it is frozen), linking it again lets it send.
void tell_session_if_frozen(user_pointer self, bool was_frozen) {
  auto& st = self->state;
  bool now = frozen(st);
  if (now == was_frozen || !st.session)
    return;
  if (!now)
    return st.deps->service->push(*st.session, user_kind,
                                  caf::make_message(thawed_atom::value, st.id));
  st.deps->service->push(*st.session, user_kind,
                         caf::make_message(kick_atom::value, st.id,
                                           static_cast<uint16_t>(errc::account_frozen)));
  detach_session(self, st.deps->now_ms());
}

/// Dispatches an entity request; owner operations from anyone else get not_found.
/// Delivers are collected in `incoming` for `store_incoming`.
void handle(user_pointer self, entity_request& req, reply_to rp) {
  auto& st = self->state;
  if (req.op == static_cast<uint8_t>(user_op::complete_setup))
    return complete_setup(self, req, rp);
  if (req.op == static_cast<uint8_t>(user_op::redeem_link_code))
    return redeem_link_code(self, req, rp);
  if (req.op == static_cast<uint8_t>(user_op::found_account)) {
    auto body = decode_found(req.body);
    if (!body)
      return rp.deliver(error_reply(errc::invalid_argument, "malformed account"));
    return found_account(self, req.caller, *body, rp);
  }
  if (!st.account) {
    // Unknown accounts answer like everyone else would: no probing of who exists.
    auto op = static_cast<user_op>(req.op);
    bool silent = op == user_op::friend_request || op == user_op::friend_accepted ||
                  op == user_op::friend_declined || op == user_op::friend_removed;
    rp.deliver(silent ? ok_reply() : error_reply(errc::not_found));
    return;
  }
  bool owner = req.caller == st.id;
  bool is_child = st.account->role == account_role::child;
  auto now = st.deps->now_ms();
  auto target = [&]() -> std::optional<account_id> {
    auto t = decode_body<target_request>(req.body);
    if (!t || t->id == 0 || t->id == st.id)
      return std::nullopt;
    return t->id;
  };
  auto bad = [&](const char* why) { rp.deliver(error_reply(errc::invalid_argument, why)); };
  switch (static_cast<user_op>(req.op)) {
  case user_op::deliver: {
    auto body = decode_deliver(req.body);
    if (!body)
      return bad("malformed deliver body");
    st.incoming.push_back({req.caller, std::move(*body), std::move(rp)});
    return;
  }
  case user_op::friend_request:
    if (frozen(st))
      return rp.deliver(ok_reply()); // dropped without a sign, as a block drops it
    return apply_contact_effect(self, st.contacts.receive_request(req.caller, now), req.caller,
                                rp);
  case user_op::friend_accepted:
    return apply_contact_effect(self, st.contacts.receive_accept(req.caller, now), req.caller,
                                rp);
  case user_op::friend_declined:
    return apply_contact_effect(
        self, st.contacts.receive_decline(req.caller, now, st.deps->friend_limits), req.caller, rp);
  case user_op::friend_removed:
    return apply_contact_effect(self, st.contacts.receive_remove(req.caller), req.caller, rp);
  case user_op::account_gone: {
    auto gone = req.caller;
    // A step with it waiting for this child's parent goes from the family too.
    if (st.contacts.state_of(gone) == contact_state::awaiting_parent) {
      bytes who;
      wire::writer{who}.u64(gone);
      ask_family(self, st.id, family_op::forget, std::move(who), [](entity_reply&) {});
    }
    bool was_frozen = frozen(st);
    if (!st.contacts.forget(gone))
      return rp.deliver(ok_reply());
    tell_session_if_frozen(self, was_frozen); // its parent's account went
    return purge_mail(self, gone, 0, [=]() mutable {
      compact_soon(self); // the mailbox file keeps no trace of the deleted account
      apply_contact_effect(self, contact_effect::changed, gone, std::move(rp));
    });
  }
  case user_op::child_linked:
    st.contacts.add_child(req.caller);
    return apply_contact_effect(self, contact_effect::changed, req.caller, rp);
  case user_op::child_unlinked: {
    auto reason = req.body.empty() ? unlink_reason::by_parent
                                   : static_cast<unlink_reason>(req.body[0]);
    if (req.body.size() > 1 || reason > unlink_reason::deleted_by_child)
      return bad("malformed unlink");
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
    return purge_mail(self, child, 0, [=]() mutable {
      compact_soon(self);
      apply_contact_effect(self, contact_effect::changed, child, std::move(rp));
    });
  }
  case user_op::get_profile:
    return get_profile(self, req.caller, rp);
  case user_op::card:
    if (req.body.size() != 1 || req.body[0] > 1)
      return bad("malformed card request");
    return get_card(self, req.caller, req.body[0] == 1, rp);
  case user_op::friend_renamed:
    if (st.contacts.are_friends(req.caller))
      notify_parent(self, notice_type::friend_renamed, req.caller, now);
    return rp.deliver(ok_reply());
  case user_op::ban: {
    if (req.caller != operator_caller)
      return rp.deliver(error_reply(errc::not_found));
    bool on = !req.body.empty() && req.body[0] == 1;
    bytes record(req.body.begin() + (req.body.empty() ? 0 : 1), req.body.end());
    if (req.body.empty() || req.body[0] > 1 || (on && !decode_ban(record)) ||
        (!on && !record.empty()))
      return bad("malformed ban");
    st.banned = on;
    log::get("user")->info("event={} account={}", st.banned ? "account_banned" : "ban_lifted", st.id);
    if (st.banned && st.session) {
      st.deps->service->push(*st.session, user_kind,
                             caf::make_message(kick_atom::value, st.id,
                                               static_cast<uint16_t>(errc::banned)));
      detach_session(self, now);
    }
    return ban_keys(self, on, std::move(record), rp);
  }
  case user_op::location: {
    auto loc = decode_location(req.body);
    if (!loc)
      return bad("malformed location");
    if (st.contacts.children().count(req.caller) == 0)
      return rp.deliver(error_reply(errc::not_found));
    push(self, {location_push(req.caller, *loc)}); // an offline parent fetches it at login
    return rp.deliver(ok_reply());
  }
  default:
    break;
  }
  // The linked parent of a child sees and controls its contacts.
  auto op = static_cast<user_op>(req.op);
  bool guardian = st.contacts.parent() != 0 && req.caller == st.contacts.parent() &&
                  (op == user_op::list_contacts || op == user_op::block_contact ||
                   op == user_op::remove_contact || op == user_op::export_account ||
                   op == user_op::delete_account || op == user_op::new_setup_code);
  if ((!owner && !guardian) || (op == user_op::new_setup_code && !guardian)) {
    rp.deliver(error_reply(errc::not_found));
    return;
  }
  if (owner && frozen(st) && !allowed_when_frozen(op))
    return rp.deliver(error_reply(errc::account_frozen));
  switch (op) {
  case user_op::create_child: {
    auto body = decode_body<child_create_request>(req.body);
    if (!body)
      return bad("malformed child");
    if (st.account->role != account_role::parent)
      return bad("only a parent account makes child accounts");
    if (auto why = validate_child(*body, now, st.deps->ages))
      return bad(why->c_str());
    return create_child(self, std::move(*body), rp);
  }
  case user_op::new_setup_code:
    return new_setup_code(self, rp);
  case user_op::add_friend: {
    auto t = target();
    if (!t)
      return bad("friend id must be another account");
    return apply_contact_result(self, st.contacts.add(*t, now, st.deps->friend_limits, is_child),
                                *t, rp);
  }
  case user_op::accept_friend:
  case user_op::decline_friend: {
    auto t = target();
    if (!t)
      return bad("friend id must be another account");
    auto effect = static_cast<user_op>(req.op) == user_op::accept_friend
                      ? st.contacts.accept(*t, now, is_child)
                      : st.contacts.decline(*t);
    if (!effect) {
      rp.deliver(error_reply(errc::not_found, "no friend request from this account"));
      return;
    }
    return apply_contact_effect(self, *effect, *t, rp);
  }
  case user_op::list_contacts:
    return list_contacts(self, rp);
  case user_op::block_contact:
  case user_op::remove_contact: {
    auto t = target();
    if (!t)
      return bad("contact id must be another account");
    bool blocking = op == user_op::block_contact;
    // At once in memory: nothing from `other` is admitted from here on, and what it sent
    // before is purged before the answer.
    auto effect = blocking ? st.contacts.block(*t, now) : st.contacts.remove(*t);
    log::get("user")->info("event={} account={} by={}", blocking ? "contact_blocked" : "contact_removed",
                           st.id, owner ? "self" : "parent");
    auto other = *t;
    return purge_mail(self, other, 0, [=]() mutable {
      apply_contact_effect(self, effect, other, std::move(rp));
    });
  }
  case user_op::report: {
    auto body = decode_body<report_request>(req.body);
    if (!body)
      return bad("malformed report");
    if (body->other == 0 || body->other == st.id)
      return bad("report another account");
    return report(self, body->other, body->category, rp);
  }
  case user_op::make_link_code:
    return make_link_code(self, req, rp);
  case user_op::linked:
  case user_op::unlinked: {
    wire::reader r{req.body};
    account_id parent = 0;
    if (static_cast<user_op>(req.op) == user_op::linked)
      r.u64(parent);
    if (!r.finished())
      return bad("malformed link");
    bool was_frozen = frozen(st);
    st.contacts.set_parent(parent);
    tell_session_if_frozen(self, was_frozen);
    return apply_contact_effect(self, contact_effect::changed, parent, rp);
  }
  case user_op::parent_decision: {
    auto body = decode_account_flag(req.body);
    if (!body)
      return bad("malformed decision");
    auto effect = body->yes ? st.contacts.parent_approved(body->other, now)
                            : st.contacts.parent_denied(body->other);
    return apply_contact_effect(self, effect, body->other, rp);
  }
  case user_op::get_key: {
    auto t = target();
    if (!t)
      return bad("id must be another account");
    return get_key(self, *t, rp);
  }
  case user_op::get_status: {
    auto t = target();
    if (!t)
      return bad("id must be another account");
    return get_status(self, *t, rp);
  }
  case user_op::ack: {
    auto body = decode_body<ack_request>(req.body);
    if (!body)
      return bad("malformed ack body");
    return ack(self, *body, rp);
  }
  case user_op::attach: {
    auto body = decode_attach(req.body);
    if (!body)
      return bad("malformed attach");
    if (check_device(body->device))
      return bad("malformed device info");
    attach(self, body->session, rp);
    return note_device(self, body->device);
  }
  case user_op::export_account:
    return export_account(self, rp);
  case user_op::delete_account:
    if (owner && is_child)
      return delete_self_with_pin(self, req.body, rp);
    return delete_account(self, req.caller, rp);
  case user_op::set_profile: {
    auto body = decode_body<profile_set_request>(req.body);
    if (!body)
      return bad("malformed profile");
    return set_profile(self, *body, rp);
  }
  case user_op::detach: {
    auto session = decode_endpoint(req.body);
    if (!session)
      return bad("malformed endpoint");
    // A session that closed: it may have gone while its attach was on the way, or while
    // the account moved (then the attach, or nothing, reaches this actor after it).
    remember_gone(st, *session);
    if (!st.session || *st.session == *session)
      detach_session(self, st.deps->now_ms());
    return rp.deliver(ok_reply());
  }
  default:
    rp.deliver(error_reply(errc::invalid_argument, "unknown user operation"));
  }
}

/// Whether a batch attaches a session (then an account unknown at activation is read
/// again: it may have registered since).
bool attaches(const std::vector<entity_request>& reqs) {
  return std::any_of(reqs.begin(), reqs.end(), [](const entity_request& r) {
    return r.op == static_cast<uint8_t>(user_op::attach);
  });
}

/// Handles requests in order, then stores the mail they delivered in one put. If loading
/// the state failed (KV unreachable), it is loaded once more first.
void handle_all(user_pointer self, std::vector<entity_request> reqs, std::vector<reply_to> replies,
                bool reloaded) {
  auto& st = self->state;
  st.life.touch(st.deps->now_ms());
  if (!st.session)
    st.life.arm_idle(self); // also after a deletion or a kick, which end the session without a detach
  if (!st.life.serving(*st.deps->service->view()))
    return entity_life::bounce(reqs, replies);
  if (st.unloaded) {
    st.unloaded = false;
    load(self, [=]() mutable {
      after_load(self);
      handle_all(self, std::move(reqs), std::move(replies), true);
    });
    return;
  }
  if (!st.load_failed && !st.account && !reloaded && attaches(reqs)) {
    load(self, [=]() mutable { handle_all(self, std::move(reqs), std::move(replies), true); });
    return;
  }
  if (st.load_failed) {
    if (reloaded) {
      for (auto& rp : replies)
        rp.deliver(error_reply(errc::unavailable, "account state could not be loaded"));
      return;
    }
    load(self, [=]() mutable { handle_all(self, std::move(reqs), std::move(replies), true); });
    return;
  }
  if (st.account && st.contacts.expire(st.deps->now_ms(), st.deps->friend_limits))
    st.contacts_expired = true;
  for (size_t i = 0; i < reqs.size(); ++i)
    handle(self, reqs[i], std::move(replies[i]));
  store_incoming(self);
}

void after_load(user_pointer self) {
  if (!self->state.session)
    self->state.life.arm_idle(self);
  if (self->state.account)
    forget_deleted_blocks(self);
}

/// Whether the actor holds nothing that is not in KV or the store (a link code waiting to
/// be redeemed is only here), and waits for nothing.
bool can_stop(const user_state& st, uint64_t now_ms) {
  return quiet(st) && !st.session &&
         st.held.empty() && st.incoming.empty() &&
         (!st.code || st.code->expires_ms <= now_ms);
}

user_actor::behavior_type user_behavior(user_pointer self, account_id id,
                                        std::shared_ptr<const user_deps> deps, entity_host host) {
  self->state.id = id;
  self->state.deps = std::move(deps);
  self->state.life = entity_life{user_kind, id, std::move(host)};
  load(self, [=] { after_load(self); });
  return {
      [=](entity_request& req) -> caf::result<entity_reply> {
        auto rp = self->make_response_promise<entity_reply>();
        std::vector<entity_request> reqs;
        reqs.push_back(std::move(req));
        handle_all(self, std::move(reqs), {reply_to{rp}});
        return rp;
      },
      [=](std::vector<entity_request>& reqs) -> caf::result<std::vector<entity_reply>> {
        auto [rp, replies] = reply_to::for_batch(self, reqs.size());
        if (!reqs.empty())
          handle_all(self, std::move(reqs), std::move(replies));
        return rp;
      },
      [=](release_atom) -> caf::result<bool> {
        auto& st = self->state;
        auto rp = self->make_response_promise<bool>();
        st.life.release(rp);
        store_held(self, true);
        // The session stays online: it attaches again, to the shard's next owner.
        if (st.session)
          st.deps->service->push(*st.session, user_kind,
                                 caf::make_message(reattach_atom::value, st.id));
        st.session.reset();
        finish_leaving(self);
        return rp;
      },
      [=](node_down_atom, const std::string& node, uint64_t incarnation, uint64_t last_heartbeat) {
        auto& st = self->state;
        if (st.session && st.session->node == node && st.session->incarnation == incarnation)
          detach_session(self, last_heartbeat);
      },
      [=](stored_atom) {
        auto& st = self->state;
        st.backlog.mail_stored_meanwhile(); // handed over from another node: page it in
        if (st.session && !st.backlog.more())
          drain(self);
      },
      [=](flush_atom) {
        store_held(self, true);
        return true;
      },
      [=](redeliver_atom, uint64_t attachment) {
        auto& st = self->state;
        st.redeliver_timer = false;
        if (attachment == st.attachment && st.session)
          redeliver(self);
        else
          arm_redeliver(self); // for the session attached since, if any
      },
      [=](held_atom) {
        self->state.held_timer = false;
        store_held(self, false);
        arm_held_timer(self);
      },
      [=](idle_atom) {
        auto& st = self->state;
        if (st.session)
          return st.life.idle_paused(); // the detach starts it again
        auto now = st.deps->now_ms();
        if (!st.life.idle(self, now))
          return;
        if (!can_stop(st, now))
          return st.life.arm_idle(self);
        if (!st.account)
          return st.life.passivate(self); // what a caller sends meanwhile gets `moved`
        if (st.contacts_expired) {
          // Expired requests are written before the list leaves memory; unloaded next time.
          put_contacts(self).then(store_reply<bool>(self, [](bool) {}),
                                  store_reply<caf::error>(self, [](caf::error&) {}));
          return st.life.arm_idle(self);
        }
        st.unloaded = true;
        st.account.reset();
        st.contacts = contact_list_state{};
        st.device.reset();
        st.code.reset();
        st.client.reset();
        st.gone.clear();
      },
      [=](linger_atom) { self->state.life.linger(self, quiet(self->state)); },
      [=](entity_retry_atom) {
        if (self->state.client)
          self->state.client->retry(self);
      },
  };
}

/// A leaving actor answers its release and stops once nothing it started is open.
void finish_leaving(user_pointer self) {
  if (quiet(self->state))
    self->state.life.left(self);
}

} // namespace user_parts

std::string setup_hash_of(uint64_t secret) {
  std::array<uint8_t, 8> raw{};
  for (size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<uint8_t>(secret >> (56 - 8 * i));
  std::array<uint8_t, 16> hash{};
  crypto_generichash(hash.data(), hash.size(), raw.data(), raw.size(), nullptr, 0);
  return crypto::to_hex(hash);
}

user_actor spawn_user(caf::actor_system& sys, account_id id,
                      std::shared_ptr<const user_deps> deps, entity_host host) {
  return sys.spawn(user_parts::user_behavior, id, std::move(deps), std::move(host));
}

entity_kind_spec user_kind_spec(std::shared_ptr<const user_deps> deps, shard_keeper mail) {
  return {user_kind,
          [deps](caf::actor_system& sys, uint64_t id, entity_host host) {
            return entity_actor{spawn_user(sys, id, deps, std::move(host))};
          },
          std::move(mail)};
}

uint64_t system_now_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

} // namespace kinbox
