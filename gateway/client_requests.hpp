// A client frame of a logged-in session as the entity request it becomes. Each frame is
// decoded here once, by a plain function (no actor, no I/O), into the typed argument of
// the operation it asks for: it reaches the entity's actor as that value, and becomes
// bytes again only if it crosses nodes. Every mapping is tested on its own
// (tests/unit/client_requests_test.cpp); the session only sends what comes out, or
// answers the refusal.
#pragma once

#include <optional>
#include <variant>

#include "actors/chat_actor.hpp"
#include "actors/family_actor.hpp"
#include "actors/user_actor.hpp"
#include "protocol/frame.hpp"

namespace kinbox {

/// Who the session is logged in as.
struct session_who {
  account_id account = 0;
  bool parent = false; ///< a parent account (else a child)
  bool frozen = false; ///< a child without a parent: it may not reach other accounts
  bool asleep = false; ///< a child in its quiet hours: it may reach only its parent
  account_id linked_parent = 0; ///< a child's linked parent
};

/// A request for an entity, made through its kind's interface with the frame's body as
/// its typed argument.
struct entity_call {
  explicit entity_call(entity_request r, std::optional<message_id> send_id = std::nullopt)
      : req(std::move(r)), accepts(send_id) {}

  entity_request req;
  /// A send: success is answered `accepted` with this message id (client_replies.hpp).
  std::optional<message_id> accepts;
  bool guesses_code = false; ///< counts against the address's code guesses first
};

/// A request refused before any entity sees it. `closes`: the frame's body does not
/// match its type, or the frame is no client request; the session ends, as for any
/// malformed frame. Else an error reply, and the session goes on.
struct request_refusal {
  failure why;
  bool closes = false;
};

using mapped_request = std::variant<entity_call, request_refusal>;

/// The entity request of client frame `f` (any request type but `whoami`, which the
/// session answers itself).
mapped_request map_request(const frame_view& f, const session_who& who);

} // namespace kinbox
