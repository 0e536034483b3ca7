// The caller's side of the entity service: an actor makes requests to entities through
// one `entity_client` and never learns where they live.
//
// * Batching: `call` queues; `flush` sends what one turn of the actor made (the frames of
//   one socket read, the receipts of one ack) as one actor message per local entity and
//   one bus message per remote node. Replies come back per request, to the handler, in the
//   actor's own thread.
// * The local shortcut: an entity of a shard this node serves gets the batch straight from
//   the caller (its actor handle is looked up once from the kind's host and cached);
//   everything else goes through the service actor to the owner's inbox.
// * Order: requests from one client to one entity are answered in the order they were
//   made, also across a move. While requests to an entity are unanswered, later ones wait
//   unless they take the same route; what comes back `moved` is sent again, first, once the
//   entity's earlier requests are all answered.
// * Moves: `moved` answers (the shard is being handed off, the node does not own it, no
//   node answered) are retried with backoff on a fresh view, until the service's retry
//   limit, then answered `unavailable`. A local actor's `moved` answer carries the
//   request's argument back, so the client keeps no copy of it; for a remote node the
//   client keeps it (the bus carries only its bytes). A retry is marked (`attempt`): a node that refused
//   a request refuses the caller's later first tries for that entity until the retry comes,
//   so a later request in flight cannot overtake a refused one. A batch that reaches an
//   actor after it stopped is answered `unavailable` (retryable): a moving actor lingers,
//   answering `moved`, long after any client could still have its old handle in use; an
//   actor that stops unused (after `entity_idle_time` without a request) has its host
//   forget it and answers `moved` as it lingers, and a handle unused for
//   `local_handle_life` is looked up again before it is used.
//
// The bookkeeping is per entity and batch, not per request: the hot path of a session or
// a user actor is a few hash lookups per socket read. The owning actor forwards
// `entity_retry_atom` to `retry`. Not thread-safe: one actor.
#pragma once

#include <caf/actor_clock.hpp>
#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <sodium.h>

#include "cluster/entity_service.hpp"
#include "config/caf_error.hpp"

namespace kinbox {

template <class Token>
class entity_client {
public:
  using reply_handler = std::function<void(Token&, entity_reply&)>;

  /// How a client treats entities that are not served where it looked.
  enum class mode {
    route, ///< find them wherever they are, retrying across moves
    serve, ///< the service actor serving another node: local entities only, `moved` is
           ///< an answer for the caller
  };

  entity_client(std::shared_ptr<entity_service> service, reply_handler on_reply,
                mode m = mode::route)
      : service_(std::move(service)), on_reply_(std::move(on_reply)), mode_(m) {
    randombytes_buf(&id_, sizeof(id_));
  }

  /// Queues a request; it leaves at the next `flush`.
  void call(entity_request req, Token token) {
    queued_.push_back(pending{std::move(req), std::move(token), {}, ++made_});
  }

  /// Sends what was queued: one actor message per local entity, one per remote node.
  template <class Self>
  void flush(Self* self) {
    if (queued_.empty())
      return;
    send_queued(self);
    // Not while a turn of this client is on the stack (a reply handler that calls again):
    // that turn still holds the targets it walks.
    if (depth_ == 0)
      prune();
  }

  /// Sends the requests that waited for a retry and are due.
  template <class Self>
  void retry(Self* self) {
    timer_armed_ = false;
    in_turn guard{depth_};
    turn tn{service_->view(), self->clock().now(), std::chrono::steady_clock::now(), {}, {}, {}};
    std::optional<caf::actor_clock::time_point> next;
    for (auto& [k, t] : targets_) {
      if (!t.retry_at)
        continue;
      if (*t.retry_at > tn.now) {
        next = next ? std::min(*next, *t.retry_at) : *t.retry_at;
        continue;
      }
      t.retry_at.reset();
      if (t.outstanding == 0 && !t.looking_up)
        dispatch(self, tn, k, t);
    }
    send(self, tn);
    if (next)
      arm(self, *next - tn.now);
  }

  /// Nothing queued, waiting or unanswered.
  bool idle() const { return queued_.empty() && open_ == 0; }

private:
  static constexpr size_t max_idle_targets = 64;

