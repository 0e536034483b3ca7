// The sweeper: every sweep interval it asks the store to delete expired mail and tells
// the sender of each expired message with an `expired` receipt (itself mail), through the
// entity service.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>

#include "actors/user_actor.hpp"

namespace kinbox {

using sweep_atom = caf::atom_constant<caf::atom("sweep")>;

using sweeper_actor = caf::typed_actor<caf::reacts_to<sweep_atom>, caf::reacts_to<entity_retry_atom>>;

sweeper_actor spawn_sweeper(caf::actor_system& sys, user_deps deps,
                            std::chrono::milliseconds interval);

} // namespace kinbox
