#include "cluster/membership.hpp"
#include "protocol/json_fields.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace kinbox {

bytes node_record::encode() const {
  nlohmann::json moves = nlohmann::json::array();
  for (auto& [shard, to] : moving)
    moves.push_back({{"shard", shard}, {"to", to}});
  nlohmann::json j{{"id", id},
                   {"incarnation", incarnation},
                   {"gateway", gateway},
                   {"key", key_fingerprint},
                   {"started_ms", started_ms},
                   {"heartbeat_ms", heartbeat_ms},
                   {"draining", draining},
                   {"sessions", sessions},
                   {"stored_mail", stored_mail},
                   {"epoch", epoch},
                   {"version", version},
                   {"lease_ms", lease_ms},
                   {"moving", moves}};
  auto text = j.dump();
  return bytes(text.begin(), text.end());
}

std::optional<node_record> node_record::decode(std::span<const uint8_t> data) {
  auto j = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  try {
    node_record r;
    r.id = j.at("id").get<std::string>();
    r.incarnation = json_uint<uint64_t>(j, "incarnation");
    r.gateway = j.value("gateway", "");
    r.key_fingerprint = j.value("key", "");
    r.started_ms = json_uint_or(j, "started_ms", uint64_t{0});
    r.heartbeat_ms = json_uint_or(j, "heartbeat_ms", uint64_t{0});
    r.draining = j.value("draining", false);
    r.sessions = json_uint_or(j, "sessions", uint64_t{0});
    r.stored_mail = json_uint_or(j, "stored_mail", uint64_t{0});
    r.epoch = json_uint_or(j, "epoch", uint64_t{0});
    r.version = j.value("version", "");
    r.lease_ms = json_uint_or(j, "lease_ms", uint64_t{0});
    if (auto m = j.find("moving"); m != j.end() && m->is_array())
      for (auto& x : *m)
        r.moving.emplace_back(json_uint<uint32_t>(x, "shard"), x.at("to").get<std::string>());
    if (r.id.empty())
      return std::nullopt;
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::optional<departed_node> membership_view::saw(const node_record& r, uint64_t revision,
                                                  clock::time_point now) {
  std::optional<departed_node> replaced;
  auto i = nodes_.find(r.id);
  if (i != nodes_.end()) {
    if (revision <= i->second.revision)
      return std::nullopt; // an older write delivered late
    if (i->second.record.incarnation != r.incarnation)
      replaced = departed_node{r.id, i->second.record.incarnation, i->second.record.heartbeat_ms};
  }
  nodes_[r.id] = entry{r, revision, now};
  return replaced;
}

std::optional<departed_node> membership_view::gone(const std::string& id) {
  auto i = nodes_.find(id);
  if (i == nodes_.end())
    return std::nullopt;
  departed_node d{id, i->second.record.incarnation, i->second.record.heartbeat_ms};
  nodes_.erase(i);
  return d;
}

std::vector<departed_node> membership_view::expire(clock::time_point now) {
  std::vector<departed_node> out;
  for (auto i = nodes_.begin(); i != nodes_.end();) {
    if (now - i->second.changed >= lease_) {
      out.push_back({i->first, i->second.record.incarnation, i->second.record.heartbeat_ms});
      i = nodes_.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

void membership_view::heard_all(clock::time_point now) {
  for (auto& [id, e] : nodes_)
    e.changed = now;
}

std::vector<live_node> membership_view::live() const {
  std::vector<live_node> out;
  for (auto& [id, e] : nodes_)
    out.push_back({id, e.record.incarnation, e.record.gateway, e.record.draining});
  return out;
}

std::vector<std::string> membership_view::targets() const {
  std::vector<std::string> out;
  for (auto& [id, e] : nodes_)
    if (!e.record.draining)
      out.push_back(id);
  return out;
}

const node_record* membership_view::record(const std::string& id) const {
  auto i = nodes_.find(id);
  return i == nodes_.end() ? nullptr : &i->second.record;
}

std::optional<membership_view::clock::time_point>
membership_view::last_change(const std::string& id) const {
  auto i = nodes_.find(id);
  if (i == nodes_.end())
    return std::nullopt;
  return i->second.changed;
}

shard_moves plan_moves(const placement& p, const std::vector<std::string>& live,
                       const std::vector<std::string>& targets, const std::string& me) {
  shard_moves out;
  if (targets.empty())
    return out;
  auto target_of = rendezvous_targets(p.shards, targets);
  auto is_live = [&](const std::string& n) {
    return std::binary_search(live.begin(), live.end(), n);
  };
  for (uint32_t s = 0; s < p.shards; ++s) {
    auto& target = targets[target_of[s]];
    auto* owner = p.owner(s);
    if (owner == nullptr || !is_live(*owner)) {
      if (target == me)
        out.claims.push_back(s);
    } else if (*owner == me && target != me) {
      out.handoffs.emplace_back(s, target);
    }
  }
  return out;
}

} // namespace kinbox