  template <class Self>
  void send_queued(Self* self) {
    in_turn guard{depth_};
    turn tn{service_->view(), self->clock().now(), std::chrono::steady_clock::now(), {}, {}, {}};
    auto batch = std::move(queued_);
    queued_.clear();
    for (auto& p : batch) {
      ++open_;
      p.first_try = tn.now;
      auto& e = entry_of(tn, key{p.req.kind, p.req.id});
      auto& t = *e.t;
      if (!t.waiting.empty() || t.looking_up ||
          (t.outstanding > 0 && !(e.r == t.sent_to))) {
        t.waiting.push_back(std::move(p)); // after the earlier ones, wherever they went
        continue;
      }
      if (e.r.kind == route_kind::none || (e.r.kind == route_kind::local && !t.local)) {
        t.waiting.push_back(std::move(p));
        hold(self, e.k, t, e.r);
        continue;
      }
      add_to_group(tn, e, std::move(p));
    }
    send(self, tn);
  }

  /// Counts the turns of this client on the stack while one runs.
  struct in_turn {
    explicit in_turn(size_t& depth) : depth_(depth) { ++depth_; }
    ~in_turn() { --depth_; }
    in_turn(const in_turn&) = delete;
    in_turn& operator=(const in_turn&) = delete;
    size_t& depth_;
  };
  static constexpr auto local_handle_life = entity_idle_time / 3;
  static constexpr auto first_backoff = std::chrono::milliseconds(2);
  static constexpr auto max_backoff = std::chrono::milliseconds(250);

  struct pending {
    entity_request req; ///< its argument goes with a local request and comes back if moved
    Token token;
    caf::actor_clock::time_point first_try;
    uint64_t made = 0; ///< counts the client's calls: the order to keep
  };

  struct key {
    entity_kind kind;
    uint64_t id;
    friend bool operator==(const key&, const key&) = default;
  };

  struct key_hash {
    size_t operator()(const key& k) const {
      return std::hash<uint64_t>{}(k.id * 0x9e3779b97f4a7c15ull ^ k.kind);
    }
  };

  enum class route_kind : uint8_t { none, local, remote };

  struct route {
    route_kind kind = route_kind::none;
    std::string node; ///< for remote
    friend bool operator==(const route&, const route&) = default;
  };

  struct target {
    caf::actor local; ///< the entity's actor on this node, once looked up
    caf::actor_clock::time_point local_used; ///< when `local` was found or last answered
    route sent_to;    ///< where the unanswered requests went
    size_t outstanding = 0;
    bool looking_up = false;
    std::vector<pending> waiting; ///< not sent yet, oldest first
    size_t bounced_front = 0;     ///< of those, the first ones came back `moved`
    unsigned bounces = 0;         ///< moves met in a row: the backoff
    std::optional<caf::actor_clock::time_point> retry_at;
  };

  /// The requests of one flush, by destination: a local entity, or a remote node.
  struct group {
    route to;
    caf::actor actor;                 ///< for local groups
    std::vector<entity_request> reqs; ///< what is sent to a local actor
    std::vector<bus_request> wire;    ///< what is sent to a remote node
    /// Per request: header and token, and the argument of a remote one (a local one's
    /// is in `reqs`, and comes back if the request moved).
    std::vector<pending> meta;
    size_t bytes = 0; ///< of the encoded arguments, for remote groups
  };

  /// An entity met in this turn: its target and route, looked up once.
  struct entry {
    key k;
    target* t;
    route r;
    int local_group = -1; ///< its group, if sent locally in this turn
  };

  /// What one flush, retry or reply batch works with: one view, one clock reading, the
  /// entities met so far (a batch names a handful: linear search beats hashing).
  struct turn {
    std::shared_ptr<const cluster_view> view;
    caf::actor_clock::time_point now;
    std::chrono::steady_clock::time_point steady;
    std::vector<entry> entries;
    std::vector<group> groups;
    /// Requests whose argument did not encode (a caller's mistake), answered after the
    /// turn's sends so no reply handler runs while the client is mid-turn.
    std::vector<std::pair<pending, failure>> unsendable;
  };

