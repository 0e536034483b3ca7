// What others see of an account: plain functions, so the privacy rules read (and are
// tested) apart from the actor that reads the records. A contact sees the name, the id,
// the avatar, the role and whether the account is online; the account itself and its
// linked parent see everything the profile holds.
#pragma once

#include <optional>

#include "actors/contacts.hpp"
#include "actors/profile.hpp"
#include "actors/user_actor.hpp"

namespace kinbox {

/// Who may see an account's profile, and how much of it.
enum class profile_sight : uint8_t {
  none,    ///< a stranger: `not_found`, as for an id without an account
  contact, ///< a friend, a pending step, a blocked one, a child's parent
  full,    ///< the account itself or its linked parent
};

/// The profile as `sight` shows it (`none` shows nothing: do not call it for that).
profile_reply profile_view(const account_record& account, profile_record profile, bool online,
                           profile_sight sight);

/// An account's online status and last seen: online while the node holding its session
/// lives (its heartbeat stands for its sessions); a session on a node that went away is
/// offline, last seen at that node's last heartbeat (or the attach, if this node never saw
/// the node go), unless the last-seen record is later.
status_reply status_view(account_id id, const std::optional<presence_record>& presence,
                         uint64_t last_seen_ms, const cluster_view& view);

} // namespace kinbox
