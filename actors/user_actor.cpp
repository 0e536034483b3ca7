#include "actors/user_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <sodium.h>

#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "actors/account_export.hpp"
#include "actors/backlog_pager.hpp"
#include "actors/contacts.hpp"
#include "actors/family_actor.hpp"
#include "actors/held_window.hpp"
#include "actors/profile.hpp"
#include "actors/safety.hpp"
#include "cluster/entity_client.hpp"
#include "cluster/reply_to.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

/// After this long without a request and without a session, an account's actor drops what
/// it loaded (and loads it again with the next request), and the actor of an id without
/// an account stops: a stranger cannot tell an unused id from an account by whether its
/// state is in memory (docs/architecture.md, "No probing"). The account's actor itself
/// stays: sessions and other actors keep its handle.
constexpr auto idle_time = entity_idle_time;
/// How long a released actor stays after its release, answering `moved` (with the
/// bodies) to batches sent by clients that still had its handle.
constexpr auto moved_linger = std::chrono::seconds(2);
constexpr uint8_t presence_format = 1;
/// Link-code secrets have 10 decimal digits.
constexpr uint64_t link_secret_span = 10'000'000'000ull;

/// Mail handed to this user by a deliver request, stored together with the rest of its
/// batch.
struct incoming_mail {
  account_id sender;
  deliver_body body;
  reply_to rp;
};

/// What a notification or receipt to another entity was, for the log if it fails.
struct notice {
  uint8_t op;
  std::function<void(entity_reply&)> then; ///< for the few requests whose answer matters
};

/// A link code this parent made: one at a time, single use, short-lived.
struct link_code {
  uint64_t secret = 0;
  uint64_t expires_ms = 0;
  uint32_t wrong_tries = 0; ///< wrong secrets it met
  std::string pin_hash;     ///< of the PIN the parent gave; the family keeps it once redeemed
};

/// Wrong secrets against one link code after which its parent is told.
constexpr uint32_t link_code_attack_tries = 5;

struct user_state {
  account_id id = 0;
  std::shared_ptr<const user_deps> deps; ///< one for all user actors of the node
  std::optional<account_record> account;
  contact_list_state contacts;
  std::optional<link_code> code; ///< a parent's link code waiting to be redeemed
  bool contacts_expired = false; ///< pending entries expired; persist with the next change
  bool load_failed = false;
  bool banned = false; ///< an operator banned the account while this actor ran
  /// The device info kept in the profile, once read (the rest of the profile, with its
  /// avatar, is read from KV when asked for: an idle user keeps no image in memory).
  std::optional<device_info> device;
  std::optional<endpoint> session; ///< the attached session, on whichever node
  std::vector<endpoint> gone;      ///< sessions that closed lately (their detach came)
  uint64_t attachment = 0;         ///< counts attaches: a page read for an earlier one is stale
  backlog_pager backlog;               ///< the drain of stored mail to the session
  size_t deferred = 0;                 ///< mail waiting for its commit before it is pushed
  bool redeliver_timer = false;        ///< a redeliver_atom is on its way
  uint64_t acks = 0;                   ///< ack requests handled
  uint64_t acks_at_check = 0;          ///< `acks` when the redeliver timer was armed
  uint8_t redeliver_backoff = 0;       ///< doublings of the redeliver wait since the last ack
  std::vector<incoming_mail> incoming; ///< delivers of the requests being handled
  held_window held;        ///< pushed, waiting for the device's ack
  bool held_timer = false; ///< a held_atom is on its way
  uint64_t last_used_ms = 0; ///< when the last request came
  bool idle_timer = false;   ///< an idle_atom is on its way
  bool unloaded = false;     ///< idle: account and contacts are loaded with the next request
  /// Notifications and receipts to other entities; made on first use (an idle user makes
  /// none and should not pay for its maps).
  std::unique_ptr<entity_client<notice>> client;
  size_t store_calls = 0; ///< store and KV writes not answered yet
  /// Set by `release`: the shard moves, the actor answers `moved` and stops once its
  /// store calls and outgoing requests are done.
  std::optional<caf::typed_response_promise<bool>> leaving;
  bool stopped = false; ///< the release was answered; the actor is quitting
  static inline const char* name = "kinbox.user";
};

using user_pointer = user_actor::stateful_pointer<user_state>;

std::string key_of(account_id id) {
  return std::to_string(id);
}

bytes last_seen_value(uint64_t ms) {
  bytes out;
  wire::writer{out}.u64(ms);
  return out;
}

uint64_t read_last_seen(const bytes& value) {
  wire::reader r{value};
  uint64_t ms = 0;
  return r.u64(ms) ? ms : 0;
}

void drain(user_pointer self);

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

void finish_leaving(user_pointer self);

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

void send_entity(user_pointer self, account_id to, user_op op, bytes body = {}) {
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

/// A handler of a store (or KV write) reply of type T that counts the call as answered: a
/// leaving actor waits for its writes (counted up where they are made).
template <class T, class F>
auto store_reply(user_pointer self, F f) {
  return [self, f = std::move(f)](T& x) mutable {
    --self->state.store_calls;
    f(x);
    finish_leaving(self);
  };
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

void apply_contact_effect(user_pointer self, contact_effect effect, account_id other, reply_to rp,
                          std::function<void(reply_to)> done = {});
void purge_mail(user_pointer self, std::optional<account_id> sender, uint64_t after,
                std::function<void()> then);

/// A child's friend step waits for its parent: the family records it, or answers that the
/// child may add friends alone (then the step goes on at once).
void ask_parent(user_pointer self, account_id other, reply_to rp) {
  auto entries = self->state.contacts.entries();
  auto i = entries.find(other);
  ask_family(self, self->state.id, family_op::approval_needed,
             encode_account_flag({other, i != entries.end() && i->second.ours}),
             [=](entity_reply& r) mutable {
    if (!r.ok())
      return rp.deliver(error_reply(r.to_failure())); // still waiting; asking again retries
    if (r.body.size() == 1 && r.body[0] == 1)
      return apply_contact_effect(self,
                                  self->state.contacts.parent_approved(other, self->state.deps->now_ms()),
                                  other, std::move(rp));
    rp.deliver(ok_reply());
  });
}

/// Writes the contact list to KV (counted as a store call: a moving actor waits for it, and
/// the next owner reads the list from KV).
auto put_contacts(user_pointer self) {
  auto& st = self->state;
  st.contacts_expired = false;
  ++st.store_calls;
  return self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::contacts,
                       key_of(st.id), st.contacts.encode());
}

/// Accounts this one blocked and that were deleted since leave its list: a blocked account
/// does not know who blocked it, so its deletion tells no blocker; each load looks instead
/// (one KV read per block).
void forget_deleted_blocks(user_pointer self) {
  auto& st = self->state;
  for (auto& [other, e] : st.contacts.entries()) {
    if (e.state != contact_state::blocked)
      continue;
    auto gone = other;
    self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                  key_of(gone))
        .then(
            [=](kv_lookup& account) {
              auto& st = self->state;
              if (account.found || !st.account || !st.contacts.forget(gone))
                return;
              log::get("user")->debug("event=deleted_block_forgotten account={}", st.id);
              put_contacts(self).then(store_reply<bool>(self, [](bool) {}),
                                      store_reply<caf::error>(self, [](caf::error&) {}));
            },
            [](caf::error&) {}); // the next load looks again
  }
}

