#include "config/node_config.hpp"

#include "config/log.hpp"
#include "config/version.hpp"
#include "protocol/groups.hpp"

#include <boost/program_options.hpp>

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace po = boost::program_options;

namespace kinbox {

namespace {

/// The CPUs this process may run on (its affinity mask: taskset, a cgroup cpuset): one
/// scheduler thread per CPU, as a node pinned to one core wants one, not the machine's
/// count fighting over it. A CPU quota (cgroup `cpu.max`) is not a mask and is not read.
size_t usable_cpus() {
  constexpr int max_cpus = 8192; // beyond cpu_set_t's 1024
  auto* set = CPU_ALLOC(max_cpus);
  auto size = CPU_ALLOC_SIZE(max_cpus);
  size_t count = 0;
  if (set != nullptr) {
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0)
      count = static_cast<size_t>(CPU_COUNT_S(size, set));
    CPU_FREE(set);
  }
  return count > 0 ? count : std::max(1u, std::thread::hardware_concurrency());
}

failure bad_option(const std::string& option, const std::string& why) {
  return failure{errc::invalid_argument, "invalid value for --" + option + ": " + why};
}

po::options_description make_options() {
  po::options_description desc{"kinbox-node options"};
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("config", po::value<std::string>(),
     "config file of option=value lines (same names as the long options)")
    ("cluster", po::value<std::string>()->default_value("dev"),
     "cluster name: nodes with the same name and NATS form one cluster [a-z0-9_-]{1,32}")
    ("node-id", po::value<std::string>()->default_value("node1"),
     "this node's id, unique in the cluster [a-z0-9_-]{1,32}")
    ("data-dir", po::value<std::string>()->default_value("kinbox-data"),
     "directory of the mailbox (LMDB), the dev key and the embedded nats-server's data")
    ("listen", po::value<std::string>()->default_value("127.0.0.1:7420"),
     "gateway listen address host:port (port 0 picks a free port)")
    ("nats", po::value<std::vector<std::string>>()->multitoken()->composing(),
     "NATS server URL(s), comma-separated or repeated; none: start an embedded nats-server -js")
    ("nats-credentials", po::value<std::string>(),
     "file with the NATS user= and password= lines (mode 0600); an embedded nats-server "
     "makes its own in the data dir")
    ("nats-ca", po::value<std::string>(),
     "PEM file of the CA that signed the NATS servers' certificates: connect with TLS")
    ("nats-connect-timeout", po::value<std::string>()->default_value("10s"),
     "how long a start waits for a NATS server and its JetStream to answer; a "
     "refusal of the credentials or of TLS stops the start at once; 1s to 10m")
    ("nats-server-bin", po::value<std::string>()->default_value("nats-server"),
     "nats-server executable used when no --nats is given")
    ("metrics-listen", po::value<std::string>()->default_value("127.0.0.1:9464"),
     "host:port of the HTTP endpoint for /metrics (Prometheus), /healthz and /readyz, or "
     "'off'; when the default port is taken (another node on this machine) the node starts "
     "without it and says so")
    ("advertise", po::value<std::string>(),
     "host:port of this gateway as apps reach it (sent to apps redirected here); default: "
     "the listen address")
    ("key-file", po::value<std::string>(),
     "the cluster's long-term key file (same on every node); default: <data-dir>/cluster.key, "
     "made on first start")
    ("pin-pepper-file", po::value<std::string>(),
     "file with the secret mixed into every parent PIN before it is hashed (same on every "
     "node, kept outside the databases; one line 'kinbox-pin-pepper-v1 <64 hex>', mode "
     "0600); default: derived from the cluster key file")
    ("pin-hash-ops", po::value<uint64_t>()->default_value(2),
     "argon2id passes of a PIN hash (libsodium opslimit), 1..10")
    ("pin-hash-memory", po::value<std::string>()->default_value("64MiB"),
     "argon2id memory of a PIN hash, 8KiB..1GiB")
    ("pin-workers", po::value<size_t>()->default_value(1),
     "threads that hash PINs, 1..16 (at most 32 hashes wait on a node; more tries are "
     "answered rate_limited)")
    ("mail-ttl", po::value<std::string>()->default_value("15d"),
     "how long undelivered mail is kept (e.g. 15d, 12h, 30s); at least 1s")
    ("sweep-interval", po::value<std::string>()->default_value("60s"),
     "how often expired mail is deleted; between 100ms and 1h")
    ("auth-timeout", po::value<std::string>()->default_value("30s"),
     "a connection that has not logged in within this time is closed; 1s to 10m")
    ("mailbox-compact-delay", po::value<std::string>()->default_value("60s"),
     "after an account is deleted, the mailbox file is rewritten without its freed pages "
     "within this time (no byte of the account's mail stays in it); 0s to 1h")
    ("mailbox-compact-interval", po::value<std::string>()->default_value("1h"),
     "otherwise the mailbox file is rewritten this often if mail was acked or expired "
     "since (delivered mail leaves no bytes behind for longer); 1m to 7d, 0s: never")
    ("commit-window", po::value<std::string>()->default_value("1ms"),
     "how long the mailbox gathers mail into one commit; mail acked within it is never "
     "written; 0ms to 50ms")
    ("ack-window", po::value<std::string>()->default_value("50ms"),
     "how long mail already pushed to its recipient waits in memory for the ack before "
     "it is written (the sender hears accepted at the ack); 0ms to 1s, 0ms turns it off")
    ("max-frame-size", po::value<std::string>()->default_value("64KiB"),
     "largest record a client may send, between 1KiB and 16MiB")
    ("max-outbound", po::value<std::string>()->default_value("4MiB"),
     "unsent bytes per connection before it is cut off as a slow consumer; at least 64KiB "
     "and twice --max-frame-size")
    ("mailbox-initial-size", po::value<std::string>()->default_value("64MiB"),
     "initial LMDB map size of the mailbox")
    ("mailbox-max-size", po::value<std::string>()->default_value("16GiB"),
     "largest LMDB map size; past it new mail is refused with a retryable error")
    ("mailbox-cap-count", po::value<uint64_t>()->default_value(10000),
     "most undelivered envelopes one account may have stored; past it its senders are "
     "refused with mailbox_cap (retryable) and older mail stays; 1 to 1000000")
    ("mailbox-cap-bytes", po::value<std::string>()->default_value("64MiB"),
     "most undelivered payload bytes one account may have stored; at least --max-frame-size")
    ("limit-requests", po::value<double>()->default_value(1000),
     "requests per second one connection, and one account, may make (bursts of ten times "
     "that); past it `rate_limited` with a retry-after; 0: no limit")
    ("limit-registrations-per-address", po::value<double>()->default_value(30),
     "registrations per hour from one IP address (bursts of as many); 0: no limit")
    ("limit-registrations", po::value<double>()->default_value(20),
     "registrations per second across the node (bursts of five times that); 0: no limit")
    ("limit-handshakes-per-address", po::value<double>()->default_value(50),
     "transport handshakes per second from one IP address (bursts of four times that); "
     "0: no limit")
    ("limit-code-guesses-per-address", po::value<double>()->default_value(30),
     "link codes redeemed and child setup codes tried per hour from one IP address, right "
     "or wrong (bursts of as many); 0: no limit")
    ("limit-connections-per-address", po::value<size_t>()->default_value(1024),
     "open connections from one IP address")
    ("limit-connections", po::value<size_t>()->default_value(100000),
     "open connections on the node")
    ("limit-unauthenticated-per-address", po::value<size_t>()->default_value(128),
     "connections from one IP address not logged in yet")
    ("friend-requests-per-hour", po::value<double>()->default_value(20),
     "new friend requests one account may send per hour (bursts of as many); past it "
     "`friend_request_limit` with a retry-after; 0: no limit")
    ("friend-request-ttl", po::value<std::string>()->default_value("7d"),
     "a friend request not answered (or not approved by the parent) within this time "
     "expires; 1m to 365d")
    ("friend-request-cooldown", po::value<std::string>()->default_value("7d"),
     "after a request is declined or expires, the same account may not be asked again "
     "for this long (`friend_request_cooldown`); 0s to 365d")
    ("parent-min-age", po::value<unsigned>()->default_value(18),
     "a parent account needs a birth date at least this many years back, 14..99")
    ("child-max-age", po::value<unsigned>()->default_value(13),
     "a child account (made by its parent's app) is for children younger than this, 1..18")
    ("setup-code-ttl", po::value<std::string>()->default_value("1h"),
     "how long the one-time code a parent's app gets for its child's device is good for; "
     "1m to 7d")
    ("reports-per-day", po::value<double>()->default_value(20),
     "reports one account may file per day (bursts of half as many, at least 1); past it "
     "the contact is still blocked and the report is answered `rate_limited`; 0: no limit")
    ("reports-max-bytes", po::value<std::string>()->default_value("1GiB"),
     "most bytes the reports stream keeps (with reports older than 400 days dropped); a "
     "full stream files no new report (answered `unavailable`, logged `report_not_stored`) "
     "until reports age out (400 days) or the bound is raised (a node sets it when it starts); 4KiB to 1TiB")
    ("avatar-max-bytes", po::value<std::string>()->default_value("32KiB"),
     "largest profile avatar kept; at most the max frame size less 1KiB (the default "
     "shrinks to that with a smaller frame size)")
    ("location-ttl", po::value<std::string>()->default_value("10m"),
     "a parent who was offline gets a child's latest location at login if it is at most "
     "this old; locations are held in memory only; 10s to 24h")
    ("max-group-members", po::value<size_t>()->default_value(32),
     "most members one group chat may have, its creator included; 2 to 256 (a group "
     "message carries a wrapped key per member, about 84 bytes each, in one frame)")
    ("ring-timeout", po::value<std::string>()->default_value("60s"),
     "how long a call rings unanswered before the caller hears no_answer and the callee "
     "gets a missed call; 5s to 10m")
    ("quiet-release-spread", po::value<std::string>()->default_value("10s"),
     "each child's quiet hours begin and end up to this long after the minutes set, at a "
     "shift of its own, so that children whose periods end together are not all drained "
     "at once; 0s to 5m")
    ("max-ring", po::value<size_t>()->default_value(16),
     "most members one group call rings, besides the caller; 1 to 256")
    ("shards", po::value<uint32_t>()->default_value(0),
     "number of shards of a new cluster, 1..65536; 0 (default): the cluster's, or 4096 "
     "for a new one. A node whose value differs from its cluster's is refused")
    ("lease", po::value<std::string>()->default_value("6s"),
     "membership lease, the same on every node: a node unheard of for this long is gone, "
     "and one cut off from NATS for half of it stops serving; 2s to 60s")
    ("moving-shards", po::value<size_t>()->default_value(4),
     "shards this node hands off at once when the cluster rebalances, 1..256")
    ("kv-replicas", po::value<int>()->default_value(0),
     "copies of each KV bucket on the NATS servers, 1..5; 0: 3 when NATS has 3 or more "
     "servers, else 1")
    ("drain-timeout", po::value<std::string>()->default_value("60s"),
     "how long a stopping node (SIGTERM, kinbox-admin drain) waits for its shards to move "
     "before it stops anyway; 1s to 1h")
    ("stop-timeout", po::value<std::string>()->default_value("85s"),
     "how long a whole stop may take, the drain included; past it the node logs the step "
     "it is stuck in (stop_stuck) and exits 1; more than --drain-timeout, at most 2h")
    ("worker-threads", po::value<size_t>()->default_value(0),
     "actor scheduler threads, 1..64 (network I/O runs on one more thread); 0: one per CPU "
     "the node may run on (taskset, cgroup cpuset), at most 64")
    ("local-shortcut", po::value<bool>()->default_value(true),
     "hand requests for locally owned shards straight to the local actor instead of via NATS")
    ("log-format", po::value<std::string>()->default_value("text"),
     "text (time level [component] key=value ...) or json (one JSON object per line, each "
     "key=value a field)")
    ("log-level", po::value<std::string>()->default_value("info"),
     "trace, debug, info, warning, error, critical or off (as the logs print them); a "
     "SIGHUP sets it again from the command line, config file and environment");
  // clang-format on
  return desc;
}

template <class T>
T get(const po::variables_map& vm, const char* name) {
  return vm[name].as<T>();
}

result<node_config> build(const po::variables_map& vm) {
  node_config cfg;
  cfg.cluster = get<std::string>(vm, "cluster");
  if (!is_name(cfg.cluster))
    return bad_option("cluster", "use 1 to 32 of a-z, 0-9, '-' and '_'");
  cfg.node_id = get<std::string>(vm, "node-id");
  if (!is_name(cfg.node_id))
    return bad_option("node-id", "use 1 to 32 of a-z, 0-9, '-' and '_'");
  cfg.data_dir = get<std::string>(vm, "data-dir");
  if (cfg.data_dir.empty())
    return bad_option("data-dir", "must not be empty");
  auto listen = parse_listen_address(get<std::string>(vm, "listen"));
  if (!listen)
    return bad_option("listen", listen.error().message);
  cfg.gateway = *listen;
  if (vm.count("nats")) {
    for (auto& item : get<std::vector<std::string>>(vm, "nats")) {
      std::stringstream in{item};
      std::string url;
      while (std::getline(in, url, ','))
        if (!url.empty()) {
          if (url.rfind("nats://", 0) != 0 && url.rfind("tls://", 0) != 0)
            return bad_option("nats", "'" + url + "' is not a nats:// or tls:// URL");
          cfg.nats_urls.push_back(url);
        }
    }
  }
  cfg.nats_server_binary = get<std::string>(vm, "nats-server-bin");
  if (vm.count("nats-credentials")) {
    cfg.nats_credentials = get<std::string>(vm, "nats-credentials");
    if (cfg.nats_credentials.empty())
      return bad_option("nats-credentials", "must not be empty");
  }
  if (vm.count("nats-ca")) {
    cfg.nats_ca = get<std::string>(vm, "nats-ca");
    if (cfg.nats_ca.empty())
      return bad_option("nats-ca", "must not be empty");
  }
  cfg.metrics_listen = get<std::string>(vm, "metrics-listen");
  cfg.metrics_listen_given = !vm["metrics-listen"].defaulted();
  if (cfg.metrics_listen != "off") {
    auto m = parse_listen_address(cfg.metrics_listen);
    if (!m || m->port == 0)
      return bad_option("metrics-listen", "'" + cfg.metrics_listen + "' is not host:port or off");
  }
  if (vm.count("advertise")) {
    cfg.advertise = get<std::string>(vm, "advertise");
    auto a = parse_listen_address(cfg.advertise);
    if (!a || a->port == 0)
      return bad_option("advertise", "'" + cfg.advertise + "' is not host:port");
  }
  if (vm.count("key-file")) {
    cfg.key_file = get<std::string>(vm, "key-file");
    if (cfg.key_file.empty())
      return bad_option("key-file", "must not be empty");
  }
  if (vm.count("pin-pepper-file")) {
    cfg.pin_pepper_file = get<std::string>(vm, "pin-pepper-file");
    if (cfg.pin_pepper_file.empty())
      return bad_option("pin-pepper-file", "must not be empty");
  }
  using std::chrono::milliseconds;
  using namespace std::chrono_literals;
  auto duration = [&](const char* name, milliseconds min, milliseconds max,
                      const char* range) -> result<milliseconds> {
    auto d = parse_duration(get<std::string>(vm, name));
    if (!d)
      return bad_option(name, d.error().message);
    if (*d < min || *d > max)
      return bad_option(name, std::string{"must be "} + range);
    return *d;
  };
  auto size = [&](const char* name, uint64_t min, uint64_t max,
                  const std::string& range) -> result<uint64_t> {
    auto n = parse_size(get<std::string>(vm, name));
    if (!n)
      return bad_option(name, n.error().message);
    if (*n < min || *n > max)
      return bad_option(name, "must be " + range);
    return *n;
  };
  constexpr auto forever = milliseconds::max();
  constexpr auto unlimited = std::numeric_limits<uint64_t>::max();
  auto ttl = duration("mail-ttl", 1s, forever, "at least 1s");
  auto sweep = duration("sweep-interval", 100ms, 1h, "between 100ms and 1h");
  auto auth = duration("auth-timeout", 1s, 10min, "between 1s and 10m");
  auto frame = size("max-frame-size", 1024, 16u << 20, "between 1KiB and 16MiB");
  auto window = duration("commit-window", 0ms, 50ms, "between 0ms and 50ms");
  auto ack_window = duration("ack-window", 0ms, 1s, "between 0ms and 1s");
  if (!ttl || !sweep || !auth || !frame || !window || !ack_window)
    return (!ttl      ? ttl.error()
            : !sweep  ? sweep.error()
            : !auth   ? auth.error()
            : !frame  ? frame.error()
            : !window ? window.error()
                      : ack_window.error());
  cfg.commit_window = *window;
  cfg.ack_window = *ack_window;
  cfg.mail_ttl = *ttl;
  cfg.sweep_interval = *sweep;
  cfg.auth_timeout = *auth;
  cfg.max_frame_size = *frame;
  auto outbound = size("max-outbound", std::max<uint64_t>(64u << 10, 2 * cfg.max_frame_size),
                       unlimited, "at least 64KiB and twice --max-frame-size");
  auto initial = size("mailbox-initial-size", 1u << 20, unlimited, "at least 1MiB");
  if (!outbound || !initial)
    return !outbound ? outbound.error() : initial.error();
  cfg.max_outbound_bytes = *outbound;
  cfg.mailbox_initial_size = *initial;
  auto max = size("mailbox-max-size", cfg.mailbox_initial_size, unlimited,
                  "at least --mailbox-initial-size");
  if (!max)
    return max.error();
  cfg.mailbox_max_size = *max;
  cfg.mailbox_cap_count = get<uint64_t>(vm, "mailbox-cap-count");
  if (cfg.mailbox_cap_count < 1 || cfg.mailbox_cap_count > 1'000'000)
    return bad_option("mailbox-cap-count", "must be between 1 and 1000000");
  auto cap_bytes =
      size("mailbox-cap-bytes", cfg.max_frame_size, unlimited, "at least --max-frame-size");
  if (!cap_bytes)
    return cap_bytes.error();
  cfg.mailbox_cap_bytes = *cap_bytes;
  for (auto name : {"limit-requests", "limit-registrations-per-address", "limit-registrations",
                    "limit-handshakes-per-address", "limit-code-guesses-per-address"})
    if (!(get<double>(vm, name) >= 0 && get<double>(vm, name) <= 1e9))
      return bad_option(name, "must be between 0 and 1e9");
  auto rate = [&](const char* name, double burst_factor, double per_seconds = 1) {
    auto n = get<double>(vm, name);
    return rate_limit{n / per_seconds, std::max(1.0, n * burst_factor)};
  };
  auto& limits = cfg.limits;
  limits.requests_per_connection = rate("limit-requests", 10);
  limits.requests_per_account = limits.requests_per_connection;
  limits.registrations_per_address = rate("limit-registrations-per-address", 1, 3600);
  limits.registrations_per_node = rate("limit-registrations", 5);
  limits.handshakes_per_address = rate("limit-handshakes-per-address", 4);
  limits.code_guesses_per_address = rate("limit-code-guesses-per-address", 1, 3600);
  limits.connections_per_address = get<size_t>(vm, "limit-connections-per-address");
  limits.connections_total = get<size_t>(vm, "limit-connections");
  limits.unauthenticated_per_address = get<size_t>(vm, "limit-unauthenticated-per-address");
  if (limits.connections_per_address == 0 || limits.connections_total == 0 ||
      limits.unauthenticated_per_address == 0)
    return bad_option("limit-connections", "connection limits must be at least 1");
  cfg.pin_hash_ops = get<uint64_t>(vm, "pin-hash-ops");
  if (cfg.pin_hash_ops < 1 || cfg.pin_hash_ops > 10)
    return bad_option("pin-hash-ops", "must be between 1 and 10");
  auto pin_memory = size("pin-hash-memory", 8u << 10, 1u << 30, "between 8KiB and 1GiB");
  if (!pin_memory)
    return pin_memory.error();
  cfg.pin_hash_memory = *pin_memory;
  cfg.pin_workers = get<size_t>(vm, "pin-workers");
  if (cfg.pin_workers < 1 || cfg.pin_workers > 16)
    return bad_option("pin-workers", "must be between 1 and 16");
  auto per_hour = get<double>(vm, "friend-requests-per-hour");
  if (!(per_hour >= 0 && per_hour <= 1e6))
    return bad_option("friend-requests-per-hour", "must be between 0 and 1000000");
  cfg.friend_limits.requests = rate_limit{per_hour / 3600, std::max(1.0, per_hour)};
  auto request_ttl = duration("friend-request-ttl", 1min, 24h * 365, "between 1m and 365d");
  auto cooldown = duration("friend-request-cooldown", 0ms, 24h * 365, "between 0s and 365d");
  if (!request_ttl || !cooldown)
    return !request_ttl ? request_ttl.error() : cooldown.error();
  cfg.ages.parent_min_age = get<unsigned>(vm, "parent-min-age");
  if (cfg.ages.parent_min_age < 14 || cfg.ages.parent_min_age > 99)
    return bad_option("parent-min-age", "must be between 14 and 99");
  cfg.ages.child_max_age = get<unsigned>(vm, "child-max-age");
  if (cfg.ages.child_max_age < 1 || cfg.ages.child_max_age > 18)
    return bad_option("child-max-age", "must be between 1 and 18");
  auto compact_delay = duration("mailbox-compact-delay", 0ms, 1h, "between 0s and 1h");
  auto compact_every = duration("mailbox-compact-interval", 0ms, 24h * 7, "between 0s and 7d");
  if (!compact_delay || !compact_every)
    return !compact_delay ? compact_delay.error() : compact_every.error();
  if (compact_every->count() > 0 && *compact_every < 1min)
    return bad_option("mailbox-compact-interval", "must be 0s (never) or between 1m and 7d");
  cfg.compaction = {*compact_delay, *compact_every};
  auto setup_ttl = duration("setup-code-ttl", 1min, 24h * 7, "between 1m and 7d");
  if (!setup_ttl)
    return setup_ttl.error();
  cfg.setup_code_ttl = *setup_ttl;
  auto reports_per_day = get<double>(vm, "reports-per-day");
  if (!(reports_per_day >= 0 && reports_per_day <= 1e6))
    return bad_option("reports-per-day", "must be between 0 and 1000000");
  cfg.friend_limits.reports =
      rate_limit{reports_per_day / 86400, std::max(1.0, reports_per_day / 2)};
  auto reports_bytes = size("reports-max-bytes", 4u << 10, 1ull << 40, "between 4KiB and 1TiB");
  if (!reports_bytes)
    return reports_bytes.error();
  cfg.reports_max_bytes = *reports_bytes;
  cfg.friend_limits.request_ttl_ms = static_cast<uint64_t>(request_ttl->count());
  cfg.friend_limits.cooldown_ms = static_cast<uint64_t>(cooldown->count());
  // The default shrinks with a small frame size; a value given must fit.
  auto avatar_room = cfg.max_frame_size - 1024;
  auto avatar =
      vm["avatar-max-bytes"].defaulted()
          ? result<uint64_t>{std::min<uint64_t>(cfg.avatar_max_bytes, avatar_room)}
          : size("avatar-max-bytes", 0, avatar_room, "at most the max frame size less 1KiB");
  if (!avatar)
    return avatar.error();
  cfg.avatar_max_bytes = *avatar;
  auto location_ttl = duration("location-ttl", 10s, 24h, "between 10s and 24h");
  if (!location_ttl)
    return location_ttl.error();
  cfg.location_ttl = *location_ttl;
  cfg.max_group_members = get<size_t>(vm, "max-group-members");
  if (cfg.max_group_members < 2 || cfg.max_group_members > max_group_members_wire)
    return bad_option("max-group-members", "must be between 2 and 256");
  auto ring_timeout = duration("ring-timeout", 5s, 10min, "between 5s and 10m");
  if (!ring_timeout)
    return ring_timeout.error();
  cfg.ring_timeout = *ring_timeout;
  auto nats_wait = duration("nats-connect-timeout", 1s, 10min, "between 1s and 10m");
  if (!nats_wait)
    return nats_wait.error();
  cfg.nats_connect_timeout = *nats_wait;
  auto spread = duration("quiet-release-spread", 0s, 5min, "between 0s and 5m");
  if (!spread)
    return spread.error();
  cfg.quiet_release_spread = *spread;
  cfg.max_ring = get<size_t>(vm, "max-ring");
  if (cfg.max_ring < 1 || cfg.max_ring > max_group_members_wire)
    return bad_option("max-ring", "must be between 1 and 256");
  cfg.shards = get<uint32_t>(vm, "shards");
  if (cfg.shards > 65536)
    return bad_option("shards", "must be between 1 and 65536, or 0");
  auto lease = duration("lease", 2s, 60s, "between 2s and 60s");
  auto drain = duration("drain-timeout", 1s, 1h, "between 1s and 1h");
  auto stop = duration("stop-timeout", 2s, 2h, "between 2s and 2h");
  if (!lease || !drain || !stop)
    return !lease ? lease.error() : !drain ? drain.error() : stop.error();
  if (*stop <= *drain)
    return bad_option("stop-timeout", "must be more than --drain-timeout");
  cfg.lease = *lease;
  cfg.drain_timeout = *drain;
  cfg.stop_timeout = *stop;
  cfg.moving_shards = get<size_t>(vm, "moving-shards");
  if (cfg.moving_shards < 1 || cfg.moving_shards > 256)
    return bad_option("moving-shards", "must be between 1 and 256");
  cfg.kv_replicas = get<int>(vm, "kv-replicas");
  if (cfg.kv_replicas < 0 || cfg.kv_replicas > 5)
    return bad_option("kv-replicas", "must be between 0 and 5");
  cfg.worker_threads = get<size_t>(vm, "worker-threads");
  if (cfg.worker_threads > 64)
    return bad_option("worker-threads", "must be between 1 and 64, or 0");
  if (cfg.worker_threads == 0)
    cfg.worker_threads = std::min<size_t>(usable_cpus(), 64);
  cfg.local_shortcut = get<bool>(vm, "local-shortcut");
  cfg.log_format = get<std::string>(vm, "log-format");
  if (cfg.log_format != "text" && cfg.log_format != "json")
    return bad_option("log-format", "use text or json");
  cfg.log_level = get<std::string>(vm, "log-level");
  if (!log::known_log_level(cfg.log_level))
    return bad_option("log-level", "use trace, debug, info, warning, error, critical or off");
  return cfg;
}

} // namespace

