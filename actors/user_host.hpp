// The user host: one per node. It activates user actors on their first request (virtual
// actors, as in Orleans), forwards entity requests to them, and forgets them when they
// stop. A request that meets an actor which just stopped is retried on a fresh one.
#pragma once

#include <caf/actor_system.hpp>

#include "actors/user_actor.hpp"

namespace kinbox {

using lookup_atom = caf::atom_constant<caf::atom("lookup")>;

// clang-format off
using user_host_actor = caf::typed_actor<
  caf::replies_to<entity_request>::with<entity_reply>,
  /// The (activated) user actor of an account on this node.
  caf::replies_to<lookup_atom, account_id>::with<user_actor>>;
// clang-format on

user_host_actor spawn_user_host(caf::actor_system& sys, user_deps deps);

} // namespace kinbox
