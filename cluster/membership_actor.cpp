#include "cluster/membership_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "config/metrics.hpp"
#include "config/version.hpp"

namespace kinbox {

result<placement_record> load_or_create_placement(kv_bucket& cluster, const std::string& me,
                                                  uint32_t shards) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto got = cluster.get(placement_key);
    if (!got)
      return got.error();
    if (*got) {
      auto p = placement::decode((*got)->value);
      if (!p)
        return failure{errc::internal, "the cluster's placement record is malformed"};
      if (shards != 0 && p->shards != shards)
        return failure{errc::invalid_argument, "the cluster has " + std::to_string(p->shards) +
                                                   " shards; start with --shards " +
                                                   std::to_string(p->shards) +
                                                   " or leave the option out"};
      return placement_record{std::move(*p), (*got)->revision};
    }
    auto fresh = placement::initial(shards != 0 ? shards : default_shards, {me});
    auto created = cluster.create(placement_key, fresh.encode());
    if (!created)
      return created.error();
    // Created here, or by another node a moment ago: read it back either way.
  }
  return failure{errc::unavailable, "the cluster's placement could not be read"};
}

namespace {

bytes encode_fingerprints(const key_fingerprints& f) {
  auto text = nlohmann::json{{"cluster_key", f.cluster_key}, {"pepper", f.pepper}}.dump();
  return bytes(text.begin(), text.end());
}

std::optional<key_fingerprints> decode_fingerprints(std::span<const uint8_t> data) {
  auto j = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
  if (!j.is_object() || !j.contains("cluster_key") || !j["cluster_key"].is_string() ||
      !j.contains("pepper") || !j["pepper"].is_string())
    return std::nullopt;
  return key_fingerprints{j["cluster_key"].get<std::string>(), j["pepper"].get<std::string>()};
}

} // namespace

result<bool> check_key_fingerprints(kv_bucket& cluster, const key_fingerprints& mine) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto got = cluster.get(keys_key);
    if (!got)
      return got.error();
    if (!*got) {
      auto created = cluster.create(keys_key, encode_fingerprints(mine));
      if (!created)
        return created.error();
      continue; // created here, or by another node a moment ago: compare either way
    }
    auto theirs = decode_fingerprints((*got)->value);
    if (!theirs)
      return failure{errc::internal, "the cluster's key fingerprints record is malformed"};
    if (theirs->cluster_key != mine.cluster_key)
      return failure{errc::invalid_argument,
                     "this node's cluster key (fingerprint " + mine.cluster_key +
                         ") is not the cluster's (" + theirs->cluster_key +
                         "): start it with the key file the other nodes have (--key-file)"};
    if (theirs->pepper != mine.pepper)
      return failure{errc::invalid_argument,
                     "this node's PIN pepper (fingerprint " + mine.pepper +
                         ") is not the cluster's (" + theirs->pepper +
                         "): start it with the pepper file the other nodes have "
                         "(--pin-pepper-file), or with none if they have none"};
    return true;
  }
  return failure{errc::unavailable, "the cluster's key fingerprints could not be read"};
}

result<bool> check_node_id_free(kv_bucket& nodes, const std::string& id,
                                std::chrono::milliseconds lease) {
  auto first = nodes.get(id);
  if (!first)
    return first.error();
  if (!*first)
    return true;
  // Heartbeats come every sixth of the lease.
  auto deadline = std::chrono::steady_clock::now() + lease / 3 + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto again = nodes.get(id);
    if (!again)
      return again.error();
    if (!*again)
      return true;
    if ((*again)->revision != (*first)->revision) {
      auto r = node_record::decode((*again)->value);
      return failure{errc::invalid_argument,
                     "node id '" + id + "' is in use by a running node" +
                         (r ? " (gateway " + r->gateway + ")" : std::string{}) +
                         ": give this node another --node-id, or stop that node first"};
    }
  }
  return true;
}

result<bool> migrate_storage(kv_buckets& b, const crypto::storage_secrets& secrets) {
  auto done = b.cluster->get(storage_key);
  if (!done)
    return done.error();
  if (*done)
    return true;
  auto view = sealed_view(b, secrets);
  auto moved = view.migrate();
  if (!moved)
    return moved.error();
  if (*moved > 0)
    log::get("cluster")->info("event=records_sealed count={}", *moved);
  std::string format = "sealed";
  auto marked = b.cluster->create(storage_key, bytes(format.begin(), format.end()));
  if (!marked)
    return marked.error();
  return true;
}

