// Which node owns which entity. An entity key (kind, id) maps to one of S shards; a
// shard's owner is the rendezvous (highest-random-weight) winner among the live nodes, so
// every node computes the same map from the same membership view and a join or leave
// moves only about 1/N of the shards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kinbox {

enum class entity_kind : uint8_t { user = 1 };

class shard_map {
public:
  /// `nodes` must not be empty.
  shard_map(uint32_t shards, std::vector<std::string> nodes);

  uint32_t shard_count() const { return shards_; }

  uint32_t shard_of(entity_kind kind, uint64_t id) const;

  const std::string& owner(uint32_t shard) const;

  std::vector<uint32_t> owned_by(const std::string& node) const;

private:
  uint32_t shards_;
  std::vector<std::string> nodes_;
  std::vector<uint64_t> node_hashes_;
};

} // namespace kinbox
