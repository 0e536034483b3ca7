// The user actor's mail, as the I/O of the delivery pipeline's decisions (mail_pipeline):
// pushes to the session, the store's puts, acks and pages, receipts, the timers of the
// ack window and of redelivery; and purges, and attaching a session.
#include "actors/user_parts.hpp"
#include "config/metrics.hpp"

namespace kinbox::user_parts {

void arm_redeliver(user_pointer self) {
  auto& st = self->state;
  if (!pushes_now(st))
    return;
  if (auto wait = st.mail->arm_check())
    self->delayed_send(self, *wait, redeliver_atom::value, st.attachment);
}

void push(user_pointer self, std::vector<mail_push> mail) {
  auto& st = self->state;
  if (!st.session || mail.empty())
    return;
  if (st.asleep) {
    // In its quiet hours a child hears only its parent's side of a call it made.
    std::erase_if(mail, [&](const mail_push& m) {
      return m.kind != mail_kind::call || m.from != st.contacts.parent();
    });
    if (mail.empty())
      return;
  }
  // Pushed-only kinds are never acked; everything else is checked for its ack later.
  if (std::any_of(mail.begin(), mail.end(), [](auto& m) { return !pushed_only(m.kind); }))
    arm_redeliver(self);
  st.deps->service->push(*st.session, user_kind,
                         caf::make_message(push_atom::value, st.id, std::move(mail)));
}

/// A child without a parent (its parent deleted its account or unlinked it) is frozen: it
/// logs in, reads what is not a message, exports, and waits for a new parent's link code.
bool frozen(const user_state& st) {
  return st.account && st.account->role == account_role::child && st.contacts.parent() == 0;
}

mailbox_owner owner_of(const user_state& st) {
  mailbox_owner o{st.id, &st.contacts, frozen(st), {}};
  if (st.account)
    o.box_key = st.account->box_key;
  return o;
}

mail_push location_push(account_id child, const location_body& loc) {
  return mail_push{mail_kind::location, child, message_id{}, loc.at_ms, loc.payload};
}

/// A parent's new session gets each child's latest location, if one is fresh.
void fetch_locations(user_pointer self) {
  auto& st = self->state;
  auto attachment = st.attachment;
  for (auto child : st.contacts.children())
    ask_entity(self, family_request<family_op::location_latest>(child, st.id),
               [=](entity_reply& r) {
                 auto* latest = result_as<location_reply>(r);
                 if (latest != nullptr && latest->fix && self->state.attachment == attachment)
                   push(self, {location_push(child, *latest->fix)});
               });
}

/// After a deletion purged mail: the store rewrites the mailbox file without the freed
/// pages soon (docs/privacy.md has the window).
void compact_soon(user_pointer self) {
  caf::anon_send(self->state.deps->store, compact_atom::value);
}

/// Deletes stored mail the account will never see (from a removed or blocked contact),
/// without receipts: the sender learns nothing. `then` runs when the delete is committed
/// or failed (the paging filter drops what is left).
void discard(user_pointer self, std::vector<mail_ref> refs, std::function<void()> then) {
  auto& st = self->state;
  ++st.store_calls;
  auto count = refs.size();
  self->request(st.deps->store, caf::infinite, ack_atom::value, std::move(refs))
      .then(store_reply<std::vector<envelope>>(self,
                                               [=](std::vector<envelope>&) {
                                                 log::get("user")->info(
                                                     "event=mail_discarded account={} count={}",
                                                     self->state.id, count);
                                                 if (then)
                                                   then();
                                               }),
            store_reply<caf::error>(self, [=](caf::error& err) {
              log::get("user")->warn("event=discard_failed account={} code={}", self->state.id,
                                     errc_name(to_failure(err).code));
              if (then)
                then();
            }));
}

void purge_mail(user_pointer self, std::optional<account_id> sender, uint64_t after,
                std::function<void()> then) {
  purge_where(
      self, [sender](const envelope& e) { return !sender || e.sender == *sender; }, after,
      std::move(then));
}

void purge_where(user_pointer self, std::function<bool(const envelope&)> match, uint64_t after,
                 std::function<void()> then) {
  page_after(self, after)
      .then(store_reply<mail_page>(self,
                                   [=](mail_page& page) {
                                     std::vector<mail_ref> refs;
                                     for (auto& e : page.mail)
                                       if (match(e))
                                         refs.push_back({e.recipient, {e.kind, e.sender, e.id}});
                                     auto last = page.mail.empty() ? after : page.mail.back().seq;
                                     auto next = [=] {
                                       if (page.more)
                                         purge_where(self, match, last, then);
                                       else
                                         then();
                                     };
                                     if (refs.empty())
                                       return next();
                                     discard(self, std::move(refs), next);
                                   }),
            store_reply<caf::error>(self, [=](caf::error& err) {
              log::get("user")->warn("event=purge_failed account={} code={}", self->state.id,
                                     errc_name(to_failure(err).code));
              then();
            }));
}

/// Stores mail and answers its senders when it is durable. Mail not pushed yet
/// (`pushed` false) is pushed once committed, or left to the backlog pages.
void put_mail(user_pointer self, mail_to_store mail, bool pushed) {
  auto& st = self->state;
  std::shared_ptr<std::vector<envelope>> later; // pushed only once committed
  if (!pushed)
    later = std::make_shared<std::vector<envelope>>(mail.mail);
  auto replies = std::move(mail.replies);
  ++st.store_calls;
  self->request(st.deps->store, caf::infinite, put_atom::value, std::move(mail.mail), true)
      .then(store_reply<std::vector<put_result>>(
                self,
                [=](std::vector<put_result>& stored) mutable {
                  for (size_t i = 0; i < replies.size(); ++i)
                    replies[i].deliver(i < stored.size()
                                           ? mail_pipeline::put_answer(stored[i])
                                           : error_reply(errc::internal, "the store lost a put"));
                  if (!later)
                    return;
                  auto& st = self->state;
                  push(self, st.mail->committed(*later, stored, pushes_now(st)));
                }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              if (later)
                self->state.mail->put_failed(later->size());
              for (auto& rp : replies) {
                metrics::get().refused(to_failure(err).code);
                rp.deliver(error_reply(err));
              }
            }));
}

