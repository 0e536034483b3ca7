// The entity kit: what every entity kind shares, written once. A kind is declared by
//
// * its actor: a state class holding an `entity_life`, its request handlers and the
//   handlers of `entity_actor` below (release, flush, node_down, stored);
// * an `entity_kind_spec`: how to spawn that actor, and the `shard_keeper` of the durable
//   state it keeps by shard outside its actors, if any (the user kind's stored mail);
// * its interface (entity_interface.hpp): each operation with the types of its argument
//   and result, which the kind's handlers read and answer, and which makes its codec, with
//   its push codec, for what crosses nodes.
//
// The generic host (`host_kind`) does the rest, the same for every kind, as Akka's
// ShardRegion or Orleans' grain directory do: activation on first lookup, the ownership
// check, passivation of unused actors, the release and loss of shards (each actor told,
// then the keeper), handoffs into the keeper, and the node's flush and node_down
// fan-outs. docs/architecture.md ("Entity kinds") shows a kind in a few lines.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/duration.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/entity_service.hpp"
#include "cluster/reply_to.hpp"
#include "persistence/store_actor.hpp"

namespace kinbox {

/// Internal to an entity actor: its idle timer fired.
using idle_atom = caf::atom_constant<caf::atom("idle")>;
/// Internal to an entity actor: the end of its linger after it stopped serving.
using linger_atom = caf::atom_constant<caf::atom("linger")>;
/// From the host: durable state of this entity arrived from another node (a handoff).
using stored_atom = caf::atom_constant<caf::atom("stored")>;

// clang-format off
/// What every entity actor takes: its requests in batches, and what its host tells it.
using entity_actor = caf::typed_actor<
  /// Requests handled in order and answered together, in order.
  caf::replies_to<std::vector<entity_request>>::with<std::vector<entity_reply>>,
  /// The shard moves: answers once the actor's state is safe (in KV or the store), then
  /// lingers and stops.
  caf::replies_to<release_atom>::with<bool>,
  /// The node stops: writes what the actor holds in memory only; answers once sent.
  caf::replies_to<flush_atom>::with<bool>,
  /// A node incarnation went away with its sessions (node, incarnation, last heartbeat).
  caf::reacts_to<node_down_atom, std::string, uint64_t, uint64_t>,
  caf::reacts_to<stored_atom>>;

/// The durable state a kind keeps by shard outside its actors, moved with the shard.
using shard_keeper = caf::typed_actor<
  /// After the shard's actors stopped: sends its state to node `to`; true once it is
  /// durable there (and deleted here), false when this node keeps serving the shard.
  caf::replies_to<release_atom, uint32_t, std::string>::with<bool>,
  /// Makes a batch from the shard's previous owner durable here; answers the entities it
  /// concerns (their active actors are told `stored`).
  caf::replies_to<handoff_atom, uint32_t, bytes>::with<std::vector<uint64_t>>,
  /// The placement changed, or shards were lost: sends state kept for shards this node
  /// does not own to their owners.
  caf::reacts_to<view_atom>>;
// clang-format on

/// How a kind's actors are made, and where its shard state lives.
struct entity_kind_spec {
  entity_kind kind = 0;
  /// Spawns the actor of entity `id`; it tells `host` (passivate) when it stops unused.
  std::function<entity_actor(caf::actor_system&, uint64_t id, entity_host host)> spawn;
  /// None for a kind whose actors keep everything in KV.
  shard_keeper keeper;
  /// How long the host waits for an actor to answer a release before it moves on. With a
  /// keeper, what a late actor still writes is moved on as strays; without one the wait
  /// is unbounded, for a late write to KV could undo its successor's.
  caf::duration release_wait = caf::infinite;
};

/// Spawns the generic host of a kind and registers it, with the kind's codec, in
/// `service`: the one line a node writes per kind.
entity_host host_kind(caf::actor_system& sys, const std::shared_ptr<entity_service>& service,
                      entity_kind_spec spec, entity_codec codec);

/// How long an actor that stopped serving stays, answering `moved` (with the arguments) to
/// batches sent by callers that still had its handle, so they are sent on to its
/// successor instead of failing.
constexpr auto moved_linger = std::chrono::seconds(2);

/// The life of one entity actor, held in its state; the same for every kind. The actor
/// serves while its node serves its shard. A release makes it leave: it takes no request,
/// finishes what it started, answers the release (`left`) and lingers. Unused for
/// `entity_idle_time`, it has its host forget it (`passivate`) and lingers. While it
/// lingers it answers `moved`; it quits at the end of a linger in which nothing it
/// started is open.
class entity_life {
public:
  entity_life() = default;
  entity_life(entity_kind kind, uint64_t id, entity_host host)
      : kind_(kind), id_(id), host_(std::move(host)) {}

