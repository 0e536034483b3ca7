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
#include <cerrno>
#include <cstring>
#include <iostream>
#include <thread>

#include "actors/caf_setup.hpp"
#include "actors/sweeper.hpp"
#include "actors/user_host.hpp"
#include "cluster/embedded_nats.hpp"
#include "cluster/kv_actor.hpp"
#include "cluster/router.hpp"
#include "config/log.hpp"
#include "config/node_config.hpp"
#include "crypto/key_file.hpp"
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
    if (fd_ < 0)
      return failure{errc::unavailable, "cannot open " + path + ": " + std::strerror(errno)};
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
      return failure{errc::unavailable, "data dir '" + dir + "' is in use by another kinbox-node"};
    return true;
  }

private:
  int fd_ = -1;
};

result<std::unique_ptr<nats_link>> connect_nats(const std::vector<std::string>& urls,
                                                const std::string& name) {
  // A NATS server that is still starting gets a few seconds.
  for (int attempt = 0;; ++attempt) {
    auto link = nats_link::connect(urls, name);
    if (link || attempt >= 20)
      return link;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

/// Stops every actor in order; the store commits what it holds before it goes.
void stop_actors(caf::actor_system& sys, const gateway_handle& gateway, const user_host_actor& host,
                 const store_actor& store, const std::vector<caf::actor>& others) {
  caf::scoped_actor self{sys};
  self->monitor(gateway.acceptor);
  caf::anon_send(gateway.acceptor, shutdown_atom::value);
  self->receive(
      [](const caf::down_msg&) {},
      caf::after(std::chrono::seconds(5)) >>
          [&] { caf::anon_send_exit(gateway.acceptor, caf::exit_reason::user_shutdown); });
  // Mail held for an ack goes to the store before the store's last commit below.
  self->request(host, std::chrono::seconds(30), flush_atom::value)
      .receive([](bool) {}, [](caf::error&) {});
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  for (auto& a : others)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  // Answered only after every put and ack queued before it has been committed.
  self->request(store, std::chrono::seconds(30), count_atom::value)
      .receive([](uint64_t) {}, [](caf::error&) {});
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

int run(const node_config& cfg) {
  auto logger = log::get("node");
  if (::mkdir(cfg.data_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail("cannot create data dir '" + cfg.data_dir + "': " + std::strerror(errno));
  data_dir_lock lock;
  if (auto locked = lock.acquire(cfg.data_dir); !locked)
    return fail(locked.error().message);
  auto key = load_cluster_key(cfg);
  if (!key)
    return fail(key.error().message);

  std::unique_ptr<embedded_nats> embedded;
  auto urls = cfg.nats_urls;
  if (urls.empty()) {
    auto started = embedded_nats::start(cfg.nats_server_binary, cfg.data_dir + "/nats",
                                        "kinbox-" + cfg.cluster + "-" + cfg.node_id);
    if (!started)
      return fail(started.error().message);
    embedded = std::move(*started);
    urls.push_back(embedded->url());
  }
  auto link = connect_nats(urls, "kinbox-node-" + cfg.node_id);
  if (!link)
    return fail("cannot connect to NATS: " + link.error().message);
  auto buckets = kv_buckets::open(**link, cfg.cluster);
  if (!buckets)
    return fail("cannot open the KV buckets: " + buckets.error().message);
  auto box =
      mailbox::open({cfg.data_dir + "/mailbox", cfg.mailbox_initial_size, cfg.mailbox_max_size});
  if (!box)
    return fail("cannot open the mailbox: " + box.error().message);
  {
    caf::actor_system_config sys_cfg;
    sys_cfg.load<caf::io::middleman>();
    sys_cfg.set("scheduler.max-threads", cfg.worker_threads);
    // Idle workers sleep sooner than CAF's default spinning: on a shared machine the
    // spinning costs more CPU than the microseconds of latency it saves.
    sys_cfg.set("work-stealing.aggressive-poll-attempts", size_t{10});
    sys_cfg.set("work-stealing.moderate-poll-attempts", size_t{50});
    add_kinbox_error_renderer(sys_cfg);
    caf::actor_system sys{sys_cfg};
    auto store = spawn_store(sys, std::move(*box), cfg.commit_window);
    auto kv = spawn_kv(sys, *buckets);
    router_config rcfg;
    rcfg.cluster = cfg.cluster;
    rcfg.node_id = cfg.node_id;
    rcfg.shards = cfg.shards;
    rcfg.local_shortcut = cfg.local_shortcut;
    rcfg.link = link->get();
    auto router = spawn_router(sys, rcfg);
    std::function<bool(account_id)> serves_locally;
    if (cfg.local_shortcut) {
      auto shards = std::make_shared<shard_map>(cfg.shards, std::vector<std::string>{cfg.node_id});
      serves_locally = [shards, node = cfg.node_id](account_id id) {
        return shards->owner(shards->shard_of(entity_kind::user, id)) == node;
      };
    }
    user_deps deps;
    deps.store = store;
    deps.kv = kv;
    deps.router = router;
    deps.now_ms = system_now_ms;
    deps.mail_ttl = cfg.mail_ttl;
    deps.ack_window = cfg.ack_window;
    deps.node_id = cfg.node_id;
    deps.serves_locally = serves_locally;
    // A drain page must fit in what a connection may have unsent.
    // The pages in flight together stay within half of the slow-consumer limit.
    deps.drain_page_bytes = std::min<size_t>(
        deps.drain_page_bytes, cfg.max_outbound_bytes / (2 * deps.drain_pages_in_flight));
    auto host = spawn_user_host(sys, deps);
    caf::anon_send(router, serve_atom::value, entity_actor{host});
    auto sweeper = spawn_sweeper(sys, deps, cfg.sweep_interval);
    auto ctx = std::make_shared<gateway_context>();
    ctx->cluster_key = *key;
    ctx->router = router;
    ctx->host = host;
    ctx->kv = kv;
    ctx->max_frame_size = cfg.max_frame_size;
    ctx->max_outbound_bytes = cfg.max_outbound_bytes;
    ctx->auth_timeout = cfg.auth_timeout;
    ctx->serves_locally = serves_locally;
    ctx->now_ms = system_now_ms;
    auto gateway = start_gateway(sys, cfg.gateway, ctx);
    if (!gateway) {
      for (auto a : std::vector<caf::actor>{
               caf::actor_cast<caf::actor>(sweeper), caf::actor_cast<caf::actor>(host),
               caf::actor_cast<caf::actor>(router), caf::actor_cast<caf::actor>(kv),
               caf::actor_cast<caf::actor>(store)})
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      return fail(gateway.error().message);
    }
    logger->info("event=node_ready cluster={} node={} gateway={}:{} nats={} key={}", cfg.cluster,
                 cfg.node_id, cfg.gateway.host, gateway->port, urls.front(),
                 crypto::fingerprint(key->pk));
    std::cout << "kinbox-node " << cfg.node_id << " of cluster " << cfg.cluster
              << " ready\n  gateway: " << cfg.gateway.host << ":" << gateway->port
              << "\n  cluster key: " << crypto::to_hex(key->pk) << "\n  nats: " << urls.front()
              << std::endl;

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    int sig = 0;
    sigwait(&signals, &sig);
    logger->info("event=stopping signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_actors(sys, *gateway, host, store,
                {caf::actor_cast<caf::actor>(sweeper), caf::actor_cast<caf::actor>(router),
                 caf::actor_cast<caf::actor>(kv)});
    sys.await_all_actors_done();
  }
  link->reset();
  embedded.reset();
  nats_Close();
  logger->info("event=stopped");
  return 0;
}

} // namespace
} // namespace kinbox

int main(int argc, char** argv) {
  // Every thread started from here on inherits the mask; main waits for the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
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
  kinbox::log::setup(cfg.log_level);
  return kinbox::run(cfg);
}