std::string node_config::effective_key_file() const {
  return key_file.empty() ? data_dir + "/cluster.key" : key_file;
}

result<std::chrono::milliseconds> parse_duration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  if (digits == 0 || digits > 12)
    return failure{errc::invalid_argument, "'" + text + "' is not a duration like 15d or 30s"};
  auto n = std::stoull(text.substr(0, digits));
  auto unit = text.substr(digits);
  using namespace std::chrono;
  if (unit == "ms")
    return milliseconds(n);
  if (unit == "s")
    return duration_cast<milliseconds>(seconds(n));
  if (unit == "m")
    return duration_cast<milliseconds>(minutes(n));
  if (unit == "h")
    return duration_cast<milliseconds>(hours(n));
  if (unit == "d")
    return duration_cast<milliseconds>(hours(24 * n));
  return failure{errc::invalid_argument,
                 "'" + text + "' has no unit; use ms, s, m, h or d (e.g. 15d)"};
}

result<uint64_t> parse_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  if (digits == 0 || digits > 15)
    return failure{errc::invalid_argument, "'" + text + "' is not a size like 64KiB"};
  uint64_t n = std::stoull(text.substr(0, digits));
  auto unit = text.substr(digits);
  if (unit.empty() || unit == "B")
    return n;
  if (unit == "K" || unit == "KiB")
    return n << 10;
  if (unit == "M" || unit == "MiB")
    return n << 20;
  if (unit == "G" || unit == "GiB")
    return n << 30;
  return failure{errc::invalid_argument, "'" + text + "' has an unknown unit; use KiB, MiB, GiB"};
}

