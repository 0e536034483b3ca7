// The user actor's parts, shared by the files it is written in: its state, and the
// functions each file gives the others (user_actor.cpp: activation, batches of requests
// and the behavior; user_ops.cpp: each operation, once the access table of
// user_access.hpp lets its caller make it; user_contacts.cpp: the friend workflow, blocks and reports; user_delivery.cpp:
// admission, the ack window, the store, the drain of the backlog and redelivery;
// user_account.cpp: contact reads, profiles, export and deletion; user_links.cpp: link
// codes, child accounts, setup codes and bans). Internal to actors/.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/account_export.hpp"
#include "actors/contacts.hpp"
#include "actors/family_actor.hpp"
#include "actors/mail_pipeline.hpp"
#include "actors/link_code.hpp"
#include "actors/profile.hpp"
#include "actors/safety.hpp"
#include "actors/user_actor.hpp"
#include "cluster/entity_client.hpp"
#include "cluster/reply_to.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "protocol/wire.hpp"

namespace kinbox::user_parts {

/// The argument of `req`, a request for user operation `Op` (nullptr if it is not one).
template <user_op Op>
user_interface::arg_of<Op>* arg(entity_request& req) {
  return arg_of<user_interface, Op>(req);
}

/// What a notification or receipt to another entity was, for the log if it fails.
struct notice {
  uint8_t op;
  std::function<void(entity_reply&)> then; ///< for the few requests whose answer matters
};


/// A call of the account, as its actor keeps it (never stored).
struct call_state {
  call_id id = 0;
  group_id group = 0;
  bool video = false;
  bool placed = false;   ///< this account is the caller
  bool answered = false; ///< the callee answered (a caller's: one of its peers did)
  std::vector<account_id> peers; ///< the caller's: who rings or talks; the callee's: the caller
};

/// Most calls one account keeps at once (a caller's rings and talks).
constexpr size_t max_calls_per_account = 8;

struct user_state {
  account_id id = 0;
  std::shared_ptr<const user_deps> deps; ///< one for all user actors of the node
  /// Serving, leaving or lingering, and the idle time. After `entity_idle_time` without a
  /// request and without a session, an account's actor drops what it loaded (and loads it
  /// again with the next request), and the actor of an id without an account passivates:
  /// a stranger cannot tell an unused id from an account by whether its state is in
  /// memory (docs/architecture.md, "No probing"). The account's actor itself stays:
  /// sessions and other actors keep its handle.
  entity_life life;
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
  /// The delivery pipeline's decisions (made from `deps` when the actor starts).
  std::optional<mail_pipeline> mail;
  std::vector<incoming_mail> incoming; ///< delivers of the requests being handled
  bool unloaded = false;     ///< idle: account and contacts are loaded with the next request
  /// Notifications and receipts to other entities; made on first use (an idle user makes
  /// none and should not pay for its maps).
  std::unique_ptr<entity_client<notice>> client;
  size_t store_calls = 0; ///< store and KV writes not answered yet
  /// A child in its quiet hours (checked while a session is attached): its session gets
  /// no mail and no calls, and refuses its sends but to its parent.
  bool asleep = false;
  uint64_t quiet_timer = 0; ///< the generation of the armed quiet-hours timer
  /// The account's calls, in memory only: ringing or answered, with their peers.
  std::vector<call_state> calls;
  static inline const char* name = "kinbox.user";
};

using user_pointer = user_actor::stateful_pointer<user_state>;

inline std::string key_of(account_id id) {
  return std::to_string(id);
}

inline bytes last_seen_value(uint64_t ms) {
  bytes out;
  wire::writer{out}.u64(ms);
  return out;
}

inline uint64_t read_last_seen(const bytes& value) {
  wire::reader r{value};
  uint64_t ms = 0;
  return r.u64(ms) ? ms : 0;
}

bool shows_name(const contact_list_state::entry& e);

void list_contacts(user_pointer self, reply_to rp);

void get_card(user_pointer self, account_id asker, bool with_avatar, reply_to rp);

bool knows(const user_state& st, account_id other);

void get_key(user_pointer self, account_id target, reply_to rp);

void get_status(user_pointer self, account_id target, reply_to rp);

void read_profile(user_pointer self, std::function<void(std::optional<profile_record>)> then);

void write_profile(user_pointer self, const profile_record& p, reply_to rp);

void set_profile(user_pointer self, profile_set_request req, reply_to rp);

void save_profile(user_pointer self, const profile_set_request& req, reply_to rp);

void get_profile(user_pointer self, account_id caller, reply_to rp);

void note_device(user_pointer self, const device_info& device);

void export_mail(user_pointer self, std::shared_ptr<account_data> data, uint64_t after, reply_to rp);

void export_account(user_pointer self, reply_to rp);

void forget_account(user_pointer self, reply_to rp);

void erase_records(user_pointer self, reply_to rp);

void delete_account(user_pointer self, account_id by, reply_to rp);

void make_link_code(user_pointer self, link_create_request req, reply_to rp);

void redeem_link_code(user_pointer self, account_id caller, uint64_t secret, reply_to rp);

void ban_keys(user_pointer self, bool on, bytes record, reply_to rp);

uint64_t random_setup_secret();

child_setup_reply setup_reply(const user_deps& deps, account_id child, uint64_t secret);

void create_child(user_pointer self, child_create_request req, reply_to rp, int attempt = 0);

void found_account(user_pointer self, account_id parent, const found_body& body, reply_to rp);

void complete_setup(user_pointer self, const register_child_request& req, reply_to rp);

void new_setup_code(user_pointer self, reply_to rp);

void delete_self_with_pin(user_pointer self, std::string pin, reply_to rp);

void arm_redeliver(user_pointer self);

void push(user_pointer self, std::vector<mail_push> mail);

bool frozen(const user_state& st);

/// The account as the pipeline's admission asks it.
mailbox_owner owner_of(const user_state& st);

mail_push location_push(account_id child, const location_body& loc);

void fetch_locations(user_pointer self);

void compact_soon(user_pointer self);

void discard(user_pointer self, std::vector<mail_ref> refs, std::function<void()> then = {});

/// Deletes the stored mail of `sender` (all of it if nullopt), page by page from `after`;
/// `then` runs at the end (also when the store failed: paging drops what is left of a
/// removed contact's mail).
void purge_mail(user_pointer self, std::optional<account_id> sender, uint64_t after,
                std::function<void()> then);

/// Deletes, the same way, the stored mail that `match` picks (without receipts).
void purge_where(user_pointer self, std::function<bool(const envelope&)> match, uint64_t after,
                 std::function<void()> then);

void put_mail(user_pointer self, mail_to_store mail, bool pushed);

void store_held(user_pointer self, bool all);

void arm_held_timer(user_pointer self);

void store_incoming(user_pointer self);

void ack(user_pointer self, const ack_request& req, reply_to rp);

void write_presence(user_pointer self, const endpoint& session);


void detach_session(user_pointer self, uint64_t last_seen_ms);

void remember_gone(user_state& st, const endpoint& session);

void attach(user_pointer self, const endpoint& session, reply_to rp);

void drain(user_pointer self);

void redeliver(user_pointer self);

void ask_parent(user_pointer self, account_id other, reply_to rp);

void forget_deleted_blocks(user_pointer self);

void apply_contact_effect(user_pointer self, contact_effect effect, account_id other, reply_to rp,
                          std::function<void(reply_to)> done = {});

void notify_parent(user_pointer self, notice_type type, account_id other, uint64_t value);

void file_report(user_pointer self, const report_record& rec, reply_to rp);

void notify_self(user_pointer self, notice_type type, account_id child, account_id other,
                 uint64_t value);

void report(user_pointer self, account_id other, report_category category, reply_to rp);

void apply_contact_result(user_pointer self, const result<contact_effect>& effect,
                          account_id other, reply_to rp);

void load(user_pointer self, std::function<void()> then);

void send_entities(user_pointer self, std::vector<entity_request> reqs);

/// Sends `req` (made by its kind's interface); a failure is logged.
void send_entity(user_pointer self, entity_request req);

/// Sends `req`, whose answer `then` gets.
void ask_entity(user_pointer self, entity_request req, std::function<void(entity_reply&)> then);

bool quiet(const user_state& st);

entity_reply account_changed_reply();

void tell_session_if_frozen(user_pointer self, bool was_frozen);

/// How the account stands to `q`'s accounts (a group's checks).
relation_answer relations_to(const user_state& st, const relation_query& q);

/// A chat actor says the account joined or left group `g`; a join the account may not
/// make (see user_interface.hpp, `group_joined`) is refused `not_allowed`.
void group_membership(user_pointer self, const group_info& g, bool joined, reply_to rp);

/// `sender` types to this account (or in a group): pushed if it is approved and a session
/// is attached; else dropped.
void typing_from(user_pointer self, account_id sender, const typing_body& body);

/// The account's groups, as their chat actors show them (nullopt if one could not be
/// read); groups that no longer have it leave its list.
void collect_groups(user_pointer self, std::function<void(std::optional<group_list>)> then);

void list_groups(user_pointer self, reply_to rp);

/// A child no longer approves `other`: it leaves every group `other` is in.
void end_group_relation(user_pointer self, account_id other);

/// The account leaves every group (deleted or banned).
void leave_groups(user_pointer self);

/// Whether mail may be pushed to the session now: one is attached and the account is not
/// in its quiet hours.
inline bool pushes_now(const user_state& st) {
  return st.session.has_value() && !st.asleep;
}

/// Whether the account is in its quiet hours at this moment (with or without a session).
bool resting_now(const user_state& st);

/// Looks whether the child's quiet hours began or ended: at attach, when its parent
/// changes the schedule, and when the timer armed here fires. Beginning: what was pushed
/// and not acked is stored, the session is told. Ending: the stored mail is drained.
void check_quiet(user_pointer self);

void set_quiet(user_pointer self, const quiet_set_request& req, reply_to rp);

/// The child's parent changed: its quiet hours end (the next parent sets its own).
void clear_quiet(user_pointer self);

/// Moments (user_moments.cpp): the account's post, fanned out to its approved contacts.
void post_moment(user_pointer self, moment_post& post, reply_to rp);
/// The account's like or comment on a post of `r.poster`.
void react_moment(user_pointer self, moment_reaction& r, reply_to rp);
/// `from` reacts to a post of this account: to the account and those of its contacts the
/// reaction is for, each through its own filter.
void moment_reacted(user_pointer self, account_id from, moment_reaction& r, reply_to rp);
/// The account's post `post` is deleted (by it, or by its parent `by`): a retraction to
/// each approved contact, and to the account itself when its parent deleted it.
void delete_moment(user_pointer self, account_id by, post_id post, reply_to rp);
/// A retraction from `poster`: what still waits of the post goes, and the retraction is
/// kept for the app.
void retract_moment(user_pointer self, account_id poster, deliver_body& body, reply_to rp);

/// A signal of the account's own app (user_calls.cpp).
void call_out(user_pointer self, call_request& req, reply_to rp);

/// A signal from peer `from` of a call (an offer rings the account).
void call_in(user_pointer self, account_id from, call_event& ev, reply_to rp);

/// The account's relation with `other` ended (a block, a removal, a report, by either
/// side or a child's parent): every call with `other` ends at once.
void end_calls_with(user_pointer self, account_id other);

/// The ring of call `id` is over: unanswered, it is a missed call.
void ring_over(user_pointer self, call_id id);

/// Ends the account's calls, its peers and session told `why`: all of them, or (a session
/// that went) the ones it placed or answered; calls ringing here ring on until answered
/// from a new session or over.
void end_calls(user_pointer self, call_outcome why, bool all = true);

quiet_reply quiet_state(const user_state& st);

/// Runs a request if the access table lets its caller make it (user_ops.cpp); delivers
/// are collected in `incoming` for `store_incoming`.
void handle(user_pointer self, entity_request& req, reply_to rp);

bool attaches(const std::vector<entity_request>& reqs);

void handle_all(user_pointer self, std::vector<entity_request> reqs, std::vector<reply_to> replies,
                bool reloaded = false);

void after_load(user_pointer self);

bool can_stop(const user_state& st, uint64_t now_ms);

void finish_leaving(user_pointer self);

/// Requests the page of this account's stored mail after `after` (counted as a store call:
/// a leaving actor waits for it).
inline auto page_after(user_pointer self, uint64_t after) {
  auto& st = self->state;
  ++st.store_calls;
  return self->request(st.deps->store, caf::infinite, pending_atom::value, st.id, after,
                       static_cast<uint64_t>(st.deps->drain_page_count),
                       static_cast<uint64_t>(st.deps->drain_page_bytes));
}

/// Writes the contact list to KV (counted as a store call: a moving actor waits for it, and
/// the next owner reads the list from KV).
inline auto put_contacts(user_pointer self) {
  auto& st = self->state;
  st.contacts_expired = false;
  ++st.store_calls;
  return self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::contacts,
                       key_of(st.id), st.contacts.encode());
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

} // namespace kinbox::user_parts
