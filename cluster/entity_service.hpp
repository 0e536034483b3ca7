// The entity-messaging service of a node: the only door to an entity. Sessions, user
// actors, the sweeper and every other actor name an entity (kind, id) and never learn
// where it lives (as with Akka's ShardRegion or an Orleans grain reference).
//
// Three parts:
// * `entity_service` (this header), one per node, shared by its actors: the cluster view
//   (placement and epoch, live nodes, this node's lease and the shards it is handing off),
//   the registered entity kinds (kind -> host and push codec), and the endpoints (sessions)
//   of this node's gateway. Reads are thread-safe; the service actor alone publishes views.
// * the service actor (entity_service_actor below): the NATS side. It sends batches of
//   requests to other nodes' inboxes and routes their replies back, serves requests that
//   arrive in this node's inbox, carries pushes to endpoints on other nodes, and moves the
//   durable state of shards during a handoff.
// * `entity_client` (entity_client.hpp), one per calling actor: batches the requests of
//   one turn (a socket read, a batch of receipts) into one actor message per local entity
//   and one bus message per remote node, keeps their order per entity, and retries what
//   meets a move.
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/entity.hpp"
#include "cluster/nats_link.hpp"
#include "persistence/store_actor.hpp" // flush_atom

namespace kinbox {

using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
using node_down_atom = caf::atom_constant<caf::atom("node_down")>;
using view_atom = caf::atom_constant<caf::atom("view")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using remote_atom = caf::atom_constant<caf::atom("remote")>;
using notify_atom = caf::atom_constant<caf::atom("notify")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using members_atom = caf::atom_constant<caf::atom("members")>;
using bus_in_atom = caf::atom_constant<caf::atom("bus_in")>;
using bus_timeout_atom = caf::atom_constant<caf::atom("bus_tmo")>;
/// Internal: the end of the service actor's turn, when what it buffered goes out.
using bus_flush_atom = caf::atom_constant<caf::atom("bus_flush")>;
using bus_push_atom = caf::atom_constant<caf::atom("bus_push")>;
/// Sent by an entity_client to its owning actor when requests are due for another try.
using entity_retry_atom = caf::atom_constant<caf::atom("ent_retry")>;
/// Sent to an endpoint whose entity lived on a node that went away: attach again (the
/// entity comes back on the node that claims its shard).
using host_gone_atom = caf::atom_constant<caf::atom("host_gone")>;

// clang-format off
/// What a node offers for each entity kind it hosts.
using entity_host = caf::typed_actor<
  /// The actor that serves entity `id` (activated on first use). Its interface takes
  /// `std::vector<entity_request>` and answers `std::vector<entity_reply>` in order.
  /// Fails with `moved` when this node does not serve the entity's shard now.
  caf::replies_to<lookup_atom, uint64_t>::with<caf::actor>,
  /// Stops the entities of `shard` and hands their durable state to node `to` through
  /// the service actor; true when all of it is durable there (then deleted here), false
  /// when it failed and this node keeps serving the shard.
  caf::replies_to<release_atom, uint32_t, std::string>::with<bool>,
  /// Durable state of `shard` from its previous owner: true once it is durable here.
  caf::replies_to<handoff_atom, uint32_t, bytes>::with<bool>,
  /// A node incarnation went away (node, incarnation, its last heartbeat in ms): the
  /// endpoints on it are gone.
  caf::reacts_to<node_down_atom, std::string, uint64_t, uint64_t>,
  /// The placement changed: hand off durable state kept for shards this node does not own.
  caf::reacts_to<view_atom>,
  /// Shards this node owned went to other nodes without a handoff (claimed while this
  /// node was cut off): stop their entities; their durable state goes over as strays.
  caf::reacts_to<lost_atom, std::vector<uint32_t>>,
  /// From the actor of entity `id`, which stops unused: the next lookup makes a new one.
  /// The stopping actor answers `moved` (with the bodies) to batches still sent to it, so
  /// a caller that looked it up just before is routed to the new one, not failed.
  caf::reacts_to<passivate_atom, uint64_t>,
  /// The node stops: every active entity writes what it holds in memory only (a user's
  /// mail held for an ack); answers once all have sent their writes.
  caf::replies_to<flush_atom>::with<bool>>;
// clang-format on

/// A node of the cluster as the membership sees it.
struct live_node {
  std::string id;
  uint64_t incarnation = 0;
  std::string gateway; ///< host:port its apps connect to
  bool draining = false;
};

/// A node incarnation that went away, and when it was last heard of.
struct departed_node {
  std::string id;
  uint64_t incarnation = 0;
  uint64_t last_heartbeat_ms = 0;
};

/// What the membership actor tells the service actor after every change.
struct membership_update {
  std::shared_ptr<const placement> map;
  std::vector<live_node> nodes; ///< live, sorted by id
  std::vector<departed_node> departed;
  std::chrono::steady_clock::time_point lease_until; ///< this node serves nothing after it
};

/// An immutable snapshot of what this node knows of the cluster.
struct cluster_view {
  std::string me;
  uint64_t incarnation = 0;
  std::shared_ptr<const placement> map; ///< null until the first placement is known
  std::vector<uint8_t> releasing;       ///< per shard: this node is handing it off
  std::chrono::steady_clock::time_point lease_until{};
  std::vector<live_node> nodes;         ///< live, sorted by id
  std::vector<departed_node> departed;  ///< recent ones, newest last
  bool local_shortcut = true; ///< call local entities directly (else through this node's inbox)

