#include "cluster/kv_actor.hpp"

#include <caf/typed_event_based_actor.hpp>

#include "config/caf_error.hpp"

namespace kinbox {

result<std::shared_ptr<kv_buckets>> kv_buckets::open(nats_link& link, const std::string& cluster,
                                                     int replicas, std::chrono::milliseconds lease) {
  static const char* names[kv_space_count] = {"accounts", "contacts", "presence", "last_seen",
                                              "families"};
  auto name = [&](const char* space) { return "kinbox_" + cluster + "_" + space; };
  auto out = std::make_shared<kv_buckets>();
  for (size_t i = 0; i < kv_space_count; ++i) {
    bucket_options opts;
    opts.name = name(names[i]);
    opts.replicas = replicas;
    // Presence had a TTL when sessions refreshed it; it is soft state, made anew.
    opts.remake_on_ttl_change = static_cast<kv_space>(i) == kv_space::presence;
    auto bucket = link.open_bucket(opts);
    if (!bucket)
      return bucket.error();
    out->spaces[i] = std::move(*bucket);
  }
  bucket_options nodes;
  nodes.name = name("nodes");
  nodes.replicas = replicas;
  nodes.ttl_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(lease).count();
  nodes.remake_on_ttl_change = true;
  auto nodes_bucket = link.open_bucket(nodes);
  if (!nodes_bucket)
    return nodes_bucket.error();
  out->nodes = std::move(*nodes_bucket);
  bucket_options placement;
  placement.name = name("cluster");
  placement.replicas = replicas;
  auto cluster_bucket = link.open_bucket(placement);
  if (!cluster_bucket)
    return cluster_bucket.error();
  out->cluster = std::move(*cluster_bucket);
  return out;
}

result<std::shared_ptr<kv_buckets>> kv_buckets::existing(nats_link& link,
                                                         const std::string& cluster) {
  static const char* names[kv_space_count] = {"accounts", "contacts", "presence", "last_seen",
                                              "families"};
  auto name = [&](const char* space) { return "kinbox_" + cluster + "_" + space; };
  auto out = std::make_shared<kv_buckets>();
  for (size_t i = 0; i < kv_space_count; ++i) {
    auto bucket = link.existing_bucket(name(names[i]));
    if (!bucket)
      return bucket.error();
    out->spaces[i] = std::move(*bucket);
  }
  auto nodes = link.existing_bucket(name("nodes"));
  auto placement = link.existing_bucket(name("cluster"));
  if (!nodes || !placement)
    return !nodes ? nodes.error() : placement.error();
  out->nodes = std::move(*nodes);
  out->cluster = std::move(*placement);
  return out;
}

namespace {

kv_actor::behavior_type kv_behavior(kv_actor::pointer, std::shared_ptr<kv_buckets> buckets) {
  auto bucket = [buckets](kv_space s) -> kv_bucket& {
    return *buckets->spaces[static_cast<size_t>(s)];
  };
  return {
      [=](kv_get_atom, kv_space s, const std::string& key) -> caf::result<kv_lookup> {
        auto res = bucket(s).get(key);
        if (!res)
          return make_error(res.error());
        if (!*res)
          return kv_lookup{};
        return kv_lookup{true, std::move((*res)->value)};
      },
      [=](kv_put_atom, kv_space s, const std::string& key,
          const bytes& value) -> caf::result<bool> {
        auto res = bucket(s).put(key, value);
        if (!res)
          return make_error(res.error());
        return true;
      },
      [=](kv_create_atom, kv_space s, const std::string& key,
          const bytes& value) -> caf::result<bool> {
        auto res = bucket(s).create(key, value);
        if (!res)
          return make_error(res.error());
        return *res;
      },
      [=](kv_delete_atom, kv_space s, const std::string& key) -> caf::result<bool> {
        auto res = bucket(s).erase(key);
        if (!res)
          return make_error(res.error());
        return true;
      },
  };
}

} // namespace

kv_actor spawn_kv(caf::actor_system& sys, std::shared_ptr<kv_buckets> buckets) {
  return sys.spawn<caf::detached>(kv_behavior, std::move(buckets));
}

} // namespace kinbox