  entry& entry_of(turn& tn, const key& k) {
    for (auto& e : tn.entries)
      if (e.k == k)
        return e;
    auto& t = targets_[k];
    auto r = resolve(*tn.view, tn.steady, k);
    if (r.kind != route_kind::local || tn.now - t.local_used >= local_handle_life)
      t.local = nullptr; // it moved away, or may have stopped unused: look it up again
    tn.entries.push_back(entry{k, &t, std::move(r), -1});
    return tn.entries.back();
  }

  route resolve(const cluster_view& view, std::chrono::steady_clock::time_point now,
                const key& k) const {
    if (!view.map)
      return {};
    auto shard = view.shard_of(k.kind, k.id);
    auto* owner = view.owner(shard);
    if (owner == nullptr)
      return {};
    if (*owner == view.me) {
      if (!view.serves(shard, now))
        return {};
      if (view.local_shortcut || mode_ == mode::serve)
        return {route_kind::local, {}};
    }
    if (mode_ == mode::serve)
      return {};
    return {route_kind::remote, *owner};
  }

  /// Appends one request to the group of its route in this turn. A remote one is encoded
  /// here, by its kind's codec: the one place a request becomes bytes.
  void add_to_group(turn& tn, entry& e, pending&& p) {
    auto& t = *e.t;
    // A request the serve mode passes on keeps its client: the order is the caller's.
    p.req.client = mode_ == mode::serve ? p.req.client : id_;
    if (e.r.kind == route_kind::local) {
      if (e.local_group < 0) {
        e.local_group = static_cast<int>(tn.groups.size());
        tn.groups.push_back(group{e.r, t.local, {}, {}, {}, 0});
      }
      auto& g = tn.groups[static_cast<size_t>(e.local_group)];
      g.reqs.push_back(entity_request{p.req.kind, p.req.id, p.req.op, p.req.caller,
                                      std::move(p.req.args), p.req.attempt, p.req.client});
      g.meta.push_back(std::move(p));
    } else {
      auto wire = service_->encode_request(p.req);
      if (!wire) { // a caller's mistake: an argument its operation does not take
        tn.unsendable.emplace_back(std::move(p), failure{errc::internal, wire.error().message});
        return;
      }
      // One bus message per node, split where it would pass half of what the bus carries.
      auto limit = service_->bus().max_payload() / 2;
      group* g = nullptr;
      for (auto& candidate : tn.groups)
        if (candidate.to == e.r && candidate.bytes + wire->arg.size() <= limit)
          g = &candidate;
      if (g == nullptr) {
        tn.groups.push_back(group{e.r, {}, {}, {}, {}, 0});
        g = &tn.groups.back();
      }
      g->bytes += wire->arg.size() + 32;
      g->wire.push_back(std::move(*wire));
      g->meta.push_back(std::move(p));
    }
    t.sent_to = e.r;
    ++t.outstanding;
  }

  /// `t`'s waiting requests cannot go now: look the actor up, or retry later.
  template <class Self>
  void hold(Self* self, const key& k, target& t, const route& r) {
    if (r.kind == route_kind::local) {
      lookup(self, k);
    } else if (mode_ == mode::serve) {
      answer_all_moved(t);
    } else {
      back_off(self, t);
    }
  }

  /// Sends every waiting request of `t` by its route now, or arranges for them to go later.
  template <class Self>
  void dispatch(Self* self, turn& tn, const key& k, target& t) {
    if (t.waiting.empty())
      return;
    auto& e = entry_of(tn, k);
    if (e.r.kind == route_kind::none || (e.r.kind == route_kind::local && !t.local)) {
      hold(self, k, t, e.r);
      return;
    }
    auto waiting = std::move(t.waiting);
    t.waiting.clear();
    t.bounced_front = 0;
    for (auto& p : waiting)
      add_to_group(tn, e, std::move(p));
  }

