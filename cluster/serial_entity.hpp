// The scaffold of an entity kind whose actor keeps what it holds in KV and runs its
// requests in order, as the family and chat kinds do: the actor type, the queue, the
// release once nothing runs, the entity client of its own requests to other entities,
// and the behavior every such actor has. A kind supplies its state (with a
// `serial_entity` member named `core` and its `deps` with the `service`), `run_next` (which
// takes the next requests off `core.waiting` once its state is loaded) and when an
// unused actor may stop.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <deque>
#include <functional>
#include <memory>

#include "cluster/entity_client.hpp"
#include "cluster/entity_kit.hpp"
#include "cluster/reply_to.hpp"

namespace kinbox {

// clang-format off
using serial_entity_actor = entity_actor::extend<
  caf::replies_to<entity_request>::with<entity_reply>,
  caf::reacts_to<linger_atom>,
  caf::reacts_to<idle_atom>,
  caf::reacts_to<entity_retry_atom>>;
// clang-format on

/// What a request to another entity waits for.
using on_entity_reply = std::function<void(entity_reply&)>;

struct queued_request {
  entity_request req;
  reply_to rp;
};

/// The part of such an actor's state the scaffold runs.
struct serial_entity {
  entity_life life;
  std::deque<queued_request> waiting; ///< in order; `run_next` takes them
  bool busy = false;                  ///< a request runs to its end (`finish`)
  /// `run_next` is taking requests off the queue: a request that finishes at once lets
  /// that loop go on, instead of starting another one on the stack (a flood of requests
  /// answered at once would nest as deep as it is long).
  bool running = false;
  std::unique_ptr<entity_client<on_entity_reply>> client;

  /// Nothing the actor started is open: no request runs, no request to another entity
  /// waits for its answer.
  bool quiet() const { return !busy && (!client || client->idle()); }
};

namespace serial {

/// A released actor that went quiet sends its waiting requests on and answers its release.
template <class Self>
void leave_if_quiet(Self self) {
  auto& core = self->state.core;
  if (!core.life.leaving() || !core.quiet())
    return;
  for (auto& q : core.waiting)
    q.rp.deliver(moved_reply(std::move(q.req.args)));
  core.waiting.clear();
  core.life.left(self);
}

/// Ends the running request: its answer goes out, and the next one starts (in the loop
/// of `run`, if the request finished within it).
template <class Self>
void finish(Self self, reply_to rp, entity_reply reply, void (*run_next)(Self)) {
  rp.deliver(std::move(reply));
  self->state.core.busy = false;
  leave_if_quiet(self);
  if (!self->state.core.running)
    run_next(self);
}

/// Takes requests off the queue while none runs: `ready` says whether the state is
/// loaded (else it starts loading it and the loaded state calls `run_next` again); `start`
/// runs one request (and marks the core busy if it does not finish at once).
template <class Self, class Ready, class Start>
void run(Self self, Ready ready, Start start) {
  auto& core = self->state.core;
  if (core.running)
    return;
  core.running = true;
  while (!core.busy && !core.waiting.empty() && ready()) {
    auto next = std::move(core.waiting.front());
    core.waiting.pop_front();
    if (self->state.core.life.serving(*self->state.deps->service->view()))
      start(next);
    else
      next.rp.deliver(moved_reply(std::move(next.req.args)));
  }
  core.running = false;
}

/// The actor's client of other entities, made on first use; a release waits for its
/// answers.
template <class Self>
entity_client<on_entity_reply>& client_of(Self self) {
  auto& core = self->state.core;
  if (!core.client)
    core.client = std::make_unique<entity_client<on_entity_reply>>(
        self->state.deps->service, [self](on_entity_reply& f, entity_reply& r) {
          if (f)
            f(r);
          leave_if_quiet(self);
        });
  return *core.client;
}

/// The behavior of such an actor: batches queue and `run_next` runs them; a release
/// waits until the actor is quiet; unused for the idle time, it passivates if `may_stop`.
template <class Self>
serial_entity_actor::behavior_type behavior(Self self, void (*run_next)(Self),
                                            bool (*may_stop)(Self, uint64_t now_ms)) {
  auto enqueue = [=](std::vector<entity_request> reqs, std::vector<reply_to> replies) {
    auto& core = self->state.core;
    core.life.touch(self->state.deps->now_ms());
    core.life.arm_idle(self);
    if (!core.life.serving(*self->state.deps->service->view()))
      return entity_life::bounce(reqs, replies);
    for (size_t i = 0; i < reqs.size(); ++i)
      core.waiting.push_back({std::move(reqs[i]), std::move(replies[i])});
    run_next(self);
  };
  // Also an actor looked up and never sent anything passivates.
  self->state.core.life.touch(self->state.deps->now_ms());
  self->state.core.life.arm_idle(self);
  return {
      [=](entity_request& req) -> caf::result<entity_reply> {
        auto rp = self->template make_response_promise<entity_reply>();
        std::vector<entity_request> reqs;
        reqs.push_back(std::move(req));
        enqueue(std::move(reqs), {reply_to{rp}});
        return rp;
      },
      [=](std::vector<entity_request>& reqs) -> caf::result<std::vector<entity_reply>> {
        auto [rp, replies] = reply_to::for_batch(self, reqs.size());
        enqueue(std::move(reqs), std::move(replies));
        return rp;
      },
      [=](release_atom) -> caf::result<bool> {
        auto rp = self->template make_response_promise<bool>();
        self->state.core.life.release(rp); // all it keeps is in KV: its next owner loads it
        leave_if_quiet(self);
        return rp;
      },
      [=](flush_atom) { return true; },
      [=](node_down_atom, const std::string&, uint64_t, uint64_t) {},
      [=](stored_atom) {},
      [=](linger_atom) { self->state.core.life.linger(self, self->state.core.quiet()); },
      [=](idle_atom) {
        auto& core = self->state.core;
        auto now = self->state.deps->now_ms();
        if (!core.life.idle(self, now))
          return;
        if (!core.quiet() || !core.waiting.empty() || !may_stop(self, now))
          return core.life.arm_idle(self);
        core.life.passivate(self); // what a caller sends meanwhile gets `moved`
      },
      [=](entity_retry_atom) {
        if (self->state.core.client)
          self->state.core.client->retry(self);
      },
  };
}

} // namespace serial

} // namespace kinbox