namespace {

using clock = std::chrono::steady_clock;

/// How long a shard this node just received stays before it may move on: views of who is
/// draining differ for a moment between nodes, and a shard must not bounce back at once.
constexpr auto settle_time = std::chrono::seconds(2);
/// A handoff that failed is tried again after this.
constexpr auto handoff_cooldown = std::chrono::seconds(5);
/// Finished handoffs are written to the placement together, at most this long after the
/// first of them: one write per batch of moved shards, not one per shard.
constexpr auto commit_delay = std::chrono::milliseconds(20);

/// An owner change to make in the placement.
struct change {
  uint32_t shard;
  std::string owner;
  bool claim; ///< take a shard whose owner is gone, else give one this node owns
};

struct membership_state {
  membership_config cfg;
  membership_deps deps;
  entity_service_actor service;
  membership_view view{std::chrono::milliseconds(6000)};
  std::shared_ptr<const placement> map;
  uint64_t map_revision = 0;
  bool nodes_caught_up = false;
  uint64_t own_revision = 0;                 ///< of this node's last heartbeat write
  std::optional<clock::time_point> own_seen; ///< when the watch last showed it
  bool watch_healthy = false;                ///< own heartbeats came back lately
  clock::time_point lease_until{};
  bool draining = false;
  bool left = false;
  bool displaced = false; ///< another process has this node id: its record is not ours
  std::vector<caf::typed_response_promise<bool>> drain_waiters;
  std::map<uint32_t, std::string> moving;   ///< releases in progress
  std::map<uint32_t, std::string> released; ///< done, waiting for the placement change
  bool commit_due = false;                  ///< a commit_atom is on its way
  /// Shards this node took and handed off since the last `placement_settled` line: the
  /// log has one line per change of placement, not one per shard.
  size_t taken = 0;
  size_t handed = 0;
  std::map<uint32_t, clock::time_point> cooldown;
  std::map<uint32_t, clock::time_point> acquired;
  std::vector<departed_node> departed; ///< not yet told to the service
  uint64_t stored_mail = 0;
  std::unique_ptr<kv_watch> nodes_watch;
  std::unique_ptr<kv_watch> cluster_watch;
  static inline const char* name = "kinbox.membership";
};

using membership_pointer = membership_actor::stateful_pointer<membership_state>;

auto logger() {
  return log::get("cluster");
}

std::chrono::milliseconds heartbeat_interval(const membership_config& cfg) {
  return cfg.lease / 6;
}

node_record own_record(membership_pointer self) {
  auto& st = self->state;
  node_record r;
  r.id = st.cfg.node_id;
  r.incarnation = st.cfg.incarnation;
  r.gateway = st.cfg.gateway;
  r.key_fingerprint = st.cfg.key_fingerprint;
  r.started_ms = st.cfg.started_ms;
  r.heartbeat_ms = st.cfg.now_ms();
  r.draining = st.draining;
  r.sessions = st.deps.service->endpoint_count();
  r.stored_mail = st.stored_mail;
  r.epoch = st.map ? st.map->epoch : 0;
  r.version = version;
  r.lease_ms = static_cast<uint64_t>(st.cfg.lease.count());
  for (auto& [shard, to] : st.moving)
    r.moving.emplace_back(shard, to);
  return r;
}

void send_update(membership_pointer self) {
  auto& st = self->state;
  membership_update u;
  u.map = st.map;
  u.nodes = st.view.live();
  u.departed = std::move(st.departed);
  st.departed.clear();
  u.lease_until = st.lease_until;
  caf::anon_send(st.service, members_atom::value, std::move(u));
}

void adopt(membership_pointer self, placement p, uint64_t revision) {
  auto& st = self->state;
  if (st.map && revision <= st.map_revision)
    return;
  auto now = clock::now();
  auto& me = st.cfg.node_id;
  for (uint32_t s = 0; s < p.shards; ++s) {
    auto* owner = p.owner(s);
    bool mine = owner != nullptr && *owner == me;
    auto* before = st.map ? st.map->owner(s) : nullptr;
    if (mine && (before == nullptr || *before != me)) {
      st.acquired[s] = now;
      ++st.taken;
    }
    if (!mine) {
      st.acquired.erase(s);
      st.released.erase(s);
    }
  }
  if (!st.map || st.map->epoch != p.epoch)
    logger()->debug("event=placement epoch={} owned={} of={}", p.epoch, p.owned_by(me), p.shards);
  st.map = std::make_shared<const placement>(std::move(p));
  st.map_revision = revision;
}

bool read_placement(membership_pointer self) {
  auto& st = self->state;
  auto got = st.deps.cluster->get(placement_key);
  if (!got || !*got)
    return false;
  if (auto p = placement::decode((*got)->value))
    adopt(self, std::move(*p), (*got)->revision);
  return true;
}

/// Changes owners by compare-and-set, re-reading the placement when another node changed
/// it first. Changes that no longer apply (the shard's owner changed meanwhile) are dropped.
void change_placement(membership_pointer self, const std::vector<change>& changes) {
  auto& st = self->state;
  for (int attempt = 0; attempt < 5 && st.map; ++attempt) {
    std::vector<std::pair<uint32_t, std::string>> valid;
    for (auto& c : changes) {
      auto* owner = st.map->owner(c.shard);
      bool applies = c.claim ? (owner == nullptr || !st.view.is_live(*owner))
                             : (owner != nullptr && *owner == st.cfg.node_id);
      if (applies)
        valid.emplace_back(c.shard, c.owner);
    }
    if (valid.empty())
      return;
    auto next = st.map->with_owners(valid);
    auto res = st.deps.cluster->update(placement_key, next.encode(), st.map_revision);
    if (!res)
      return; // NATS is unreachable: the next round tries again
    if (*res) {
      logger()->debug("event=placement_changed epoch={} shards={}", next.epoch, valid.size());
      adopt(self, std::move(next), **res);
      send_update(self);
      return;
    }
    if (!read_placement(self))
      return;
  }
}

void check_drained(membership_pointer self) {
  auto& st = self->state;
  if (!st.draining || st.drain_waiters.empty() || !st.map)
    return;
  auto others = st.view.targets();
  others.erase(std::remove(others.begin(), others.end(), st.cfg.node_id), others.end());
  bool done = st.map->owned_by(st.cfg.node_id) == 0 && st.moving.empty() && st.released.empty();
  if (!done && !others.empty())
    return;
  // The last node of a cluster keeps its shards and their mail until it starts again.
  if (!done)
    logger()->info("event=drain_skipped reason=\"no other node takes shards\" owned={}",
                   st.map->owned_by(st.cfg.node_id));
  for (auto& rp : st.drain_waiters)
    rp.deliver(done);
  st.drain_waiters.clear();
}

void plan(membership_pointer self);

void start_release(membership_pointer self, uint32_t shard, const std::string& to) {
  auto& st = self->state;
  st.moving[shard] = to;
  logger()->debug("event=handoff_started shard={} to={}", shard, to);
  self->request(st.service, caf::infinite, release_atom::value, shard, to)
      .then(
          [=](bool ok) {
            auto& st = self->state;
            st.moving.erase(shard);
            if (ok) {
              metrics::get().shard_moves.Increment();
              ++st.handed;
              st.released[shard] = to;
              if (!st.commit_due) {
                st.commit_due = true;
                self->delayed_send(self, commit_delay, commit_atom::value);
              }
            } else {
              logger()->warn("event=handoff_failed shard={} to={}", shard, to);
              st.cooldown[shard] = clock::now() + handoff_cooldown;
            }
            plan(self);
          },
          [=](caf::error&) {
            auto& st = self->state;
            st.moving.erase(shard);
            st.cooldown[shard] = clock::now() + handoff_cooldown;
            plan(self);
          });
}

/// Writes the owner changes of the handoffs finished since the last commit.
void commit_released(membership_pointer self) {
  auto& st = self->state;
  st.commit_due = false;
  std::vector<change> changes;
  for (auto& [s, to] : st.released)
    changes.push_back({s, to, false});
  if (!changes.empty())
    change_placement(self, changes);
}

/// Claims orphaned shards and starts handoffs up to the pacing limit.
void plan(membership_pointer self) {
  auto& st = self->state;
  auto now = clock::now();
  if (!st.nodes_caught_up || !st.map || now >= st.lease_until || st.left)
    return;
  std::vector<std::string> live;
  for (auto& n : st.view.live())
    live.push_back(n.id);
  auto targets = st.view.targets();
  if (st.draining)
    targets.erase(std::remove(targets.begin(), targets.end(), st.cfg.node_id), targets.end());
  auto moves = plan_moves(*st.map, live, targets, st.cfg.node_id);
  std::vector<change> changes;
  for (auto s : moves.claims)
    changes.push_back({s, st.cfg.node_id, true});
  if (!changes.empty())
    change_placement(self, changes);
  for (auto& [s, to] : moves.handoffs) {
    if (st.moving.size() >= st.cfg.moving_shards)
      break;
    if (st.moving.count(s) != 0 || st.released.count(s) != 0)
      continue;
    if (auto* owner = st.map->owner(s); owner == nullptr || *owner != st.cfg.node_id)
      continue; // changed by the claims just written
    if (auto c = st.cooldown.find(s); c != st.cooldown.end() && c->second > now)
      continue;
    if (auto a = st.acquired.find(s);
        !st.draining && a != st.acquired.end() && a->second + settle_time > now)
      continue;
    start_release(self, s, to);
  }
  if (moves.claims.empty() && moves.handoffs.empty() && st.moving.empty() && st.released.empty() &&
      st.taken + st.handed > 0) {
    logger()->info("event=placement_settled epoch={} owned={} of={} taken={} handed_off={}",
                   st.map->epoch, st.map->owned_by(st.cfg.node_id), st.map->shards, st.taken,
                   st.handed);
    st.taken = 0;
    st.handed = 0;
  }
  check_drained(self);
}

/// Another process wrote this node id's record: this one stops serving at once, writes
/// and deletes nothing more, and asks to be stopped.
void displaced(membership_pointer self, const node_record& other) {
  auto& st = self->state;
  logger()->critical("event=node_id_taken node={} by_gateway={} reason=\"another kinbox-node "
                     "runs with this --node-id; this one stops\"",
                     st.cfg.node_id, other.gateway);
  st.left = true;
  st.displaced = true;
  st.lease_until = clock::now();
  send_update(self);
  if (st.cfg.on_displaced)
    st.cfg.on_displaced();
}

/// Writes this node's record by compare-and-set on the revision it last wrote: a record
/// of another incarnation in between means another process took this node id.
bool write_own_record(membership_pointer self) {
  auto& st = self->state;
  auto value = own_record(self).encode();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (st.own_revision == 0) {
      auto put = st.deps.nodes->put(st.cfg.node_id, value);
      if (put)
        st.own_revision = *put;
      return static_cast<bool>(put);
    }
    auto updated = st.deps.nodes->update(st.cfg.node_id, value, st.own_revision);
    if (!updated)
      return false;
    if (*updated) {
      st.own_revision = **updated;
      return true;
    }
    // Our own write whose answer a NATS hiccup lost, an expired record, or another node.
    auto current = st.deps.nodes->get(st.cfg.node_id);
    if (!current)
      return false;
    auto r = *current ? node_record::decode((**current).value) : std::nullopt;
    if (r && r->incarnation != st.cfg.incarnation) {
      displaced(self, *r);
      return false;
    }
    st.own_revision = *current ? (**current).revision : 0;
  }
  return false;
}

