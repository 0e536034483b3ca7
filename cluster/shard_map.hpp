// Which node owns which entity. An entity key (kind, id) maps to one of S shards (S is
// fixed per cluster and kept in KV). Each shard has one owner, written down in the
// cluster's `placement`: one KV value that changes only by compare-and-set on its
// revision, and whose epoch grows with every change. Where a shard *should* live is the
// rendezvous (highest-random-weight) winner among the live nodes, so every node computes
// the same targets from the same membership view, and a join or leave changes the target
// of only about 1/N of the shards; the owners follow the targets shard by shard, as each
// handoff completes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "protocol/types.hpp"

namespace kinbox {

/// Kinds of entity, as numbers: cluster/ routes them without knowing what they are
/// (actors/ names them and registers a host for each).
using entity_kind = uint8_t;

/// The splitmix64 finalizer: spreads ids evenly, stable across builds and platforms.
uint64_t mix64(uint64_t x);

/// The shard of an entity: a fixed function of (kind, id) and the cluster's shard count.
uint32_t shard_of(uint32_t shards, entity_kind kind, uint64_t id);

/// Rendezvous targets: for every shard, the index into `nodes` of the node with the
/// highest weight for it. Empty when `nodes` is empty.
std::vector<uint16_t> rendezvous_targets(uint32_t shards, const std::vector<std::string>& nodes);

/// The agreed owner of every shard, and the epoch of that agreement.
struct placement {
  static constexpr uint16_t no_owner = 0xffff;
  /// Most nodes a placement can name.
  static constexpr size_t max_nodes = 0xfffe;

  uint64_t epoch = 0;
  uint32_t shards = 0;
  std::vector<std::string> nodes; ///< the nodes that own shards, sorted
  std::vector<uint16_t> owners;   ///< per shard: index into `nodes`, or no_owner

  /// A placement of `shards` shards over `owner_nodes` by their rendezvous targets, at
  /// epoch 1 (a new cluster).
  static placement initial(uint32_t shards, const std::vector<std::string>& owner_nodes);

  /// The owner of `shard`, or nullptr when it has none.
  const std::string* owner(uint32_t shard) const;

  /// Shards owned by `node`.
  size_t owned_by(const std::string& node) const;

  /// A copy whose owners of the given shards are changed, at the next epoch; nodes that
  /// own nothing any more are dropped from `nodes`.
  placement with_owners(const std::vector<std::pair<uint32_t, std::string>>& changes) const;

  /// Shards `node` owned here that `next` gives to others without a release of `node`'s
  /// own (`releasing`, per shard): claimed while it was cut off, so its entities of them
  /// must stop. None if the shard counts differ.
  std::vector<uint32_t> lost_by(const std::string& node, const placement& next,
                                const std::vector<uint8_t>& releasing) const;

  bytes encode() const;
  static std::optional<placement> decode(std::span<const uint8_t> data);
};

} // namespace kinbox
