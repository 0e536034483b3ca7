// The cluster as a tool reaches it (kinbox-admin), with blocking calls: a request to an
// entity wherever it lives, as the operator, retried while its shard moves, and an admin
// request to one node's inbox. Where an entity lives and where a node listens come from
// the functions the entity service routes with (`shard_of`, `node_inbox`), so a tool
// never computes a shard or writes a subject of its own.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cluster/entity.hpp"
#include "cluster/kv_actor.hpp"
#include "cluster/nats_link.hpp"
#include "cluster/shard_map.hpp"

namespace kinbox {

class cluster_client {
public:
  cluster_client(nats_link& link, kv_buckets& buckets, std::string cluster);

  /// Sends `req` (made by its kind's interface, as the operator) and waits for its reply,
  /// the argument and result crossing by the kind's `codec`; while its shard moves (or has
  /// no owner) it reads the placement again and retries, for up to `patience`.
  [[nodiscard]] result<entity_reply> call(entity_request req, const request_codec& codec,
                                          std::chrono::milliseconds patience =
                                              std::chrono::seconds(10));

  /// Sends an admin request to node `node` and waits for its answer.
  [[nodiscard]] result<bytes> ask_node(const std::string& node, admin_op op,
                                       std::chrono::milliseconds timeout =
                                           std::chrono::seconds(5));

  /// The cluster's current placement, if one was written.
  [[nodiscard]] result<std::shared_ptr<const placement>> current_placement();

private:
  nats_link& link_;
  kv_buckets& buckets_;
  std::string cluster_;
  uint64_t client_id_ = 0; ///< marks this tool's requests, as an entity client's are
};

} // namespace kinbox