/// Persists the contact list, then tells `other` what the effect asks and answers `rp`
/// (or hands it to `done`, which goes on and answers it).
void apply_contact_effect(user_pointer self, contact_effect effect, account_id other, reply_to rp,
                          std::function<void(reply_to)> done) {
  auto& st = self->state;
  auto answer = [done](reply_to rp) {
    if (done)
      done(std::move(rp));
    else
      rp.deliver(ok_reply());
  };
  if (effect == contact_effect::none && !st.contacts_expired)
    return answer(std::move(rp));
  put_contacts(self)
      .then(
          store_reply<bool>(self, [=](bool) mutable {
            switch (effect) {
            case contact_effect::notify_request:
              send_entity(self, other, user_op::friend_request);
              break;
            case contact_effect::notify_accept:
              send_entity(self, other, user_op::friend_accepted);
              break;
            case contact_effect::notify_decline:
              send_entity(self, other, user_op::friend_declined);
              break;
            case contact_effect::notify_remove:
              send_entity(self, other, user_op::friend_removed);
              break;
            case contact_effect::ask_parent:
              return ask_parent(self, other, std::move(rp));
            default:
              break;
            }
            answer(std::move(rp));
          }),
          store_reply<caf::error>(self, [=](caf::error& err) mutable {
            rp.deliver(error_reply(err));
          }));
}

/// A notice for this child's linked parent (as its family sends them).
void notify_parent(user_pointer self, notice_type type, account_id other, uint64_t value) {
  auto& st = self->state;
  if (st.contacts.parent() == 0)
    return;
  message_id id{};
  randombytes_buf(id.data(), id.size());
  bytes payload;
  write_body(payload, notice_body{type, st.id, other, value});
  send_entity(self, st.contacts.parent(), user_op::deliver,
              encode_deliver({mail_kind::notice, id, std::move(payload)}));
}

/// Appends the report to the reports stream; once it is durable, the list remembers it
/// (one open report per target), the reporter's parent is told, and `rp` hears ok.
void file_report(user_pointer self, const report_record& rec, reply_to rp) {
  auto& st = self->state;
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, report_atom::value, encode_report(rec))
      .then(store_reply<uint64_t>(self,
                                  [=](uint64_t seq) mutable {
                                    log::get("user")->info(
                                        "event=report_filed seq={} reporter={} reported={} "
                                        "category={}",
                                        seq, rec.reporter, rec.reported,
                                        report_category_name(rec.category));
                                    self->state.contacts.reported(rec.reported);
                                    put_contacts(self).then(
                                        store_reply<bool>(self, [](bool) {}),
                                        store_reply<caf::error>(self, [](caf::error&) {}));
                                    notify_parent(self, notice_type::reported, rec.reported,
                                                  static_cast<uint64_t>(rec.category));
                                    rp.deliver(ok_reply());
                                  }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              auto code = to_failure(err).code;
              log::get("user")->warn("event=report_not_filed reporter={} code={}", rec.reporter,
                                     errc_name(code));
              rp.deliver(error_reply(errc::unavailable,
                                     "the contact is blocked; the report could not be filed "
                                     "now, send it again"));
            }));
}

/// A notice this parent's own actor stores for it: about a child that is no child any
/// more (its family may not send it one), or about its own link code.
void notify_self(user_pointer self, notice_type type, account_id child, account_id other,
                 uint64_t value) {
  auto& st = self->state;
  message_id id{};
  randombytes_buf(id.data(), id.size());
  bytes payload;
  write_body(payload, notice_body{type, child, other, value});
  send_entity(self, st.id, user_op::deliver,
              encode_deliver({mail_kind::notice, id, std::move(payload)}));
}

/// Blocks `other` at once and purges its mail (as contact_block does), then files the
/// report in the reports stream; a child's parent is told. One report per target while
/// the block holds, and a few a day per account (past that, `rate_limited` with the block
/// in place). A report of an id without an account is answered the same and not stored.
/// A report that cannot be filed is answered `unavailable` with the block in place: sent
/// again, it is filed then.
void report(user_pointer self, account_id other, report_category category, reply_to rp) {
  auto& st = self->state;
  auto now = st.deps->now_ms();
  auto effect = st.contacts.block(other, now);
  auto filing = st.contacts.may_report(other, now, st.deps->friend_limits);
  report_record rec{st.id, other, category, now, st.account->role, st.contacts.parent()};
  purge_mail(self, other, 0, [=]() mutable {
    apply_contact_effect(self, effect, other, std::move(rp), [=](reply_to rp) mutable {
      if (!filing)
        return rp.deliver(error_reply(filing.error()));
      if (!*filing)
        return rp.deliver(ok_reply()); // filed already while this block holds
      auto& st = self->state;
      self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                    key_of(other))
          .then(
              [=](kv_lookup& target) mutable {
                if (!target.found)
                  return rp.deliver(ok_reply()); // nothing to moderate; nothing stored
                file_report(self, rec, std::move(rp));
              },
              [=](caf::error&) mutable {
                rp.deliver(error_reply(errc::unavailable,
                                       "the contact is blocked; the report could not be filed "
                                       "now, send it again"));
              });
    });
  });
}

/// Answers a contact step the state machine refused (a limit), or applies its effect.
void apply_contact_result(user_pointer self, const result<contact_effect>& effect,
                          account_id other, reply_to rp) {
  if (!effect) {
    log::get("user")->info("event=friend_request_refused account={} code={}", self->state.id,
                           errc_name(effect.error().code));
    rp.deliver(error_reply(effect.error()));
    return;
  }
  apply_contact_effect(self, *effect, other, std::move(rp));
}

mail_push to_push(const envelope& e) {
  return mail_push{e.kind, e.sender, e.id, e.stored_at_ms, e.payload};
}

