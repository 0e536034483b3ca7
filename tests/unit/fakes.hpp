// Stand-ins the actor tests share under CAF's deterministic test coordinator: the KV
// buckets as a map, an entity kind's host whose every lookup finds one actor, and a bus
// that nothing may use (everything in these tests stays on the node).
#pragma once

#include <caf/test/dsl.hpp>

#include <map>
#include <set>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/user_actor.hpp"
#include "cluster/entity_service.hpp"
#include "cluster/kv_actor.hpp"
#include "config/caf_error.hpp"

namespace kinbox::fakes {

/// What the fake KV keeps; a test's world derives from it.
struct kv_world {
  std::map<std::pair<kv_space, std::string>, bytes> kv;
  std::vector<bytes> reports; ///< filed in the reports stream
  std::set<std::string> shredded; ///< accounts whose data key was erased
  bool puts_fail = false;         ///< every put answers unavailable, as when NATS is away
  /// As with the real sealed view: an account's records (bans aside) do not open once its
  /// data key is erased, and none is written again.
  bool deleted(kv_space s, const std::string& owner) const {
    return s != kv_space::bans && shredded.count(owner) != 0;
  }
};

/// The notice a request carries, if it is the delivery of one to a user.
inline std::optional<notice_body> notice_in(const entity_request& r) {
  if (r.op != static_cast<uint8_t>(user_op::deliver))
    return std::nullopt;
  if (!r.args.match_elements<deliver_body>())
    return std::nullopt;
  auto& d = r.args.get_as<deliver_body>(0);
  if (d.kind != mail_kind::notice)
    return std::nullopt;
  auto n = decode_body<notice_body>(d.payload);
  return n ? std::optional<notice_body>{*n} : std::nullopt;
}

/// The argument of `r` as bytes, as it would cross nodes (tests compare bodies so).
inline bytes arg_bytes(const request_codec& codec, const entity_request& r) {
  auto b = codec.encode_arg(r.op, r.args);
  return b ? *b : bytes{};
}

/// Operation `op`'s argument read from `body` by `codec`, as a node reads it from another
/// one; empty if it does not decode (the actor then refuses it as malformed).
inline caf::message arg_from(const request_codec& codec, uint8_t op, const bytes& body) {
  auto m = codec.decode_arg(op, body);
  return m ? *m : caf::message{};
}

/// The result a reply carries, if it is a T.
template <class T>
std::optional<T> value(const entity_reply& r) {
  auto* x = result_as<T>(r);
  return x ? std::optional<T>{*x} : std::nullopt;
}

/// The result of reply `r` to operation `op` as bytes, as it would cross nodes.
inline bytes result_bytes(const request_codec& codec, uint8_t op, const entity_reply& r) {
  auto b = codec.encode_result(op, r.value);
  return b ? *b : bytes{};
}

inline kv_actor::behavior_type kv(kv_actor::pointer, std::shared_ptr<kv_world> w) {
  return {
      [=](kv_get_atom, kv_space s, const std::string& key) -> kv_lookup {
        auto i = w->kv.find({s, key});
        return i == w->kv.end() || w->deleted(s, key) ? kv_lookup{} : kv_lookup{true, i->second};
      },
      [=](kv_put_atom, kv_space s, const std::string& key, const bytes& v) -> caf::result<bool> {
        if (w->puts_fail)
          return make_error(errc::unavailable, "KV is away");
        if (w->deleted(s, key))
          return make_error(errc::not_found, "the account was deleted");
        w->kv[{s, key}] = v;
        return true;
      },
      [=](kv_create_atom, kv_space s, const std::string& key, const bytes& v) -> bool {
        if (w->deleted(s, key))
          return false; // a deleted account's id is taken for good
        return w->kv.emplace(std::make_pair(s, key), v).second;
      },
      [=](kv_shred_atom, const std::string& owner) -> bool {
        w->shredded.insert(owner);
        return true;
      },
      [=](kv_delete_atom, kv_space s, const std::string& key) -> bool {
        w->kv.erase({s, key});
        return true;
      },
      [=](report_atom, const bytes& report) -> uint64_t {
        w->reports.push_back(report);
        return w->reports.size();
      },
  };
}

/// An entity kind's host as the entity service sees it: every lookup finds `entity`.
inline entity_host::behavior_type host(entity_host::pointer, caf::actor entity) {
  return {
      [=](lookup_atom, uint64_t) { return entity; },
      [=](release_atom, uint32_t, std::string&) { return true; },
      [=](handoff_atom, uint32_t, bytes&) { return true; },
      [=](node_down_atom, std::string&, uint64_t, uint64_t) {},
      [=](view_atom) {},
      [=](lost_atom, std::vector<uint32_t>&) {},
      [=](passivate_atom, uint64_t) {}, // one actor serves every id here, and stays
      [=](flush_atom) { return true; },
  };
}

/// The entity service of a lone node "test" (incarnation `incarnation`) that serves all
/// 16 shards, on `bus`.
inline std::shared_ptr<entity_service> lone_node_service(message_bus& bus,
                                                         uint64_t incarnation = 1) {
  entity_service_config cfg;
  cfg.cluster = "test";
  cfg.node_id = "test";
  cfg.incarnation = incarnation;
  cfg.bus = &bus;
  auto service = std::make_shared<entity_service>(cfg);
  auto view = std::make_shared<cluster_view>();
  view->me = "test";
  view->incarnation = incarnation;
  view->map = std::make_shared<const placement>(placement::initial(16, {"test"}));
  view->lease_until = std::chrono::steady_clock::time_point::max();
  view->nodes = {live_node{"test", incarnation, "127.0.0.1:1", false}};
  service->publish_view(view);
  return service;
}

/// Operation `op` of entity (`kind`, `id`) by `caller`, its argument read from `body` by
/// `codec` as a node reads one from another; the entity's actor is looked up in `host`.
/// `fx` is the test's coordinator fixture.
template <class Fixture>
entity_reply call_entity(Fixture& fx, const entity_host& host, entity_kind kind, uint64_t id,
                         account_id caller, const request_codec& codec, uint8_t op,
                         const bytes& body) {
  auto pending = fx.self->request(host, caf::infinite, lookup_atom::value, id);
  fx.consume_messages();
  caf::actor entity;
  pending.receive([&](caf::actor& a) { entity = a; },
                  [&](caf::error& err) { CAF_FAIL("lookup failed: " << fx.sys.render(err)); });
  std::vector<entity_request> reqs{
      entity_request{kind, id, op, caller, arg_from(codec, op, body)}};
  auto answer = fx.self->request(entity, caf::infinite, std::move(reqs));
  fx.consume_messages();
  entity_reply out = error_reply(errc::internal, "no reply");
  answer.receive([&](std::vector<entity_reply>& r) { out = std::move(r.at(0)); },
                 [&](caf::error& err) { CAF_FAIL("request failed: " << fx.sys.render(err)); });
  return out;
}

/// Nothing in these tests leaves the node.
class no_bus : public message_bus {
public:
  bool publish(const std::string&, std::span<const uint8_t>, const std::string&) override {
    CAF_FAIL("unexpected publish");
    return false;
  }
  result<bool> subscribe(const std::string&, nats_handler) override { return true; }
  size_t max_payload() const override { return 1u << 20; }
};

} // namespace kinbox::fakes