void heartbeat(membership_pointer self) {
  auto& st = self->state;
  if (st.left)
    return;
  auto started = clock::now();
  bool written = write_own_record(self);
  if (st.displaced)
    return;
  bool placement_ok = read_placement(self);
  if (written && placement_ok) {
    st.lease_until = started + st.cfg.lease / 2;
  } else {
    logger()->warn(
        "event=heartbeat_failed lease_left_ms={}",
        std::chrono::duration_cast<std::chrono::milliseconds>(st.lease_until - clock::now())
            .count());
  }
  self->request(st.deps.store, std::chrono::seconds(5), count_atom::value)
      .then([=](uint64_t n) { self->state.stored_mail = n; }, [](caf::error&) {});
  auto now = clock::now();
  // Peers are judged only while this node's own heartbeats come back through its watch,
  // and a whole lease after it saw them again: when JetStream elects a new leader for the
  // bucket (a NATS server died), every node's writes fail for seconds, and none is gone.
  bool healthy = st.own_seen && now - *st.own_seen < st.cfg.lease / 2;
  if (healthy && !st.watch_healthy)
    st.view.heard_all(now);
  st.watch_healthy = healthy;
  if (healthy) {
    for (auto& d : st.view.expire(now)) {
      logger()->warn("event=node_gone node={} reason=lease_expired", d.id);
      st.departed.push_back(d);
    }
  }
  if (!st.released.empty() && !st.commit_due)
    commit_released(self); // a commit that met a NATS outage
  if (st.draining && clock::now() >= st.lease_until && !st.drain_waiters.empty()) {
    // Cut off from NATS: no shard can move now; the node stops with its mail on disk,
    // and hands it off when it comes back (or the others claim its shards).
    logger()->warn("event=drain_incomplete reason=\"no NATS\" owned={}",
                   st.map ? st.map->owned_by(st.cfg.node_id) : 0);
    for (auto& rp : st.drain_waiters)
      rp.deliver(false);
    st.drain_waiters.clear();
  }
  plan(self);
  send_update(self);
  self->delayed_send(self, heartbeat_interval(st.cfg), heartbeat_atom::value);
}

