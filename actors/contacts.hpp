// Account records and contact lists as they are kept in the KV buckets (JSON), and the
// friend-request state machine as a plain class, so the rules are testable without actors.
//
// States of a contact, seen from the owner of the list:
//   (none) --add--> outgoing --their accept--> friends
//   (none) --their request--> incoming --accept--> friends, --decline--> (none)
//   outgoing + their request (both asked) --> friends
//   a child that needs its parent's approval: add and accept park in awaiting_parent;
//   the parent's approval goes on as above (outgoing, or friends), a denial drops it
//   blocked: requests from it are dropped silently; the requester sees no difference.
// Pending entries (outgoing, incoming, awaiting_parent) expire after the request TTL. A
// request declined or expired may not be sent again to the same account before its
// cooldown ends, and new requests are limited per account by a token bucket.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "config/limits.hpp"
#include "protocol/messages.hpp"
#include "protocol/quiet.hpp"

namespace kinbox {

/// What the accounts bucket holds of one account.
struct account_record {
  account_id id = 0;
  std::string name;
  std::string birth_date;
  account_role role = account_role::child;
  public_key sign_key{}; ///< all zero for a child whose device has not registered yet
  public_key box_key{};
  uint64_t created_ms = 0;
  /// A child made by its parent: the hash of the one-time setup secret its device
  /// registers with (hex; empty once used or when there is none), and when it expires.
  std::string setup_hash;
  uint64_t setup_expires_ms = 0;
  /// A child's quiet hours, set by its linked parent (none: never quiet).
  std::optional<quiet_schedule> quiet;
};

/// A random 10-digit account id: ids are not enumerable; a clash is retried by the caller.
account_id random_account_id();

/// Tries to allocate an id before a registration gives up.
constexpr int max_id_attempts = 8;

bytes encode_account(const account_record& a);
std::optional<account_record> decode_account(std::span<const uint8_t> data);

/// Checks a registration: a display name (protocol/text.hpp), the role of a parent (a
/// child's account is made by its parent), a real birth date old enough for a parent on
/// `now_ms`'s day, usable keys.
std::optional<std::string> validate_registration(const register_request& req, uint64_t now_ms,
                                                 const age_rules& ages);

/// Checks a parent's `child_create`: a display name and a real birth date young enough for
/// a child on `now_ms`'s day.
std::optional<std::string> validate_child(const child_create_request& req, uint64_t now_ms,
                                          const age_rules& ages);

/// Checks the keys a device registers: a usable Ed25519 and X25519 point.
std::optional<std::string> check_public_keys(const public_key& sign_key, const public_key& box_key);

/// What the contact list of an account says about one other account after an event.
enum class contact_effect {
  none,           ///< nothing changed
  changed,        ///< the list changed; persist it
  notify_request, ///< changed; tell the other side of our request
  notify_accept,  ///< changed; tell the other side we accepted
  notify_decline, ///< changed; tell the other side we declined
  notify_remove,  ///< changed; tell the other side we are no longer its contact
  ask_parent,     ///< changed; the step waits for the owner's parent (awaiting_parent)
};

class contact_list_state {
public:
  struct entry {
    contact_state state = contact_state::outgoing;
    uint64_t since_ms = 0; ///< when the entry reached its state (pending ones expire)
    /// For awaiting_parent: the owner asked (true) or accepts their request (false).
    bool ours = false;
    /// For awaiting_parent after the owner asked: they asked too meanwhile.
    bool they_asked = false;
    /// For blocked: the owner filed a report about them while this block holds.
    bool reported = false;
    friend bool operator==(const entry&, const entry&) = default;
  };

  std::optional<contact_state> state_of(account_id other) const;
  bool are_friends(account_id other) const { return state_of(other) == contact_state::friends; }
  bool is_blocked(account_id other) const { return state_of(other) == contact_state::blocked; }
  const std::map<account_id, entry>& entries() const { return entries_; }

