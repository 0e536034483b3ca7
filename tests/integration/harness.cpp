#include "tests/integration/harness.hpp"

#include <caf/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "cluster/embedded_nats.hpp"
#include "cluster/membership_actor.hpp"
#include "crypto/key_file.hpp"

namespace kinbox::testing {

namespace {

std::string unique_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000000);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

temp_dir::temp_dir(const std::string& prefix)
    : path(std::filesystem::temp_directory_path() / (prefix + "-" + unique_suffix())) {
  std::filesystem::create_directories(path);
}

temp_dir::~temp_dir() {
  if (std::getenv("KINBOX_KEEP_TEST_DIRS") != nullptr)
    return; // for a look at the logs of a failed run
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

process::process(std::vector<std::string> argv, const std::string& log_file,
                 const std::vector<std::string>& env) {
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // A test binary that crashes must not leave servers behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(1);
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (auto& e : env)
      ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

process::~process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(10s);
  }
}

void process::signal(int sig) {
  if (running())
    ::kill(pid_, sig);
}

bool process::running() {
  if (status_ || pid_ <= 0)
    return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
  eventually([&] { return !running(); }, timeout);
  return status_;
}

nats_server::nats_server() {
  port_ = pick_free_port();
  start();
}

void nats_server::stop() {
  proc_->signal(SIGTERM);
  CAF_REQUIRE(proc_->wait(15s));
}

void nats_server::start() {
  proc_ = std::make_unique<process>(
      std::vector<std::string>{find_executable("nats-server"), "-js", "-a", "127.0.0.1", "-p",
                               std::to_string(port_), "-sd", dir_.str()},
      (dir_.path / "server.log").string());
  CAF_REQUIRE(eventually([&] { return port_accepts(port_); }, 15s));
}

nats_cluster::nats_cluster(size_t size) {
  for (size_t i = 0; i < size; ++i) {
    ports_.push_back(pick_free_port());
    route_ports_.push_back(pick_free_port());
  }
  credentials_ = (dir_.path / "nats-credentials").string();
  CAF_REQUIRE(write_nats_credentials(credentials_, {"kinbox", "test-secret-" + unique_suffix()}));
  key_file_ = (dir_.path / "cluster.key").string();
  {
    auto key = crypto::create_key_file(key_file_);
    CAF_REQUIRE(key);
  }
  procs_.resize(size);
  for (size_t i = 0; i < size; ++i)
    start(i);
}

std::string nats_cluster::urls() const {
  std::string out;
  for (size_t i = 0; i < ports_.size(); ++i)
    out += (i ? "," : "") + url(i);
  return out;
}

void nats_cluster::start(size_t i) {
  auto creds = read_nats_credentials(credentials_);
  CAF_REQUIRE(creds);
  auto name = "s" + std::to_string(i + 1);
  auto store = dir_.path / name;
  std::filesystem::create_directories(store);
  std::string routes;
  for (size_t j = 0; j < ports_.size(); ++j)
    if (j != i)
      routes += std::string{routes.empty() ? "" : ", "} +
                "nats-route://route:route-secret@127.0.0.1:" + std::to_string(route_ports_[j]);
  auto conf = dir_.path / (name + ".conf");
  {
    std::ofstream out{conf};
    out << "server_name: " << name << "\nlisten: 127.0.0.1:" << ports_[i]
        << "\njetstream { store_dir: \"" << store.string() << "\" }\n"
        << "authorization { user: " << creds->user << ", password: \"" << creds->password
        << "\" }\ncluster {\n  name: kinbox-test\n  listen: 127.0.0.1:" << route_ports_[i]
        << "\n  authorization { user: route, password: route-secret }\n  routes: [" << routes
        << "]\n}\n";
  }
  procs_[i] = std::make_unique<process>(
      std::vector<std::string>{find_executable("nats-server"), "-c", conf.string()},
      (dir_.path / (name + ".log")).string());
  auto port = ports_[i];
  CAF_REQUIRE(eventually([&] { return port_accepts(port); }, 15s));
}

void nats_cluster::kill(size_t i) {
  procs_[i]->signal(SIGKILL);
  CAF_REQUIRE(procs_[i]->wait(10s));
}

cluster_probe::cluster_probe(const nats_cluster& nats) {
  auto creds = read_nats_credentials(nats.credentials_file());
  CAF_REQUIRE(creds);
  std::vector<std::string> urls;
  for (size_t i = 0; i < nats.size(); ++i)
    urls.push_back(nats.url(i));
  open(urls, *creds);
}

cluster_probe::cluster_probe(const nats_server& nats) {
  open({nats.url()}, std::nullopt);
}

void cluster_probe::open(const std::vector<std::string>& urls,
                         const std::optional<nats_credentials>& creds) {
  auto link = nats_link::connect(urls, "kinbox-test-probe", creds);
  CAF_REQUIRE(link);
  link_ = std::move(*link);
  CAF_REQUIRE(eventually(
      [&] {
        auto b = kv_buckets::existing(*link_, "test");
        if (b)
          buckets_ = *b;
        return static_cast<bool>(b);
      },
      30s));
}

cluster_probe::~cluster_probe() {
  buckets_.reset();
  link_.reset();
}

std::optional<placement> cluster_probe::placement_now() {
  auto got = buckets_->cluster->get(placement_key);
  if (!got || !*got)
    return std::nullopt;
  return placement::decode((*got)->value);
}

std::vector<node_record> cluster_probe::nodes_now() {
  std::vector<node_record> out;
  auto keys = buckets_->nodes->keys();
  if (!keys)
    return out;
  for (auto& k : *keys)
    if (auto v = buckets_->nodes->get(k); v && *v)
      if (auto r = node_record::decode((*v)->value))
        out.push_back(*r);
  return out;
}

void cluster_probe::put_node_record(const node_record& r) {
  CAF_REQUIRE(buckets_->nodes->put(r.id, r.encode()));
}

std::string cluster_probe::owner_of(account_id id) {
  auto p = placement_now();
  CAF_REQUIRE(p);
  auto* owner = p->owner(shard_of(p->shards, 1, id));
  return owner ? *owner : std::string{};
}

std::vector<std::string> cluster_probe::kv_entries() {
  std::vector<std::string> out;
  for (size_t i = 0; i < kv_space_count; ++i) {
    auto& bucket = *buckets_->spaces[i];
    auto keys = bucket.keys();
    CAF_REQUIRE(keys);
    for (auto& k : *keys) {
      auto v = bucket.get(k);
      CAF_REQUIRE(v);
      if (*v)
        out.push_back(std::to_string(i) + "/" + k + "=" +
                      std::string((*v)->value.begin(), (*v)->value.end()));
    }
  }
  return out;
}

/// Every envelope in a stopped node's mailbox.
std::vector<envelope> mailbox_contents(const node& n) {
  auto box = mailbox::open({n.data_dir() + "/mailbox"});
  CAF_REQUIRE(box);
  std::vector<envelope> out;
  account_id after = 0;
  for (;;) {
    auto who = (*box)->recipients(after, 1024);
    CAF_REQUIRE(who);
    if (who->empty())
      return out;
    for (auto r : *who) {
      auto page = (*box)->pending(r, 0, 1u << 20, 1u << 30);
      CAF_REQUIRE(page);
      out.insert(out.end(), page->mail.begin(), page->mail.end());
    }
    after = who->back();
  }
}

bool cluster_probe::settled(size_t count) {
  auto nodes = nodes_now();
  auto p = placement_now();
  if (!p || nodes.size() != count)
    return false;
  std::vector<std::string> targets;
  for (auto& n : nodes) {
    if (!n.moving.empty())
      return false;
    if (!n.draining)
      targets.push_back(n.id);
  }
  std::sort(targets.begin(), targets.end());
  auto t = rendezvous_targets(p->shards, targets);
  for (uint32_t s = 0; s < p->shards; ++s)
    if (p->owner(s) == nullptr || *p->owner(s) != targets[t[s]])
      return false;
  return true;
}

node::node(const nats_server* nats, std::vector<std::string> extra, std::string id,
           std::vector<std::string> env)
    : nats_(nats), id_(std::move(id)), extra_(std::move(extra)), env_(std::move(env)) {
  start();
}

node::node(const nats_cluster& nats, const std::string& id, std::vector<std::string> extra)
    : id_(id) {
  extra_ = {"--nats",
            nats.urls(),
            "--nats-credentials",
            nats.credentials_file(),
            "--key-file",
            nats.key_file(),
            "--lease",
            "3s"};
  extra_.insert(extra_.end(), extra.begin(), extra.end());
  start();
}

node::~node() {
  if (proc_ && proc_->running()) {
    proc_->signal(SIGTERM);
    if (!proc_->wait(15s))
      proc_.reset();
  }
}

void node::start() {
  if (port_ == 0)
    port_ = pick_free_port();
  std::vector<std::string> argv{
      KINBOX_NODE_BIN, "--data-dir", data_.str(), "--listen", "127.0.0.1:" + std::to_string(port_),
      "--cluster",     "test",       "--node-id", id_,        "--log-level",
      "info"};
  if (nats_ != nullptr) {
    argv.push_back("--nats");
    argv.push_back(nats_->url());
  }
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  proc_ = std::make_unique<process>(argv, (logs_.path / "node.log").string(), env_);
  bool up = eventually([&] { return port_accepts(port_) || !proc_->running(); }, 30s);
  if (!up || !proc_->running())
    CAF_FAIL("kinbox-node did not start; log:\n" << log());
}

int node::stop() {
  proc_->signal(SIGTERM);
  auto status = proc_->wait(30s);
  CAF_REQUIRE(status);
  return *status;
}

void node::kill9() {
  proc_->signal(SIGKILL);
  CAF_REQUIRE(proc_->wait(10s));
}

std::string node::log() const {
  return read_file(logs_.path / "node.log");
}

user make_user(const node& n, const std::string& name) {
  user u;
  u.dir = std::make_unique<temp_dir>("kinbox-profile");
  u.prof = std::make_unique<client::profile>(client::profile::create(u.dir->str()));
  {
    auto c = client::client::connect(*u.prof, "127.0.0.1", n.port());
    CAF_REQUIRE(c);
    auto id = (*c)->register_account(name, "1985-06-01", account_role::parent);
    if (!id)
      CAF_FAIL("register failed: " << id.error().message);
    u.id = *id;
  }
  reconnect(u, n);
  return u;
}

user make_child(const node& n, user& parent, const std::string& name) {
  auto setup = parent->child_create(name, "2015-06-01");
  if (!setup)
    CAF_FAIL("child_create failed: " << setup.error().message);
  user u;
  u.dir = std::make_unique<temp_dir>("kinbox-profile");
  u.prof = std::make_unique<client::profile>(client::profile::create(u.dir->str()));
  {
    auto c = client::client::connect(*u.prof, "127.0.0.1", n.port());
    CAF_REQUIRE(c);
    auto id = (*c)->register_child(setup->child, setup->secret);
    if (!id)
      CAF_FAIL("register_child failed: " << id.error().message);
    u.id = *id;
  }
  reconnect(u, n);
  return u;
}

std::pair<user, user> make_friends(const node& n, const std::string& first,
                                   const std::string& second) {
  auto a = make_user(n, first);
  auto b = make_user(n, second);
  befriend(a, b);
  return {std::move(a), std::move(b)};
}

nats_fixture::nats_fixture() {
  CAF_REQUIRE(crypto::init());
}

void reconnect(user& u, const node& n) {
  u.conn.reset();
  auto c = client::client::connect(*u.prof, "127.0.0.1", n.port());
  if (!c)
    CAF_FAIL("connect failed: " << c.error().message);
  u.conn = std::move(*c);
  auto me = u.conn->login();
  if (!me)
    CAF_FAIL("login failed: " << me.error().message);
}

void await_frozen(user& child, const node& n) {
  for (int i = 0; i < 20; ++i) {
    auto got = child->receive(500ms);
    if (!got) {
      CAF_CHECK(got.error().code == errc::account_frozen);
      return reconnect(child, n);
    }
  }
  CAF_FAIL("the child's session stayed open once it had no parent");
}

void connect_any(user& u, const std::vector<std::string>& gateways) {
  u.conn.reset();
  auto c = client::client::connect_any(*u.prof, gateways);
  if (!c)
    CAF_FAIL("connect failed: " << c.error().message);
  u.conn = std::move(*c);
  auto me = u.conn->login();
  if (!me)
    CAF_FAIL("login failed: " << me.error().message);
}

user make_user_on(const node& n, const std::string& name,
                  const std::vector<std::string>& gateways) {
  auto u = make_user(n, name);
  connect_any(u, gateways);
  return u;
}

void befriend(user& a, user& b) {
  CAF_REQUIRE(a->friend_add(b.id));
  // The request travels to b's actor asynchronously; accept once it is there.
  bool accepted = eventually([&] { return static_cast<bool>(b->friend_accept(a.id)); }, 5s);
  CAF_REQUIRE(accepted);
  bool mutual = eventually(
      [&] {
        auto list = a->friends();
        if (!list)
          return false;
        for (auto& e : list->entries)
          if (e.id == b.id && e.state == contact_state::friends)
            return true;
        return false;
      },
      5s);
  CAF_REQUIRE(mutual);
}

namespace {

/// Reads one answer to a send: true for `accepted`, false for a receipt of earlier mail.
bool take_answer(client::connection& conn) {
  auto f = conn.read_frame(30s);
  CAF_REQUIRE(f);
  if (f->type == frame_type::mail)
    return false;
  if (f->type != frame_type::accepted)
    CAF_FAIL("send refused: " << decode_body<error_body>(f->body)->message);
  return true;
}

} // namespace

void await_accepted(user& from, size_t count) {
  for (size_t accepted = 0; accepted < count;)
    accepted += take_answer(from->conn()) ? 1 : 0;
}

std::vector<message_id> send_pipelined(user& from, account_id to,
                                       const std::vector<std::string>& texts, bool wait) {
  auto key = from->keys_of(to);
  CAF_REQUIRE(key);
  auto& conn = from->conn();
  constexpr size_t max_in_flight = 512; // below the gateway's per-connection limit
  std::vector<message_id> ids;
  size_t accepted = 0;
  for (auto& text : texts) {
    while (ids.size() - accepted >= max_in_flight)
      accepted += take_answer(conn) ? 1 : 0;
    ids.push_back(crypto::new_message_id());
    auto payload = crypto::box_seal(client::encode_plaintext(text), key->box_key, from.prof->box);
    // Queued: they leave in a few large writes, the rest when take_answer waits.
    conn.queue_frame(make_frame(frame_type::send, conn.next_request_id(),
                                send_request{to, ids.back(), payload}));
  }
  CAF_REQUIRE(conn.flush());
  if (wait)
    await_accepted(from, texts.size() - accepted);
  return ids;
}

std::vector<client::received> receive_n(user& u, size_t count, std::chrono::milliseconds timeout) {
  std::vector<client::received> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto got = u->receive(200ms);
    if (!got)
      CAF_FAIL("receive failed: " << got.error().message);
    out.insert(out.end(), got->begin(), got->end());
  }
  return out;
}

bool file_contains(const std::filesystem::path& file, const std::string& needle) {
  return read_file(file).find(needle) != std::string::npos;
}

std::vector<std::string> files_containing(const std::filesystem::path& dir,
                                          const std::string& needle) {
  // Files of running servers come and go (a compaction's copy, a store's new block).
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator i{dir, ec}, end; !ec && i != end;
       i.increment(ec))
    if (i->is_regular_file(ec) && file_contains(i->path(), needle))
      out.push_back(i->path().string());
  return out;
}

uint64_t peak_rss(pid_t pid) {
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("VmHWM:");
  return at == std::string::npos ? 0 : std::stoull(status.substr(at + 6)) * 1024;
}

command_result run_command(const std::vector<std::string>& argv) {
  temp_dir tmp{"kinbox-cmd"};
  auto out_file = (tmp.path / "out").string();
  auto err_file = (tmp.path / "err").string();
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT, 0600);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), read_file(out_file),
          read_file(err_file)};
}

} // namespace kinbox::testing