void on_node_change(membership_pointer self, kv_change& c) {
  auto& st = self->state;
  if (c.caught_up) {
    st.nodes_caught_up = true;
    plan(self);
    send_update(self);
    return;
  }
  auto before = st.view.live();
  if (c.deleted) {
    if (auto d = st.view.gone(c.key)) {
      logger()->info("event=node_left node={}", d->id);
      st.departed.push_back(*d);
    }
  } else if (auto r = node_record::decode(c.value)) {
    if (r->id != c.key)
      return;
    if (r->id == st.cfg.node_id && r->incarnation != st.cfg.incarnation && st.own_revision != 0 &&
        c.revision > st.own_revision) {
      displaced(self, *r);
      return;
    }
    if (auto replaced = st.view.saw(*r, c.revision, clock::now())) {
      logger()->info("event=node_restarted node={}", r->id);
      st.departed.push_back(*replaced);
    }
    if (r->id == st.cfg.node_id && r->incarnation == st.cfg.incarnation &&
        c.revision >= st.own_revision)
      st.own_seen = clock::now();
  }
  auto after = st.view.live();
  auto same = [](const std::vector<live_node>& a, const std::vector<live_node>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](auto& x, auto& y) {
      return x.id == y.id && x.incarnation == y.incarnation && x.draining == y.draining;
    });
  };
  if (!same(before, after) || !st.departed.empty()) {
    plan(self);
    send_update(self);
  }
}