void arm_redeliver(user_pointer self) {
  auto& st = self->state;
  if (st.redeliver_timer || !st.session)
    return;
  st.redeliver_timer = true;
  st.acks_at_check = st.acks;
  self->delayed_send(self, st.deps->redeliver_after * (1u << st.redeliver_backoff),
                     redeliver_atom::value, st.attachment);
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

bool knows(const user_state& st, account_id other);

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
    ask_family(self, child, family_op::location_latest, {}, [=](entity_reply& r) {
      auto& st = self->state;
      if (!r.ok() || r.body.empty() || st.attachment != attachment)
        return;
      if (auto loc = decode_location(r.body))
        push(self, {location_push(child, *loc)});
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
void discard(user_pointer self, std::vector<mail_ref> refs, std::function<void()> then = {}) {
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

/// Requests the page of this account's stored mail after `after` (counted as a store call:
/// a leaving actor waits for it).
auto page_after(user_pointer self, uint64_t after) {
  auto& st = self->state;
  ++st.store_calls;
  return self->request(st.deps->store, caf::infinite, pending_atom::value, st.id, after,
                       static_cast<uint64_t>(st.deps->drain_page_count),
                       static_cast<uint64_t>(st.deps->drain_page_bytes));
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
    out.push_back({user_kind, k.sender, static_cast<uint8_t>(user_op::deliver), self_id,
                   encode_deliver({mail_kind::delivered, k.id, {}})});
}

void ack(user_pointer self, const ack_request& req, reply_to rp) {
  auto& st = self->state;
  ++st.acks;
  st.redeliver_backoff = 0;
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

/// Whether `other` showed itself to this account: a friend, or one that asked it to be
/// friends (its name is then no secret to the one it asked). A request this account made
/// to an id shows nothing of who holds the id.
bool shows_name(const contact_list_state::entry& e) {
  return e.state == contact_state::friends || e.state == contact_state::incoming ||
         (e.state == contact_state::awaiting_parent && (!e.ours || e.they_asked));
}

/// The contact list with the current names of those who showed themselves, and the
/// linked parent or children (read from KV at every listing, so a rename shows at once).
void list_contacts(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto result = std::make_shared<contact_list>();
  std::vector<size_t> named;
  for (auto& [id, e] : st.contacts.entries()) {
    if (shows_name(e))
      named.push_back(result->entries.size());
    result->entries.push_back(contact_entry{id, e.state, {}});
  }
  auto family = [&](account_id id, contact_state state) {
    named.push_back(result->entries.size());
    result->entries.push_back(contact_entry{id, state, {}});
  };
  if (st.contacts.parent() != 0)
    family(st.contacts.parent(), contact_state::parent);
  for (auto child : st.contacts.children())
    family(child, contact_state::child);
  if (named.empty())
    return rp.deliver(ok_reply(encode_body(*result)));
  auto remaining = std::make_shared<size_t>(named.size());
  for (auto i : named) {
    auto finish = [=]() mutable {
      if (--*remaining == 0)
        rp.deliver(ok_reply(encode_body(*result)));
    };
    self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                  key_of(result->entries[i].id))
        .then(
            [=](kv_lookup& acc) mutable {
              if (acc.found)
                if (auto a = decode_account(acc.value))
                  result->entries[i].name = a->name;
              finish();
            },
            [=](caf::error&) mutable { finish(); });
  }
}

void read_profile(user_pointer self, std::function<void(std::optional<profile_record>)> then);

/// Who this account is, for the parent of child `asker` weighing a friend step with it:
/// only if this account asked the child or answered it (an id the child merely typed
/// shows nothing), and never to a blocked one.
void get_card(user_pointer self, account_id asker, bool with_avatar, reply_to rp) {
  auto& st = self->state;
  auto i = st.contacts.entries().find(asker);
  if (i == st.contacts.entries().end() || i->second.state == contact_state::blocked)
    return rp.deliver(error_reply(errc::not_found));
  auto view = st.deps->service->view();
  auto card = std::make_shared<card_body>();
  card->profile = profile_reply{st.id, st.account->name, {}, false, false, {}, {},
                                gender::unsaid, account_role::parent, {}};
  card->profile.online = st.session && view->is_live(st.session->node, st.session->incarnation);
  card->role = st.account->role;
  auto parent = st.contacts.parent();
  auto with_parent = [=](reply_to rp) mutable {
    if (parent == 0)
      return rp.deliver(ok_reply(encode_card(*card)));
    self->request(self->state.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                  key_of(parent))
        .then(
            [=](kv_lookup& acc) mutable {
              if (auto a = acc.found ? decode_account(acc.value) : std::nullopt)
                card->parent_name = a->name;
              rp.deliver(ok_reply(encode_card(*card)));
            },
            [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
  };
  if (!with_avatar)
    return with_parent(std::move(rp));
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return rp.deliver(error_reply(errc::unavailable, "the profile could not be read"));
    card->profile.avatar = std::move(p->avatar);
    with_parent(std::move(rp));
  });
}

/// Whether the account may see `other`'s keys and status: a friend, or its linked parent
/// or child (the child's location is sealed to the parent's key).
bool knows(const user_state& st, account_id other) {
  return st.contacts.are_friends(other) || other == st.contacts.parent() ||
         st.contacts.children().count(other) != 0;
}

void get_key(user_pointer self, account_id target, reply_to rp) {
  if (!knows(self->state, target)) {
    rp.deliver(error_reply(errc::not_found));
    return;
  }
  self->request(self->state.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                key_of(target))
      .then(
          [=](kv_lookup& acc) mutable {
            auto a = acc.found ? decode_account(acc.value) : std::nullopt;
            if (!a) {
              rp.deliver(error_reply(errc::not_found));
              return;
            }
            rp.deliver(ok_reply(encode_body(key_reply{target, a->box_key, a->sign_key})));
          },
          [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
}

void get_status(user_pointer self, account_id target, reply_to rp) {
  if (!knows(self->state, target)) {
    rp.deliver(error_reply(errc::not_found));
    return;
  }
  auto kv = self->state.deps->kv;
  auto service = self->state.deps->service;
  self->request(kv, caf::infinite, kv_get_atom::value, kv_space::presence, key_of(target))
      .then(
          [=](kv_lookup& presence) mutable {
            auto attached = presence.found ? decode_presence(presence.value) : std::nullopt;
            // Online while the node holding the session lives: its heartbeat stands for
            // its sessions. A session on a node that died is offline, last seen at the
            // node's last heartbeat (or the attach, if this node never saw it go).
            auto view = service->view();
            bool online = attached && view->is_live(attached->node, attached->incarnation);
            uint64_t seen_when_gone = 0;
            if (attached && !online)
              seen_when_gone =
                  view->departed_at(attached->node, attached->incarnation).value_or(attached->since_ms);
            self->request(kv, caf::infinite, kv_get_atom::value, kv_space::last_seen,
                          key_of(target))
                .then(
                    [=](kv_lookup& seen) mutable {
                      auto last = seen.found ? read_last_seen(seen.value) : 0;
                      last = std::max(last, seen_when_gone);
                      rp.deliver(ok_reply(encode_body(status_reply{target, online, last})));
                    },
                    [=](caf::error& err) mutable {
                      rp.deliver(error_reply(err));
                    });
          },
          [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
}

/// Reads the profile record (a default one if there is none), then `then(record)`, or
/// `then(nullopt)` if KV failed.
void read_profile(user_pointer self, std::function<void(std::optional<profile_record>)> then) {
  auto& st = self->state;
  self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::profiles, key_of(st.id))
      .then(
          [=](kv_lookup& found) {
            auto p = found.found ? decode_profile(found.value) : profile_record{};
            if (!p)
              log::get("user")->error("event=bad_profile_record id={}", self->state.id);
            then(p ? std::move(*p) : profile_record{});
          },
          [=](caf::error&) { then(std::nullopt); });
}

void write_profile(user_pointer self, const profile_record& p, reply_to rp) {
  auto& st = self->state;
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::profiles, key_of(st.id),
                encode_profile(p))
      .then(store_reply<bool>(self, [=](bool) mutable { rp.deliver(ok_reply()); }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              rp.deliver(error_reply(err, "the profile could not be saved"));
            }));
}

void save_profile(user_pointer self, const profile_set_request& req, reply_to rp);

/// The owner changes its name, country, gender or avatar: all of it or nothing. The avatar
/// is decoded and written anew on the image worker first (no metadata reaches a friend).
void set_profile(user_pointer self, profile_set_request req, reply_to rp) {
  auto& st = self->state;
  if (auto why = check_profile(req, st.deps->avatar_max))
    return rp.deliver(error_reply(errc::invalid_argument, *why));
  if (req.avatar.empty())
    return save_profile(self, req, std::move(rp));
  auto image = std::move(req.avatar);
  self->request(st.deps->images, caf::infinite, avatar_atom::value, std::move(image),
                static_cast<uint64_t>(st.deps->avatar_max))
      .then(
          [=](bytes& normal) mutable {
            if (!self->state.account)
              return rp.deliver(account_changed_reply());
            req.avatar = std::move(normal);
            save_profile(self, req, std::move(rp));
          },
          [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
}

void save_profile(user_pointer self, const profile_set_request& req, reply_to rp) {
  auto& st = self->state;
  if (req.name != st.account->name) {
    st.account->name = req.name;
    caf::anon_send(st.deps->kv, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                   encode_account(*st.account));
    // Each friend that is a linked child has its parent told (a friend renamed "Mum").
    std::vector<entity_request> told;
    for (auto& [other, e] : st.contacts.entries())
      if (e.state == contact_state::friends)
        told.push_back(
            {user_kind, other, static_cast<uint8_t>(user_op::friend_renamed), st.id, {}});
    send_entities(self, std::move(told));
  }
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return rp.deliver(error_reply(errc::unavailable, "the profile could not be read"));
    p->country = req.country;
    p->gender_of = req.gender_of;
    p->avatar = req.avatar;
    p->updated_ms = self->state.deps->now_ms();
    write_profile(self, *p, std::move(rp));
  });
}

/// What `caller` may see of this account: all of it for the account and its linked
/// parent, name, avatar and online status for a friend (or its child, or its parent
/// seen by the child), nothing for anyone else (not_found, as for an unknown id).
void get_profile(user_pointer self, account_id caller, reply_to rp) {
  auto& st = self->state;
  bool full = caller == st.id || (st.contacts.parent() != 0 && caller == st.contacts.parent());
  if (!full && !knows(st, caller))
    return rp.deliver(error_reply(errc::not_found));
  auto view = st.deps->service->view();
  bool online = st.session && view->is_live(st.session->node, st.session->incarnation);
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return rp.deliver(error_reply(errc::unavailable, "the profile could not be read"));
    if (!self->state.account)
      return rp.deliver(account_changed_reply());
    auto& a = *self->state.account;
    profile_reply out{a.id, a.name, std::move(p->avatar), online, full, {}, {}, gender::unsaid,
                      a.role, {}};
    if (full) {
      out.birth_date = a.birth_date;
      out.country = p->country;
      out.gender_of = p->gender_of;
      out.device = p->device;
    }
    rp.deliver(ok_reply(encode_body(out)));
  });
}

/// Keeps the device info a new session's app gave, if it changed.
void note_device(user_pointer self, const device_info& device) {
  auto& st = self->state;
  if (st.device && *st.device == device)
    return;
  read_profile(self, [=](std::optional<profile_record> p) {
    if (!p)
      return; // tried again at the next attach
    self->state.device = device;
    if (p->device == device)
      return;
    p->device = device;
    p->updated_ms = self->state.deps->now_ms();
    caf::anon_send(self->state.deps->kv, kv_put_atom::value, kv_space::profiles,
                   key_of(self->state.id), encode_profile(*p));
  });
}

/// Adds the stored mail after `after` to the export (payloads left out), then answers.
void export_mail(user_pointer self, std::shared_ptr<account_data> data, uint64_t after, reply_to rp) {
  page_after(self, after)
      .then(store_reply<mail_page>(self,
                                   [=](mail_page& page) mutable {
                                     for (auto& e : page.mail) {
                                       ++data->mail_count;
                                       if (data->mail.size() < max_exported_mail) {
                                         e.payload.clear();
                                         data->mail.push_back(std::move(e));
                                       }
                                     }
                                     if (page.more)
                                       return export_mail(self, data, page.mail.back().seq,
                                                          std::move(rp));
                                     auto doc = export_document(*data);
                                     rp.deliver(ok_reply(bytes(doc.begin(), doc.end())));
                                   }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              rp.deliver(error_reply(err, "the mail could not be read"));
            }));
}

/// Everything the cluster holds on this account, as one JSON document: the account and
/// profile, contacts, blocks and pending requests, the family link, presence and last
/// seen, and the undelivered mail (held for an ack here, or stored).
void export_account(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto data = std::make_shared<account_data>();
  data->account = *st.account;
  data->contacts = st.contacts;
  data->exported_at_ms = st.deps->now_ms();
  auto view = st.deps->service->view();
  data->online = st.session && view->is_live(st.session->node, st.session->incarnation);
  st.held.for_each([&](const envelope& held) {
    ++data->mail_count;
    auto e = held;
    e.payload.clear();
    data->mail.push_back(std::move(e));
  });
  auto unavailable = [](reply_to& rp) {
    rp.deliver(error_reply(errc::unavailable, "the account data could not be read; try again"));
  };
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return unavailable(rp);
    data->profile = std::move(*p);
    auto& st = self->state;
    self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::last_seen, key_of(st.id))
        .then(
            [=](kv_lookup& seen) mutable {
              data->last_seen_ms = seen.found ? read_last_seen(seen.value) : 0;
              auto& st = self->state;
              if (!st.account)
                return rp.deliver(account_changed_reply());
              if (st.account->role != account_role::child)
                return export_mail(self, data, 0, std::move(rp));
              ask_family(self, st.id, family_op::get_link, {}, [=](entity_reply& r) mutable {
                if (r.ok())
                  if (auto info = decode_body<link_info>(r.body))
                    data->link = *info;
                export_mail(self, data, 0, std::move(rp));
              });
            },
            [=](caf::error&) mutable { unavailable(rp); });
  });
}

