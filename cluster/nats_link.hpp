// The node's link to NATS (NATS.c): one authenticated connection, subscriptions whose
// callbacks run on NATS.c's shared delivery pool, JetStream KV buckets and their
// watchers. RAII around every C handle; raw natsStatus codes never leave this file.
//
// Threading: publish and KV calls are thread-safe. KV calls block on a round trip to the
// server, so actors reach KV only through detached actors (kv_actor.hpp, the membership
// actor). Subscription handlers and watcher handlers run on threads that are not CAF's:
// they must copy what they need, hand it to an actor with `anon_send`, and return at once.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
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

/// Subject-based messaging as the entity service uses it: NATS in a node, an in-memory
/// bus in deterministic tests.
class message_bus {
public:
  virtual ~message_bus() = default;
  /// Queues a message; with `reply`, a request whose answer (or the server's "no
  /// responders" status) goes to that subject. False if the link is closed.
  virtual bool publish(const std::string& subject, std::span<const uint8_t> data,
                       const std::string& reply = {}) = 0;
  /// Subscribes `handler` to `subject` (a trailing `.*` or `.>` wildcard allowed).
  [[nodiscard]] virtual result<bool> subscribe(const std::string& subject,
                                               nats_handler handler) = 0;
  /// The largest message the bus carries.
  virtual size_t max_payload() const = 0;
};

struct kv_value {
  bytes value;
  uint64_t revision = 0;
};

/// One change seen by a watcher. `key` empty and `caught_up` set: the watcher has
/// replayed every current value and what follows is live.
struct kv_change {
  std::string key;
  bytes value;
  uint64_t revision = 0;
  bool deleted = false; ///< a delete or purge of `key`
  bool caught_up = false;
};

class kv_bucket {
public:
  explicit kv_bucket(kvStore* kv) : kv_(kv) {}
  /// A bucket whose stream allows erasing messages (`nats_link::open_erasable_bucket`).
  kv_bucket(kvStore* kv, jsCtx* js, std::string stream)
      : kv_(kv), js_(js), stream_(std::move(stream)) {}
  ~kv_bucket();
  kv_bucket(const kv_bucket&) = delete;
  kv_bucket& operator=(const kv_bucket&) = delete;

  /// The current value, or nullopt if the key is missing or deleted.
  [[nodiscard]] result<std::optional<kv_value>> get(const std::string& key);
  /// Writes unconditionally; returns the new revision.
  [[nodiscard]] result<uint64_t> put(const std::string& key, std::span<const uint8_t> value);
  /// Writes only if the key does not exist; false if it does.
  [[nodiscard]] result<bool> create(const std::string& key, std::span<const uint8_t> value);
  /// Compare-and-set: writes only if the key's revision is still `last`; returns the new
  /// revision, or nullopt when another write came first.
  [[nodiscard]] result<std::optional<uint64_t>> update(const std::string& key,
                                                       std::span<const uint8_t> value,
                                                       uint64_t last);
  /// Deletes the key (a no-op if missing).
  [[nodiscard]] result<bool> erase(const std::string& key);
  /// All live keys of the bucket.
  [[nodiscard]] result<std::vector<std::string>> keys();
  /// Overwrites the key's current value where the servers keep it and removes it (only in
  /// an erasable bucket, and only a value never superseded: an older revision is gone
  /// from the stream but not from its files). True if there was one.
  [[nodiscard]] result<bool> erase_current(const std::string& key);

  kvStore* handle() const { return kv_; }

private:
  kvStore* kv_;
  jsCtx* js_ = nullptr;
  std::string stream_;
};

/// Watches every key of a bucket on a thread of its own and hands each change to
/// `handler` (on that thread). A watcher that fails (the server went away) is made anew,
/// which replays the current values again. Stops and joins in its destructor.
class kv_watch {
public:
  kv_watch(kv_bucket& bucket, std::function<void(kv_change&&)> handler);
  ~kv_watch();
  kv_watch(const kv_watch&) = delete;
  kv_watch& operator=(const kv_watch&) = delete;

private:
  void run();
  kv_bucket& bucket_;
  std::function<void(kv_change&&)> handler_;
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  kvWatcher* current_ = nullptr;
  std::thread thread_;
};

struct bucket_options {
  std::string name;
  int64_t ttl_ns = 0; ///< 0: keep forever. Applies to every key of the bucket.
  uint8_t history = 1;
  int replicas = 1; ///< copies on the NATS servers; an existing bucket with fewer is raised
  /// Soft state only: an existing bucket with another TTL is deleted and made anew.
  bool remake_on_ttl_change = false;
};

/// One message of a stream, as a tool reads it.
struct stream_message {
  uint64_t seq = 0;
  std::string subject;
  bytes data;
};

