// kinbox-node: one node of a kinbox cluster. With no --nats it starts its own
// nats-server -js on loopback, which makes a complete single-node cluster.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <sodium.h>

#include "actors/caf_setup.hpp"
#include "actors/chat_actor.hpp"
#include "actors/family_actor.hpp"
#include "actors/sweeper.hpp"
#include "actors/user_mail.hpp"
#include "cluster/embedded_nats.hpp"
#include "cluster/entity_service.hpp"
#include "cluster/kv_actor.hpp"
#include "cluster/membership_actor.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "config/metrics.hpp"
#include "config/node_config.hpp"
#include "crypto/key_file.hpp"
#include "crypto/pin.hpp"
#include "gateway/gateway.hpp"

extern char** environ;

namespace kinbox {
namespace {

constexpr int exit_usage = 2;
constexpr int exit_failure = 1;

int fail(const std::string& what) {
  log::get("node")->critical("event=start_failed reason=\"{}\"", what);
  std::cerr << "kinbox-node: " << what << "\n";
  return exit_failure;
}

result<crypto::kx_keypair> load_cluster_key(const node_config& cfg) {
  auto path = cfg.effective_key_file();
  struct stat st;
  if (cfg.may_create_key_file() && ::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    log::get("node")->info("event=cluster_key_created file={}", path);
    return crypto::create_key_file(path);
  }
  return crypto::read_key_file(path);
}

/// Holds an exclusive lock on the data dir for the node's lifetime: two nodes on one
/// mailbox and one embedded NATS store would corrupt each other's view of both.
class data_dir_lock {
public:
  ~data_dir_lock() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  [[nodiscard]] result<bool> acquire(const std::string& dir) {
    auto path = dir + "/node.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      bool denied = errno == EACCES || errno == EPERM;
      return failure{errc::unavailable,
                     "cannot open " + path + ": " + std::strerror(errno) +
                         (denied ? " (the data dir belongs to another user, e.g. after a run as "
                                   "root: chown -R to the user the node runs as)"
                                 : "")};
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
      return failure{errc::unavailable, "data dir '" + dir + "' is in use by another kinbox-node"};
    return true;
  }

private:
  int fd_ = -1;
};

/// Connects, trying again while no server answers (one still starting) until `timeout`;
/// a refusal that trying again cannot fix (credentials, TLS) fails at once.
result<std::unique_ptr<nats_link>> connect_nats(const std::vector<std::string>& urls,
                                                const std::string& name,
                                                const std::optional<nats_credentials>& creds,
                                                const std::string& ca_file,
                                                std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto link = nats_link::connect(urls, name, creds, ca_file);
    if (link || link.error().code != errc::unavailable ||
        std::chrono::steady_clock::now() + std::chrono::milliseconds(500) >= deadline)
      return link;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

/// Waits for SIGTERM or SIGINT (returned); a SIGHUP meanwhile runs `reload`.
int wait_for_signal(const std::function<void()>& reload) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP)
      return sig;
    reload();
  }
}

