// The user host: one per node. It activates user actors on their first request (virtual
// actors, as in Orleans), forwards entity requests to them, and forgets them when they
// stop. A request that meets an actor which just stopped is retried on a fresh one.
#pragma once

#include <caf/actor_system.hpp>

#include "actors/user_actor.hpp"

namespace kinbox {

// clang-format off
using user_host_actor = user_directory::extend<
  caf::replies_to<entity_request>::with<entity_reply>,
  /// Has every user actor store the mail it holds for an ack (node shutdown); answers
  /// when all have sent their puts.
  caf::replies_to<flush_atom>::with<bool>>;
// clang-format on

user_host_actor spawn_user_host(caf::actor_system& sys, user_deps deps);

} // namespace kinbox
