// The family of a child as the families bucket keeps it (JSON, key = the child's id), and
// its rules as a plain class, testable without actors: the one parent link, the parent
// PIN's hash and its lockout, the friend-approval policy and the approvals waiting.
//
// PIN tries: `max_pin_failures` wrong tries in a row lock the PIN for `first_lockout`;
// every wrong try after a lockout locks it again for twice as long, up to `max_lockout`.
// A right PIN resets the count. A try is counted (and persisted) before its hash is
// checked, so neither a crash nor a move gives an attacker a free try.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/limits.hpp"
#include "protocol/messages.hpp"

namespace kinbox {

/// What the server does with a child's friend requests.
enum class friend_policy : uint8_t {
  parent_approves = 1, ///< each request the child sends or accepts waits for its parent
  child_alone = 2,     ///< the child adds friends alone; the parent still sees every contact
};

struct pin_rules {
  uint32_t max_failures = 5;
  uint64_t first_lockout_ms = 60'000;            ///< 1 minute
  uint64_t max_lockout_ms = 24ull * 3600 * 1000; ///< 1 day
};

/// A friend step of the child waiting for the parent.
struct pending_approval {
  account_id other = 0;
  bool ours = false; ///< the child asked (true) or accepts their request (false)
  uint64_t since_ms = 0;
  friend bool operator==(const pending_approval&, const pending_approval&) = default;
};

class family_state {
public:
  account_id child = 0;
  account_id parent = 0; ///< 0: not linked
  uint64_t linked_ms = 0;
  std::string pin_hash; ///< argon2id string; empty: no PIN set
  friend_policy policy = friend_policy::parent_approves;
  bool location_sharing = true;
  uint32_t pin_failures = 0;    ///< wrong tries since the last right one
  uint64_t locked_until_ms = 0; ///< no try before it
  uint32_t lockouts = 0;        ///< lockouts since the last right try
  std::vector<pending_approval> approvals;
  /// Link codes the child tried (right or wrong): guessing is bounded by the guesser,
  /// never by voiding the code of the parent it guesses at.
  stored_bucket redeems;

  bool linked() const { return parent != 0; }
  bool is_parent(account_id caller) const { return linked() && caller == parent; }
  /// Whether a step of the child must wait for its parent: always, unless a linked
  /// parent lets the child add friends alone (an unlinked child waits for a link).
  bool needs_approval() const { return !linked() || policy == friend_policy::parent_approves; }

  /// How long until a PIN may be tried, if it may not be now.
  std::optional<uint64_t> pin_wait(uint64_t now_ms) const;
  /// Counts a try as wrong (before it is checked); true if this try starts a lockout.
  bool count_pin_try(uint64_t now_ms, const pin_rules& rules);
  /// The try was right: it does not count.
  void pin_right();

  /// Records a waiting step (once per other account); false if it was there already.
  bool add_approval(account_id other, bool ours, uint64_t now_ms);
  /// Takes the waiting step for `other` out; nullopt if there is none.
  std::optional<pending_approval> take_approval(account_id other);
  /// Drops steps older than `ttl_ms`; true if any was dropped.
  bool expire_approvals(uint64_t now_ms, uint64_t ttl_ms);

  /// Ends the link: the parent, its PIN and what waited for it go.
  void unlink();

  bytes encode() const;
  static std::optional<family_state> decode(std::span<const uint8_t> data);
};

} // namespace kinbox