/// Stores held mail: all of it, or only what waited its whole ack window. Held mail is
/// older than any mail stored or paged after it, so every other put and every page
/// request of this user comes after `store_held(self, true)`.
void store_held(user_pointer self, bool all) {
  auto due = self->state.mail->take_held(all, self->clock().now());
  if (!due.empty())
    put_mail(self, std::move(due), true);
}

void arm_held_timer(user_pointer self) {
  if (auto deadline = self->state.mail->held_timer_due()) {
    auto wait = *deadline - self->clock().now();
    self->delayed_send(self, std::max(wait, decltype(wait)::zero()), held_atom::value);
  }
}

/// Stores the mail of the delivers just handled and pushes it, as the pipeline decides:
/// pushed at once and held for the device's ack (mail acked in time never reaches the
/// store), or stored first. Each sender hears `accepted` when its mail is acked or durable.
void store_incoming(user_pointer self) {
  auto& st = self->state;
  if (st.incoming.empty())
    return;
  auto incoming = std::move(st.incoming);
  st.incoming.clear();
  auto plan = st.mail->deliver(std::move(incoming), owner_of(st), pushes_now(st), st.deps->now_ms(),
                               self->clock().now());
  push(self, std::move(plan.push));
  if (plan.arm_held_timer)
    arm_held_timer(self);
  if (!plan.flush.empty())
    put_mail(self, std::move(plan.flush), true);
  if (!plan.put.empty())
    put_mail(self, std::move(plan.put), plan.put_pushed);
}

void ack(user_pointer self, const ack_request& req, reply_to rp) {
  auto& st = self->state;
  metrics::get().mail_delivered.Increment(static_cast<double>(req.keys.size()));
  auto plan = st.mail->ack(st.id, req.keys);
  // The next page can be read while this ack commits: pages follow the drain cursor.
  if (plan.read_page)
    drain(self);
  // Held mail is done with here: its sender heard accepted, nothing is written.
  if (!plan.receipts.empty())
    send_entities(self, std::move(plan.receipts));
  if (plan.delete_stored.empty()) {
    rp.deliver(ok_reply());
    if (st.mail->wants_read())
      drain(self);
    return;
  }
  ++st.store_calls;
  self->request(st.deps->store, caf::infinite, ack_atom::value, std::move(plan.delete_stored))
      .then(store_reply<std::vector<envelope>>(self,
                                               [=](std::vector<envelope>& removed) mutable {
                                                 auto& st = self->state;
                                                 auto receipts =
                                                     mail_pipeline::receipts_for(st.id, removed);
                                                 if (!receipts.empty())
                                                   send_entities(self, std::move(receipts));
                                                 rp.deliver(ok_reply());
                                                 if (st.mail->wants_read())
                                                   drain(self);
                                               }),
            store_reply<caf::error>(
                self, [=](caf::error& err) mutable { rp.deliver(error_reply(err)); }));
}

/// Presence is written once per attach and deleted at the detach: the attached session's
/// node heartbeats for it.
void write_presence(user_pointer self, const endpoint& session) {
  auto& st = self->state;
  caf::anon_send(st.deps->kv, kv_put_atom::value, kv_space::presence, key_of(st.id),
                 encode_presence({session.node, session.incarnation, st.deps->now_ms()}));
}