/// The deletion is done: the session is told, and the actor forgets the account.
void forget_account(user_pointer self, reply_to rp) {
  auto& st = self->state;
  log::get("user")->info("event=account_deleted account={}", st.id);
  rp.deliver(ok_reply());
  if (st.session)
    st.deps->service->push(*st.session, user_kind,
                           caf::make_message(kick_atom::value, st.id,
                                             static_cast<uint16_t>(errc::account_deleted)));
  st.session.reset();
  st.account.reset();
  st.contacts = contact_list_state{};
  st.device.reset();
  st.code.reset();
}

/// The last step of a deletion: the account's KV records go, its data key is erased (so
/// what JetStream keeps of older revisions opens for no one), the account record last.
void erase_records(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto open = std::make_shared<size_t>(0);
  auto failed = std::make_shared<bool>(false);
  auto finish = [=]() mutable {
    if (--*open != 0)
      return;
    auto& st = self->state;
    auto partly = [](reply_to& rp) {
      rp.deliver(error_reply(errc::unavailable, "the account was partly deleted; delete it again"));
    };
    if (*failed)
      return partly(rp);
    // The data key goes before the account record: every revision of every record of the
    // account is unreadable from here on, and a deletion cut short here is asked again.
    self->request(st.deps->kv, caf::infinite, kv_shred_atom::value, key_of(st.id))
        .then([=](bool) mutable {
                auto& st = self->state;
                self->request(st.deps->kv, caf::infinite, kv_delete_atom::value,
                              kv_space::accounts, key_of(st.id))
                    .then([=](bool) mutable { forget_account(self, std::move(rp)); },
                          [=](caf::error&) mutable {
                            // Sealed under an erased key, the record opens for no one:
                            // the account is gone all the same.
                            log::get("user")->warn("event=account_record_left account={}",
                                                   self->state.id);
                            forget_account(self, std::move(rp));
                          });
              },
              [=](caf::error&) mutable { partly(rp); });
  };
  for (auto space : {kv_space::contacts, kv_space::profiles, kv_space::presence, kv_space::last_seen}) {
    ++*open;
    self->request(st.deps->kv, caf::infinite, kv_delete_atom::value, space, key_of(st.id))
        .then([=](bool) mutable { finish(); },
              [=](caf::error&) mutable {
                *failed = true;
                finish();
              });
  }
}

