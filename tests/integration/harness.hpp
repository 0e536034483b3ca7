// Test harness for integration suites: temp dirs, child processes, a real nats-server on
// a free loopback port, kinbox-node processes, and users driven by the client SDK.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "cluster/kv_actor.hpp"
#include "cluster/membership.hpp"
#include "persistence/mailbox.hpp"

namespace kinbox::testing {

using namespace std::chrono_literals;

/// A directory removed with everything in it when it goes (kept when the environment has
/// KINBOX_KEEP_TEST_DIRS, to read the logs of a failed run).
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& prefix);
  ~temp_dir();
  std::string str() const { return path.string(); }
};

/// A child process; killed (SIGKILL) and reaped when it goes away.
class process {
public:
  /// Runs `argv` with the environment of the test plus `env` ("NAME=value" each).
  process(std::vector<std::string> argv, const std::string& log_file,
          const std::vector<std::string>& env = {});
  ~process();
  pid_t pid() const { return pid_; }
  void signal(int sig);
  /// Exit status (or 128+signal) once it exits within `timeout`, nullopt otherwise.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

class nats_server {
public:
  nats_server();
  /// Stops the server (SIGTERM); `start` brings it back on the same port and store.
  void stop();
  void start();
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  const temp_dir& dir() const { return dir_; }

private:
  temp_dir dir_{"kinbox-nats"};
  uint16_t port_ = 0;
  std::unique_ptr<process> proc_;
};

/// A NATS cluster of `size` servers on loopback, with JetStream, routes and one user
/// (everything the servers accept must log in), and the files its kinbox nodes share: the
/// NATS credentials and the cluster key. A server can be killed and started again on its
/// ports and store.
class nats_cluster {
public:
  explicit nats_cluster(size_t size = 3);
  size_t size() const { return ports_.size(); }
  std::string url(size_t i) const { return "nats://127.0.0.1:" + std::to_string(ports_[i]); }
  /// Every server's URL, comma-separated.
  std::string urls() const;
  const std::string& credentials_file() const { return credentials_; }
  const std::string& key_file() const { return key_file_; }
  /// Where the servers keep their stores (JetStream: every KV bucket and stream).
  const temp_dir& dir() const { return dir_; }
  void kill(size_t i);
  void start(size_t i);

private:
  temp_dir dir_{"kinbox-natsc"};
  std::vector<uint16_t> ports_;
  std::vector<uint16_t> route_ports_;
  std::vector<std::unique_ptr<process>> procs_;
  std::string credentials_;
  std::string key_file_;
};

/// Reads what a cluster keeps in KV (placement, node records) over its own NATS link.
class cluster_probe {
public:
  explicit cluster_probe(const nats_cluster& nats);
  /// Of a cluster on one nats-server without credentials.
  explicit cluster_probe(const nats_server& nats);
  ~cluster_probe();
  std::optional<placement> placement_now();
  std::vector<node_record> nodes_now();
  /// Writes `r` as a node record, as another process with its node id would.
  void put_node_record(const node_record& r);
  /// The node that owns the shard of account `id` now.
  std::string owner_of(account_id id);
  /// True once `count` nodes are live, none moves a shard, and every shard is at its
  /// rendezvous target.
  bool settled(size_t count);
  /// Every key and value of the account buckets (accounts, contacts, presence, last seen,
  /// families, bans, profiles, chats), as "bucket/key=value".
  std::vector<std::string> kv_entries();

private:
  void open(const std::vector<std::string>& urls, const std::optional<nats_credentials>& creds);

  std::unique_ptr<nats_link> link_;
  std::shared_ptr<kv_buckets> buckets_;
};

class node {
public:
  /// Node `id` using `nats` (or an embedded nats-server when null), with extra options and
  /// environment variables ("NAME=value").
  node(const nats_server* nats, std::vector<std::string> extra = {}, std::string id = "node1",
       std::vector<std::string> env = {});
  /// Node `id` of a cluster on `nats` (its credentials and key file), with extra options.
  node(const nats_cluster& nats, const std::string& id, std::vector<std::string> extra = {});
  ~node();

