#include "cluster/shard_map.hpp"

namespace kinbox {

namespace {

uint64_t mix(uint64_t x) {
  // splitmix64 finalizer: stable across builds and platforms.
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

} // namespace

shard_map::shard_map(uint32_t shards, std::vector<std::string> nodes)
    : shards_(shards), nodes_(std::move(nodes)) {
  for (auto& n : nodes_)
    node_hashes_.push_back(fnv1a(n));
}

uint32_t shard_map::shard_of(entity_kind kind, uint64_t id) const {
  return static_cast<uint32_t>(mix(id ^ (uint64_t{static_cast<uint8_t>(kind)} << 56)) % shards_);
}

const std::string& shard_map::owner(uint32_t shard) const {
  size_t best = 0;
  uint64_t best_weight = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto weight = mix(node_hashes_[i] ^ mix(shard));
    if (i == 0 || weight > best_weight) {
      best = i;
      best_weight = weight;
    }
  }
  return nodes_[best];
}

std::vector<uint32_t> shard_map::owned_by(const std::string& node) const {
  std::vector<uint32_t> out;
  for (uint32_t s = 0; s < shards_; ++s)
    if (owner(s) == node)
      out.push_back(s);
  return out;
}

} // namespace kinbox
