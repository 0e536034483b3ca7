// The user host: one per node, the host of the user kind in the entity service. It
// activates user actors on their first request (virtual actors, as in Orleans) for the
// shards this node serves, forgets them when they stop, and moves the mail of a shard:
//
// * release: stops the shard's user actors (each stores the mail it holds for an ack),
//   then sends the shard's stored mail to the new owner in batches, each deleted here only
//   after the new owner made it durable.
// * handoff: stores a batch from the previous owner, and tells the account's actor here,
//   if it is active, that stored mail arrived.
// * strays: after a restart (or a move that met a failure) mail of shards this node does
//   not own is sent to their owners the same way.
#pragma once

#include <caf/actor_system.hpp>

#include "actors/user_actor.hpp"

namespace kinbox {

// clang-format off
using user_host_actor = entity_host::extend<
  /// Has every user actor store the mail it holds for an ack (node shutdown); answers
  /// when all have sent their puts.
  caf::replies_to<flush_atom>::with<bool>>;
// clang-format on

user_host_actor spawn_user_host(caf::actor_system& sys, user_deps deps);

} // namespace kinbox
