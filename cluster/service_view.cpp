// The shared part of the entity service: the cluster view every caller reads, the
// registered kinds, and the endpoints (sessions) of this node's gateway. The service
// actor, its NATS side, is in entity_service.cpp.
#include "cluster/entity_service.hpp"

#include <caf/send.hpp>

#include <algorithm>

namespace kinbox {

// -- the view ---------------------------------------------------------------------------

bool cluster_view::serves(uint32_t shard, std::chrono::steady_clock::time_point now) const {
  auto* o = owner(shard);
  return o != nullptr && *o == me && now < lease_until &&
         (shard >= releasing.size() || releasing[shard] == 0);
}

const live_node* cluster_view::node(const std::string& id) const {
  auto i = std::lower_bound(nodes.begin(), nodes.end(), id,
                            [](const live_node& n, const std::string& x) { return n.id < x; });
  return i != nodes.end() && i->id == id ? &*i : nullptr;
}

bool cluster_view::is_live(const std::string& id, uint64_t inc) const {
  auto* n = node(id);
  return n != nullptr && n->incarnation == inc;
}

std::optional<uint64_t> cluster_view::departed_at(const std::string& id, uint64_t inc) const {
  for (auto i = departed.rbegin(); i != departed.rend(); ++i)
    if (i->id == id && i->incarnation == inc)
      return i->last_heartbeat_ms;
  return std::nullopt;
}

std::vector<std::string> cluster_view::other_gateways() const {
  std::vector<std::string> out;
  for (auto& n : nodes)
    if (n.id != me && !n.draining && !n.gateway.empty())
      out.push_back(n.gateway);
  return out;
}

// -- the shared service -----------------------------------------------------------------

entity_service::entity_service(entity_service_config cfg) : cfg_(std::move(cfg)) {
  auto v = std::make_shared<cluster_view>();
  v->me = cfg_.node_id;
  v->incarnation = cfg_.incarnation;
  v->local_shortcut = cfg_.local_shortcut;
  view_ = std::move(v);
}

std::shared_ptr<const cluster_view> entity_service::view() const {
  std::lock_guard<std::mutex> guard{view_mtx_};
  return view_;
}

void entity_service::publish_view(std::shared_ptr<const cluster_view> v) {
  std::lock_guard<std::mutex> guard{view_mtx_};
  view_ = std::move(v);
}

void entity_service::register_kind(entity_kind kind, entity_host host, entity_codec codec) {
  kinds_[kind] = kind_entry{std::move(host), std::move(codec)};
}

const kind_entry* entity_service::kind(entity_kind kind) const {
  auto i = kinds_.find(kind);
  return i == kinds_.end() ? nullptr : &i->second;
}

namespace {

failure no_such_kind(entity_kind kind) {
  return failure{errc::invalid_argument, "no entity kind " + std::to_string(kind)};
}

} // namespace

result<bus_request> entity_service::encode_request(const entity_request& req) const {
  auto* k = kind(req.kind);
  return k != nullptr ? to_bus(req, k->codec.requests) : result<bus_request>{no_such_kind(req.kind)};
}

result<entity_request> entity_service::decode_request(bus_request&& req) const {
  auto* k = kind(req.kind);
  return k != nullptr ? from_bus(std::move(req), k->codec.requests)
                      : result<entity_request>{no_such_kind(req.kind)};
}

bus_reply entity_service::encode_reply(const entity_reply& r, entity_kind k, uint8_t op) const {
  auto* entry = kind(k);
  if (entry == nullptr)
    return bus_error(errc::invalid_argument, no_such_kind(k).message);
  return to_bus(r, op, entry->codec.requests);
}

entity_reply entity_service::decode_reply(bus_reply&& r, entity_kind k, uint8_t op) const {
  auto* entry = kind(k);
  if (entry == nullptr)
    return error_reply(no_such_kind(k));
  return from_bus(std::move(r), op, entry->codec.requests);
}

void entity_service::add_endpoint(uint64_t id, caf::actor session) {
  std::lock_guard<std::mutex> guard{endpoints_mtx_};
  endpoints_[id] = endpoint_entry{std::move(session), {}, 0};
}

void entity_service::endpoint_attached(uint64_t id, std::string node, uint64_t incarnation) {
  std::lock_guard<std::mutex> guard{endpoints_mtx_};
  if (auto i = endpoints_.find(id); i != endpoints_.end()) {
    i->second.host_node = std::move(node);
    i->second.host_incarnation = incarnation;
  }
}

std::vector<caf::actor> entity_service::endpoints_attached_to(const std::string& node,
                                                              uint64_t incarnation) const {
  std::vector<caf::actor> out;
  std::lock_guard<std::mutex> guard{endpoints_mtx_};
  for (auto& [id, e] : endpoints_)
    if (e.host_node == node && e.host_incarnation == incarnation)
      out.push_back(e.session);
  return out;
}

void entity_service::remove_endpoint(uint64_t id) {
  std::lock_guard<std::mutex> guard{endpoints_mtx_};
  endpoints_.erase(id);
}

size_t entity_service::endpoint_count() const {
  std::lock_guard<std::mutex> guard{endpoints_mtx_};
  return endpoints_.size();
}

void entity_service::deliver_to_endpoint(uint64_t id, caf::message msg) {
  caf::actor session;
  {
    std::lock_guard<std::mutex> guard{endpoints_mtx_};
    if (auto i = endpoints_.find(id); i != endpoints_.end())
      session = i->second.session;
  }
  if (session)
    caf::anon_send(session, std::move(msg));
}

void entity_service::push(const endpoint& to, entity_kind kind, caf::message msg) {
  if (to.node == cfg_.node_id && to.incarnation == cfg_.incarnation && cfg_.local_shortcut) {
    deliver_to_endpoint(to.id, std::move(msg));
    return;
  }
  auto* entry = this->kind(kind);
  if (entry == nullptr || !actor_)
    return;
  // The service actor sends it with the other pushes of its turn to that node.
  caf::anon_send(actor_, bus_push_atom::value, to.node,
                 push_item{to.incarnation, to.id, kind, entry->codec.pushes.encode(msg)});
}

std::string entity_service::node_subject(const std::string& node) const {
  return node_inbox(cfg_.cluster, node);
}

std::string entity_service::reply_prefix() const {
  return "kinbox." + cfg_.cluster + ".reply." + cfg_.node_id;
}

} // namespace kinbox
