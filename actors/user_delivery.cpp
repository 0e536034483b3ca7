// The user actor's mail: who may write to the account, the ack window (held_window), the
// store's puts and acks with their receipts, the drain of the backlog (backlog_pager),
// redelivery of what was not acked, purges, and attaching a session.
#include "actors/user_parts.hpp"

namespace kinbox::user_parts {

mail_push to_push(const envelope& e) {
  return mail_push{e.kind, e.sender, e.id, e.stored_at_ms, e.payload};
}

void arm_redeliver(user_pointer self) {
  auto& st = self->state;
  if (!st.session)
    return;
  if (auto wait = st.ack_checks->arm())
    self->delayed_send(self, *wait, redeliver_atom::value, st.attachment);
}

void push(user_pointer self, std::vector<mail_push> mail) {
  auto& st = self->state;
  if (!st.session || mail.empty())
    return;
  // Locations are never acked; everything else is checked for its ack later.
  if (std::any_of(mail.begin(), mail.end(), [](auto& m) { return m.kind != mail_kind::location; }))
    arm_redeliver(self);
  st.deps->service->push(*st.session, user_kind,
                         caf::make_message(push_atom::value, st.id, std::move(mail)));
}

/// A child without a parent (its parent deleted its account or unlinked it) is frozen: it
/// logs in, reads what is not a message, exports, and waits for a new parent's link code.
bool frozen(const user_state& st) {
  return st.account && st.account->role == account_role::child && st.contacts.parent() == 0;
}

/// Stored messages of a frozen child stay stored: neither pushed nor dropped, they come
/// once a parent links it (or expire).
bool held_back(const user_state& st, const envelope& e) {
  return e.kind == mail_kind::message && frozen(st);
}

/// Whether mail of `kind` from `sender` may reach this account now: messages only from
/// friends and its linked parent or children, and not to a frozen child; notices only
/// from the families of its children, or from this actor itself (about a child that
/// left); receipts are made by servers.
bool admits(const user_state& st, account_id sender, mail_kind kind) {
  switch (kind) {
  case mail_kind::message:
    return knows(st, sender) && !frozen(st);
  case mail_kind::notice:
    return st.contacts.children().count(sender) != 0 || sender == st.id;
  case mail_kind::location:
    return false; // pushed from the family's memory, never through the mailbox
  case mail_kind::delivered:
  case mail_kind::expired:
    return true;
  }
  return false;
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

/// Deletes the stored mail of `sender` (all of it if nullopt), page by page from `after`;
/// `then` runs at the end (also when the store failed: paging drops what is left of a
/// removed contact's mail).
void purge_mail(user_pointer self, std::optional<account_id> sender, uint64_t after,
                std::function<void()> then) {
  page_after(self, after)
      .then(store_reply<mail_page>(self,
                                   [=](mail_page& page) {
                                     std::vector<mail_ref> refs;
                                     for (auto& e : page.mail)
                                       if (!sender || e.sender == *sender)
                                         refs.push_back({e.recipient, {e.kind, e.sender, e.id}});
                                     auto last = page.mail.empty() ? after : page.mail.back().seq;
                                     auto next = [=] {
                                       if (page.more)
                                         purge_mail(self, sender, last, then);
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

/// Stores mail and answers its senders when it is durable or acked. Mail not pushed yet
/// (`pushed` false) is pushed once committed, or left to the backlog pages.
void put_mail(user_pointer self, std::vector<envelope> mail, std::vector<reply_to> replies,
              bool pushed) {
  auto& st = self->state;
  // Mail pushed only once committed.
  std::shared_ptr<std::vector<envelope>> later;
  if (!pushed) {
    later = std::make_shared<std::vector<envelope>>(mail);
    st.deferred += mail.size();
  }
  ++st.store_calls;
  self->request(st.deps->store, caf::infinite, put_atom::value, std::move(mail), true)
      .then(
          store_reply<std::vector<put_result>>(self, [=](std::vector<put_result>& stored) mutable {
            for (size_t i = 0; i < replies.size(); ++i)
              replies[i].deliver(stored[i] == put_result::over_cap
                                     ? error_reply(errc::mailbox_cap,
                                                   "the recipient has too much undelivered mail")
                                     : ok_reply());
            if (!later)
              return;
            auto& st = self->state;
            st.deferred -= later->size();
            if (!st.session)
              return;
            // A session attached (or a backlog was paged) while these puts waited: the page
            // it read may or may not hold this mail, so let a page bring it or push it now.
            std::vector<mail_push> now_committed;
            for (size_t i = 0; i < later->size(); ++i) {
              if (stored[i] != put_result::stored)
                continue;
              if (st.backlog.paging())
                st.backlog.mail_stored_meanwhile();
              else
                now_committed.push_back(to_push((*later)[i]));
            }
            push(self, std::move(now_committed));
          }),
          store_reply<caf::error>(self, [=](caf::error& err) mutable {
            if (later)
              self->state.deferred -= later->size();
            for (auto& rp : replies)
              rp.deliver(error_reply(err));
          }));
}

/// Stores held mail: all of it, or only what waited its whole ack window. Held mail is
/// older than any mail stored or paged after it, so every other put and every page
/// request of this user comes after `store_held(self, true)`.
void store_held(user_pointer self, bool all) {
  auto& st = self->state;
  if (st.held.empty())
    return;
  auto due = st.held.take(all, self->clock().now(), *st.deps->held);
  if (!due.empty())
    put_mail(self, std::move(due.mail), std::move(due.replies), true);
}

void arm_held_timer(user_pointer self) {
  auto& st = self->state;
  auto deadline = st.held.next_deadline();
  if (st.held_timer || !deadline)
    return;
  st.held_timer = true;
  auto wait = *deadline - self->clock().now();
  self->delayed_send(self, std::max(wait, decltype(wait)::zero()), held_atom::value);
}

/// Holds mail just pushed to the device until its ack (the ack window), so mail acked in
/// time never reaches the store. All or nothing: false, holding nothing, when the window
/// is off or the user's or the node's bound would be passed.
bool hold(user_pointer self, std::vector<envelope>& mail, std::vector<reply_to>& replies) {
  auto& st = self->state;
  if (st.deps->ack_window.count() == 0 ||
      !st.held.hold(mail, replies, self->clock().now() + st.deps->ack_window,
                    st.deps->max_held_per_user, *st.deps->held))
    return false;
  arm_held_timer(self);
  return true;
}

/// Stores the mail of the delivers just handled and pushes it. With no backlog being
/// paged, the push goes out at once and the mail is held here for the device's ack (the
/// ack window): mail acked in time never reaches the store. Each sender hears `accepted`
/// when its mail is acked or durable.
void store_incoming(user_pointer self) {
  auto& st = self->state;
  if (st.incoming.empty())
    return;
  auto incoming = std::move(st.incoming);
  st.incoming.clear();
  auto now = st.deps->now_ms();
  auto expires = now + static_cast<uint64_t>(st.deps->mail_ttl.count());
  // Early only when nothing older is still on its way to the device, to keep the order.
  // Mail pushed at once is held for its ack; otherwise it is pushed once committed (or
  // brought by a backlog page).
  bool push_now = st.session && !st.backlog.paging() && st.deferred == 0;
  std::vector<envelope> mail;
  std::vector<reply_to> replies;
  std::vector<mail_push> early;
  for (auto& in : incoming) {
    if (!admits(st, in.sender, in.body.kind)) {
      in.rp.deliver(error_reply(errc::not_found));
      continue;
    }
    // The ids a notice names are the parent's business: sealed to its box key, they
    // reach neither a disk nor another node in the clear.
    if (in.body.kind == mail_kind::notice)
      in.body.payload = crypto::seal_for(in.body.payload, st.account->box_key);
    mail.push_back(envelope{st.id, in.body.kind, in.body.id, in.sender, now, expires,
                            std::move(in.body.payload)});
    replies.push_back(std::move(in.rp));
    if (push_now)
      early.push_back(to_push(mail.back()));
  }
  push(self, std::move(early));
  if (mail.empty() || (push_now && hold(self, mail, replies)))
    return;
  store_held(self, true);
  put_mail(self, std::move(mail), std::move(replies), push_now);
}

/// Adds the `delivered` receipt of the mail `k` names for its sender, if it is a message.
void add_receipt(std::vector<entity_request>& out, account_id self_id, const mail_key& k) {
  if (k.kind == mail_kind::message)
    out.push_back(user_request<user_op::deliver>(k.sender, self_id, {mail_kind::delivered, k.id, {}}));
}

void ack(user_pointer self, const ack_request& req, reply_to rp) {
  auto& st = self->state;
  st.ack_checks->acked();
  // The next page can be read while this ack commits: pages follow the drain cursor.
  st.backlog.acked(req.keys);
  if (st.backlog.more())
    drain(self);
  // Held mail is done with here: its sender hears accepted, nothing is written.
  std::vector<entity_request> receipts;
  std::vector<mail_ref> refs;
  for (auto& k : req.keys) {
    if (st.held.ack(k, *st.deps->held))
      add_receipt(receipts, st.id, k);
    else
      refs.push_back(mail_ref{st.id, k});
  }
  if (!receipts.empty())
    send_entities(self, std::move(receipts));
  if (refs.empty()) {
    rp.deliver(ok_reply());
    if (st.backlog.wants_read())
      drain(self);
    return;
  }
  ++st.store_calls;
  self->request(st.deps->store, caf::infinite, ack_atom::value, std::move(refs))
      .then(store_reply<std::vector<envelope>>(self,
                                               [=](std::vector<envelope>& removed) mutable {
                                                 std::vector<entity_request> receipts;
                                                 for (auto& e : removed)
                                                   add_receipt(receipts, self->state.id,
                                                               {e.kind, e.sender, e.id});
                                                 if (!receipts.empty())
                                                   send_entities(self, std::move(receipts));
                                                 rp.deliver(ok_reply());
                                                 if (self->state.backlog.wants_read())
                                                   drain(self);
                                               }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              rp.deliver(error_reply(err));
            }));
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
  st.session.reset();
  st.backlog.restart();
  store_held(self, true); // no ack can come now
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
    st.deps->service->push(*st.session, user_kind,
                           caf::make_message(kick_atom::value, st.id,
                                             static_cast<uint16_t>(errc::session_replaced)));
  st.session = session;
  ++st.attachment;
  st.backlog.restart();
  st.ack_checks->attached();
  write_presence(self, session);
  rp.deliver(ok_reply(attach_reply{{st.id, st.account->name, st.account->role},
                                   st.deps->service->node_id(),
                                   st.deps->service->incarnation(),
                                   frozen(st)}));
  drain(self);
  fetch_locations(self);
}

/// Pushes the next page of stored mail after the drain cursor. Pages are bounded in count
/// and bytes, and at most `drain_pages_in_flight` are out unacked, so a long offline backlog
/// never floods the connection. While pages remain, new mail is not pushed live (it comes
/// in its page, in order); once the last page is out, new mail is pushed as it arrives.
void drain(user_pointer self) {
  auto& st = self->state;
  if (!st.session || !st.backlog.may_read(st.deps->drain_pages_in_flight))
    return;
  auto attachment = st.attachment;
  store_held(self, true); // pushed to an earlier session, or never acked: page it in order
  page_after(self, st.backlog.start_read())
      .then(
          store_reply<mail_page>(self, [=](mail_page& page) {
            auto& st = self->state;
            if (st.attachment != attachment || !st.session) {
              st.backlog.read_dropped();
              drain(self); // a new session attached meanwhile: start its drain
              return;
            }
            std::vector<mail_push> pushes;
            std::vector<mail_key> keys;
            std::vector<mail_ref> strays; // from contacts removed since it was stored
            pushes.reserve(page.mail.size());
            keys.reserve(page.mail.size());
            for (auto& e : page.mail)
              if (held_back(st, e))
                continue;
              else if (admits(st, e.sender, e.kind)) {
                pushes.push_back(to_push(e));
                keys.push_back({e.kind, e.sender, e.id});
              } else {
                strays.push_back({st.id, {e.kind, e.sender, e.id}});
              }
            log::get("user")->debug("event=drain_page account={} after={} count={} more={}", st.id,
                                    st.backlog.cursor(), page.mail.size(), page.more);
            bool again = st.backlog.page_read(keys, page.mail.empty() ? 0 : page.mail.back().seq,
                                              page.more);
            push(self, std::move(pushes));
            if (!strays.empty())
              discard(self, std::move(strays));
            if (again)
              drain(self);
          }),
          store_reply<caf::error>(self, [=](caf::error& err) {
            auto& st = self->state;
            st.backlog.read_failed(); // not through: the redeliver check pages it again
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
  if (st.backlog.reading())
    return arm_redeliver(self);
  if (st.backlog.more() || st.backlog.pages_out()) {
    if (st.ack_checks->progress())
      return arm_redeliver(self);
    // No ack for a whole wait while backlog pages are out: page it again from the start.
    st.ack_checks->back_off();
    st.backlog.restart();
    return drain(self);
  }
  // The backlog is through: stored mail older than the wait was pushed and not acked.
  auto attachment = st.attachment;
  page_after(self, 0).then(
      store_reply<mail_page>(self,
                             [=](mail_page& page) {
                               auto& st = self->state;
                               if (st.attachment != attachment || !st.session)
                                 return;
                               if (st.backlog.paging())
                                 return arm_redeliver(self); // the drain's acks show later
                               auto wait = static_cast<uint64_t>(st.ack_checks->base().count());
                               auto now = st.deps->now_ms();
                               std::vector<mail_push> again;
                               std::vector<mail_ref> strays;
                               bool owed = false; // admitted mail is stored, due or not
                               for (auto& e : page.mail) {
                                 if (held_back(st, e))
                                   continue;
                                 if (!admits(st, e.sender, e.kind)) {
                                   strays.push_back({st.id, {e.kind, e.sender, e.id}});
                                   continue;
                                 }
                                 owed = true;
                                 if (e.stored_at_ms + wait <= now)
                                   again.push_back(to_push(e));
                               }
                               if (!strays.empty())
                                 discard(self, std::move(strays));
                               if (!again.empty())
                                 st.ack_checks->back_off();
                               // Mail still held, or waiting for its commit, may be stored
                               // unacked after this read: look again.
                               if (owed || !st.held.empty() || st.deferred > 0)
                                 arm_redeliver(self);
                               push(self, std::move(again));
                             }),
      store_reply<caf::error>(self, [=](caf::error&) { arm_redeliver(self); }));
}

} // namespace kinbox::user_parts