/// Deletes the account (asked by it or its linked parent): its contacts forget it, its
/// family link and PIN go, its mail (held and stored) is dropped without receipts, then
/// its records. Requests that come after it find an unknown account. A child that deletes
/// itself has given its parent's PIN; its parent is told.
void delete_account(user_pointer self, account_id by, reply_to rp) {
  auto& st = self->state;
  bool by_child = by == st.id && st.account->role == account_role::child;
  log::get("user")->info("event=account_deleting account={} by={}", st.id,
                         by == st.id ? "self" : "parent");
  std::vector<entity_request> notes;
  // Blocked ones too: they may keep a request to it, or a cooldown.
  for (auto& [other, e] : st.contacts.entries())
    notes.push_back({user_kind, other, static_cast<uint8_t>(user_op::account_gone), st.id, {}});
  for (auto child : st.contacts.children())
    notes.push_back({family_kind, child, static_cast<uint8_t>(family_op::unlink), st.id, {}});
  send_entities(self, std::move(notes));
  st.held.answer_all(*st.deps->held); // it reached the device; nothing more will
  auto rest = [=](reply_to rp) mutable {
    purge_mail(self, std::nullopt, 0, [=]() mutable {
      compact_soon(self);
      erase_records(self, std::move(rp));
    });
  };
  if (st.account->role != account_role::child && st.contacts.parent() == 0)
    return rest(std::move(rp));
  ask_family(self, st.id, family_op::erase, bytes{uint8_t(by_child ? 1 : 0)},
             [=](entity_reply& r) mutable {
    if (!r.ok())
      return rp.deliver(error_reply(errc::unavailable, "the family link could not be deleted; try again"));
    rest(std::move(rp));
  });
}

/// Presence is written once per attach and deleted at the detach: the attached session's
/// node heartbeats for it.
void write_presence(user_pointer self, const endpoint& session) {
  auto& st = self->state;
  caf::anon_send(st.deps->kv, kv_put_atom::value, kv_space::presence, key_of(st.id),
                 encode_presence({session.node, session.incarnation, st.deps->now_ms()}));
}

/// Starts the idle timer unless it runs: without a session, the actor stops once unused.
void arm_idle(user_pointer self) {
  auto& st = self->state;
  if (st.idle_timer)
    return;
  st.idle_timer = true;
  self->delayed_send(self, idle_time, idle_atom::value);
}

/// Forgets the attached session and records when the account was last seen.
void detach_session(user_pointer self, uint64_t last_seen_ms) {
  auto& st = self->state;
  arm_idle(self);
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
  st.redeliver_backoff = 0;
  write_presence(self, session);
  rp.deliver(ok_reply(encode_attach_reply({{st.id, st.account->name, st.account->role},
                                            st.deps->service->node_id(),
                                            st.deps->service->incarnation(),
                                            frozen(st)})));
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
  constexpr uint8_t max_backoff = 5;
  bool progress = st.acks != st.acks_at_check;
  if (st.backlog.reading())
    return arm_redeliver(self);
  if (st.backlog.more() || st.backlog.pages_out()) {
    if (progress)
      return arm_redeliver(self);
    // No ack for a whole wait while backlog pages are out: page it again from the start.
    st.redeliver_backoff = std::min<uint8_t>(st.redeliver_backoff + 1, max_backoff);
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
                               auto wait = static_cast<uint64_t>(st.deps->redeliver_after.count());
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
                                 st.redeliver_backoff =
                                     std::min<uint8_t>(st.redeliver_backoff + 1, max_backoff);
                               // Mail still held, or waiting for its commit, may be stored
                               // unacked after this read: look again.
                               if (owed || !st.held.empty() || st.deferred > 0)
                                 arm_redeliver(self);
                               push(self, std::move(again));
                             }),
      store_reply<caf::error>(self, [=](caf::error&) { arm_redeliver(self); }));
}

/// A parent makes a link code (one at a time; a new one replaces the last) with the PIN
/// the link will have, hashed off the scheduler before the code is answered.
void make_link_code(user_pointer self, const entity_request& req, reply_to rp) {
  auto& st = self->state;
  auto body = decode_body<link_create_request>(req.body);
  if (!body)
    return rp.deliver(error_reply(errc::invalid_argument, "malformed link request"));
  if (st.account->role != account_role::parent)
    return rp.deliver(error_reply(errc::invalid_argument, "only a parent account makes link codes"));
  if (auto why = crypto::new_pin_problem(body->pin))
    return rp.deliver(error_reply(errc::invalid_argument, *why));
  auto acquired = st.deps->pins->acquire(st.id);
  if (!acquired)
    return rp.deliver(error_reply(failure{errc::rate_limited, "too many PIN hashes at once", 1000}));
  auto turn = *acquired;
  auto pins = st.deps->pins;
  self->request(turn.worker, caf::infinite, pin_hash_atom::value, std::move(body->pin))
      .then(
          [=](std::string& hash) mutable {
            pins->done(turn);
            auto& st = self->state;
            link_code code;
            randombytes_buf(&code.secret, sizeof(code.secret));
            code.secret = 1 + code.secret % (link_secret_span - 1);
            code.expires_ms = st.deps->now_ms() + static_cast<uint64_t>(st.deps->link_code_ttl.count());
            code.pin_hash = std::move(hash);
            auto reply = link_code_reply{code.secret,
                                         static_cast<uint32_t>(st.deps->link_code_ttl.count())};
            st.code = std::move(code);
            rp.deliver(ok_reply(encode_body(reply)));
          },
          [=](caf::error& err) mutable {
            pins->done(turn);
            rp.deliver(error_reply(err));
          });
}