void on_cluster_change(membership_pointer self, kv_change& c) {
  if (c.caught_up || c.deleted || c.key != placement_key)
    return;
  auto p = placement::decode(c.value);
  if (!p)
    return;
  auto before = self->state.map_revision;
  adopt(self, std::move(*p), c.revision);
  if (self->state.map_revision != before) {
    plan(self);
    send_update(self);
  }
}

membership_actor::behavior_type membership_behavior(membership_pointer self, membership_config cfg,
                                                    membership_deps deps,
                                                    placement_record initial) {
  auto& st = self->state;
  st.view = membership_view{cfg.lease};
  st.cfg = std::move(cfg);
  st.deps = std::move(deps);
  st.service = st.deps.service->actor();
  adopt(self, std::move(initial.map), initial.revision);
  membership_actor handle = self;
  st.nodes_watch = std::make_unique<kv_watch>(*st.deps.nodes, [handle](kv_change&& c) {
    caf::anon_send(handle, kv_change_atom::value, watched::nodes, std::move(c));
  });
  st.cluster_watch = std::make_unique<kv_watch>(*st.deps.cluster, [handle](kv_change&& c) {
    caf::anon_send(handle, kv_change_atom::value, watched::cluster, std::move(c));
  });
  self->send(self, heartbeat_atom::value);
  return {
      [=](drain_atom) -> caf::result<bool> {
        auto& st = self->state;
        if (st.left)
          return false;
        auto rp = self->make_response_promise<bool>();
        st.drain_waiters.push_back(rp);
        if (!st.draining) {
          st.draining = true;
          logger()->info("event=draining owned={}", st.map ? st.map->owned_by(st.cfg.node_id) : 0);
          write_own_record(self);
        }
        plan(self);
        return rp;
      },
      [=](leave_atom) -> bool {
        auto& st = self->state;
        st.left = true;
        st.nodes_watch.reset();
        st.cluster_watch.reset();
        if (st.displaced)
          return false; // the record is the other process's
        return static_cast<bool>(st.deps.nodes->erase(st.cfg.node_id));
      },
      [=](heartbeat_atom) { heartbeat(self); },
      [=](commit_atom) {
        commit_released(self);
        plan(self);
      },
      [=](kv_change_atom, watched source, kv_change& c) {
        if (self->state.left)
          return;
        if (source == watched::nodes)
          on_node_change(self, c);
        else
          on_cluster_change(self, c);
      },
  };
}

} // namespace

membership_actor spawn_membership(caf::actor_system& sys, membership_config cfg,
                                  membership_deps deps, placement_record initial) {
  return sys.spawn<caf::detached>(membership_behavior, std::move(cfg), std::move(deps),
                                  std::move(initial));
}

} // namespace kinbox
