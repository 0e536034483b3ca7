// What the user entity (one per account, `user_kind`) accepts and answers: its operations
// with the types of their arguments and results (cluster/entity_interface.hpp). Who may
// ask for each is the access table (user_access.hpp); the client's own bodies travel as
// they are, and the types below are those only entities and sessions send it.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "actors/family_interface.hpp"
#include "actors/safety.hpp"
#include "cluster/entity_interface.hpp"
#include "protocol/calls.hpp"
#include "protocol/groups.hpp"
#include "protocol/messages.hpp"
#include "protocol/moments.hpp"
#include "protocol/quiet.hpp"

namespace kinbox {

/// The entity kind of accounts.
constexpr entity_kind user_kind = 1;

/// Operations of entity requests addressed to a user. Owner operations are accepted only
/// when the caller is the account itself (the contact controls also from its linked
/// parent); the others come from other entities' actors.
enum class user_op : uint8_t {
  deliver = 1,           ///< store mail from `caller`
  friend_request = 2,    ///< `caller` asks to be friends
  friend_accepted = 3,   ///< `caller` accepted our request
  friend_declined = 4,   ///< `caller` declined our request
  friend_removed = 5,    ///< `caller` removed or blocked us
  account_gone = 6,      ///< `caller` deleted its account: forget it, drop its mail
  add_friend = 10,       ///< owner
  accept_friend = 11,    ///< owner
  decline_friend = 12,   ///< owner
  list_contacts = 13,    ///< owner or its parent
  get_key = 14,          ///< owner: a friend's public keys
  get_status = 15,       ///< owner: a friend's online status and last seen
  ack = 16,              ///< owner
  block_contact = 17,    ///< owner or its parent; purges its mail
  remove_contact = 18,   ///< owner or its parent; purges its mail
  report = 19,           ///< owner: blocks, files the report
  attach = 20,           ///< owner's session; kicks a previous one
  detach = 21,           ///< owner's session (if it is still the attached one)
  set_profile = 22,      ///< owner
  get_profile = 23,      ///< anyone: by relation; not_found for strangers
  export_account = 24,   ///< owner or its parent: the export document (JSON)
  delete_account = 25,   ///< owner or its parent: everything of the account goes; a linked
                         ///< child deleting itself gives its parent's PIN
  create_child = 26,     ///< owner (a parent)
  new_setup_code = 27,   ///< the linked parent of this child
  make_link_code = 30,   ///< owner (a parent)
  redeem_link_code = 31, ///< a child's family: the PIN hash (once)
  linked = 32,           ///< the family of this child: its parent
  unlinked = 33,         ///< the family of this child
  child_linked = 34,     ///< the family of child `caller`: it is linked to this parent
  child_unlinked = 35,   ///< the family of child `caller`: the link ended
  parent_decision = 36,  ///< the family of this child: the parent's answer on a step
  location = 37,         ///< the family of child `caller`: its location, pushed to the
                         ///< attached session, never stored
  ban = 40,              ///< the operator (caller 0): end the session, refuse attaches and
                         ///< ban both public keys; or lift that
  found_account = 41,    ///< parent `caller` makes this (new) child account
  complete_setup = 42,   ///< a session registering the child's device with its setup code
  card = 43,             ///< the family of child `caller`, whose parent weighs a friend step
                         ///< with this account: only if this account asked the child or
                         ///< answered it
  friend_renamed = 44,   ///< friend `caller` changed its name (a child's parent is told)
  relations = 45,        ///< a group's chat actor: which of `ids` this account approves
  group_joined = 46,     ///< a group's chat actor: this account joined the group (its members
                         ///< now); a child that no longer approves them all refuses
  group_left = 47,       ///< a group's chat actor: it is no longer a member of group `id`
  typing = 48,           ///< `caller` types (to this account, or in a group): pushed to the
                         ///< attached session if the account approves `caller`, never stored
  list_groups = 49,      ///< owner or its parent: the account's groups
  set_quiet = 50,        ///< the linked parent of this child: its quiet hours, or none
  get_quiet = 51,        ///< owner or its parent: the quiet hours and whether they run now
  call_out = 52,         ///< owner: a signal of the account's app to a peer of a call (an
                         ///< offer to a friend, or to a group through its chat actor)
  call_in = 53,          ///< `caller`'s actor (or a group's, for an offer): a signal of a
                         ///< call with `caller`, pushed to the attached session only
  end_calls = 54,        ///< the linked parent of this child: its calls end now
  post_moment = 55,      ///< owner: a post, a copy to each approved contact with a key
  react_moment = 56,     ///< owner: a like or comment on a post of `poster` (or its own)
  moment_reaction = 57,  ///< `caller`'s actor: it reacts to a post of this account
  delete_moment = 58,    ///< owner or its parent: the post is retracted from every contact
  summary = 59,          ///< the operator: where the account is served, its session, and
                         ///< how much mail it has stored (counts, never content)
};

/// The argument of `deliver`: mail for the account.
struct deliver_body {
  mail_kind kind = mail_kind::message;
  message_id id{};
  bytes payload;
};

/// The argument of `attach`: the session, and the device info its app gave at login.
struct attach_body {
  endpoint session;
  device_info device;
};

/// What an attach answers: the account, and where its actor lives (a session attaches
/// again when that node goes away).
struct attach_reply {
  account_info account;
  std::string node;
  uint64_t incarnation = 0;
  bool frozen = false;   ///< a child without a parent: its session refuses its sends
  bool asleep = false;   ///< a child in its quiet hours: its session refuses its sends but
                         ///< to its parent
  account_id parent = 0; ///< a child's linked parent
};

/// The argument of `found_account`: what the parent's actor decided of the new account.
struct found_body {
  std::string name;
  std::string birth_date;
  std::string setup_hash;
  uint64_t setup_expires_ms = 0;
};

/// The answer to `found_account`: made, or the id is taken (the parent tries another).
struct found_reply {
  bool made = false;
};

/// The argument of `card`.
struct card_request {
  bool with_avatar = false;
};

/// Who an account is, for a parent weighing its child's friend step with it: what a
/// contact sees, its role and, for a child, its parent's name.
struct card_body {
  profile_reply profile; ///< contact-level (`full` false); no avatar unless asked for
  account_role role = account_role::parent;
  std::string parent_name;
};

/// Why a child is no longer linked to a parent.
enum class unlink_reason : uint8_t {
  by_parent = 0,        ///< the parent's own app unlinked it: nothing to tell
  moved = 1,            ///< it moved to another parent with the PIN: the parent is told
  deleted = 2,          ///< the parent deleted it: its notices to the parent go
  deleted_by_child = 3, ///< it deleted itself with the PIN: the parent is told, notices go
};

/// The argument of `child_unlinked`.
struct unlink_notice {
  unlink_reason reason = unlink_reason::by_parent;
};

/// The argument of `redeem_link_code`: the secret of the code the child typed.
struct link_secret {
  uint64_t secret = 0;
};

/// The answer to a right `redeem_link_code`: the hash of the PIN the parent gave.
struct pin_hash_reply {
  std::string hash;
};

/// The argument of `ban`: the ban record to enforce, or none to lift it.
struct ban_order {
  std::optional<ban_record> ban;
};

/// The answer to `summary`: what an operator may see of an account.
struct account_summary {
  account_role role = account_role::parent;
  bool banned = false;
  bool frozen = false;      ///< a child without a parent
  std::string node;         ///< the node its actor runs on
  std::string session_node; ///< the node of its attached session; empty: offline
  uint64_t envelopes = 0;   ///< stored for it
  uint64_t bytes = 0;       ///< their payload bytes
};

/// The answer to `export_account`: the export document (JSON), the body of `account_data`.
struct account_document {
  std::string json;
};

/// The argument of `relations`: members of a group, or an account that would join one.
struct relation_query {
  std::vector<account_id> ids;
};

/// The answer to `relations`: the account's role, its linked parent (a child's), which
/// of the ids it approves (friends, not blocked; its linked parent or children), and
/// whether it is in as many groups as an account may be. A frozen child approves no one;
/// a banned account answers `not_found`.
struct relation_answer {
  bool child = false;
  account_id parent = 0;
  std::vector<account_id> approved;
  bool full = false;
};

/// Most groups one account is a member of.
constexpr size_t max_groups_per_account = 256;

// clang-format off
using user_interface = entity_interface<
  op<user_op::deliver, deliver_body>,  // a sender's session answers `accepted` itself
  op<user_op::friend_request>,
  op<user_op::friend_accepted>,
  op<user_op::friend_declined>,
  op<user_op::friend_removed>,
  op<user_op::account_gone>,
  op<user_op::add_friend, target_request>,
  op<user_op::accept_friend, target_request>,
  op<user_op::decline_friend, target_request>,
  op<user_op::list_contacts, nothing, contact_list>,
  op<user_op::get_key, target_request, key_reply>,
  op<user_op::get_status, target_request, status_reply>,
  op<user_op::ack, ack_request>,
  op<user_op::block_contact, target_request>,
  op<user_op::remove_contact, target_request>,
  op<user_op::report, report_request>,
  op<user_op::attach, attach_body, attach_reply>,
  op<user_op::detach, endpoint>,
  op<user_op::set_profile, profile_set_request>,
  op<user_op::get_profile, nothing, profile_reply>,
  op<user_op::export_account, nothing, account_document>,
  op<user_op::delete_account, account_delete_request>,
  op<user_op::create_child, child_create_request, child_setup_reply>,
  op<user_op::new_setup_code, nothing, child_setup_reply>,
  op<user_op::make_link_code, link_create_request, link_code_reply>,
  op<user_op::redeem_link_code, link_secret, pin_hash_reply>,
  op<user_op::linked, target_request>,  // the parent
  op<user_op::unlinked>,
  op<user_op::child_linked>,
  op<user_op::child_unlinked, unlink_notice>,
  op<user_op::parent_decision, account_flag>,
  op<user_op::location, location_body>,
  op<user_op::ban, ban_order>,
  op<user_op::found_account, found_body, found_reply>,
  op<user_op::complete_setup, register_child_request, register_reply>,
  op<user_op::card, card_request, card_body>,
  op<user_op::friend_renamed>,
  op<user_op::relations, relation_query, relation_answer>,
  op<user_op::group_joined, group_info>,
  op<user_op::group_left, target_request>,
  op<user_op::typing, typing_body>,
  op<user_op::list_groups, nothing, group_list>,
  op<user_op::set_quiet, quiet_set_request, quiet_reply>,
  op<user_op::get_quiet, nothing, quiet_reply>,
  op<user_op::call_out, call_request, call_ring_result>,
  op<user_op::call_in, call_event, call_ring_result>,  // an offer: the callee's outcome
  op<user_op::end_calls>,
  op<user_op::post_moment, moment_post>,
  op<user_op::react_moment, moment_reaction>,
  op<user_op::moment_reaction, moment_reaction>,
  op<user_op::delete_moment, moment_delete>,
  op<user_op::summary, nothing, account_summary>>;
// clang-format on

/// A request for user operation `Op` of account `id`.
template <user_op Op>
entity_request user_request(account_id id, account_id caller, user_interface::arg_of<Op> arg = {}) {
  return make_request<user_interface, Op>(user_kind, id, caller, std::move(arg));
}

/// Receipt mail of `kind` naming `ids` (at least one): the first id in each mail's id,
/// the others in its payload (receipt_ids), up to 1 + max_receipt_ids per mail.
std::vector<deliver_body> receipt_mail(mail_kind kind, std::span<const message_id> ids);

void write_body(bytes& out, const deliver_body& x);
void write_body(bytes& out, const attach_body& x);
void write_body(bytes& out, const attach_reply& x);
void write_body(bytes& out, const found_body& x);
void write_body(bytes& out, const found_reply& x);
void write_body(bytes& out, const card_request& x);
void write_body(bytes& out, const card_body& x);
void write_body(bytes& out, const unlink_notice& x);
void write_body(bytes& out, const link_secret& x);
void write_body(bytes& out, const pin_hash_reply& x);
void write_body(bytes& out, const ban_order& x);
void write_body(bytes& out, const account_document& x);
void write_body(bytes& out, const account_summary& x);
void write_body(bytes& out, const endpoint& x);
void write_body(bytes& out, const relation_query& x);
void write_body(bytes& out, const relation_answer& x);
template <>
result<deliver_body> decode_body<deliver_body>(std::span<const uint8_t> in);
template <>
result<attach_body> decode_body<attach_body>(std::span<const uint8_t> in);
template <>
result<attach_reply> decode_body<attach_reply>(std::span<const uint8_t> in);
template <>
result<found_body> decode_body<found_body>(std::span<const uint8_t> in);
template <>
result<found_reply> decode_body<found_reply>(std::span<const uint8_t> in);
template <>
result<card_request> decode_body<card_request>(std::span<const uint8_t> in);
template <>
result<card_body> decode_body<card_body>(std::span<const uint8_t> in);
template <>
result<unlink_notice> decode_body<unlink_notice>(std::span<const uint8_t> in);
template <>
result<link_secret> decode_body<link_secret>(std::span<const uint8_t> in);
template <>
result<pin_hash_reply> decode_body<pin_hash_reply>(std::span<const uint8_t> in);
template <>
result<ban_order> decode_body<ban_order>(std::span<const uint8_t> in);
template <>
result<account_document> decode_body<account_document>(std::span<const uint8_t> in);
template <>
result<account_summary> decode_body<account_summary>(std::span<const uint8_t> in);
template <>
result<endpoint> decode_body<endpoint>(std::span<const uint8_t> in);
template <>
result<relation_query> decode_body<relation_query>(std::span<const uint8_t> in);
template <>
result<relation_answer> decode_body<relation_answer>(std::span<const uint8_t> in);

/// The codec of the user kind: its requests' arguments and results, and its pushes.
entity_codec user_codec();

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::deliver_body)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::attach_body)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::attach_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::found_body)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::found_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::card_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::card_body)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::unlink_notice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::link_secret)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::pin_hash_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::ban_order)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::account_document)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::account_summary)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::relation_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::relation_answer)