/// A child's family redeems this parent's link code: right once, before it expires. Wrong
/// secrets do not void it (a stranger could void any parent's code so): guessing is
/// bounded per guessing child and per address instead, and the parent is told when
/// `link_code_attack_tries` wrong secrets met its code. Every refusal is the same, also
/// from an id without an account.
void redeem_link_code(user_pointer self, const entity_request& req, reply_to rp) {
  auto& st = self->state;
  wire::reader r{req.body};
  uint64_t secret = 0;
  r.u64(secret);
  auto refused = error_reply(errc::not_found, "no such link code");
  if (!r.finished() || !st.account || st.account->role != account_role::parent || !st.code)
    return rp.deliver(refused);
  auto& code = *st.code;
  if (code.expires_ms <= st.deps->now_ms()) {
    st.code.reset();
  } else if (sodium_memcmp(&code.secret, &secret, sizeof(secret)) == 0) {
    bytes hash(code.pin_hash.begin(), code.pin_hash.end());
    st.code.reset();
    return rp.deliver(ok_reply(std::move(hash)));
  } else if (++code.wrong_tries == link_code_attack_tries) {
    log::get("user")->warn("event=link_code_attacked account={} by={}", st.id, req.caller);
    notify_self(self, notice_type::link_code_attacked, 0, req.caller, code.wrong_tries);
  }
  rp.deliver(refused);
}

/// Bans (or lets again) the account's two public keys, so that neither registers again:
/// only the account's actor reads its keys (its record is sealed), so the operator's
/// tool asks it, and hears once both are written.
void ban_keys(user_pointer self, bool on, bytes record, reply_to rp) {
  auto& st = self->state;
  auto open = std::make_shared<size_t>(2);
  auto failed = std::make_shared<bool>(false);
  auto one_done = [=]() mutable {
    if (--*open == 0)
      rp.deliver(*failed ? error_reply(errc::unavailable, "the ban could not be written; ban again")
                         : ok_reply());
  };
  for (auto key : {ban_key_of_sign_key(st.account->sign_key), ban_key_of_box_key(st.account->box_key)}) {
    auto handlers = [=](auto request) mutable {
      ++self->state.store_calls;
      request.then(store_reply<bool>(self, [=](bool) mutable { one_done(); }),
                   store_reply<caf::error>(self, [=](caf::error&) mutable {
                     *failed = true;
                     one_done();
                   }));
    };
    if (on)
      handlers(self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::bans, key,
                             record));
    else
      handlers(self->request(st.deps->kv, caf::infinite, kv_delete_atom::value, kv_space::bans, key));
  }
}

/// A fresh setup secret for a child's device: 64 random bits (never 0), so guessing one
/// within its hour at the registration limits is hopeless.
uint64_t random_setup_secret() {
  uint64_t secret = 0;
  while (secret == 0)
    randombytes_buf(&secret, sizeof(secret));
  return secret;
}

child_setup_reply setup_reply(const user_deps& deps, account_id child, uint64_t secret) {
  return {child, secret, static_cast<uint32_t>(deps.setup_code_ttl.count())};
}

/// A parent makes its child's account: the child's own user actor (of a random id no
/// account has) makes the record and links its family to this parent, and the parent's
/// app gets the one-time code the child's device registers with.
void create_child(user_pointer self, child_create_request req, reply_to rp, int attempt = 0) {
  auto& st = self->state;
  auto child = random_account_id();
  auto secret = random_setup_secret();
  found_body body{req.name, req.birth_date, setup_hash_of(secret),
                  st.deps->now_ms() + static_cast<uint64_t>(st.deps->setup_code_ttl.count())};
  send_entities(self, {});
  st.client->call({user_kind, child, static_cast<uint8_t>(user_op::found_account), st.id,
                   encode_found(body)},
                  notice{static_cast<uint8_t>(user_op::found_account),
                         [=](entity_reply& r) mutable {
                           if (!r.ok())
                             return rp.deliver(error_reply(r.to_failure()));
                           if (r.body == bytes{1}) {
                             log::get("user")->info("event=child_created parent={} child={}",
                                                    self->state.id, child);
                             return rp.deliver(ok_reply(
                                 encode_body(setup_reply(*self->state.deps, child, secret))));
                           }
                           if (attempt + 1 < max_id_attempts)
                             return create_child(self, std::move(req), std::move(rp), attempt + 1);
                           rp.deliver(error_reply(errc::unavailable, "could not allocate an id"));
                         }});
  st.client->flush(self);
}

/// This (new) id becomes the child account a parent makes: the record is created only if
/// no account has the id, then the family links it to the parent before anything else.
void found_account(user_pointer self, account_id parent, const found_body& body, reply_to rp) {
  auto& st = self->state;
  if (st.account)
    return rp.deliver(ok_reply(bytes{0}));
  account_record record;
  record.id = st.id;
  record.name = body.name;
  record.birth_date = body.birth_date;
  record.role = account_role::child;
  record.created_ms = st.deps->now_ms();
  record.setup_hash = body.setup_hash;
  record.setup_expires_ms = body.setup_expires_ms;
  auto failed = [=](reply_to& rp) {
    rp.deliver(error_reply(errc::unavailable, "the child account could not be made; try again"));
  };
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_create_atom::value, kv_space::accounts,
                key_of(st.id), encode_account(record))
      .then(
          store_reply<bool>(self,
                            [=](bool created) mutable {
                              if (!created)
                                return rp.deliver(ok_reply(bytes{0}));
                              bytes who;
                              wire::writer{who}.u64(parent);
                              ask_family(self, self->state.id, family_op::found, std::move(who),
                                         [=](entity_reply& r) mutable {
                                           auto& st = self->state;
                                           if (!r.ok()) {
                                             caf::anon_send(st.deps->kv, kv_delete_atom::value,
                                                            kv_space::accounts, key_of(st.id));
                                             return failed(rp);
                                           }
                                           st.account = record;
                                           st.load_failed = false;
                                           st.contacts = contact_list_state{};
                                           st.contacts.set_parent(parent);
                                           apply_contact_effect(self, contact_effect::changed,
                                                                parent, std::move(rp),
                                                                [](reply_to rp) {
                                                                  rp.deliver(ok_reply(bytes{1}));
                                                                });
                                         });
                            }),
          store_reply<caf::error>(self, [=](caf::error&) mutable { failed(rp); }));
}

