// Node configuration: command line, then a config file (--config), then KINBOX_*
// environment variables, in that order of precedence. Every value is validated here;
// the rest of the node trusts a `node_config`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "config/limits.hpp"
#include "protocol/types.hpp"

namespace kinbox {

struct listen_address {
  std::string host;
  uint16_t port = 0;
};

struct node_config {
  std::string cluster = "dev";
  std::string node_id = "node1";
  std::string data_dir = "kinbox-data";
  listen_address gateway{"127.0.0.1", 7420};
  std::vector<std::string> nats_urls; ///< empty: start an embedded nats-server
  /// File with the NATS user and password (never the secret itself on the command line);
  /// an embedded nats-server makes its own in the data dir.
  std::string nats_credentials;
  std::string nats_ca; ///< PEM file of the CA of the NATS servers' certificates: TLS
  std::string nats_server_binary = "nats-server";
  std::chrono::milliseconds nats_connect_timeout = std::chrono::seconds(10);
  /// host:port apps are sent to when another node redirects them here; empty: the
  /// listen address with its bound port.
  std::string advertise;
  /// host:port of /metrics, /healthz and /readyz, or "off".
  std::string metrics_listen = "127.0.0.1:9464";
  bool metrics_listen_given = false;      ///< set by the operator (not the default)
  std::string key_file;                   ///< empty: <data_dir>/cluster.key, made if missing
  std::string pin_pepper_file;            ///< empty: the pepper is derived from the cluster key
  uint64_t pin_hash_ops = 2;              ///< argon2id opslimit
  uint64_t pin_hash_memory = 64ull << 20; ///< argon2id memlimit (bytes)
  size_t pin_workers = 1;
  std::chrono::milliseconds mail_ttl = std::chrono::hours(24 * 15);
  std::chrono::milliseconds sweep_interval = std::chrono::seconds(60);
  std::chrono::milliseconds auth_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds commit_window = std::chrono::milliseconds(1);
  /// After a deletion, and periodically: when the mailbox file is rewritten without its
  /// freed pages (persistence/store_actor.hpp has the meaning).
  struct {
    std::chrono::milliseconds after_purge{std::chrono::seconds(60)};
    std::chrono::milliseconds every{std::chrono::hours(1)};
  } compaction;
  std::chrono::milliseconds ack_window = std::chrono::milliseconds(50);
  size_t max_frame_size = 64 * 1024;
  size_t max_outbound_bytes = 4 * 1024 * 1024;
  uint64_t mailbox_initial_size = 64ull << 20;
  uint64_t mailbox_max_size = 16ull << 30;
  uint64_t mailbox_cap_count = 10'000;      ///< undelivered envelopes stored per account
  uint64_t mailbox_cap_bytes = 64ull << 20; ///< undelivered payload bytes stored per account
  gateway_limit_config limits;              ///< abuse limits of the gateway
  friend_limit_config friend_limits;
  uint64_t reports_max_bytes = 1ull << 30; ///< the reports stream's bound
  age_rules ages;
  std::chrono::milliseconds setup_code_ttl{std::chrono::hours(1)};
  size_t avatar_max_bytes = 32u << 10;
  /// How old a child's latest location may be when its parent logs in and still get it.
  std::chrono::milliseconds location_ttl = std::chrono::minutes(10);
  size_t max_group_members = 32; ///< members one group chat may have, its creator included
  std::chrono::milliseconds ring_timeout = std::chrono::seconds(60); ///< a call's ring
  /// Children's quiet hours begin and end up to this long after the minute set.
  std::chrono::milliseconds quiet_release_spread = std::chrono::seconds(10);
  size_t max_ring = 16; ///< members one group call rings
  uint32_t shards = 0;  ///< 0: the cluster's (4096 for a new cluster)
  std::chrono::milliseconds lease = std::chrono::seconds(6); ///< membership lease (cluster-wide)
  size_t moving_shards = 4;                                  ///< handoffs at once
  int kv_replicas = 0; ///< 0: 3 when NATS has 3 or more servers, else 1
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(60);
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(85);
  size_t worker_threads = 2; ///< CAF scheduler threads (network I/O has its own thread); the
                             ///< option's 0 becomes one per usable CPU
  bool local_shortcut = true;
  std::string log_level = "info";
  std::string log_format = "text"; ///< or "json": one object per line

  /// The key file the node uses: the configured one or the default in the data dir.
  std::string effective_key_file() const;
  /// Whether the node must make the key file when it is missing (only the default one).
  bool may_create_key_file() const { return key_file.empty(); }
};

/// What parsing produced: a configuration, or a text to print and exit 0 (--help).
struct help_request {
  std::string text;
};
using config_outcome = std::variant<node_config, help_request, failure>;

/// Parses `argv`, the file named by --config, and `environ` (KINBOX_* variables).
config_outcome parse_node_config(int argc, const char* const* argv, const char* const* environ);

/// Parses durations such as "15d", "36h", "90m", "30s", "250ms".
result<std::chrono::milliseconds> parse_duration(const std::string& text);

/// Parses sizes such as "65536", "64KiB", "16MiB", "1GiB" (also K, M, G).
result<uint64_t> parse_size(const std::string& text);

/// A cluster name or node id: 1 to 32 of a-z, 0-9, '-' and '_'.
bool is_name(const std::string& x);

/// Parses "host:port".
result<listen_address> parse_listen_address(const std::string& text);

} // namespace kinbox