  uint64_t epoch() const { return map ? map->epoch : 0; }
  uint32_t shard_of(entity_kind kind, uint64_t id) const {
    return map ? kinbox::shard_of(map->shards, kind, id) : 0;
  }
  /// Whether this node serves `shard` now: it owns it, is not handing it off, and holds
  /// its lease (a node cut off from NATS stops serving before others may take over).
  bool serves(uint32_t shard, std::chrono::steady_clock::time_point now) const;
  /// The ownership check, the one every door to an entity makes (a node's inbox, a host's
  /// lookup, the entity's actor): whether this node serves entity `id` of `kind` now.
  bool serves_entity(entity_kind kind, uint64_t id,
                     std::chrono::steady_clock::time_point now) const {
    return serves(shard_of(kind, id), now);
  }
  /// The owner of `shard` by the placement, or nullptr.
  const std::string* owner(uint32_t shard) const { return map ? map->owner(shard) : nullptr; }
  const live_node* node(const std::string& id) const;
  bool is_live(const std::string& node, uint64_t incarnation) const;
  /// The last heartbeat of a departed incarnation, if this node saw it go.
  std::optional<uint64_t> departed_at(const std::string& node, uint64_t incarnation) const;
  /// Gateways of the live nodes other than this one that are not draining.
  std::vector<std::string> other_gateways() const;
};

struct kind_entry {
  entity_host host;
  entity_codec codec;
};

class entity_service;

// clang-format off
using entity_service_actor = caf::typed_actor<
  /// Requests for entities owned by `node`, sent with the other requests of the turn to
  /// that node in one bus message; replies in order. Items the node does not serve come
  /// back `moved` (the caller kept their arguments). Encoded by the kinds' codecs: the
  /// entity client's, which is where a request is known to cross nodes.
  caf::replies_to<remote_atom, std::string, std::vector<bus_request>>
    ::with<std::vector<bus_reply>>,
  /// A push to an endpoint of `node`, sent with the other pushes of the turn to that node.
  caf::reacts_to<bus_push_atom, std::string, push_item>,
  /// A request whose answer nobody waits for but which must arrive (retried across
  /// moves, failures logged): a session's detach as it closes.
  caf::reacts_to<notify_atom, entity_request>,
  /// Sends durable state of `shard` of `kind` to `node`; true once it is durable there.
  caf::replies_to<handoff_atom, std::string, entity_kind, uint32_t, bytes>::with<bool>,
  /// Stops serving `shard` and has every kind's host hand it to node `to`; true when
  /// done. The shard stays unserved here until the placement names its new owner.
  caf::replies_to<release_atom, uint32_t, std::string>::with<bool>,
  /// Serves `shard` again after a release whose placement change did not happen.
  caf::reacts_to<resume_atom, uint32_t>,
  /// The membership changed.
  caf::reacts_to<members_atom, membership_update>,
  /// Internal: a message arrived in this node's inbox or reply subjects.
  caf::reacts_to<bus_in_atom, nats_message>,
  /// Internal: time to fail the requests to other nodes that ran out of time.
  caf::reacts_to<bus_timeout_atom>,
  caf::reacts_to<bus_flush_atom>,
  caf::reacts_to<entity_retry_atom>>;
// clang-format on

struct entity_service_config {
  std::string cluster;
  std::string node_id;
  uint64_t incarnation = 0;
  message_bus* bus = nullptr; ///< outlives the service
  bool local_shortcut = true;
  /// How long a request to another node may take before it fails with `timeout`.
  std::chrono::milliseconds request_timeout{5000};
  /// How long a caller keeps retrying a request that meets a move before it answers
  /// `unavailable`.
  std::chrono::milliseconds retry_limit{15000};
};

class entity_service {
public:
  explicit entity_service(entity_service_config cfg);

