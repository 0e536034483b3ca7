// The membership actor: one per node, detached (every step is a blocking KV round trip).
//
// * Heartbeats: every lease/6 it writes the node's record into the nodes bucket (whose
//   TTL is the lease) and reads the placement. A round that succeeds extends this node's
//   lease to half a lease past the round's start; a node cut off from NATS therefore
//   stops serving after lease/2, while the others wait a whole lease before they take
//   its shards.
// * Watches: the nodes bucket and the placement, each on a thread of its own; every node
//   builds the same view of live nodes from them (membership_view). Peers are judged gone
//   only while this node sees its own heartbeats through its watch.
// * Placement: the owners follow the rendezvous targets. Shards of a node that is gone
//   are claimed by their targets; shards whose target is another node are handed off,
//   a few at a time (`moving_shards`), through the service actor, and change owner in one
//   compare-and-set of the placement once their state is durable at the target. No
//   protocol of its own: KV's revision check is the only agreement.
// * Drain: the node marks itself draining (other nodes stop targeting it), hands off every
//   shard, and answers its drain requests when it owns none.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cluster/entity_service.hpp"
#include "cluster/kv_actor.hpp"
#include "cluster/membership.hpp"
#include "cluster/nats_link.hpp"
#include "persistence/store_actor.hpp"

namespace kinbox {

using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using kv_change_atom = caf::atom_constant<caf::atom("kv_change")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;

/// Which watch a change came from.
enum class watched : uint8_t { nodes = 1, cluster = 2 };

// clang-format off
using membership_actor = caf::typed_actor<
  /// Hands every shard of this node to the others; answers true when it owns none, or
  /// at once when no other node can take them.
  caf::replies_to<drain_atom>::with<bool>,
  /// Deletes this node's record (a clean leave: the others see it go at once).
  caf::replies_to<leave_atom>::with<bool>,
  /// Internal: a heartbeat round is due.
  caf::reacts_to<heartbeat_atom>,
  /// Internal: finished handoffs are due to be written to the placement.
  caf::reacts_to<commit_atom>,
  /// Internal: a watch saw a change.
  caf::reacts_to<kv_change_atom, watched, kv_change>>;
// clang-format on

/// The placement as read from KV, with the revision an update must name.
struct placement_record {
  placement map;
  uint64_t revision = 0;
};

/// The key of the placement in the cluster bucket.
constexpr const char* placement_key = "placement";

/// Shards of a new cluster when none is configured.
constexpr uint32_t default_shards = 4096;

/// Reads the cluster's placement, or makes one (every shard on this node) for a new
/// cluster. Fails when `shards` is set and differs from the cluster's.
[[nodiscard]] result<placement_record>
load_or_create_placement(kv_bucket& cluster, const std::string& me, uint32_t shards);

/// What every node of a cluster must share, as fingerprints that reveal neither secret:
/// the cluster key (apps pin it; a node with another one gets `key_mismatch` from them)
/// and the PIN pepper (a PIN hashed with another pepper never matches again).
struct key_fingerprints {
  std::string cluster_key;
  std::string pepper;
  friend bool operator==(const key_fingerprints&, const key_fingerprints&) = default;
};

/// The key of the cluster's fingerprints in the cluster bucket.
constexpr const char* keys_key = "keys";

/// Compares this node's fingerprints with the cluster's (the first node to start records
/// its own): fails with invalid_argument, naming both, when they differ.
[[nodiscard]] result<bool> check_key_fingerprints(kv_bucket& cluster, const key_fingerprints& mine);

/// Refuses `id` when a running node has it: its record in `nodes` is written again within
/// two heartbeats (the record a killed run left behind stands still until it expires).
/// Fails with invalid_argument naming that node's gateway.
[[nodiscard]] result<bool> check_node_id_free(kv_bucket& nodes, const std::string& id,
                                              std::chrono::milliseconds lease);

/// The key of the storage format in the cluster bucket: "sealed" once every account
/// record is sealed (cluster/sealed_kv.hpp).
constexpr const char* storage_key = "storage";

/// Seals the account records a cluster wrote before records were sealed, once for the
/// cluster (the first node of the new version does it and records it in the cluster
/// bucket; nodes that find the record skip it). Idempotent if two nodes race.
[[nodiscard]] result<bool> migrate_storage(kv_buckets& b, const crypto::storage_secrets& secrets);

struct membership_config {
  std::string node_id;
  uint64_t incarnation = 0;
  std::string gateway;
  std::string key_fingerprint; ///< of the cluster key, shown by kinbox-admin status
  uint64_t started_ms = 0;
  std::chrono::milliseconds lease{6000};
  size_t moving_shards = 4;
  std::function<uint64_t()> now_ms;
  /// Another process wrote this node id's record: this one serves nothing more and
  /// should stop, leaving the record to the other.
  std::function<void()> on_displaced;
};

struct membership_deps {
  std::shared_ptr<kv_bucket> nodes;   ///< bucket with TTL = lease
  std::shared_ptr<kv_bucket> cluster; ///< the placement
  std::shared_ptr<entity_service> service;
  store_actor store;
};

membership_actor spawn_membership(caf::actor_system& sys, membership_config cfg,
                                  membership_deps deps, placement_record initial);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::kv_change)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::watched)