/// The child's device registers its keys with the setup code its parent's app got: once,
/// before the code expires. A device that registers again (a new phone, with a new code)
/// replaces the keys and ends the old device's session. The parent is told.
void complete_setup(user_pointer self, const entity_request& req, reply_to rp) {
  auto& st = self->state;
  wire::reader r{req.body};
  uint64_t secret = 0;
  public_key sign_key{};
  public_key box_key{};
  r.u64(secret);
  r.fixed(sign_key);
  r.fixed(box_key);
  auto refused = error_reply(errc::not_found, "no such setup code");
  if (!r.finished() || !st.account || st.account->setup_hash.empty() ||
      st.account->setup_expires_ms <= st.deps->now_ms())
    return rp.deliver(refused);
  auto given = setup_hash_of(secret);
  auto& kept = st.account->setup_hash;
  if (given.size() != kept.size() || sodium_memcmp(given.data(), kept.data(), kept.size()) != 0)
    return rp.deliver(refused);
  // Used at once: a second device with the same code meets an empty hash.
  auto before = *st.account;
  st.account->sign_key = sign_key;
  st.account->box_key = box_key;
  st.account->setup_hash.clear();
  st.account->setup_expires_ms = 0;
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                encode_account(*st.account))
      .then(store_reply<bool>(self,
                              [=](bool) mutable {
                                auto& st = self->state;
                                log::get("user")->info("event=child_registered account={}", st.id);
                                if (st.session) {
                                  st.deps->service->push(
                                      *st.session, user_kind,
                                      caf::make_message(kick_atom::value, st.id,
                                                        static_cast<uint16_t>(errc::session_replaced)));
                                  detach_session(self, st.deps->now_ms());
                                }
                                notify_parent(self, notice_type::registered, 0, st.deps->now_ms());
                                rp.deliver(ok_reply(encode_body(register_reply{st.id})));
                              }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              if (self->state.account)
                self->state.account = before; // the code stays good: the device tries again
              rp.deliver(error_reply(err, "the keys could not be saved; try again"));
            }));
}

/// The linked parent makes a new setup code for its child (the first expired, or the
/// child has a new device): it replaces any code before it.
void new_setup_code(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto secret = random_setup_secret();
  st.account->setup_hash = setup_hash_of(secret);
  st.account->setup_expires_ms =
      st.deps->now_ms() + static_cast<uint64_t>(st.deps->setup_code_ttl.count());
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                encode_account(*st.account))
      .then(store_reply<bool>(self,
                              [=](bool) mutable {
                                rp.deliver(ok_reply(encode_body(
                                    setup_reply(*self->state.deps, self->state.id, secret))));
                              }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              rp.deliver(error_reply(err, "the setup code could not be saved"));
            }));
}

/// A linked child deletes itself only with its parent's PIN, checked (and counted) by its
/// family as any PIN try.
void delete_self_with_pin(user_pointer self, const bytes& body, reply_to rp) {
  wire::reader r{body};
  std::string pin;
  r.str(pin, max_pin_field);
  if (!r.finished() || pin.empty())
    return rp.deliver(error_reply(errc::parent_required,
                                  "a linked child's account is deleted by its parent, or with the "
                                  "parent's PIN on the child's device"));
  bytes pin_body;
  wire::writer{pin_body}.str(pin);
  sodium_memzero(pin.data(), pin.size());
  auto id = self->state.id;
  ask_family(self, id, family_op::verify_pin, std::move(pin_body), [=](entity_reply& r) mutable {
    if (!r.ok())
      return rp.deliver(error_reply(r.to_failure()));
    if (!self->state.account)
      return rp.deliver(account_changed_reply());
    delete_account(self, id, std::move(rp));
  });
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
    deliver_body body;
    if (!decode_deliver(req.body, body))
      return bad("malformed deliver body");
    st.incoming.push_back({req.caller, std::move(body), std::move(rp)});
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

void after_load(user_pointer self);

/// Handles requests in order, then stores the mail they delivered in one put. If loading
/// the state failed (KV unreachable), it is loaded once more first.
void handle_all(user_pointer self, std::vector<entity_request> reqs, std::vector<reply_to> replies,
                bool reloaded = false) {
  auto& st = self->state;
  st.last_used_ms = st.deps->now_ms();
  if (!st.session)
    arm_idle(self); // also after a deletion or a kick, which end the session without a detach
  auto view = st.deps->service->view();
  // Also when requests waited in the mailbox past this node's lease (a paused node), or
  // beyond the release: another node may serve the account now.
  if (st.leaving ||
      !view->serves(view->shard_of(user_kind, st.id), std::chrono::steady_clock::now())) {
    for (size_t i = 0; i < reqs.size(); ++i)
      replies[i].deliver(moved_reply(std::move(reqs[i].body)));
    return;
  }
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
    arm_idle(self);
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
                                        std::shared_ptr<const user_deps> deps) {
  self->state.id = id;
  self->state.deps = std::move(deps);
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
        st.leaving = rp;
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
        if (st.stopped) {
          if (quiet(st))
            self->quit();
          else
            self->delayed_send(self, moved_linger, idle_atom::value); // a notification retries
          return;
        }
        st.idle_timer = false;
        if (st.session)
          return; // the detach starts it again
        auto now = st.deps->now_ms();
        auto idle_ms = static_cast<uint64_t>(std::chrono::milliseconds(idle_time).count());
        if (!can_stop(st, now) || now < st.last_used_ms + idle_ms)
          return arm_idle(self);
        if (!st.account)
          return self->quit();
        if (st.contacts_expired) {
          // Expired requests are written before the list leaves memory; unloaded next time.
          put_contacts(self).then(store_reply<bool>(self, [](bool) {}),
                                  store_reply<caf::error>(self, [](caf::error&) {}));
          return arm_idle(self);
        }
        st.unloaded = true;
        st.account.reset();
        st.contacts = contact_list_state{};
        st.device.reset();
        st.code.reset();
        st.client.reset();
        st.gone.clear();
      },
      [=](entity_retry_atom) {
        if (self->state.client)
          self->state.client->retry(self);
      },
  };
}

/// A leaving actor answers its release and stops once nothing it started is open.
void finish_leaving(user_pointer self) {
  auto& st = self->state;
  if (!st.leaving || st.stopped || !quiet(st))
    return;
  st.stopped = true;
  st.leaving->deliver(true);
  self->delayed_send(self, moved_linger, idle_atom::value);
}

} // namespace

bytes encode_deliver(const deliver_body& x) {
  bytes out;
  wire::writer{out}.u8(static_cast<uint8_t>(x.kind)).fixed(x.id).blob(x.payload);
  return out;
}

std::optional<bytes> deliver_from_send(std::span<const uint8_t> send_body, account_id& to,
                                       message_id& id) {
  wire::reader r{send_body};
  r.u64(to);
  r.fixed(id);
  if (!r.skip_blob(max_payload_size) || !r.finished())
    return std::nullopt;
  // A send body after `to` is `id payload:blob`, which is a deliver body after its kind.
  constexpr size_t to_size = 8;
  bytes out;
  out.reserve(1 + send_body.size() - to_size);
  out.push_back(static_cast<uint8_t>(mail_kind::message));
  out.insert(out.end(), send_body.begin() + to_size, send_body.end());
  return out;
}