  void start();
  /// SIGTERM and wait; returns the exit status.
  int stop();
  void kill9();
  uint16_t port() const { return port_; }
  std::string gateway() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& id() const { return id_; }
  std::string data_dir() const { return data_.str(); }
  std::string log() const;
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }

private:
  const nats_server* nats_ = nullptr;
  std::string id_ = "node1";
  std::vector<std::string> extra_;
  std::vector<std::string> env_;
  temp_dir data_{"kinbox-node"};
  /// The node's log, beside its data dir as an operator's journal is (logs name ids).
  temp_dir logs_{"kinbox-node-log"};
  uint16_t port_ = 0;
  std::unique_ptr<process> proc_;
};

/// Every envelope in the mailbox of a node that is stopped.
std::vector<envelope> mailbox_contents(const node& n);

/// One app user: a profile in a temp dir and a logged-in connection. The profile lives on
/// the heap because the connection's client refers to it: a user can be moved.
struct user {
  std::unique_ptr<temp_dir> dir;
  std::unique_ptr<client::profile> prof;
  std::unique_ptr<client::client> conn;
  account_id id = 0;

  client::client& operator*() { return *conn; }
  client::client* operator->() { return conn.get(); }
};

/// Polls `pred` until it holds or `timeout` passes; the result of the last poll. For
/// effects that travel between actors asynchronously (a friend request reaching the other
/// side), so tests never depend on a fixed sleep.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s);

/// Registers a new parent account on `n` and logs it in on a fresh connection (the suites
/// about messaging use parents: a child's friends wait for its parent's approval).
user make_user(const node& n, const std::string& name);

/// A child account made by `parent` (logged in), registered by a new device with the
/// setup code and logged in on `n`.
user make_child(const node& n, user& parent, const std::string& name);

/// Two new accounts on `n`, logged in and friends of each other.
std::pair<user, user> make_friends(const node& n, const std::string& first = "Alice",
                                   const std::string& second = "Bob");

/// The fixture of the integration suites: libsodium ready, a fresh nats-server.
struct nats_fixture {
  nats_fixture();
  nats_server nats;
};

/// Logs `u` in again on a fresh connection (its previous connection is dropped first).
void reconnect(user& u, const node& n);

/// Waits until the session of `child`, left without a parent, is closed (account_frozen),
/// then logs it in again on `n`.
void await_frozen(user& child, const node& n);

/// Logs `u` in on the first of `gateways` that answers; the client resumes on the others
/// (and where a leaving node redirects it) when its gateway goes away.
void connect_any(user& u, const std::vector<std::string>& gateways);

/// Registers a new account through `n` and logs it in through the first of `gateways`.
user make_user_on(const node& n, const std::string& name, const std::vector<std::string>& gateways);

/// Makes `a` and `b` friends (request and accept).
void befriend(user& a, user& b);

/// Sends all texts to friend `to` without waiting between them (pipelined requests), then
/// waits for every `accepted` unless `wait` is false (then `await_accepted` collects
/// them); returns the message ids in sending order.
std::vector<message_id> send_pipelined(user& from, account_id to,
                                       const std::vector<std::string>& texts, bool wait = true);

/// Reads `from`'s connection until `count` more `accepted` answers came (receipts that
/// arrive meanwhile are skipped); fails the test on a refusal.
void await_accepted(user& from, size_t count);

/// Receives until `count` items arrived or `timeout` passed.
std::vector<client::received> receive_n(user& u, size_t count, std::chrono::milliseconds timeout);

/// Whether the file contains `needle` anywhere.
bool file_contains(const std::filesystem::path& file, const std::string& needle);

/// Files under `dir` (recursively) that contain `needle`.
std::vector<std::string> files_containing(const std::filesystem::path& dir,
                                          const std::string& needle);

/// Runs a command, returns exit status and its stdout (stderr appended when asked).
/// The most resident memory process `pid` has had (VmHWM), in bytes.
uint64_t peak_rss(pid_t pid);

struct command_result {
  int status;
  std::string out;
  std::string err;
};
command_result run_command(const std::vector<std::string>& argv);

} // namespace kinbox::testing