bool is_name(const std::string& x) {
  return !x.empty() && x.size() <= 32 && std::all_of(x.begin(), x.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

result<listen_address> parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return failure{errc::invalid_argument, "'" + text + "' is not host:port"};
  auto port_text = text.substr(colon + 1);
  if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      }))
    return failure{errc::invalid_argument, "'" + port_text + "' is not a port number"};
  auto port = std::stoul(port_text);
  if (port > 65535)
    return failure{errc::invalid_argument, "port " + port_text + " is above 65535"};
  auto host = text.substr(0, colon);
  if (!std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(".-_:[]", c) != nullptr;
      }))
    return failure{errc::invalid_argument, "'" + host + "' is not a host name or address"};
  return listen_address{host, static_cast<uint16_t>(port)};
}

/// The message of an option error, without Boost's what(): it substitutes the option's
/// name and value into a template in a loop that never ends when they hold a placeholder
/// such as "%value%" (found by fuzz_config).
std::string describe(const po::error_with_option_name& e) {
  auto name = e.get_option_name();
  std::replace(name.begin(), name.end(), '%', '?');
  // Boost names an option of the config file or environment without its dashes.
  if (auto first = name.find_first_not_of('-'); first != std::string::npos)
    name = "--" + name.substr(first);
  if (dynamic_cast<const po::unknown_option*>(&e) != nullptr)
    return "unknown option " + name;
  if (dynamic_cast<const po::validation_error*>(&e) != nullptr)
    return "invalid value for " + name;
  if (dynamic_cast<const po::invalid_command_line_syntax*>(&e) != nullptr)
    return "option " + name + " is missing its value or has one it does not take";
  if (dynamic_cast<const po::multiple_occurrences*>(&e) != nullptr)
    return "option " + name + " is given more than once";
  return "bad use of option " + name;
}

