// A group chat as the chats bucket keeps it (JSON, key "g<group id>"): its members, its
// creator, its name and a membership version that grows with every change; no message.
// The rules of who may be in a group together, as plain functions testable without
// actors; the chat actor (chat_actor.hpp) asks the members' user actors for the
// relations they check.
//
// The rule that matters most: a group never lets anyone reach a child who has not been
// approved for that child. Every child in a group approves every other member (a friend,
// or its linked parent), seen from the child's own contact list; an account joins only if
// that holds with it in the group.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "actors/user_interface.hpp"
#include "protocol/groups.hpp"

namespace kinbox {

/// The members a group may have by default (`--max-group-members`).
constexpr size_t default_max_group_members = 32;

struct chat_record {
  group_id id = 0;
  std::string name;
  account_id creator = 0;
  uint64_t version = 0;
  std::vector<account_id> members; ///< in the order they joined

  bool has(account_id a) const;
  group_info info() const;
  /// Adds or takes out a member; the version grows.
  void add(account_id a);
  void remove(account_id a);

  bytes encode() const;
  static std::optional<chat_record> decode(std::span<const uint8_t> data);
};

/// The chats bucket's key of a group.
std::string chat_key(group_id id);

/// A random group id (never an account's: see is_group_id).
group_id random_group_id();

/// Checks a `group_create` by `creator`: the name (as display names are checked, within
/// the group name's maxima), and the members: the creator's friends, 1..max-1 of them
/// besides the creator, no one twice. Returns the members with the creator first.
result<std::vector<account_id>> check_create(account_id creator, const group_create_request& req,
                                             size_t max_members);

/// Whether the accounts of `members` may be in one group, given each one's answer to
/// `relations` (about the others): every child approves every other member. Only pairs
/// with at least one of `joining` are looked at (the others were checked when they
/// joined). An account without an answer (no such account, or banned) fails the check,
/// and so does a joining one in as many groups as allowed.
bool pairwise_approved(std::span<const account_id> members, std::span<const account_id> joining,
                       const std::map<account_id, relation_answer>& answers);

/// Whether `by` approves every account of `others` (a group is made from, and a member
/// added by, the asker's own friends).
bool approves_all(const relation_answer& by, std::span<const account_id> others);

/// Checks the keys of a `group_send` against the group: one per member at most, none for
/// the sender or for a non-member; nullopt when they are right.
std::optional<failure> check_keys(const chat_record& chat, account_id sender,
                                  const std::vector<wrapped_key>& keys);

} // namespace kinbox