/// A JetStream stream that is written and read message by message (reports: an
/// append-only log). Publishing waits for the server's ack: the message is durable then.
class js_stream {
public:
  js_stream(jsCtx* js, std::string name) : js_(js), name_(std::move(name)) {}
  /// Appends a message; returns its sequence once the stream has it.
  [[nodiscard]] result<uint64_t> publish(const std::string& subject, std::span<const uint8_t> data);
  /// First and last sequence (last 0: empty).
  [[nodiscard]] result<std::pair<uint64_t, uint64_t>> bounds();
  /// The message at `seq`, or nullopt if there is none (deleted, expired).
  [[nodiscard]] result<std::optional<stream_message>> get(uint64_t seq);

private:
  jsCtx* js_;
  std::string name_;
};

struct stream_options {
  std::string name;
  std::vector<std::string> subjects;
  int64_t max_age_ns = 0; ///< 0: keep forever
  int64_t max_bytes = -1; ///< -1: no bound
  /// At `max_bytes`: refuse new messages (true) or drop the oldest (false).
  bool discard_new = false;
  int replicas = 1; ///< an existing stream with fewer is raised; its bounds are set anew
};

/// A NATS user and password (the form nats-server's `authorization` block takes).
struct nats_credentials {
  std::string user;
  std::string password;
};

/// Reads a credentials file of `user=...` and `password=...` lines. The file must be a
/// regular file (not a symlink) owned by this user and readable by no one else.
[[nodiscard]] result<nats_credentials> read_nats_credentials(const std::string& path);

/// Writes a credentials file, mode 0600 (fails if it exists).
[[nodiscard]] result<bool> write_nats_credentials(const std::string& path,
                                                  const nats_credentials& creds);

class nats_link : public message_bus {
public:
  /// Connects to the first reachable URL; reconnects forever after that. With `ca_file`
  /// (PEM), the connection is TLS and the servers' certificates must chain to it.
  [[nodiscard]] static result<std::unique_ptr<nats_link>>
  connect(const std::vector<std::string>& urls, const std::string& client_name,
          const std::optional<nats_credentials>& creds, const std::string& ca_file = {});

  ~nats_link() override;
  nats_link(const nats_link&) = delete;
  nats_link& operator=(const nats_link&) = delete;

  /// Writes at once (no flusher delay): the node publishes one message per batch of
  /// requests, not per frame, so each costs one write and no added latency.
  bool publish(const std::string& subject, std::span<const uint8_t> data,
               const std::string& reply = {}) override;

  [[nodiscard]] result<bool> subscribe(const std::string& subject, nats_handler handler) override;

  /// The servers' `max_payload` (1 MiB unless configured).
  size_t max_payload() const override;

  /// Opens the bucket, creating it with `opts` if it does not exist.
  [[nodiscard]] result<std::unique_ptr<kv_bucket>> open_bucket(const bucket_options& opts);

  /// Opens the bucket, creating its stream by hand if it does not exist: as a KV bucket
  /// would be (one message per key), but allowing message erasure, which
  /// `js_CreateKeyValue` denies (docs/privacy.md). Values are never updated in it.
  [[nodiscard]] result<std::unique_ptr<kv_bucket>> open_erasable_bucket(const bucket_options& opts);

  /// Opens a bucket that exists (tools: they never make or change one); not_found if not.
  [[nodiscard]] result<std::unique_ptr<kv_bucket>> existing_bucket(const std::string& name);

  /// Opens the stream, creating it with `opts` if it does not exist.
  [[nodiscard]] result<std::unique_ptr<js_stream>> open_stream(const stream_options& opts);

  /// Opens a stream that exists (tools); not_found if not.
  [[nodiscard]] result<std::unique_ptr<js_stream>> existing_stream(const std::string& name);

  /// Round trip to the server: true once everything published so far was processed.
  bool flush(int64_t timeout_ms);

  /// A blocking request (for tools, never in an actor): the answer's data, or a failure
  /// (`unavailable` when nobody serves the subject, `timeout`).
  [[nodiscard]] result<bytes> request(const std::string& subject, std::span<const uint8_t> data,
                                      int64_t timeout_ms);

  /// Whether the connection is up right now.
  bool connected() const;

  /// Servers the link knows of (given and discovered): the size of the NATS cluster.
  size_t known_servers() const;

  /// The URL of the server the link is connected to now (empty when it is not).
  std::string connected_url() const;

private:
  nats_link() = default;

  struct subscription_entry {
    nats_handler handler;
    natsSubscription* sub = nullptr;
  };

  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<bool> closing_{false};
  std::mutex mtx_;
  std::vector<std::unique_ptr<subscription_entry>> subscriptions_;
};

/// Human-readable text of a NATS.c status with the library's last error detail.
std::string nats_error_text(natsStatus s);

} // namespace kinbox