/// Bounds a stop: a node still stopping `limit` after the signal logs the step it is stuck
/// in and exits 1, before a service manager's SIGKILL, so the log says where it hung.
/// Accepted mail is on disk already; what such an exit skips is the rest of the leave
/// (the other nodes take its shards when its record expires).
class stop_watchdog {
public:
  explicit stop_watchdog(std::chrono::milliseconds limit)
      : thread_{[this, limit] { watch(limit); }} {}
  ~stop_watchdog() {
    {
      std::lock_guard lock{mtx_};
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void step(const char* name) {
    std::lock_guard lock{mtx_};
    step_ = name;
  }

private:
  void watch(std::chrono::milliseconds limit) {
    std::unique_lock lock{mtx_};
    if (cv_.wait_for(lock, limit, [this] { return done_; }))
      return;
    log::get("node")->critical("event=stop_stuck step={} after_ms={}", step_, limit.count());
    log::get("node")->flush();
    std::_Exit(exit_failure);
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  const char* step_ = "drain";
  std::thread thread_; // last: starts once the members above exist
};

/// What /healthz and /readyz look at: filled in once the node serves, emptied before what
/// it names goes away (the endpoint answers from its own threads, under the lock).
class node_health {
public:
  void serving(nats_link& link, kv_bucket& kv, std::shared_ptr<const entity_service> svc) {
    std::lock_guard lock{mtx_};
    link_ = &link;
    kv_ = &kv;
    svc_ = std::move(svc);
    phase_ = "serving";
  }

  /// The node leaves ("draining") or is past serving ("stopping").
  void leaving(const char* phase) {
    std::lock_guard lock{mtx_};
    link_ = nullptr;
    kv_ = nullptr;
    svc_ = nullptr;
    phase_ = phase;
  }

  /// Empty when NATS, KV and the store answer and the node holds its lease on its shards.
  /// It runs on the endpoint's threads: it reads what the actors publish and never talks
  /// to them (a scoped actor made here kept the actor system from ever shutting down).
  std::string healthz() {
    std::lock_guard lock{mtx_};
    if (phase_ != "serving")
      return "the node is " + phase_;
    if (!link_->connected())
      return "NATS is not connected";
    if (auto read = kv_->get("healthz"); !read)
      return "JetStream KV does not answer: " + read.error().message;
    auto answered = metrics::get().store_answered_ns.load();
    if (answered == 0 || metrics::node_metrics::now_ns() - answered > store_silence.count())
      return "the mailbox store has not answered for 15 s (see its log lines)";
    return lease_problem();
  }

  /// Empty once the node serves and holds its lease, until it leaves.
  std::string readyz() {
    std::lock_guard lock{mtx_};
    return phase_ == "serving" ? lease_problem() : "the node is " + phase_;
  }

private:
  static constexpr std::chrono::nanoseconds store_silence = std::chrono::seconds(15);

  std::string lease_problem() const {
    auto view = svc_->view();
    if (!view->map)
      return "no shard map yet";
    if (view->lease_until <= std::chrono::steady_clock::now())
      return "the node's lease ran out: it serves no shard until it renews it";
    return {};
  }

  std::mutex mtx_;
  std::string phase_ = "starting";
  nats_link* link_ = nullptr;
  kv_bucket* kv_ = nullptr;
  std::shared_ptr<const entity_service> svc_;
};

/// The endpoint of /metrics, /healthz and /readyz, or null when off. A default address
/// that is taken (another node on this machine) is logged and skipped; one the operator
/// gave must work.
result<std::unique_ptr<metrics::http_server>> serve_metrics(const node_config& cfg,
                                                            std::shared_ptr<node_health> health) {
  if (cfg.metrics_listen == "off")
    return std::unique_ptr<metrics::http_server>{};
  auto host = parse_listen_address(cfg.metrics_listen)->host;
  if (!host.starts_with("127.") && host != "localhost" && host != "[::1]" && host != "::1")
    log::get("node")->warn("event=metrics_public listen={} reason=\"/metrics, /healthz and "
                           "/readyz have no authentication\" hint=\"keep them on loopback or a "
                           "network only the monitoring reaches\"",
                           cfg.metrics_listen);
  try {
    return std::make_unique<metrics::http_server>(
        cfg.metrics_listen, metrics::health{[health] { return health->healthz(); },
                                            [health] { return health->readyz(); }});
  } catch (const std::runtime_error& e) {
    std::string why = std::string{e.what()} + " (is the port in use by another process?)";
    if (cfg.metrics_listen_given)
      return failure{errc::invalid_argument,
                     "--metrics-listen: " + why + "; give another host:port, or off"};
    log::get("node")->warn("event=metrics_unavailable listen={} reason=\"{}\" "
                           "hint=\"give this node its own --metrics-listen\"",
                           cfg.metrics_listen, why);
    return std::unique_ptr<metrics::http_server>{};
  }
}

struct node_actors {
  gateway_handle gateway;
  std::vector<entity_host> hosts;
  store_actor store;
  membership_actor membership;
  std::vector<caf::actor> others;
};

/// Leaves the cluster: hands every shard to the other nodes (bounded by the drain
/// timeout), redirects the apps to their gateways, has the user actors store the mail
/// they hold, deletes the node's record, and stops every actor; the store commits what it
/// holds before it goes.
void leave_cluster(caf::actor_system& sys, const node_config& cfg, const entity_service& svc,
                   const node_actors& a, stop_watchdog& watchdog) {
  auto logger = log::get("node");
  caf::scoped_actor self{sys};
  self->request(a.membership, cfg.drain_timeout, drain_atom::value)
      .receive([&](bool drained) { logger->info("event=drained complete={}", drained); },
               [&](caf::error&) { logger->warn("event=drain_timeout"); });
  watchdog.step("gateway");
  self->monitor(a.gateway.acceptor);
  caf::anon_send(a.gateway.acceptor, shutdown_atom::value, svc.view()->other_gateways());
  self->receive(
      [](const caf::down_msg&) {},
      caf::after(std::chrono::seconds(5)) >>
          [&] { caf::anon_send_exit(a.gateway.acceptor, caf::exit_reason::user_shutdown); });
  // Mail held for an ack goes to the store before the store's last commit below.
  watchdog.step("flush");
  for (auto& host : a.hosts)
    self->request(host, std::chrono::seconds(30), flush_atom::value)
        .receive([](bool) {}, [](caf::error&) {});
  watchdog.step("leave");
  self->request(a.membership, std::chrono::seconds(5), leave_atom::value)
      .receive([](bool) {}, [](caf::error&) {});
  for (auto& host : a.hosts)
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.membership, caf::exit_reason::user_shutdown);
  for (auto& other : a.others)
    caf::anon_send_exit(other, caf::exit_reason::user_shutdown);
  // Answered only after every put and ack queued before it has been committed.
  watchdog.step("store");
  self->request(a.store, std::chrono::seconds(30), count_atom::value)
      .receive([](uint64_t) {}, [](caf::error&) {});
  caf::anon_send_exit(a.store, caf::exit_reason::user_shutdown);
}

uint64_t random_u64() {
  uint64_t x = 0;
  randombytes_buf(&x, sizeof(x));
  return x;
}

/// Reads the configuration again (SIGHUP) and applies what is safe to change live: the
/// log level.
using config_reader = std::function<config_outcome()>;

void reload(const config_reader& read) {
  auto logger = log::get("node");
  auto parsed = read();
  if (auto* err = std::get_if<failure>(&parsed)) {
    logger->warn("event=reload_failed reason=\"{}\"", err->message);
    return;
  }
  if (auto* cfg = std::get_if<node_config>(&parsed)) {
    log::setup(cfg->log_level);
    logger->warn("event=reloaded log_level={}", cfg->log_level);
  }
}

int run(const node_config& cfg, const config_reader& read_config) {
  auto logger = log::get("node");
  if (::mkdir(cfg.data_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail("cannot create data dir '" + cfg.data_dir + "': " + std::strerror(errno));
  if (::geteuid() == 0)
    logger->warn("event=running_as_root hint=\"run kinbox-node as its own user (the package's "
                 "unit runs it as kinbox); files it makes now belong to root\"");
  data_dir_lock lock;
  if (auto locked = lock.acquire(cfg.data_dir); !locked)
    return fail(locked.error().message);
  auto key = load_cluster_key(cfg);
  if (!key)
    return fail(key.error().message);
  auto health = std::make_shared<node_health>();
  auto http = serve_metrics(cfg, health);
  if (!http)
    return fail(http.error().message);
  auto pepper = cfg.pin_pepper_file.empty()
                    ? result<crypto::pin_pepper>{crypto::derive_pin_pepper(*key)}
                    : crypto::read_pin_pepper(cfg.pin_pepper_file);
  if (!pepper)
    return fail(pepper.error().message);

  std::unique_ptr<embedded_nats> embedded;
  std::optional<nats_credentials> creds;
  auto urls = cfg.nats_urls;
  if (urls.empty()) {
    auto made = load_or_make_credentials(cfg.data_dir + "/nats-credentials");
    if (!made)
      return fail(made.error().message);
    creds = *made;
    auto started = embedded_nats::start(cfg.nats_server_binary, cfg.data_dir + "/nats",
                                        "kinbox-" + cfg.cluster + "-" + cfg.node_id, *creds);
    if (!started)
      return fail(started.error().message);
    embedded = std::move(*started);
    urls.push_back(embedded->url());
    // For kinbox-admin --data-dir: the URL changes with every start.
    std::ofstream{cfg.data_dir + "/nats-url"} << embedded->url() << "\n";
  } else if (!cfg.nats_credentials.empty()) {
    auto read = read_nats_credentials(cfg.nats_credentials);
    if (!read)
      return fail(read.error().message);
    creds = *read;
  } else {
    logger->warn("event=nats_without_credentials reason=\"no --nats-credentials given\"");
  }
  auto link = connect_nats(urls, "kinbox-node-" + cfg.node_id, creds, cfg.nats_ca,
                           cfg.nats_connect_timeout);
  if (!link)
    return fail("cannot connect to NATS: " + link.error().message +
                (link.error().code == errc::unavailable
                     ? " (gave up after --nats-connect-timeout " +
                           std::to_string(cfg.nats_connect_timeout.count() / 1000) + "s)"
                     : ""));
  // A request, a push and a handoff batch each cross nodes as one NATS message.
  if (cfg.max_frame_size > (*link)->max_payload() / 2)
    return fail("--max-frame-size " + std::to_string(cfg.max_frame_size) +
                " is more than half of the NATS servers' max_payload (" +
                std::to_string((*link)->max_payload()) +
                "): raise max_payload on the NATS servers or lower --max-frame-size");
  auto servers = (*link)->known_servers();
  auto replicas = cfg.kv_replicas != 0 ? cfg.kv_replicas : servers >= 3 ? 3 : 1;
  // A NATS cluster that just started needs a few seconds to elect its JetStream leaders;
  // the start gives it the rest of --nats-connect-timeout.
  auto jetstream_deadline = std::chrono::steady_clock::now() + cfg.nats_connect_timeout;
  auto retry = [&](auto attempt) {
    auto out = attempt();
    while (!out && out.error().code == errc::unavailable &&
           std::chrono::steady_clock::now() < jetstream_deadline) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      out = attempt();
    }
    return out;
  };
  auto buckets = retry([&] {
    return kv_buckets::open(**link, cfg.cluster, replicas, cfg.lease, cfg.reports_max_bytes);
  });
  if (!buckets)
    return fail("cannot open the KV buckets: " + buckets.error().message);
  // A node with another cluster key or pepper would serve apps that refuse it and hash
  // PINs that never match elsewhere: it starts nothing.
  key_fingerprints fingerprints{crypto::fingerprint(key->pk), crypto::pepper_fingerprint(*pepper)};
  if (auto same = check_key_fingerprints(*(*buckets)->cluster, fingerprints); !same)
    return fail(same.error().message);
  if (auto free = check_node_id_free(*(*buckets)->nodes, cfg.node_id, cfg.lease); !free)
    return fail(free.error().message);
  auto secrets = crypto::storage_secrets::derive(*pepper);
  if (auto migrated = migrate_storage(**buckets, secrets); !migrated)
    return fail("cannot seal the account records: " + migrated.error().message);
  auto initial = retry(
      [&] { return load_or_create_placement(*(*buckets)->cluster, cfg.node_id, cfg.shards); });
  if (!initial)
    return fail(initial.error().message);
  auto box = mailbox::open({cfg.data_dir + "/mailbox", cfg.mailbox_initial_size,
                            cfg.mailbox_max_size, cfg.mailbox_cap_count, cfg.mailbox_cap_bytes});
  if (!box)
    return fail("cannot open the mailbox: " + box.error().message);
  auto incarnation = random_u64();
  std::optional<stop_watchdog> watchdog;
  bool displaced = false; // another process took this node id: the stop is a failure
  {
    caf::actor_system_config sys_cfg;
    sys_cfg.load<caf::io::middleman>();
    sys_cfg.set("scheduler.max-threads", cfg.worker_threads);
    // An idle worker spins briefly, then polls its queue and the others' every 50 us for
    // a while before it waits on its condition variable: the polls are how it steals
    // work that other workers made, which signals no one. A lone worker has no one to
    // steal from and is signalled by every enqueue: it waits at once, and its polls do
    // not take the CPU from the threads with work where nodes and NATS share cores.
    sys_cfg.set("work-stealing.aggressive-poll-attempts", size_t{10});
    sys_cfg.set("work-stealing.moderate-poll-attempts", size_t{cfg.worker_threads > 1 ? 50u : 0u});
    add_kinbox_error_renderer(sys_cfg);
    caf::actor_system sys{sys_cfg};
    auto store = spawn_store(sys, std::move(*box), cfg.commit_window,
                             {cfg.compaction.after_purge, cfg.compaction.every});
    auto kv = spawn_kv(sys, *buckets, secrets);
    entity_service_config scfg;
    scfg.cluster = cfg.cluster;
    scfg.node_id = cfg.node_id;
    scfg.incarnation = incarnation;
    scfg.bus = link->get();
    scfg.local_shortcut = cfg.local_shortcut;
    auto svc = std::make_shared<entity_service>(scfg);
    pin_service_config pcfg;
    pcfg.pepper = std::move(*pepper);
    pcfg.params = {cfg.pin_hash_ops, static_cast<size_t>(cfg.pin_hash_memory)};
    pcfg.workers = cfg.pin_workers;
    auto pins = std::make_shared<pin_service>(sys, std::move(pcfg));
    user_deps deps;
    deps.pins = pins;
    deps.store = store;
    deps.kv = kv;
    deps.service = svc;
    deps.now_ms = system_now_ms;
    deps.mail_ttl = cfg.mail_ttl;
    deps.ack_window = cfg.ack_window;
    deps.friend_limits = cfg.friend_limits;
    deps.avatar_max = cfg.avatar_max_bytes;
    deps.ages = cfg.ages;
    deps.images = spawn_image_worker(sys);
    deps.setup_code_ttl = cfg.setup_code_ttl;
    deps.ring_timeout = cfg.ring_timeout;
    deps.quiet_release_spread = cfg.quiet_release_spread;
    // A drain page must fit in what a connection may have unsent.
    // The pages in flight together stay within half of the slow-consumer limit.
    deps.drain_page_bytes = std::min<size_t>(
        deps.drain_page_bytes, cfg.max_outbound_bytes / (2 * deps.drain_pages_in_flight));
    family_deps fdeps;
    fdeps.kv = kv;
    fdeps.service = svc;
    fdeps.pins = pins;
    fdeps.now_ms = system_now_ms;
    fdeps.approval_ttl_ms = cfg.friend_limits.request_ttl_ms;
    fdeps.location_ttl_ms = static_cast<uint64_t>(cfg.location_ttl.count());
    chat_deps cdeps;
    cdeps.kv = kv;
    cdeps.service = svc;
    cdeps.now_ms = system_now_ms;
    cdeps.max_members = cfg.max_group_members;
    cdeps.max_ring = cfg.max_ring;
    // The entity kinds this node hosts: one line each.
    std::vector<entity_host> hosts{
        host_kind(sys, svc,
                  user_kind_spec(std::make_shared<const user_deps>(deps),
                                 spawn_user_mail(sys, store, svc)),
                  user_codec()),
        host_kind(sys, svc, family_kind_spec(std::move(fdeps)), family_codec()),
        host_kind(sys, svc, chat_kind_spec(std::move(cdeps)), chat_codec()),
    };
    auto service = spawn_entity_service(sys, svc);
    if (!service)
      return fail("cannot subscribe to the node's subjects: " + service.error().message);
    auto sweeper = spawn_sweeper(sys, deps, cfg.sweep_interval);
    auto ctx = std::make_shared<gateway_context>();
    ctx->cluster_key = *key;
    ctx->service = svc;
    ctx->kv = kv;
    ctx->max_frame_size = cfg.max_frame_size;
    ctx->max_outbound_bytes = cfg.max_outbound_bytes;
    ctx->auth_timeout = cfg.auth_timeout;
    ctx->limits = std::make_shared<gateway_limits>(cfg.limits);
    ctx->now_ms = system_now_ms;
    ctx->ages = cfg.ages;
    auto others = std::vector<caf::actor>{
        caf::actor_cast<caf::actor>(deps.images), caf::actor_cast<caf::actor>(sweeper),
        caf::actor_cast<caf::actor>(*service), caf::actor_cast<caf::actor>(kv)};
    auto gateway = start_gateway(sys, cfg.gateway, ctx);
    if (!gateway) {
      for (auto& a : others)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      for (auto& host : hosts)
        caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
      return fail(gateway.error().message);
    }
    auto advertised = !cfg.advertise.empty()
                          ? cfg.advertise
                          : cfg.gateway.host + ":" + std::to_string(gateway->port);
    membership_config mcfg;
    mcfg.node_id = cfg.node_id;
    mcfg.incarnation = incarnation;
    mcfg.gateway = advertised;
    mcfg.key_fingerprint = fingerprints.cluster_key;
    mcfg.started_ms = system_now_ms();
    mcfg.lease = cfg.lease;
    mcfg.moving_shards = cfg.moving_shards;
    mcfg.now_ms = system_now_ms;
    // Why the node stops, when it is not a signal from outside.
    static std::atomic<const char*> stop_reason{nullptr};
    mcfg.on_displaced = [] {
      stop_reason = "node_id_taken";
      ::kill(::getpid(), SIGTERM);
    };
    auto membership = spawn_membership(
        sys, mcfg, membership_deps{(*buckets)->nodes, (*buckets)->cluster, svc, store},
        std::move(*initial));
    // kinbox-admin drain takes the same path as SIGTERM.
    svc->on_drain_request([] {
      stop_reason = "drain";
      ::kill(::getpid(), SIGTERM);
    });
    health->serving(**link, *(*buckets)->cluster, svc);
    logger->info("event=node_ready cluster={} node={} gateway={} nats={} servers={} replicas={} "
                 "key={}",
                 cfg.cluster, cfg.node_id, advertised, (*link)->connected_url(), servers, replicas,
                 crypto::fingerprint(key->pk));
    std::cout << "kinbox-node " << cfg.node_id << " of cluster " << cfg.cluster
              << " ready\n  gateway: " << advertised
              << "\n  cluster key: " << crypto::to_hex(key->pk)
              << "\n  nats: " << (*link)->connected_url();
    if (*http)
      std::cout << "\n  metrics: http://" << cfg.metrics_listen << "/metrics";
    std::cout << std::endl;

    auto sig = wait_for_signal([&] { reload(read_config); });
    watchdog.emplace(cfg.stop_timeout);
    const char* asked = stop_reason;
    displaced = asked != nullptr && std::string_view{asked} == "node_id_taken";
    logger->info("event=stopping reason={}", asked != nullptr ? asked
                                             : sig == SIGTERM ? "SIGTERM"
                                                              : "SIGINT");
    health->leaving("draining");
    leave_cluster(sys, cfg, *svc, node_actors{*gateway, hosts, store, membership, others},
                  *watchdog);
    pins->stop();
    health->leaving("stopping");
    watchdog->step("actors");
    sys.await_all_actors_done();
    watchdog->step("actor system");
  }
  watchdog->step("nats");
  link->reset();
  embedded.reset();
  nats_Close();
  logger->info("event=stopped");
  return displaced ? exit_failure : 0;
}

} // namespace
} // namespace kinbox

int main(int argc, char** argv) {
  // Every thread started from here on inherits the mask; main waits for the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto parsed = kinbox::parse_node_config(argc, argv, environ);
  if (auto* help = std::get_if<kinbox::help_request>(&parsed)) {
    std::cout << help->text;
    return 0;
  }
  if (auto* err = std::get_if<kinbox::failure>(&parsed)) {
    std::cerr << "kinbox-node: " << err->message << "\n(see kinbox-node --help)\n";
    return kinbox::exit_usage;
  }
  if (!kinbox::crypto::init()) {
    std::cerr << "kinbox-node: libsodium could not be initialized\n";
    return kinbox::exit_failure;
  }
  auto& cfg = std::get<kinbox::node_config>(parsed);
  kinbox::log::set_format(cfg.log_format);
  kinbox::log::setup(cfg.log_level);
  return kinbox::run(cfg, [argc, argv] { return kinbox::parse_node_config(argc, argv, environ); });
}