  /// The owner asks `other` to be friends. A new request spends a token of the account's
  /// bucket and is refused during a cooldown for `other` (friend_request_cooldown) or with
  /// an empty bucket (friend_request_limit), each with its retry-after. `needs_parent`:
  /// the owner is a child whose parent approves its friends.
  result<contact_effect> add(account_id other, uint64_t now_ms, const friend_limit_config& rules,
                             bool needs_parent);
  /// `other` asked the owner.
  contact_effect receive_request(account_id other, uint64_t now_ms);
  /// The owner accepts `other`'s request; nullopt if there is no such request.
  std::optional<contact_effect> accept(account_id other, uint64_t now_ms, bool needs_parent);
  /// `other` accepted the owner's request.
  contact_effect receive_accept(account_id other, uint64_t now_ms);
  /// The owner declines `other`'s request; nullopt if there is no such request.
  std::optional<contact_effect> decline(account_id other);
  /// `other` declined the owner's request: it may not be asked again for the cooldown.
  contact_effect receive_decline(account_id other, uint64_t now_ms,
                                 const friend_limit_config& rules);
  /// The owner's parent approved the step waiting for `other`.
  contact_effect parent_approved(account_id other, uint64_t now_ms);
  /// The owner's parent denied it.
  contact_effect parent_denied(account_id other);
  /// The owner (or its parent) blocks `other`: nothing from it reaches the owner.
  contact_effect block(account_id other, uint64_t now_ms);
  /// The owner reports `other` (blocked already): true if a report is to be filed; false
  /// if one was filed while this block holds (one open report per reporter and target).
  /// A new report spends a token of the account's report bucket: none left is
  /// rate_limited with its retry-after.
  result<bool> may_report(account_id other, uint64_t now_ms, const friend_limit_config& rules);
  /// The report about `other` was filed.
  void reported(account_id other);
  /// The owner (or its parent) removes `other` (a blocked one is unblocked).
  contact_effect remove(account_id other);
  /// `other` removed or blocked the owner.
  contact_effect receive_remove(account_id other);
  /// `other` deleted its account: every trace of it goes (entry, cooldown, family link).
  /// True if anything changed.
  bool forget(account_id other);
  /// Drops pending entries older than the request TTL (an expired request of the owner
  /// starts a cooldown) and cooldowns that ended. True if anything changed.
  bool expire(uint64_t now_ms, const friend_limit_config& rules);

  /// The parent linked to this account (a child), or 0.
  account_id parent() const { return parent_; }
  void set_parent(account_id parent) { parent_ = parent; }
  /// The children linked to this account (a parent).
  const std::set<account_id>& children() const { return children_; }
  bool add_child(account_id child) { return children_.insert(child).second; }
  bool remove_child(account_id child) { return children_.erase(child) > 0; }
  /// The group chats this account is a member of (their chat actors tell it).
  const std::set<uint64_t>& groups() const { return groups_; }
  bool join_group(uint64_t group) { return groups_.insert(group).second; }
  bool leave_group(uint64_t group) { return groups_.erase(group) > 0; }
  /// Whether mail from `other` reaches the owner: a friend (not blocked), the linked
  /// parent or a linked child. Groups hold only members approved for each other so.
  bool approves(account_id other) const {
    return are_friends(other) || (other != 0 && other == parent_) || children_.count(other) != 0;
  }

  bytes encode() const;
  static std::optional<contact_list_state> decode(std::span<const uint8_t> data);

private:
  void start_cooldown(account_id other, uint64_t from_ms, const friend_limit_config& rules);

  std::map<account_id, entry> entries_;
  std::map<account_id, uint64_t> cooldown_until_; ///< ms, per account asked lately
  stored_bucket requests_;
  stored_bucket reports_;
  account_id parent_ = 0;
  std::set<account_id> children_;
  std::set<uint64_t> groups_;
};

} // namespace kinbox
