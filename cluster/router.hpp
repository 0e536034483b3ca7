// The router: every entity request of the node goes through it. It maps the entity to its
// shard, and the shard to its owner (shard_map); it sends the request to the subject
// `kinbox.<cluster>.shard.<k>` with NATS request/reply, or, when the owner is this node and
// the local shortcut is on, hands it to the local entity host (same semantics, no hop).
// It also serves the shards this node owns: requests arriving on their subjects go to the
// host and the replies go back to the requester's inbox.
//
// A "no responders" answer (a shard between owners) is retried with backoff; a request
// that gets no reply within the timeout fails with `timeout`.
#pragma once

#include <caf/actor_system.hpp>

#include <chrono>
#include <string>

#include "cluster/entity.hpp"
#include "cluster/nats_link.hpp"

namespace kinbox {

using serve_atom = caf::atom_constant<caf::atom("serve")>;
using nats_in_atom = caf::atom_constant<caf::atom("nats_in")>;
using nats_reply_atom = caf::atom_constant<caf::atom("nats_rep")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

// clang-format off
using router_actor = caf::typed_actor<
  /// Routes a request to its entity wherever it lives; errors come back as replies.
  caf::replies_to<entity_request>::with<entity_reply>,
  /// Starts serving this node's shards with the given host.
  caf::reacts_to<serve_atom, entity_actor>,
  /// Internal: a request for one of our shards arrived through NATS.
  caf::reacts_to<nats_in_atom, nats_message>,
  /// Internal: a reply to one of our requests arrived in our inbox.
  caf::reacts_to<nats_reply_atom, nats_message>,
  /// Internal: a pending request ran out of time / is due for another try.
  caf::reacts_to<timeout_atom, uint64_t>,
  caf::reacts_to<retry_atom, uint64_t>>;
// clang-format on

struct router_config {
  std::string cluster;
  std::string node_id;
  uint32_t shards = 256;
  bool local_shortcut = true;
  nats_link* link = nullptr; ///< outlives the router
  std::chrono::milliseconds request_timeout{5000};
  int max_attempts = 6; ///< tries of a request that finds no responder
};

/// The NATS subject of one shard.
std::string shard_subject(const std::string& cluster, uint32_t shard);

router_actor spawn_router(caf::actor_system& sys, router_config cfg);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::nats_message)
