// The node's link to NATS (NATS.c): one connection, subscriptions whose callbacks run on
// NATS.c's shared delivery pool, and JetStream KV buckets. RAII around every C handle;
// raw natsStatus codes never leave this file.
//
// Threading: publish and KV calls are thread-safe. KV calls block on a round trip to the
// server, so actors reach KV only through the kv actor (kv_actor.hpp). Subscription
// handlers run on a NATS.c thread: they must copy what they need, hand it to an actor with
// `anon_send`, and return at once.
#pragma once

#include <nats/nats.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/types.hpp"

namespace kinbox {

/// A message as a subscription handler sees it (copied out of NATS.c's buffers).
struct nats_message {
  std::string subject;
  std::string reply;
  bytes data;
  bool no_responders = false; ///< the server's "no responders" status for a request
};

using nats_handler = std::function<void(nats_message&&)>;

struct kv_value {
  bytes value;
  uint64_t revision = 0;
};

class kv_bucket {
public:
  explicit kv_bucket(kvStore* kv) : kv_(kv) {}
  ~kv_bucket();
  kv_bucket(const kv_bucket&) = delete;
  kv_bucket& operator=(const kv_bucket&) = delete;

  /// The current value, or nullopt if the key is missing or deleted.
  [[nodiscard]] result<std::optional<kv_value>> get(const std::string& key);
  /// Writes unconditionally; returns the new revision.
  [[nodiscard]] result<uint64_t> put(const std::string& key, std::span<const uint8_t> value);
  /// Writes only if the key does not exist; false if it does.
  [[nodiscard]] result<bool> create(const std::string& key, std::span<const uint8_t> value);
  /// Deletes the key (a no-op if missing).
  [[nodiscard]] result<bool> erase(const std::string& key);
  /// All live keys of the bucket.
  [[nodiscard]] result<std::vector<std::string>> keys();

private:
  kvStore* kv_;
};

struct bucket_options {
  std::string name;
  int64_t ttl_ns = 0; ///< 0: keep forever. Applies to every key of the bucket.
  uint8_t history = 1;
};

class nats_link {
public:
  /// Connects to the first reachable URL; reconnects forever after that.
  [[nodiscard]] static result<std::unique_ptr<nats_link>>
  connect(const std::vector<std::string>& urls, const std::string& client_name);

  ~nats_link();
  nats_link(const nats_link&) = delete;
  nats_link& operator=(const nats_link&) = delete;

  /// Queues a message for sending (NATS.c's flusher sends it); false if the link is closed.
  bool publish(const std::string& subject, std::span<const uint8_t> data,
               const std::string& reply = {});

  /// Subscribes `handler` to `subject` (wildcards allowed) until the link goes away.
  [[nodiscard]] result<bool> subscribe(const std::string& subject, nats_handler handler);

  /// Opens the bucket, creating it with `opts` if it does not exist.
  [[nodiscard]] result<std::unique_ptr<kv_bucket>> open_bucket(const bucket_options& opts);

  /// Round trip to the server: true once everything published so far was processed.
  bool flush(int64_t timeout_ms);

  /// Whether the connection is up right now.
  bool connected() const;

  /// A fresh unique inbox prefix for replies.
  std::string new_inbox();

private:
  nats_link() = default;

  struct subscription_entry {
    nats_handler handler;
    natsSubscription* sub = nullptr;
  };

  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  std::mutex mtx_;
  std::vector<std::unique_ptr<subscription_entry>> subscriptions_;
};

/// Human-readable text of a NATS.c status with the library's last error detail.
std::string nats_error_text(natsStatus s);

} // namespace kinbox