  const entity_service_config& config() const { return cfg_; }
  const std::string& node_id() const { return cfg_.node_id; }
  uint64_t incarnation() const { return cfg_.incarnation; }
  message_bus& bus() const { return *cfg_.bus; }

  /// The current view (never null).
  std::shared_ptr<const cluster_view> view() const;
  /// Publishes a new view; only the service actor calls it.
  void publish_view(std::shared_ptr<const cluster_view> v);

  /// Registers the host and codec of an entity kind (before the node serves).
  void register_kind(entity_kind kind, entity_host host, entity_codec codec);
  const kind_entry* kind(entity_kind kind) const;
  /// `req` for the bus, its argument encoded by its kind's codec (a failure for a kind
  /// not registered, or an argument of another type than its operation's).
  result<bus_request> encode_request(const entity_request& req) const;
  /// The request a bus item carries, its argument decoded by its kind's codec.
  result<entity_request> decode_request(bus_request&& req) const;
  /// The reply to operation `op` of `kind` as the bus carries it, and back.
  bus_reply encode_reply(const entity_reply& r, entity_kind kind, uint8_t op) const;
  entity_reply decode_reply(bus_reply&& r, entity_kind kind, uint8_t op) const;
  const std::map<entity_kind, kind_entry>& kinds() const { return kinds_; }

  /// Registers a session of this node's gateway under `id` (random, never reused).
  void add_endpoint(uint64_t id, caf::actor session);
  void remove_endpoint(uint64_t id);
  size_t endpoint_count() const;
  /// Records where the entity that endpoint `id` is attached to lives.
  void endpoint_attached(uint64_t id, std::string node, uint64_t incarnation);
  /// The endpoints attached to entities on a node incarnation (which went away).
  std::vector<caf::actor> endpoints_attached_to(const std::string& node, uint64_t incarnation) const;

  /// Delivers `msg` from an entity of `kind` to an endpoint wherever it is: straight to a
  /// session of this node, else (encoded by the kind's codec) through the service actor,
  /// which sends the pushes of its turn to one node in one message to that node's inbox.
  /// Fire and forget: an endpoint that is gone drops it.
  void push(const endpoint& to, entity_kind kind, caf::message msg);

  /// Hands `msg` to the session registered under `id`, if there is one.
  void deliver_to_endpoint(uint64_t id, caf::message msg);

  /// The service actor (set once it is spawned).
  entity_service_actor actor() const { return actor_; }
  void set_actor(entity_service_actor a) { actor_ = std::move(a); }

  /// Called when an operator asks this node to drain (kinbox-admin drain).
  void on_drain_request(std::function<void()> f) { drain_request_ = std::move(f); }
  void drain_requested() const {
    if (drain_request_)
      drain_request_();
  }

  /// `kinbox.<cluster>.node.<node>`: the inbox of a node.
  std::string node_subject(const std::string& node) const;
  /// `kinbox.<cluster>.reply.<node>`: the prefix of this node's reply subjects.
  std::string reply_prefix() const;

private:
  entity_service_config cfg_;
  mutable std::mutex view_mtx_;
  std::shared_ptr<const cluster_view> view_;
  std::map<entity_kind, kind_entry> kinds_;
  struct endpoint_entry {
    caf::actor session;
    std::string host_node; ///< where the entity it is attached to lives
    uint64_t host_incarnation = 0;
  };
  mutable std::mutex endpoints_mtx_;
  std::unordered_map<uint64_t, endpoint_entry> endpoints_;
  entity_service_actor actor_;
  std::function<void()> drain_request_;
};

/// Spawns the service actor of `svc` and subscribes it to the node's subjects.
[[nodiscard]] result<entity_service_actor> spawn_entity_service(caf::actor_system& sys,
                                                                std::shared_ptr<entity_service> svc);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::nats_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::membership_update)
