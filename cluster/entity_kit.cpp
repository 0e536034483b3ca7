#include "cluster/entity_kit.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <set>
#include <unordered_map>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

/// How long an actor may take to send its writes when the node stops.
constexpr auto flush_time = std::chrono::seconds(10);

struct host_state {
  entity_kind_spec spec;
  std::shared_ptr<entity_service> service;
  std::unordered_map<uint64_t, entity_actor> actors; ///< the active ones
  static inline const char* name = "kinbox.entity_host";
};

using host_pointer = entity_host::stateful_pointer<host_state>;

/// Runs `done` once all of `n` answers came (at once if `n` is 0).
std::shared_ptr<std::function<void()>> countdown(size_t n, std::function<void()> done) {
  auto open = std::make_shared<size_t>(n);
  if (n == 0)
    done();
  return std::make_shared<std::function<void()>>([open, done = std::move(done)] {
    if (--*open == 0)
      done();
  });
}

/// Takes the actors of `shards` out of the directory (a lookup makes fresh ones if the
/// shards come back) and returns them.
std::vector<entity_actor> forget(host_pointer self, const std::set<uint32_t>& shards) {
  auto view = self->state.service->view();
  auto kind = self->state.spec.kind;
  std::vector<entity_actor> out;
  auto& actors = self->state.actors;
  for (auto i = actors.begin(); i != actors.end();) {
    if (shards.count(view->shard_of(kind, i->first)) != 0) {
      self->unlink_from(i->second);
      out.push_back(i->second);
      i = actors.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

/// Stops the actors of `shards` (each makes its state safe), then runs `then`. An actor
/// that stopped already (idle or failed) had made its state safe before.
void release_actors(host_pointer self, const std::set<uint32_t>& shards,
                    std::function<void()> then) {
  auto leaving = forget(self, shards);
  auto one_done = countdown(leaving.size(), std::move(then));
  for (auto& actor : leaving)
    self->request(actor, self->state.spec.release_wait, release_atom::value)
        .then([=](bool) { (*one_done)(); }, [=](caf::error&) { (*one_done)(); });
}

entity_host::behavior_type host_behavior(host_pointer self, entity_kind_spec spec,
                                         std::shared_ptr<entity_service> service) {
  self->state.spec = std::move(spec);
  self->state.service = std::move(service);
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (self->state.spec.keeper && msg.source == self->state.spec.keeper.address()) {
      // Without its keeper no shard of the kind could move: the kind stops, visibly.
      log::get("cluster")->error("event=shard_keeper_stopped kind={} reason={}",
                                 self->state.spec.kind, caf::to_string(msg.reason));
      return self->quit(msg.reason);
    }
    auto& actors = self->state.actors;
    for (auto i = actors.begin(); i != actors.end(); ++i)
      if (i->second.address() == msg.source) {
        actors.erase(i); // stopped (moved, idle or failed): a lookup makes a new one
        return;
      }
    // The node's own stop ends the host, and with it (linked) its actors; the exit of an
    // actor it forgot already (released or passivated) does not.
    if (msg.source == self->address() || msg.reason == caf::exit_reason::user_shutdown ||
        msg.reason == caf::exit_reason::kill)
      self->quit(msg.reason);
  });
  if (self->state.spec.keeper)
    self->link_to(self->state.spec.keeper); // stops with the host
  auto keeper = [=] { return self->state.spec.keeper; };
  return {
      [=](lookup_atom, uint64_t id) -> caf::result<caf::actor> {
        auto& st = self->state;
        if (!st.service->view()->serves_entity(st.spec.kind, id, std::chrono::steady_clock::now()))
          return make_error(errc::moved);
        auto i = st.actors.find(id);
        if (i == st.actors.end()) {
          auto actor = st.spec.spawn(self->system(), id, caf::actor_cast<entity_host>(self));
          self->link_to(actor); // when the host stops (node shutdown), its actors stop too
          i = st.actors.emplace(id, std::move(actor)).first;
        }
        return caf::actor_cast<caf::actor>(i->second);
      },
      [=](release_atom, uint32_t shard, std::string& to) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        release_actors(self, {shard}, [=]() mutable {
          if (keeper())
            rp.delegate(keeper(), release_atom::value, shard, to);
          else
            rp.deliver(true); // all its actors kept is in KV already
        });
        return rp;
      },
      [=](handoff_atom, uint32_t shard, bytes& body) -> caf::result<bool> {
        if (!keeper())
          return true;
        // Not while this node hands the same shard off itself: the batch would be
        // deleted with the state it moves (the sender keeps it and tries again).
        auto view = self->state.service->view();
        if (shard < view->releasing.size() && view->releasing[shard] != 0)
          return false;
        auto rp = self->make_response_promise<bool>();
        self->request(keeper(), caf::infinite, handoff_atom::value, shard, std::move(body))
            .then(
                [=](std::vector<uint64_t>& ids) mutable {
                  for (auto id : ids)
                    if (auto i = self->state.actors.find(id); i != self->state.actors.end())
                      self->send(i->second, stored_atom::value);
                  rp.deliver(true);
                },
                [=](caf::error&) mutable { rp.deliver(false); });
        return rp;
      },
      [=](node_down_atom, const std::string& node, uint64_t incarnation, uint64_t last_seen) {
        for (auto& [id, actor] : self->state.actors)
          self->send(actor, node_down_atom::value, node, incarnation, last_seen);
      },
      [=](view_atom) {
        if (keeper())
          self->send(keeper(), view_atom::value);
      },
      [=](lost_atom, const std::vector<uint32_t>& shards) {
        // Claimed by others while this node was cut off: the actors stop as in a release,
        // and what they kept goes to the new owners as strays.
        release_actors(self, std::set<uint32_t>(shards.begin(), shards.end()), [=] {
          if (keeper())
            self->send(keeper(), view_atom::value);
        });
      },
      [=](passivate_atom, uint64_t id) {
        auto& actors = self->state.actors;
        auto i = actors.find(id);
        if (i == actors.end() || i->second.address() != self->current_sender())
          return; // a newer actor serves it already
        self->unlink_from(i->second);
        actors.erase(i);
      },
      [=](flush_atom) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        auto one_done = countdown(self->state.actors.size(), [=]() mutable { rp.deliver(true); });
        for (auto& [id, actor] : self->state.actors)
          self->request(actor, flush_time, flush_atom::value)
              .then([=](bool) { (*one_done)(); }, [=](caf::error&) { (*one_done)(); });
        return rp;
      },
  };
}

} // namespace

entity_host host_kind(caf::actor_system& sys, const std::shared_ptr<entity_service>& service,
                      entity_kind_spec spec, entity_codec codec) {
  auto kind = spec.kind;
  auto host = sys.spawn(host_behavior, std::move(spec), service);
  service->register_kind(kind, host, std::move(codec));
  return host;
}

} // namespace kinbox