  template <class Self>
  void send(Self* self, turn& tn) {
    for (auto& g : tn.groups) {
      auto meta = std::make_shared<std::vector<pending>>(std::move(g.meta));
      auto on_error = [=, this](caf::error& err) { failed(self, *meta, err); };
      if (g.to.kind == route_kind::local) {
        auto on_replies = [=, this](std::vector<entity_reply>& r) { answered(self, *meta, r); };
        self->request(g.actor, caf::infinite, std::move(g.reqs)).then(on_replies, on_error);
      } else {
        auto on_replies = [=, this](std::vector<bus_reply>& r) {
          auto replies = decode_replies(*meta, r);
          answered(self, *meta, replies);
        };
        self->request(service_->actor(), caf::infinite, remote_atom::value, g.to.node,
                      std::move(g.wire))
            .then(on_replies, on_error);
      }
    }
    tn.groups.clear();
    auto unsendable = std::move(tn.unsendable);
    tn.unsendable.clear();
    for (auto& [p, why] : unsendable)
      finish(p, error_reply(why));
  }

  template <class Self>
  void lookup(Self* self, const key& k) {
    auto* kind = service_->kind(k.kind);
    auto& t = targets_[k];
    if (kind == nullptr) {
      for (auto& p : t.waiting)
        finish(p, error_reply(errc::internal, "no host for this entity kind"));
      t.waiting.clear();
      return;
    }
    if (t.looking_up)
      return;
    t.looking_up = true;
    self->request(kind->host, caf::infinite, lookup_atom::value, k.id)
        .then(
            [=, this](caf::actor& a) {
              auto& t = targets_[k];
              t.looking_up = false;
              t.local = std::move(a);
              t.local_used = self->clock().now();
              turn tn{service_->view(), self->clock().now(), std::chrono::steady_clock::now(),
                      {}, {}, {}};
              dispatch(self, tn, k, t);
              send(self, tn);
            },
            [=, this](caf::error&) {
              auto& t = targets_[k];
              t.looking_up = false;
              if (mode_ == mode::serve)
                answer_all_moved(t);
              else
                back_off(self, t);
            });
  }

  template <class Self>
  void answered(Self* self, std::vector<pending>& meta, std::vector<entity_reply>& replies) {
    if (replies.size() != meta.size()) {
      caf::error err = make_error(errc::internal, "reply batch of the wrong size");
      failed(self, meta, err);
      return;
    }
    in_turn guard{depth_};
    turn tn{service_->view(), self->clock().now(), std::chrono::steady_clock::now(), {}, {}, {}};
    for (size_t i = 0; i < meta.size(); ++i) {
      auto& p = meta[i];
      auto& t = *entry_of(tn, key{p.req.kind, p.req.id}).t;
      --t.outstanding;
      t.local_used = tn.now;
      if (replies[i].moved() && mode_ == mode::route) {
        if (p.req.args.empty()) // a local actor gives the argument back
          p.req.args = std::move(replies[i].value);
        bounce(t, std::move(p));
        continue;
      }
      t.bounces = 0;
      finish(p, replies[i]);
    }
    settle(self, tn);
  }

  template <class Self>
  void failed(Self* self, std::vector<pending>& meta, caf::error& err) {
    bool stopped = err == caf::sec::request_receiver_down;
    auto f = to_failure(err);
    in_turn guard{depth_};
    turn tn{service_->view(), self->clock().now(), std::chrono::steady_clock::now(), {}, {}, {}};
    for (auto& p : meta) {
      auto& t = *entry_of(tn, key{p.req.kind, p.req.id}).t;
      --t.outstanding;
      if (stopped) {
        t.local = nullptr; // the actor stopped: look up its successor next time
        finish(p, error_reply(errc::unavailable, "the entity was busy; retry"));
      } else {
        finish(p, error_reply(f.code, f.message));
      }
    }
    settle(self, tn);
  }

  /// Puts a request that came back `moved` in front of those waiting, in the order the
  /// requests were made: batches may come back out of order (one refused by a node at
  /// once, an earlier one by the entity's actor after it).
  void bounce(target& t, pending p) {
    if (p.req.attempt < UINT8_MAX)
      ++p.req.attempt; // marks it a retry: the node that refused it takes it again
    auto front_end = t.waiting.begin() + static_cast<std::ptrdiff_t>(t.bounced_front);
    auto at = std::upper_bound(t.waiting.begin(), front_end, p.made,
                               [](uint64_t made, const pending& q) { return made < q.made; });
    t.waiting.insert(at, std::move(p));
    ++t.bounced_front;
  }