/// Forgets the attached session and records when the account was last seen.
void detach_session(user_pointer self, uint64_t last_seen_ms) {
  auto& st = self->state;
  st.life.arm_idle(self); // without a session, the actor stops once unused
  end_calls(self, call_outcome::ended, false);
  st.session.reset();
  auto held = st.mail->detached(self->clock().now()); // no ack can come now
  if (!held.empty())
    put_mail(self, std::move(held), true);
  caf::anon_send(st.deps->kv, kv_delete_atom::value, kv_space::presence, key_of(st.id));
  caf::anon_send(st.deps->kv, kv_put_atom::value, kv_space::last_seen, key_of(st.id),
                 last_seen_value(last_seen_ms));
}

/// Keeps the last few closed endpoints: an attach that arrives after its session's detach
/// (they come by different paths) must not make the account look online.
void remember_gone(user_state& st, const endpoint& session) {
  constexpr size_t keep = 4;
  if (st.gone.size() == keep)
    st.gone.erase(st.gone.begin());
  st.gone.push_back(session);
}

void attach(user_pointer self, const endpoint& session, reply_to rp) {
  auto& st = self->state;
  if (st.banned) {
    rp.deliver(error_reply(errc::banned));
    return;
  }
  if (std::find(st.gone.begin(), st.gone.end(), session) != st.gone.end()) {
    rp.deliver(error_reply(errc::unavailable, "the session is gone"));
    return;
  }
  if (st.session && !(*st.session == session))
    st.deps->service->push(
        *st.session, user_kind,
        caf::make_message(kick_atom::value, st.id, static_cast<uint16_t>(errc::session_replaced)));
  st.session = session;
  ++st.attachment;
  st.mail->attached();
  write_presence(self, session);
  check_quiet(self);
  rp.deliver(ok_reply(attach_reply{{st.id, st.account->name, st.account->role},
                                   st.deps->service->node_id(),
                                   st.deps->service->incarnation(),
                                   frozen(st),
                                   st.asleep,
                                   st.contacts.parent()}));
  drain(self);
  fetch_locations(self);
}

/// Pushes the next page of stored mail after the drain cursor. Pages are bounded in count
/// and bytes, and at most `drain_pages_in_flight` are out unacked, so a long offline backlog
/// never floods the connection. While pages remain, new mail is not pushed live (it comes
/// in its page, in order); once the last page is out, new mail is pushed as it arrives.
void drain(user_pointer self) {
  auto& st = self->state;
  if (!pushes_now(st))
    return;
  auto start = st.mail->start_page(self->clock().now());
  if (!start)
    return;
  if (!start->flush.empty()) // pushed to an earlier session, or never acked: paged in order
    put_mail(self, std::move(start->flush), true);
  auto attachment = st.attachment;
  auto after = start->after;
  page_after(self, after)
      .then(store_reply<mail_page>(
                self,
                [=](mail_page& page) {
                  auto& st = self->state;
                  if (st.attachment != attachment || !st.session) {
                    st.mail->page_dropped();
                    drain(self); // a new session attached meanwhile: start its drain
                    return;
                  }
                  log::get("user")->debug("event=drain_page account={} after={} count={} more={}",
                                          st.id, after, page.mail.size(), page.more);
                  auto plan = st.mail->page_read(page, owner_of(st));
                  push(self, std::move(plan.push));
                  if (!plan.strays.empty()) // from contacts removed since it was stored
                    discard(self, std::move(plan.strays));
                  if (plan.again)
                    drain(self);
                }),
            store_reply<caf::error>(self, [=](caf::error& err) {
              auto& st = self->state;
              st.mail->page_failed(); // not through: the redeliver check pages it again
              arm_redeliver(self);
              log::get("user")->warn("event=drain_failed id={} code={}", st.id,
                                     errc_name(to_failure(err).code));
            }));
}

/// Pushes again what the attached session has not acked within `redeliver_after`. Pushes
/// cross nodes as plain NATS messages, which a server failing over may lose: a backlog
/// page that never arrived stalls the drain (no ack comes to pull the next page), and
/// mail pushed live and then stored would wait for the next login. The device drops what
/// it already has by id.
void redeliver(user_pointer self) {
  auto& st = self->state;
  switch (st.mail->check_due()) {
  case mail_pipeline::check::wait:
    return arm_redeliver(self);
  case mail_pipeline::check::page_again:
    return drain(self);
  case mail_pipeline::check::read_all:
    break;
  }
  auto attachment = st.attachment;
  page_after(self, 0).then(
      store_reply<mail_page>(self,
                             [=](mail_page& page) {
                               auto& st = self->state;
                               if (st.attachment != attachment || !st.session)
                                 return;
                               auto plan = st.mail->recheck(page, owner_of(st), st.deps->now_ms());
                               if (!plan.strays.empty())
                                 discard(self, std::move(plan.strays));
                               if (plan.arm)
                                 arm_redeliver(self);
                               push(self, std::move(plan.again));
                             }),
      store_reply<caf::error>(self, [=](caf::error&) { arm_redeliver(self); }));
}

} // namespace kinbox::user_parts
