#include "cluster/kv_actor.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <sodium.h>

#include <array>

#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "crypto/crypto.hpp"

namespace kinbox {

namespace {

std::string bucket_name(const std::string& cluster, const char* space) {
  return "kinbox_" + cluster + "_" + space;
}

} // namespace

std::string ban_key_of_account(account_id id) {
  return "a" + std::to_string(id);
}

namespace {

std::string ban_key_of_key(char tag, std::span<const uint8_t> key) {
  std::array<uint8_t, 16> hash{};
  crypto_generichash(hash.data(), hash.size(), key.data(), key.size(), nullptr, 0);
  return tag + crypto::to_hex(hash);
}

} // namespace

std::string ban_key_of_sign_key(std::span<const uint8_t> sign_key) {
  return ban_key_of_key('k', sign_key);
}

std::string ban_key_of_box_key(std::span<const uint8_t> box_key) {
  return ban_key_of_key('b', box_key);
}

std::string reports_stream(const std::string& cluster) {
  return bucket_name(cluster, "reports");
}

std::string reports_subject(const std::string& cluster) {
  return "kinbox." + cluster + ".reports";
}

std::string resolutions_subject(const std::string& cluster) {
  return "kinbox." + cluster + ".reports.resolved";
}

result<std::shared_ptr<kv_buckets>> kv_buckets::open(nats_link& link, const std::string& cluster,
                                                     int replicas, std::chrono::milliseconds lease,
                                                     uint64_t reports_max_bytes) {
  auto out = std::make_shared<kv_buckets>();
  for (size_t i = 0; i < kv_space_count; ++i) {
    bucket_options opts;
    opts.name = bucket_name(cluster, space_name(static_cast<kv_space>(i)));
    opts.replicas = replicas;
    if (static_cast<kv_space>(i) == kv_space::bans)
      opts.ttl_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(ban_keep).count();
    // Presence had a TTL when sessions refreshed it; it is soft state, made anew.
    opts.remake_on_ttl_change = static_cast<kv_space>(i) == kv_space::presence;
    auto bucket = link.open_bucket(opts);
    if (!bucket)
      return bucket.error();
    out->spaces[i] = std::move(*bucket);
  }
  bucket_options keys;
  keys.name = bucket_name(cluster, "keys");
  keys.replicas = replicas;
  auto keys_bucket = link.open_erasable_bucket(keys);
  if (!keys_bucket)
    return keys_bucket.error();
  out->keys = std::move(*keys_bucket);
  bucket_options nodes;
  nodes.name = bucket_name(cluster, "nodes");
  nodes.replicas = replicas;
  nodes.ttl_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(lease).count();
  nodes.remake_on_ttl_change = true;
  auto nodes_bucket = link.open_bucket(nodes);
  if (!nodes_bucket)
    return nodes_bucket.error();
  out->nodes = std::move(*nodes_bucket);
  bucket_options placement;
  placement.name = bucket_name(cluster, "cluster");
  placement.replicas = replicas;
  auto cluster_bucket = link.open_bucket(placement);
  if (!cluster_bucket)
    return cluster_bucket.error();
  out->cluster = std::move(*cluster_bucket);
  stream_options reports;
  reports.name = reports_stream(cluster);
  reports.subjects = {reports_subject(cluster), reports_subject(cluster) + ".>"};
  reports.max_age_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(ban_keep).count();
  // Full, the stream refuses new reports rather than drop unresolved old ones.
  reports.max_bytes = static_cast<int64_t>(reports_max_bytes);
  reports.discard_new = true;
  reports.replicas = replicas;
  auto stream = link.open_stream(reports);
  if (!stream)
    return stream.error();
  out->reports = std::move(*stream);
  out->report_subject = reports_subject(cluster);
  return out;
}

result<std::shared_ptr<kv_buckets>> kv_buckets::existing(nats_link& link,
                                                         const std::string& cluster) {
  auto out = std::make_shared<kv_buckets>();
  for (size_t i = 0; i < kv_space_count; ++i) {
    auto bucket = link.existing_bucket(bucket_name(cluster, space_name(static_cast<kv_space>(i))));
    if (!bucket)
      return bucket.error();
    out->spaces[i] = std::move(*bucket);
  }
  auto keys = link.existing_bucket(bucket_name(cluster, "keys"));
  if (!keys)
    return keys.error();
  out->keys = std::move(*keys);
  auto nodes = link.existing_bucket(bucket_name(cluster, "nodes"));
  auto placement = link.existing_bucket(bucket_name(cluster, "cluster"));
  if (!nodes || !placement)
    return !nodes ? nodes.error() : placement.error();
  out->nodes = std::move(*nodes);
  out->cluster = std::move(*placement);
  auto stream = link.existing_stream(reports_stream(cluster));
  if (!stream)
    return stream.error();
  out->reports = std::move(*stream);
  out->report_subject = reports_subject(cluster);
  return out;
}

namespace {

kv_actor::behavior_type kv_behavior(kv_actor::pointer, std::shared_ptr<kv_buckets> buckets,
                                    std::shared_ptr<sealed_kv> store) {
  return {
      [=](kv_get_atom, kv_space s, const std::string& key) -> caf::result<kv_lookup> {
        auto res = store->get(s, key);
        if (!res)
          return make_error(res.error());
        if (!*res)
          return kv_lookup{};
        return kv_lookup{true, std::move(**res)};
      },
      [=](kv_put_atom, kv_space s, const std::string& key,
          const bytes& value) -> caf::result<bool> {
        auto res = store->put(s, key, value);
        if (!res)
          return make_error(res.error());
        return true;
      },
      [=](kv_create_atom, kv_space s, const std::string& key,
          const bytes& value) -> caf::result<bool> {
        auto res = store->create(s, key, value);
        if (!res)
          return make_error(res.error());
        return *res;
      },
      [=](kv_delete_atom, kv_space s, const std::string& key) -> caf::result<bool> {
        auto res = store->erase(s, key);
        if (!res)
          return make_error(res.error());
        return true;
      },
      [=](kv_shred_atom, const std::string& owner) -> caf::result<bool> {
        auto res = store->shred(owner);
        if (!res)
          return make_error(res.error());
        return true;
      },
      [=](report_atom, const bytes& report) -> caf::result<uint64_t> {
        auto res = buckets->reports->publish(buckets->report_subject, report);
        if (!res) {
          log::get("kv")->error("event=report_not_stored reason=\"{}\"", res.error().message);
          return make_error(res.error());
        }
        return *res;
      },
  };
}

} // namespace

sealed_kv sealed_view(kv_buckets& b, const crypto::storage_secrets& secrets,
                      std::chrono::milliseconds key_life) {
  std::array<kv_bucket*, kv_space_count> spaces{};
  for (size_t i = 0; i < kv_space_count; ++i)
    spaces[i] = b.spaces[i].get();
  return sealed_kv{spaces, b.keys.get(), secrets, key_life};
}

kv_actor spawn_kv(caf::actor_system& sys, std::shared_ptr<kv_buckets> buckets,
                  crypto::storage_secrets secrets) {
  auto store = std::make_shared<sealed_kv>(sealed_view(*buckets, secrets));
  return sys.spawn<caf::detached>(kv_behavior, std::move(buckets), std::move(store));
}

} // namespace kinbox
