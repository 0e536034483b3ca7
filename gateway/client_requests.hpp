// A client frame of a logged-in session as the entity request it becomes. Each frame is
// decoded here once, by a plain function (no actor, no I/O), so every mapping is tested
// on its own (tests/unit/client_requests_test.cpp); the session only sends what comes
// out, or answers the refusal.
#pragma once

#include <variant>

#include "actors/family_actor.hpp"
#include "actors/user_actor.hpp"
#include "protocol/frame.hpp"

namespace kinbox {

/// What the client hears when an entity request succeeds: `ok`, `accepted` with the
/// message id, or a result frame of this type carrying the reply's body.
struct on_success {
  frame_type type = frame_type::ok;
  message_id id{}; ///< for `accepted`
};

/// Who the session is logged in as.
struct session_who {
  account_id account = 0;
  bool parent = false; ///< a parent account (else a child)
  bool frozen = false; ///< a child without a parent: it may not reach other accounts
};

/// A request for an entity, and how its success is answered.
struct entity_call {
  entity_kind kind = user_kind;
  uint64_t id = 0;
  uint8_t op = 0;
  bytes body;
  on_success answer;
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