  bool leaving() const { return leaving_.has_value(); }
  bool stopped() const { return stopped_; }

  /// The ownership check of every request the actor takes (also of requests that waited
  /// in its mailbox past this node's lease or beyond a release).
  bool serving(const cluster_view& view) const {
    return !leaving_ && !stopped_ &&
           view.serves_entity(kind_, id_, std::chrono::steady_clock::now());
  }

  /// Answers `moved` with the requests' bodies: their callers route them again.
  static void bounce(std::vector<entity_request>& reqs, std::vector<reply_to>& replies) {
    for (size_t i = 0; i < reqs.size(); ++i)
      replies[i].deliver(moved_reply(std::move(reqs[i].args)));
  }

  /// The shard moves: the actor takes no more requests and answers `rp` in `left`. An
  /// actor that stopped already (it passivated: its state is safe) answers at once.
  void release(caf::typed_response_promise<bool> rp) {
    if (stopped_)
      rp.deliver(true);
    else
      leaving_ = std::move(rp);
  }

  /// Counts the requests whose replies are not sent yet: the actor quits at the end of a
  /// linger only once every one is answered (a read that outlives the release).
  void track(std::vector<reply_to>& replies) {
    for (auto& r : replies)
      r.count_in(open_replies_);
  }
  size_t open_replies() const { return *open_replies_; }

  /// A leaving actor with nothing open answers its release and lingers.
  template <class Self>
  void left(Self* self) {
    if (!leaving_ || stopped_)
      return;
    stopped_ = true;
    leaving_->deliver(true);
    self->delayed_send(self, moved_linger, linger_atom::value);
  }

  /// An unused actor has the host forget it (the next lookup makes a new one), and lingers.
  template <class Self>
  void passivate(Self* self) {
    stopped_ = true;
    if (host_)
      self->send(host_, passivate_atom::value, id_);
    self->delayed_send(self, moved_linger, linger_atom::value);
  }

  /// The end of a linger: quits if nothing the actor started is open and every tracked
  /// request is answered, else lingers on.
  template <class Self>
  void linger(Self* self, bool quiet) {
    if (quiet && open_replies() == 0)
      self->quit();
    else
      self->delayed_send(self, moved_linger, linger_atom::value);
  }

  /// A request came at `now_ms`: the idle time counts from it.
  void touch(uint64_t now_ms) { last_used_ms_ = now_ms; }

  template <class Self>
  void arm_idle(Self* self) {
    if (idle_timer_)
      return;
    idle_timer_ = true;
    self->delayed_send(self, entity_idle_time, idle_atom::value);
  }

  /// The idle timer fired: true if the actor serves and went unused for the idle time
  /// (the caller passivates it, or arms the timer again); false, with the timer armed
  /// again, if it was used meanwhile; false if it leaves or lingers.
  template <class Self>
  bool idle(Self* self, uint64_t now_ms) {
    idle_timer_ = false;
    if (leaving_ || stopped_)
      return false;
    auto idle_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(entity_idle_time).count());
    if (now_ms < last_used_ms_ + idle_ms) {
      arm_idle(self);
      return false;
    }
    return true;
  }

  /// The idle timer fired while the actor is in use in a way that arms it again when it
  /// ends (a user's attached session, whose detach does).
  void idle_paused() { idle_timer_ = false; }

private:
  entity_kind kind_ = 0;
  uint64_t id_ = 0;
  entity_host host_; ///< none in unit tests of a lone actor
  std::optional<caf::typed_response_promise<bool>> leaving_;
  bool stopped_ = false;
  uint64_t last_used_ms_ = 0;
  bool idle_timer_ = false;
  std::shared_ptr<size_t> open_replies_ = std::make_shared<size_t>(0);
};

} // namespace kinbox
