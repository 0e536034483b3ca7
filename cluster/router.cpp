#include "cluster/router.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <unordered_map>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

struct pending_request {
  bytes encoded;
  std::string subject;
  caf::typed_response_promise<entity_reply> promise;
  int attempts = 0;
};

struct router_state {
  router_config cfg;
  shard_map map{1, {"-"}};
  entity_actor host;
  std::string inbox;
  uint64_t next_request = 1;
  std::unordered_map<uint64_t, pending_request> pending;
  static inline const char* name = "kinbox.router";
};

using router_pointer = router_actor::stateful_pointer<router_state>;

void send_over_nats(router_pointer self, uint64_t req_id) {
  auto& st = self->state;
  auto i = st.pending.find(req_id);
  if (i == st.pending.end())
    return;
  ++i->second.attempts;
  auto reply_to = st.inbox + "." + std::to_string(req_id);
  if (!st.cfg.link->publish(i->second.subject, i->second.encoded, reply_to)) {
    i->second.promise.deliver(error_reply(errc::unavailable, "the NATS link is down"));
    st.pending.erase(i);
  }
}

void forward_to_host(router_pointer self, const entity_request& req,
                     caf::typed_response_promise<entity_reply> rp) {
  if (!self->state.host) {
    rp.deliver(error_reply(errc::unavailable, "the node is not serving yet"));
    return;
  }
  self->request(self->state.host, caf::infinite, req)
      .then([rp](entity_reply& reply) mutable { rp.deliver(std::move(reply)); },
            [rp](caf::error& err) mutable {
              auto f = to_failure(err);
              rp.deliver(error_reply(f.code, f.message));
            });
}

} // namespace

std::string shard_subject(const std::string& cluster, uint32_t shard) {
  return "kinbox." + cluster + ".shard." + std::to_string(shard);
}

router_actor spawn_router(caf::actor_system& sys, router_config cfg) {
  auto behavior = [](router_pointer self, router_config cfg) -> router_actor::behavior_type {
    auto& st = self->state;
    st.cfg = std::move(cfg);
    st.map = shard_map{st.cfg.shards, {st.cfg.node_id}};
    st.inbox = st.cfg.link->new_inbox();
    router_actor handle = self;
    auto sub = st.cfg.link->subscribe(st.inbox + ".*", [handle](nats_message&& m) {
      caf::anon_send(handle, nats_reply_atom::value, std::move(m));
    });
    if (!sub)
      log::get("cluster")->error("event=inbox_subscribe_failed msg=\"{}\"", sub.error().message);
    return {
        [=](entity_request& req) -> caf::result<entity_reply> {
          auto& st = self->state;
          auto rp = self->make_response_promise<entity_reply>();
          auto shard = st.map.shard_of(req.kind, req.id);
          if (st.cfg.local_shortcut && st.map.owner(shard) == st.cfg.node_id) {
            forward_to_host(self, req, rp);
            return rp;
          }
          auto req_id = st.next_request++;
          st.pending.emplace(req_id, pending_request{encode_entity_request(req),
                                                     shard_subject(st.cfg.cluster, shard), rp, 0});
          send_over_nats(self, req_id);
          self->delayed_send(self, st.cfg.request_timeout, timeout_atom::value, req_id);
          return rp;
        },
        [=](serve_atom, entity_actor host) {
          auto& st = self->state;
          st.host = std::move(host);
          router_actor handle = self;
          auto owned = st.map.owned_by(st.cfg.node_id);
          for (auto shard : owned) {
            auto res = st.cfg.link->subscribe(
                shard_subject(st.cfg.cluster, shard), [handle](nats_message&& m) {
                  caf::anon_send(handle, nats_in_atom::value, std::move(m));
                });
            if (!res)
              log::get("cluster")->error("event=shard_subscribe_failed shard={}", shard);
          }
          log::get("cluster")->info("event=serving_shards count={} of={}", owned.size(),
                                    st.cfg.shards);
        },
        [=](nats_in_atom, nats_message& msg) {
          if (msg.reply.empty())
            return;
          entity_request req;
          auto link = self->state.cfg.link;
          if (!decode_entity_request(msg.data, req)) {
            log::get("cluster")->warn("event=bad_entity_request subject={}", msg.subject);
            link->publish(msg.reply, encode_entity_reply(error_reply(errc::malformed_frame)));
            return;
          }
          if (!self->state.host) {
            link->publish(msg.reply, encode_entity_reply(error_reply(errc::unavailable)));
            return;
          }
          auto reply_to = msg.reply;
          self->request(self->state.host, caf::infinite, req)
              .then(
                  [link, reply_to](entity_reply& reply) {
                    link->publish(reply_to, encode_entity_reply(reply));
                  },
                  [link, reply_to](caf::error& err) {
                    auto f = to_failure(err);
                    link->publish(reply_to, encode_entity_reply(error_reply(f.code, f.message)));
                  });
        },
        [=](nats_reply_atom, nats_message& msg) {
          auto& st = self->state;
          auto dot = msg.subject.rfind('.');
          uint64_t req_id = 0;
          try {
            req_id = std::stoull(msg.subject.substr(dot + 1));
          } catch (...) {
            return;
          }
          auto i = st.pending.find(req_id);
          if (i == st.pending.end())
            return;
          if (msg.no_responders) {
            if (i->second.attempts >= st.cfg.max_attempts) {
              i->second.promise.deliver(error_reply(errc::unavailable, "no node serves the shard"));
              st.pending.erase(i);
              return;
            }
            auto backoff = std::chrono::milliseconds(25 << i->second.attempts);
            self->delayed_send(self, backoff, retry_atom::value, req_id);
            return;
          }
          entity_reply reply;
          if (!decode_entity_reply(msg.data, reply))
            reply = error_reply(errc::internal, "malformed reply from the shard owner");
          i->second.promise.deliver(std::move(reply));
          st.pending.erase(i);
        },
        [=](timeout_atom, uint64_t req_id) {
          auto& st = self->state;
          auto i = st.pending.find(req_id);
          if (i == st.pending.end())
            return;
          log::get("cluster")->warn("event=request_timeout subject={}", i->second.subject);
          i->second.promise.deliver(error_reply(errc::timeout));
          st.pending.erase(i);
        },
        [=](retry_atom, uint64_t req_id) { send_over_nats(self, req_id); },
    };
  };
  return sys.spawn(behavior, std::move(cfg));
}

} // namespace kinbox