  /// After a batch's replies: an entity with nothing unanswered sends what waits, after a
  /// backoff if some of it came back `moved`.
  template <class Self>
  void settle(Self* self, turn& tn) {
    for (size_t i = 0; i < tn.entries.size(); ++i) {
      auto k = tn.entries[i].k;
      auto& t = *tn.entries[i].t;
      if (t.outstanding > 0 || t.looking_up || t.waiting.empty() || t.retry_at)
        continue;
      if (t.bounced_front > 0) {
        t.bounced_front = 0;
        t.local = nullptr;
        back_off(self, t);
        continue;
      }
      dispatch(self, tn, k, t);
    }
    send(self, tn);
  }

  /// Schedules the next try of `t`'s waiting requests, or gives up on those that have
  /// waited past the retry limit.
  template <class Self>
  void back_off(Self* self, target& t) {
    auto now = self->clock().now();
    auto limit = service_->config().retry_limit;
    auto expired = std::stable_partition(t.waiting.begin(), t.waiting.end(), [&](const pending& p) {
      return now - p.first_try < limit;
    });
    if (expired != t.waiting.end()) {
      std::vector<pending> gone(std::make_move_iterator(expired),
                                std::make_move_iterator(t.waiting.end()));
      t.waiting.erase(expired, t.waiting.end());
      t.bounced_front = std::min(t.bounced_front, t.waiting.size());
      for (auto& p : gone)
        finish(p, error_reply(errc::unavailable, "the entity could not be reached in time; retry"));
    }
    if (t.waiting.empty())
      return;
    auto delay = std::min<caf::actor_clock::duration_type>(
        first_backoff * (1u << std::min(t.bounces, 8u)), max_backoff);
    ++t.bounces;
    t.retry_at = now + delay;
    arm(self, delay);
  }

  template <class Self>
  void arm(Self* self, caf::actor_clock::duration_type delay) {
    auto at = self->clock().now() + delay;
    if (timer_armed_ && timer_at_ <= at)
      return;
    timer_armed_ = true;
    timer_at_ = at;
    self->delayed_send(self, delay, entity_retry_atom::value);
  }

  /// In `serve` mode: what cannot be served here goes back to the caller as `moved`.
  void answer_all_moved(target& t) {
    auto waiting = std::move(t.waiting);
    t.waiting.clear();
    for (auto& p : waiting)
      finish(p, moved_reply(std::move(p.req.args)));
  }

  /// The replies of a remote node to the requests of `meta`, decoded by their kinds'
  /// codecs (a batch of the wrong size is failed by `answered`).
  std::vector<entity_reply> decode_replies(const std::vector<pending>& meta,
                                           std::vector<bus_reply>& wire) {
    std::vector<entity_reply> out;
    if (wire.size() != meta.size())
      return out;
    out.reserve(wire.size());
    for (size_t i = 0; i < wire.size(); ++i)
      out.push_back(service_->decode_reply(std::move(wire[i]), meta[i].req.kind, meta[i].req.op));
    return out;
  }

  void finish(pending& p, entity_reply&& reply) { finish(p, reply); }

  void finish(pending& p, entity_reply& reply) {
    --open_;
    on_reply_(p.token, reply);
  }

  /// Forgets idle targets once there are many (their cached handles with them).
  void prune() {
    if (targets_.size() <= max_idle_targets)
      return;
    for (auto i = targets_.begin(); i != targets_.end();) {
      auto& t = i->second;
      if (t.outstanding == 0 && !t.looking_up && t.waiting.empty() && !t.retry_at)
        i = targets_.erase(i);
      else
        ++i;
    }
  }

  std::shared_ptr<entity_service> service_;
  reply_handler on_reply_;
  mode mode_;
  std::vector<pending> queued_;
  std::unordered_map<key, target, key_hash> targets_;
  uint64_t id_ = 0;   ///< stamped on every request (`entity_request::client`)
  uint64_t made_ = 0; ///< calls made so far
  size_t open_ = 0; ///< requests flushed and not yet answered
  size_t depth_ = 0; ///< turns of this client on the stack (reply handlers may call again)
  bool timer_armed_ = false;
  caf::actor_clock::time_point timer_at_{};
};

} // namespace kinbox
