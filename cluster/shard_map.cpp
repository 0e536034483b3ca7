#include "cluster/shard_map.hpp"

#include <algorithm>
#include <map>

#include "protocol/wire.hpp"

namespace kinbox {

namespace {

constexpr uint8_t placement_format = 1;

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

} // namespace

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint32_t shard_of(uint32_t shards, entity_kind kind, uint64_t id) {
  return static_cast<uint32_t>(mix64(id ^ (uint64_t{kind} << 56)) % shards);
}

std::vector<uint16_t> rendezvous_targets(uint32_t shards, const std::vector<std::string>& nodes) {
  std::vector<uint16_t> out;
  if (nodes.empty())
    return out;
  std::vector<uint64_t> hashes;
  hashes.reserve(nodes.size());
  for (auto& n : nodes)
    hashes.push_back(mix64(fnv1a(n)));
  out.resize(shards);
  for (uint32_t s = 0; s < shards; ++s) {
    auto shard_hash = mix64(s);
    uint16_t best = 0;
    uint64_t best_weight = 0;
    for (size_t i = 0; i < hashes.size(); ++i) {
      auto weight = mix64(hashes[i] ^ shard_hash);
      if (i == 0 || weight > best_weight) {
        best = static_cast<uint16_t>(i);
        best_weight = weight;
      }
    }
    out[s] = best;
  }
  return out;
}

placement placement::initial(uint32_t shards, const std::vector<std::string>& owner_nodes) {
  placement p;
  p.epoch = 1;
  p.shards = shards;
  p.nodes = owner_nodes;
  std::sort(p.nodes.begin(), p.nodes.end());
  p.nodes.erase(std::unique(p.nodes.begin(), p.nodes.end()), p.nodes.end());
  p.owners = rendezvous_targets(shards, p.nodes);
  if (p.owners.empty())
    p.owners.assign(shards, no_owner);
  return p;
}

const std::string* placement::owner(uint32_t shard) const {
  if (shard >= owners.size() || owners[shard] == no_owner || owners[shard] >= nodes.size())
    return nullptr;
  return &nodes[owners[shard]];
}

size_t placement::owned_by(const std::string& node) const {
  auto i = std::lower_bound(nodes.begin(), nodes.end(), node);
  if (i == nodes.end() || *i != node)
    return 0;
  auto index = static_cast<uint16_t>(i - nodes.begin());
  return static_cast<size_t>(std::count(owners.begin(), owners.end(), index));
}

std::vector<uint32_t> placement::lost_by(const std::string& node, const placement& next,
                                        const std::vector<uint8_t>& releasing) const {
  std::vector<uint32_t> out;
  if (next.shards != shards)
    return out;
  for (uint32_t s = 0; s < shards; ++s) {
    auto* before = owner(s);
    auto* after = next.owner(s);
    bool was_mine = before != nullptr && *before == node;
    bool is_mine = after != nullptr && *after == node;
    if (was_mine && !is_mine && (s >= releasing.size() || releasing[s] == 0))
      out.push_back(s);
  }
  return out;
}

placement placement::with_owners(const std::vector<std::pair<uint32_t, std::string>>& changes) const {
  std::vector<const std::string*> by_shard(shards, nullptr);
  for (uint32_t s = 0; s < shards; ++s)
    by_shard[s] = owner(s);
  for (auto& [shard, node] : changes)
    if (shard < shards)
      by_shard[shard] = &node;
  placement next;
  next.epoch = epoch + 1;
  next.shards = shards;
  for (auto* n : by_shard)
    if (n != nullptr)
      next.nodes.push_back(*n);
  std::sort(next.nodes.begin(), next.nodes.end());
  next.nodes.erase(std::unique(next.nodes.begin(), next.nodes.end()), next.nodes.end());
  next.owners.assign(shards, no_owner);
  for (uint32_t s = 0; s < shards; ++s)
    if (by_shard[s] != nullptr)
      next.owners[s] = static_cast<uint16_t>(
          std::lower_bound(next.nodes.begin(), next.nodes.end(), *by_shard[s]) -
          next.nodes.begin());
  return next;
}

bytes placement::encode() const {
  bytes out;
  wire::writer w{out};
  w.u8(placement_format).u64(epoch).u32(shards).u16(static_cast<uint16_t>(nodes.size()));
  for (auto& n : nodes)
    w.str(n);
  for (auto o : owners)
    w.u16(o);
  return out;
}

std::optional<placement> placement::decode(std::span<const uint8_t> data) {
  wire::reader r{data};
  uint8_t format = 0;
  uint16_t count = 0;
  placement p;
  r.u8(format);
  r.u64(p.epoch);
  r.u32(p.shards);
  r.u16(count);
  if (!r.ok() || format != placement_format || p.shards == 0 || p.shards > (1u << 16) ||
      count > max_nodes)
    return std::nullopt;
  p.nodes.resize(count);
  for (auto& n : p.nodes)
    r.str(n, 64);
  p.owners.resize(p.shards);
  for (auto& o : p.owners)
    r.u16(o);
  if (!r.finished() || !std::is_sorted(p.nodes.begin(), p.nodes.end()))
    return std::nullopt;
  for (auto o : p.owners)
    if (o != no_owner && o >= count)
      return std::nullopt;
  return p;
}

} // namespace kinbox