namespace {

enum class push_tag : uint8_t { mail = 1, kick = 2, reattach = 3, thawed = 4 };

bytes encode_user_push(const caf::message& msg) {
  bytes out;
  wire::writer w{out};
  if (msg.match_elements<push_atom, account_id, std::vector<mail_push>>()) {
    auto& mail = msg.get_as<std::vector<mail_push>>(2);
    w.u8(static_cast<uint8_t>(push_tag::mail)).u64(msg.get_as<account_id>(1));
    w.u32(static_cast<uint32_t>(mail.size()));
    for (auto& m : mail) {
      bytes body;
      write_body(body, m);
      w.blob(body);
    }
  } else if (msg.match_elements<kick_atom, account_id, uint16_t>()) {
    w.u8(static_cast<uint8_t>(push_tag::kick))
        .u64(msg.get_as<account_id>(1))
        .u16(msg.get_as<uint16_t>(2));
  } else if (msg.match_elements<reattach_atom, account_id>()) {
    w.u8(static_cast<uint8_t>(push_tag::reattach)).u64(msg.get_as<account_id>(1));
  } else if (msg.match_elements<thawed_atom, account_id>()) {
    w.u8(static_cast<uint8_t>(push_tag::thawed)).u64(msg.get_as<account_id>(1));
  }
  return out;
}

std::optional<caf::message> decode_user_push(std::span<const uint8_t> in) {
  wire::reader r{in};
  uint8_t tag = 0;
  account_id account = 0;
  r.u8(tag);
  r.u64(account);
  switch (static_cast<push_tag>(tag)) {
  case push_tag::mail: {
    uint32_t count = 0;
    if (!r.u32(count) || count > max_bus_batch)
      return std::nullopt;
    std::vector<mail_push> mail(count);
    for (auto& m : mail) {
      bytes body;
      if (!r.blob(body, max_max_frame_size) || !read_body(body, m))
        return std::nullopt;
    }
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(push_atom::value, account, std::move(mail));
  }
  case push_tag::kick: {
    uint16_t code = 0;
    r.u16(code);
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(kick_atom::value, account, code);
  }
  case push_tag::reattach:
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(reattach_atom::value, account);
  case push_tag::thawed:
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(thawed_atom::value, account);
  }
  return std::nullopt;
}

} // namespace

push_codec user_push_codec() {
  return {encode_user_push, decode_user_push};
}

bytes encode_attach(const attach_body& x) {
  bytes out;
  wire::writer{out}.blob(encode_endpoint(x.session));
  write_body(out, x.device);
  return out;
}

std::optional<attach_body> decode_attach(std::span<const uint8_t> in) {
  wire::reader r{in};
  bytes session;
  if (!r.blob(session, 256))
    return std::nullopt;
  auto e = decode_endpoint(session);
  if (!e)
    return std::nullopt;
  attach_body x{*e, {}};
  if (!read_body(in.subspan(4 + session.size()), x.device))
    return std::nullopt;
  return x;
}

bytes encode_attach_reply(const attach_reply& x) {
  bytes out;
  wire::writer{out}.str(x.node).u64(x.incarnation).u8(x.frozen ? 1 : 0);
  write_body(out, x.account);
  return out;
}

std::optional<attach_reply> decode_attach_reply(std::span<const uint8_t> in) {
  // node:str incarnation:u64 frozen:u8, then the account as login_ok carries it.
  wire::reader r{in};
  attach_reply x;
  uint8_t frozen = 0;
  r.str(x.node, 64);
  r.u64(x.incarnation);
  r.u8(frozen);
  if (!r.ok() || frozen > 1)
    return std::nullopt;
  x.frozen = frozen == 1;
  auto info = decode_body<account_info>(in.subspan(4 + x.node.size() + 8 + 1));
  if (!info)
    return std::nullopt;
  x.account = *info;
  return x;
}

bytes encode_presence(const presence_record& p) {
  bytes out;
  wire::writer{out}.u8(presence_format).str(p.node).u64(p.incarnation).u64(p.since_ms);
  return out;
}

std::optional<presence_record> decode_presence(std::span<const uint8_t> data) {
  wire::reader r{data};
  uint8_t format = 0;
  presence_record p;
  r.u8(format);
  r.str(p.node, 64);
  r.u64(p.incarnation);
  r.u64(p.since_ms);
  if (!r.finished() || format != presence_format)
    return std::nullopt;
  return p;
}

bool decode_deliver(std::span<const uint8_t> in, deliver_body& x) {
  wire::reader r{in};
  uint8_t kind = 0;
  r.u8(kind);
  r.fixed(x.id);
  r.blob(x.payload, max_payload_size);
  x.kind = static_cast<mail_kind>(kind);
  return r.finished() && is_valid_mail_kind(kind);
}

bytes encode_found(const found_body& x) {
  bytes out;
  wire::writer{out}.str(x.name).str(x.birth_date).str(x.setup_hash).u64(x.setup_expires_ms);
  return out;
}

std::optional<found_body> decode_found(std::span<const uint8_t> in) {
  wire::reader r{in};
  found_body x;
  r.str(x.name, max_name_length);
  r.str(x.birth_date, 10);
  r.str(x.setup_hash, 64);
  r.u64(x.setup_expires_ms);
  if (!r.finished())
    return std::nullopt;
  return x;
}

bytes encode_card(const card_body& x) {
  bytes out;
  write_body(out, x.profile);
  wire::writer{out}.u8(static_cast<uint8_t>(x.role)).str(x.parent_name);
  return out;
}

std::optional<card_body> decode_card(std::span<const uint8_t> in) {
  // A contact-level profile, then role:u8 parent_name:str.
  wire::reader r{in};
  card_body x;
  uint8_t online = 2, full = 2, role = 0;
  r.u64(x.profile.id);
  r.str(x.profile.name, max_name_length);
  r.blob(x.profile.avatar, max_avatar_size);
  r.u8(online);
  r.u8(full);
  r.u8(role);
  r.str(x.parent_name, max_name_length);
  if (!r.finished() || online > 1 || full != 0 || !is_valid_role(role))
    return std::nullopt;
  x.profile.online = online == 1;
  x.profile.full = false;
  x.role = static_cast<account_role>(role);
  return x;
}

std::string setup_hash_of(uint64_t secret) {
  std::array<uint8_t, 8> raw{};
  for (size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<uint8_t>(secret >> (56 - 8 * i));
  std::array<uint8_t, 16> hash{};
  crypto_generichash(hash.data(), hash.size(), raw.data(), raw.size(), nullptr, 0);
  return crypto::to_hex(hash);
}

user_actor spawn_user(caf::actor_system& sys, account_id id,
                      std::shared_ptr<const user_deps> deps) {
  return sys.spawn(user_behavior, id, std::move(deps));
}

uint64_t system_now_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

} // namespace kinbox
