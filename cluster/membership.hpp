// Membership as plain classes, tested without actors: the record each node heartbeats
// into the nodes bucket, the view of live nodes built from what a KV watch delivers, and
// the planner that turns (placement, live nodes) into the shard moves this node makes.
//
// Liveness is judged by each node on its own clock: a node is live while its record keeps
// changing (every heartbeat writes a new revision); one whose record has not changed for
// a lease is gone. Wall clocks of other machines are never compared. A record deleted by
// its node is a clean leave, seen at once.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/entity_service.hpp"
#include "cluster/shard_map.hpp"

namespace kinbox {

/// What a node writes into the nodes bucket at every heartbeat (JSON: operators read it
/// with `kinbox-admin status` or the nats CLI).
struct node_record {
  std::string id;
  uint64_t incarnation = 0;
  std::string gateway;
  std::string key_fingerprint; ///< of the cluster key the node serves with
  uint64_t started_ms = 0;
  uint64_t heartbeat_ms = 0;
  bool draining = false;
  uint64_t sessions = 0;
  uint64_t stored_mail = 0;
  uint64_t epoch = 0;    ///< the placement epoch the node has seen
  std::string version;   ///< of kinbox on the node
  uint64_t lease_ms = 0; ///< its membership lease: it heartbeats every sixth of it
  std::vector<std::pair<uint32_t, std::string>> moving; ///< shards it is handing off, and to whom

  bytes encode() const;
  static std::optional<node_record> decode(std::span<const uint8_t> data);
};

class membership_view {
public:
  using clock = std::chrono::steady_clock;

  explicit membership_view(std::chrono::milliseconds lease) : lease_(lease) {}

  /// A node's record was written. Returns the incarnation it replaces, if any (a node
  /// that restarted within its lease).
  std::optional<departed_node> saw(const node_record& r, uint64_t revision, clock::time_point now);

  /// A node deleted its record: it left.
  std::optional<departed_node> gone(const std::string& id);

  /// Forgets the nodes whose record has not changed for a lease, and returns them.
  std::vector<departed_node> expire(clock::time_point now);

  /// Counts every known node as just heard of: after this node could not see the bucket
  /// (its own heartbeats did not come back), silence meant nothing about the others.
  void heard_all(clock::time_point now);

  /// Live nodes, sorted by id.
  std::vector<live_node> live() const;

  /// Live nodes that take shards (not draining), sorted: what rendezvous hashing runs on.
  std::vector<std::string> targets() const;

  bool is_live(const std::string& id) const { return nodes_.count(id) != 0; }

  const node_record* record(const std::string& id) const;

  /// When the record of `id` last changed, if it is known.
  std::optional<clock::time_point> last_change(const std::string& id) const;

private:
  struct entry {
    node_record record;
    uint64_t revision = 0;
    clock::time_point changed;
  };
  std::chrono::milliseconds lease_;
  std::map<std::string, entry> nodes_;
};

/// What this node should do about the placement, given who is live.
struct shard_moves {
  /// Shards whose owner is gone (or that have none) and whose target is this node.
  std::vector<uint32_t> claims;
  /// Shards this node owns whose target is another node: (shard, target), by shard.
  std::vector<std::pair<uint32_t, std::string>> handoffs;
};

/// `live`: ids of live nodes (sorted); `targets`: those that take shards (sorted).
shard_moves plan_moves(const placement& p, const std::vector<std::string>& live,
                       const std::vector<std::string>& targets, const std::string& me);

} // namespace kinbox
