// The shard keeper of the user kind: the stored mail of its shards, which lives in the
// node's store, not in the user actors, and moves with a shard:
//
// * release: once the shard's user actors stopped (each stored the mail it held for an
//   ack), sends the shard's stored mail to the new owner in batches, each deleted here
//   only after the new owner made it durable.
// * handoff: stores a batch from the previous owner; the host tells the recipients'
//   active actors that stored mail arrived.
// * strays: after a restart (or a move that met a failure) mail of shards this node does
//   not own is sent to their owners the same way.
#pragma once

#include <caf/actor_system.hpp>

#include <memory>

#include "cluster/entity_kit.hpp"
#include "persistence/store_actor.hpp"

namespace kinbox {

shard_keeper spawn_user_mail(caf::actor_system& sys, store_actor store,
                             std::shared_ptr<entity_service> service);

} // namespace kinbox
