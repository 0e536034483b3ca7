// The node's metrics, in Prometheus text format through prometheus-cpp: one registry per
// process, counters, gauges and histograms that any thread updates in place (atomics, no
// actor messages), and the HTTP endpoint that serves them with the health checks
// (civetweb, the server prometheus-cpp's pull exporter is built on). No label carries an
// account id or anything personal: labels are frame types, error names, limits, kinds.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/errc.hpp"
#include "protocol/frame.hpp"

namespace kinbox::metrics {

/// Every metric of the node (docs/operations.md, "Metrics", lists them with their alerts).
struct node_metrics {
  prometheus::Registry registry;

  prometheus::Gauge& connections; ///< TCP connections to the gateway
  prometheus::Gauge& sessions;    ///< logged-in sessions
  prometheus::Counter& logins_ok;
  prometheus::Counter& logins_refused;
  std::array<prometheus::Counter*, 256> frames_in{};  ///< by frame type
  std::array<prometheus::Counter*, 256> frames_out{}; ///< by frame type

  prometheus::Counter& mail_accepted;  ///< stored (or held) for a recipient and answered
  prometheus::Counter& mail_delivered; ///< acked by the recipient's app
  prometheus::Counter& mail_expired;   ///< past its TTL undelivered
  prometheus::Counter& messages_lost;  ///< accepted mail the node could not keep (stays 0)
  std::array<prometheus::Counter*, 256> mail_refused{}; ///< by error code

  prometheus::Gauge& mailbox_envelopes;
  prometheus::Gauge& mailbox_bytes;
  prometheus::Gauge& lmdb_map_used_bytes;
  prometheus::Gauge& lmdb_map_size_bytes;
  prometheus::Histogram& commit_batch;   ///< puts and acks per group commit
  prometheus::Histogram& commit_seconds; ///< one group commit, its fsync included
  /// When the store last read its totals (now_ns), 0 before: /healthz's sign of a store
  /// that answers.
  std::atomic<int64_t> store_answered_ns{0};

  prometheus::Family<prometheus::Histogram>& request_seconds; ///< by entity kind
  prometheus::Counter& bus_messages; ///< requests, answers and pushes sent to other nodes
  prometheus::Counter& bus_batches;  ///< ... in this many NATS messages
  prometheus::Counter& nats_reconnects;
  prometheus::Histogram& kv_seconds; ///< one JetStream KV call

  prometheus::Counter& shard_moves;       ///< shards this node took or released
  prometheus::Counter& handoff_envelopes; ///< stored mail handed to another node

  prometheus::Counter& pin_checks_right;
  prometheus::Counter& pin_checks_wrong;
  prometheus::Counter& pin_lockouts;
  prometheus::Family<prometheus::Counter>& rate_limited; ///< by limit

  node_metrics();

  /// The histogram of requests to entities of kind `kind` ("user", "family", "chat").
  prometheus::Histogram& requests_of(std::string_view kind);
  /// A refusal of mail with `code`.
  void refused(errc code);
  /// A request refused by limit `limit` ("requests", "registrations", ...).
  void limited(std::string_view limit);
  /// Seconds since `start_ns` (a steady clock reading from `now_ns`).
  static double seconds_since(int64_t start_ns);
  static int64_t now_ns();
};

/// The process's metrics, made on first use.
node_metrics& get();

/// The metrics in Prometheus text format.
std::string text();

/// What /healthz and /readyz answer: empty when healthy (ready), else the reason.
struct health {
  std::function<std::string()> healthz;
  std::function<std::string()> readyz;
};

/// The HTTP endpoint: GET /metrics, /healthz and /readyz on `listen` (HOST:PORT). Stops
/// when destroyed.
class http_server {
public:
  /// Throws std::runtime_error when it cannot listen (with civetweb's reason).
  http_server(const std::string& listen, health checks);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace kinbox::metrics
