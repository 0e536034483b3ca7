// Who may make which request of an account: one table, read by the user actor before any
// operation runs. A refusal is `not_found`, the answer an id without an account gives, so
// a caller learns nothing of an account it may not reach (docs/architecture.md, "No
// probing"). What each relation then sees (a friend's profile, a stranger's nothing) is
// the operation's own projection.
#pragma once

#include <cstdint>

#include "actors/user_actor.hpp"

namespace kinbox {

/// How the caller of a request stands to the account it is made of.
enum class relation : uint8_t {
  self = 1,       ///< the account itself (its sessions, its family entity)
  parent = 2,     ///< its linked parent
  child = 4,      ///< a child linked to it (through its family entity)
  operator_ = 8,  ///< kinbox-admin (caller 0)
  other = 16,     ///< any other account: friend, stranger or about to be linked
};

/// A set of relations.
using relations = uint8_t;
constexpr relations anyone = 0x1f;
constexpr relations operator|(relation a, relation b) {
  return static_cast<relations>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}

struct access_rule {
  relations who = 0;
  /// Runs without a loaded account (its creation, a child's setup, a link code): the
  /// operation checks what it needs.
  bool before_account = false;
  /// Made of an id without an account, it is answered `ok` (nothing to tell the caller
  /// either way), else `not_found`.
  bool silent_when_unknown = false;
  /// The account itself may make it while it is a frozen child (one without a parent):
  /// log in, read and ack what is not a message, export its data, hear of a new link.
  bool when_frozen = false;
};

enum class access : uint8_t { run, not_found, silent_ok, frozen, unknown_op };

/// Whether a request of operation `op` from a caller in relation `r` runs, for an account
/// that exists (`known`) and is frozen or not.
access check_access(uint8_t op, relation r, bool known, bool frozen);

} // namespace kinbox
