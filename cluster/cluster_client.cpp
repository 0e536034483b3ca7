#include "cluster/cluster_client.hpp"

#include <sodium.h>

#include <thread>

#include "cluster/membership_actor.hpp"

namespace kinbox {

cluster_client::cluster_client(nats_link& link, kv_buckets& buckets, std::string cluster)
    : link_(link), buckets_(buckets), cluster_(std::move(cluster)) {
  randombytes_buf(&client_id_, sizeof(client_id_));
}

result<std::shared_ptr<const placement>> cluster_client::current_placement() {
  auto stored = buckets_.cluster->get(placement_key);
  if (!stored)
    return stored.error();
  if (!*stored)
    return failure{errc::unavailable, "the cluster has no placement yet"};
  auto map = placement::decode((*stored)->value);
  if (!map)
    return failure{errc::internal, "the cluster's placement does not decode"};
  return std::shared_ptr<const placement>{std::make_shared<placement>(std::move(*map))};
}

result<entity_reply> cluster_client::call(entity_request req, const request_codec& codec,
                                          std::chrono::milliseconds patience) {
  req.caller = operator_caller;
  req.client = client_id_;
  auto wire = to_bus(req, codec);
  if (!wire)
    return wire.error();
  auto deadline = std::chrono::steady_clock::now() + patience;
  failure last{errc::unavailable, "the cluster has no placement"};
  for (uint8_t attempt = 0;; ++attempt) {
    if (attempt > 0) {
      if (std::chrono::steady_clock::now() >= deadline)
        return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    auto map = current_placement();
    if (!map) {
      last = map.error();
      continue;
    }
    auto* owner = (*map)->owner(shard_of((*map)->shards, req.kind, req.id));
    if (owner == nullptr) {
      last = failure{errc::unavailable, "no node serves the entity's shard"};
      continue;
    }
    wire->attempt = attempt;
    auto answer = link_.request(node_inbox(cluster_, *owner),
                                encode_request_batch((*map)->epoch, 0, {}, {&*wire, 1}), 5000);
    if (!answer) {
      last = answer.error();
      continue;
    }
    auto msg = decode_bus_message(*answer);
    if (!msg || msg->type != bus_type::answers || msg->answers.size() != 1)
      return failure{errc::internal, "node " + *owner + " answered something else"};
    auto reply = from_bus(std::move(msg->answers[0].reply), req.op, codec);
    if (!reply.moved())
      return reply;
    last = failure{errc::moved, "the entity's shard is moving"};
  }
}

result<bytes> cluster_client::ask_node(const std::string& node, admin_op op,
                                       std::chrono::milliseconds timeout) {
  auto answer = link_.request(node_inbox(cluster_, node), encode_admin(op), timeout.count());
  if (!answer && (answer.error().code == errc::unavailable || answer.error().code == errc::timeout))
    return failure{answer.error().code, "no node '" + node + "' of cluster '" + cluster_ +
                                            "' answered (kinbox-admin status lists the nodes)"};
  return answer;
}

} // namespace kinbox
