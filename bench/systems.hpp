// The systems kinbox-bench drives with the same workload: kinbox through its real gateway
// (transport encryption, end-to-end crypto_box envelopes, acks, as an app does), MQTT
// through libmosquitto against a mosquitto broker (QoS 0 or 1), raw NATS through NATS.c
// (the floor of kinbox's cross-node path), and kinbox-bench-relay (the floor of any
// server on this machine: bytes in, bytes out, nothing else).
//
// Each pair is a sender and a receiver on their own connections. A sender is used by one
// thread, a receiver by another.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/histogram.hpp"

namespace kinbox::bench {

using payload_bytes = std::vector<uint8_t>;

class link_sender {
public:
  virtual ~link_sender() = default;
  /// Sends one payload without waiting for its delivery; false if the link broke. `more`
  /// says another send follows at once: a sender may hold this one back to write both
  /// together (kinbox does; libmosquitto writes each publish, NATS.c's flusher batches).
  virtual bool send(const payload_bytes& payload, bool more) = 0;
  /// Handles whatever the server sent back to the sender (acceptances), without blocking.
  virtual void pump() {}
  /// Waits until everything sent has been taken by the server (accepted / flushed).
  virtual void finish() {}
  /// Messages the system refused for a moment and the sender sent again (same id).
  virtual uint64_t resent() const { return 0; }
};

class link_receiver {
public:
  virtual ~link_receiver() = default;
  /// Appends received payloads to `out`, waiting up to `timeout` for the first one;
  /// acknowledges them as the system requires. False if the link broke.
  virtual bool receive(std::chrono::milliseconds timeout, std::vector<payload_bytes>& out) = 0;
};

struct pair_links {
  std::unique_ptr<link_sender> sender;
  std::unique_ptr<link_receiver> receiver;
};

class system_under_test {
public:
  virtual ~system_under_test() = default;
  /// Short name for tables ("kinbox", "mqtt-qos1", "nats").
  virtual std::string name() const = 0;
  /// Connects pair `index` (accounts, friendship or subscriptions included). Throws
  /// std::runtime_error when it cannot.
  virtual pair_links connect_pair(size_t index) = 0;
};

std::unique_ptr<system_under_test> make_kinbox(const std::string& host, uint16_t port,
                                               const std::string& work_dir);
/// kinbox across nodes: every sender's app on the gateway `a`, its recipient's app on the
/// gateway `b` of another node of the same cluster. With `resend`, a message the cluster
/// refuses for a moment (a shard in motion) is sent again with its id, as an app does.
std::unique_ptr<system_under_test> make_kinbox_cross(const std::string& a_host, uint16_t a_port,
                                                     const std::string& b_host, uint16_t b_port,
                                                     const std::string& work_dir,
                                                     const std::string& name, bool resend);
std::unique_ptr<system_under_test> make_mqtt(const std::string& host, uint16_t port, int qos);
std::unique_ptr<system_under_test> make_nats(const std::string& url);
/// Raw NATS request/reply ("nats-rr"): the sender requests, a responder echoes, the reply
/// comes back to the sender's inbox: the floor of one kinbox cross-node request.
std::unique_ptr<system_under_test> make_nats_request_reply(const std::string& url);
/// kinbox-bench-relay: one epoll thread copying each sender's bytes to its receiver, the
/// cost of moving a message in and out of any server on this machine.
std::unique_ptr<system_under_test> make_relay(const std::string& host, uint16_t port);

/// Queues `messages` for an offline user, then logs it in and times the drain (seconds).
double kinbox_offline_drain(const std::string& host, uint16_t port, const std::string& work_dir,
                            size_t messages);

/// The same for MQTT: a persistent session (QoS 1 subscription, clean_session false) is
/// offline while `messages` are published and acked by the broker; then it reconnects
/// and the drain is timed (seconds).
double mqtt_offline_drain(const std::string& host, uint16_t port, size_t messages);

/// Opens `sessions` idle authenticated kinbox sessions (registering the accounts with
/// `threads` threads); they stay open until the returned object goes away.
std::shared_ptr<void> kinbox_idle_sessions(const std::string& host, uint16_t port,
                                           const std::string& work_dir, size_t sessions,
                                           size_t threads);

/// What the location mode measured.
struct location_figures {
  size_t families = 0;
  double interval_seconds = 0;
  uint64_t updates = 0;
  uint64_t pushed = 0;           ///< updates the online parents received
  double node_cpu_seconds = 0;   ///< during the updates, less what the idle node used
  double idle_node_cores = 0;    ///< the node's CPU before the updates (1.0: one core)
  uint64_t node_disk_writes = 0; ///< bytes the node wrote to storage meanwhile
  uint64_t nats_disk_writes = 0; ///< and its nats-server (KV: heartbeats)

  double node_cpu_per_million() const {
    return updates ? node_cpu_seconds * 1e6 / static_cast<double>(updates) : 0.0;
  }
};

/// The location mode: `families` parent-child pairs (linked with a PIN), half the parents
/// online; every child sends a sealed location every `interval` for `seconds`. Counts the
/// node's CPU meanwhile, less its idle CPU measured just before (for up to 10 s), and both
/// servers' disk writes.
location_figures kinbox_locations(const std::string& host, uint16_t port,
                                  const std::string& work_dir, size_t families, double interval,
                                  double seconds, pid_t node_pid, pid_t nats_pid);

/// The probe mode: what a stranger learns from requests to ids of each kind. For every
/// request type and kind of target, the answer codes seen and the answer latency.
struct probe_figures {
  struct cell {
    std::string request; ///< every request type that names an id
    std::string target;  ///< ordinary, unknown, deleted, blocking, child, live_code
    std::map<std::string, uint64_t> answers; ///< by error name ("ok" for success)
    histogram latency;
  };
  size_t probes = 0;       ///< targets of each kind, each probed once by its own stranger
  double wait_seconds = 0; ///< between the setup and the probes
  std::vector<cell> cells;
};

/// Registers `probes` strangers (a parent, and its child without a parent, which may
/// redeem link codes) and `probes` targets of each kind: ordinary accounts (offline), ids
/// that never existed, deleted accounts, accounts that blocked their stranger, another
/// family's children, and parents with a live link code; then waits `wait_seconds` (past
/// the node's actor idle time, every target is cold). Each stranger sends each request
/// that names an id once to one target of each kind, the kinds in a shuffled order (setup
/// codes from a connection not logged in).
probe_figures kinbox_probe(const std::string& host, uint16_t port, const std::string& work_dir,
                           size_t probes, double wait_seconds);

/// What a PIN flood met: the answers to its tries, by kind.
struct pin_flood_figures {
  size_t children = 0;
  double seconds = 0;   ///< time spent flooding
  uint64_t wrong = 0;   ///< wrong_pin: a PIN hash was checked
  uint64_t locked = 0;  ///< pin_locked: refused without a hash
  uint64_t limited = 0; ///< rate_limited: the node's PIN queue was full
  uint64_t other = 0;
};

/// Children (each linked to its own parent with a PIN) whose apps try to change the PIN
/// with wrong old ones, from `threads` threads, each child trying again as soon as it is
/// answered, and 20 ms after a refusal without a check (locked or rate-limited). Paused
/// until start().
class pin_flood {
public:
  pin_flood(const std::string& host, uint16_t port, const std::string& work_dir, size_t children,
            size_t threads);
  ~pin_flood();
  void start();
  void pause();
  pin_flood_figures figures() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace kinbox::bench