namespace {

/// Variables of kinbox's own scripts and tests: not options, and not refused.
constexpr const char* tool_variables[] = {
    "KINBOX_BUILD",      "KINBOX_DEV_DIR",     "KINBOX_BASE_PORT",     "KINBOX_NATS_BASE_PORT",
    "KINBOX_FAULT_SEED", "KINBOX_FAULT_STEPS", "KINBOX_KEEP_TEST_DIRS"};

bool reserved_name(const std::string& name) {
  return name == "config" || name == "help" || name == "version";
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

/// One option as if it came from the command line.
po::option option_of(const std::string& name, const std::string& value) {
  po::option opt;
  opt.string_key = name;
  opt.value.push_back(value);
  opt.original_tokens = {name, value};
  return opt;
}

/// The config file's `name=value` lines (blank lines and `#` comments skipped); the
/// first line of each option goes to `origin` as FILE:LINE.
result<po::parsed_options> read_config_file(const std::string& path,
                                            const po::options_description& desc,
                                            std::map<std::string, std::string>& origin) {
  std::ifstream file{path};
  if (!file)
    return failure{errc::invalid_argument,
                   "invalid value for --config: cannot read '" + path + "'"};
  po::parsed_options out{&desc};
  std::string line;
  for (size_t number = 1; std::getline(file, line); ++number) {
    auto where = path + ":" + std::to_string(number);
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.erase(hash);
    line = trim(line);
    if (line.empty())
      continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      return failure{errc::invalid_argument, where + ": expected name=value, not '" + line + "'"};
    auto name = trim(line.substr(0, eq));
    if (reserved_name(name) || !desc.find_nothrow(name, false))
      return failure{errc::invalid_argument, where + ": unknown option '" + name + "'"};
    origin.emplace(name, where);
    out.options.push_back(option_of(name, trim(line.substr(eq + 1))));
  }
  return out;
}

/// The KINBOX_<NAME> variables as options; an unknown one is refused by name.
result<po::parsed_options> read_environment(const char* const* environ,
                                            const po::options_description& desc,
                                            std::map<std::string, std::string>& origin) {
  po::parsed_options out{&desc};
  for (auto p = environ; p != nullptr && *p != nullptr; ++p) {
    std::string var{*p};
    auto eq = var.find('=');
    if (eq == std::string::npos || var.rfind("KINBOX_", 0) != 0)
      continue;
    auto key = var.substr(0, eq);
    if (std::find(std::begin(tool_variables), std::end(tool_variables), key) !=
        std::end(tool_variables))
      continue;
    auto name = key.substr(7);
    std::transform(name.begin(), name.end(), name.begin(), [](char c) {
      return c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    if (reserved_name(name) || !desc.find_nothrow(name, false))
      return failure{errc::invalid_argument,
                     "unknown environment variable " + key + " (no option --" + name + ")"};
    origin.emplace(name, key);
    out.options.push_back(option_of(name, var.substr(eq + 1)));
  }
  return out;
}

/// `f` with where its option's value came from in front, unless it was the command line.
failure located(failure f, const std::string& option, const std::set<std::string>& on_command_line,
                const std::map<std::string, std::string>& origin) {
  auto name = option.substr(option.find_first_not_of('-'));
  if (!on_command_line.count(name))
    if (auto o = origin.find(name); o != origin.end())
      f.message = o->second + ": " + f.message;
  return f;
}

/// The option a `bad_option` failure names.
std::string option_named(const failure& f) {
  constexpr std::string_view head = "invalid value for --";
  if (f.message.rfind(head, 0) != 0)
    return {};
  return f.message.substr(head.size(), f.message.find(':') - head.size());
}

} // namespace

config_outcome parse_node_config(int argc, const char* const* argv, const char* const* environ) {
  auto desc = make_options();
  po::variables_map vm;
  std::set<std::string> on_command_line;
  std::map<std::string, std::string> origin; // FILE:LINE or KINBOX_NAME, per option
  try {
    auto cli = po::command_line_parser(argc, argv).options(desc).run();
    for (auto& o : cli.options) {
      if (o.position_key >= 0 || o.string_key.empty()) {
        auto arg = o.original_tokens.empty() ? std::string{} : o.original_tokens.front();
        return failure{errc::invalid_argument, "unexpected argument '" + arg +
                                                   "': every setting is an option (--data-dir " +
                                                   arg + ", ...)"};
      }
      on_command_line.insert(o.string_key);
    }
    po::store(cli, vm);
    if (vm.count("version"))
      return help_request{std::string{"kinbox-node "} + version + "\n"};
    if (vm.count("help")) {
      std::ostringstream out;
      out << "usage: kinbox-node [options]\n\nEvery option can also be set in the config file "
             "(name=value) or as KINBOX_<NAME> in the environment (e.g. KINBOX_DATA_DIR); the "
             "command line wins over the file, the file over the environment.\n\n"
          << desc;
      return help_request{out.str()};
    }
    if (vm.count("config")) {
      auto file = read_config_file(vm["config"].as<std::string>(), desc, origin);
      if (!file)
        return file.error();
      try {
        po::store(*file, vm);
      } catch (const po::error_with_option_name& e) {
        return located({errc::invalid_argument, describe(e)}, e.get_option_name(), on_command_line,
                       origin);
      }
    }
    auto env = read_environment(environ, desc, origin);
    if (!env)
      return env.error();
    try {
      po::store(*env, vm);
    } catch (const po::error_with_option_name& e) {
      return located({errc::invalid_argument, describe(e)}, e.get_option_name(), on_command_line,
                     origin);
    }
    po::notify(vm);
  } catch (const po::error_with_option_name& e) {
    return failure{errc::invalid_argument, describe(e)};
  } catch (const po::error& e) {
    return failure{errc::invalid_argument, e.what()};
  }
  auto cfg = build(vm);
  if (!cfg)
    return located(cfg.error(), option_named(cfg.error()), on_command_line, origin);
  return *cfg;
}

} // namespace kinbox
