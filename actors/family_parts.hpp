// The family actor's parts, shared by the files it is written in: its state, and the
// functions each file gives the other (family_actor.cpp: the queue of requests, loading,
// saving, calls to user entities and the behavior; family_ops.cpp: the operations, the
// PIN checks and link codes). Internal to actors/.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "actors/family_actor.hpp"
#include "actors/user_actor.hpp"
#include "cluster/serial_entity.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "protocol/wire.hpp"

namespace kinbox::family_parts {

/// The argument of `req`, a request for family operation `Op` (nullptr if it is not one).
template <family_op Op>
family_interface::arg_of<Op>* arg(entity_request& req) {
  return arg_of<family_interface, Op>(req);
}

using family_actor = serial_entity_actor;

/// The child's latest location: memory only.
struct latest_location {
  uint64_t at_ms = 0;
  bytes payload;
};

struct family_actor_state {
  account_id child = 0;
  std::optional<latest_location> location;
  std::shared_ptr<const family_deps> deps;
  /// Requests run one at a time, in order. After `entity_idle_time` without a request
  /// (and with no fresh location to keep) the actor passivates; its next request loads it
  /// from KV. Families of ids a stranger probed leave memory as those of real children do.
  serial_entity core;
  std::optional<family_state> family; ///< loaded; nullopt until then
  bool loading = false;
  static inline const char* name = "kinbox.family";
};

using family_pointer = family_actor::stateful_pointer<family_actor_state>;

inline auto logger() {
  return log::get("family");
}


/// Ends the running request: its answer goes out and the next one starts.
void finish(family_pointer self, reply_to rp, entity_reply reply);

/// The answer to anyone who is neither the child nor its linked parent.
entity_reply not_found();

/// Sends `req` (a user request, the child its caller); `then` gets the answer.
void call_user(family_pointer self, entity_request req, on_entity_reply then = {});

/// A notice for the linked parent (stored like mail until the parent's device acks it).
void notify_parent(family_pointer self, notice_type type, account_id other, uint64_t value);

/// Writes the family record, then `then(rp)`; on a KV failure runs `failed` (if any),
/// answers `rp` and ends.
void save(family_pointer self, reply_to rp, std::function<void(reply_to)> then,
          std::function<void()> failed = {});

/// Runs one request to its end (`finish`).
void handle(family_pointer self, entity_request& req, reply_to rp);

} // namespace kinbox::family_parts
