// kinbox-node as a program: embedded nats-server, configuration errors, key files,
// kinbox-admin.
#define CAF_SUITE node
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <signal.h>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cluster/embedded_nats.hpp"
#include "config/version.hpp"
#include "crypto/key_file.hpp"
#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

struct fixture {
  fixture() { CAF_REQUIRE(crypto::init()); }
};

/// Whether any process has `needle` in its command line.
/// Whether a running process (a nats-server, unless `any`) has `needle` on its command line.
bool process_with_arg(const std::string& needle, bool any = false) {
  for (auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in{entry.path() / "cmdline", std::ios::binary};
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos &&
        (any || cmdline.find("nats-server") != std::string::npos))
      return true;
  }
  return false;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(node_tests, fixture)

CAF_TEST(a node without nats runs its own nats-server and stops it) {
  node n{nullptr};
  auto nats_dir = n.data_dir() + "/nats";
  CAF_CHECK(process_with_arg(nats_dir));
  auto alice = make_user(n, "Alice");
  auto bob = make_user(n, "Bob");
  befriend(alice, bob);
  CAF_REQUIRE(alice->send_text(bob.id, "embedded"));
  CAF_CHECK_EQUAL(receive_n(bob, 1, 5s).size(), 1u);
  CAF_CHECK(n.log().find("gateway: 127.0.0.1:" + std::to_string(n.port())) != std::string::npos);
  CAF_CHECK_EQUAL(n.stop(), 0);
  CAF_CHECK(!process_with_arg(nats_dir));
  // Its data survives: the accounts are still there after a restart.
  n.start();
  reconnect(alice, n);
  CAF_CHECK(alice->whoami());
}

CAF_TEST(the embedded nats-server takes only the credentials its node made and listens on loopback) {
  node n{nullptr};
  auto creds_file = n.data_dir() + "/nats-credentials";
  auto mode = std::filesystem::status(creds_file).permissions();
  CAF_CHECK((mode & std::filesystem::perms::group_all) == std::filesystem::perms::none);
  CAF_CHECK((mode & std::filesystem::perms::others_all) == std::filesystem::perms::none);
  auto conf_mode = std::filesystem::status(n.data_dir() + "/nats/server.conf").permissions();
  CAF_CHECK((conf_mode & std::filesystem::perms::others_all) == std::filesystem::perms::none);
  std::ifstream url_file{n.data_dir() + "/nats-url"};
  std::string url;
  CAF_REQUIRE(url_file >> url);
  CAF_CHECK(url.rfind("nats://127.0.0.1:", 0) == 0);
  auto anonymous = nats_link::connect({url}, "anonymous", std::nullopt);
  CAF_REQUIRE(!anonymous);
  CAF_CHECK(anonymous.error().message.find("give --nats-credentials") != std::string::npos);
  auto wrong = nats_link::connect({url}, "wrong", nats_credentials{"kinbox", "not-the-password"});
  CAF_REQUIRE(!wrong);
  CAF_CHECK(wrong.error().message.find("refused the credentials") != std::string::npos);
  auto creds = read_nats_credentials(creds_file);
  CAF_REQUIRE(creds);
  CAF_CHECK(nats_link::connect({url}, "with-credentials", *creds));
  // The password appears on no command line.
  CAF_CHECK(!process_with_arg(creds->password, true));
  auto admin = run_command(
      {KINBOX_ADMIN_BIN, "--data-dir", n.data_dir(), "--cluster", "test", "--json", "status"});
  CAF_CHECK_EQUAL(admin.status, 0);
  CAF_CHECK(admin.out.find("\"nodes\":[{") != std::string::npos);
}

CAF_TEST(a killed node leaves no nats-server behind) {
  node n{nullptr};
  auto nats_dir = n.data_dir() + "/nats";
  CAF_REQUIRE(process_with_arg(nats_dir));
  n.kill9();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !process_with_arg(nats_dir);
    std::this_thread::sleep_for(50ms);
  }
  CAF_CHECK(gone);
}

CAF_TEST(a second node on the same data dir or port is refused with a clear message) {
  nats_server nats;
  node first{&nats};
  auto same_dir = run_command({KINBOX_NODE_BIN, "--nats", nats.url(), "--data-dir",
                               first.data_dir(), "--listen", "127.0.0.1:0"});
  CAF_CHECK_EQUAL(same_dir.status, 1);
  CAF_CHECK(same_dir.err.find("in use by another kinbox-node") != std::string::npos);
  temp_dir other{"kinbox-node-other"};
  auto same_port = run_command({KINBOX_NODE_BIN, "--nats", nats.url(), "--data-dir", other.str(),
                                "--key-file", first.data_dir() + "/cluster.key", "--listen",
                                "127.0.0.1:" + std::to_string(first.port())});
  CAF_CHECK_EQUAL(same_port.status, 1);
  CAF_CHECK(same_port.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                               ": the port is in use") != std::string::npos);
  auto alice = make_user(first, "Alice"); // the first node is unharmed
  CAF_CHECK(alice->whoami());
}

CAF_TEST(invalid options are refused with the option named and exit code 2) {
  temp_dir dir{"kinbox-misconfig"};
  auto conf = (dir.path / "node.conf").string();
  std::ofstream{conf} << "cluster=dev\nmail-ttl=fortnight\n";
  // A port the metrics endpoint cannot take.
  nats_server nats;
  node busy{&nats};
  auto plain_port = pick_free_port();
  process plain_nats{
      {find_executable("nats-server"), "-a", "127.0.0.1", "-p", std::to_string(plain_port)},
      (dir.path / "plain-nats.log").string()};
  CAF_REQUIRE(eventually([&] { return port_accepts(plain_port); }, 15s));
  struct misconfiguration {
    std::vector<std::string> argv;
    int status;
    std::string says;
  };
  std::vector<misconfiguration> cases{
      {{KINBOX_NODE_BIN, "--mail-ttl", "fortnight"}, 2, "--mail-ttl"},
      {{KINBOX_NODE_BIN, "--frobnicate"}, 2, "unknown option --frobnicate"},
      {{KINBOX_NODE_BIN, "/some/dir"}, 2, "unexpected argument '/some/dir'"},
      {{"env", "KINBOX_DATADIR=/x", KINBOX_NODE_BIN},
       2,
       "unknown environment variable KINBOX_DATADIR"},
      {{KINBOX_NODE_BIN, "--config", conf}, 2, conf + ":2: invalid value for --mail-ttl"},
      {{KINBOX_NODE_BIN, "--log-level", "loud"}, 2, "--log-level"},
      {{KINBOX_NODE_BIN, "--metrics-listen", "29003,127.0.0.1:29004"}, 2, "--metrics-listen"},
      {{KINBOX_NODE_BIN, "--stop-timeout", "30s"},
       2,
       "invalid value for --stop-timeout: must be more than --drain-timeout"},
      {{KINBOX_NODE_BIN, "--data-dir", (dir.path / "e").string(), "--nats", nats.url(), "--nats-ca",
        (dir.path / "missing-ca.pem").string()},
       1,
       "cannot load the CA certificates of --nats-ca"},
      {{KINBOX_NODE_BIN, "--data-dir", (dir.path / "f").string(), "--nats",
        "nats://127.0.0.1:" + std::to_string(pick_free_port()), "--nats-connect-timeout", "1s"},
       1,
       "no NATS server answered"},
      {{KINBOX_NODE_BIN, "--data-dir", (dir.path / "j").string(), "--nats",
        "nats://127.0.0.1:" + std::to_string(plain_port), "--nats-connect-timeout", "1s"},
       1,
       "nats-server needs -js"},
      {{KINBOX_NODE_BIN, "--data-dir", (dir.path / "d").string(), "--nats", nats.url(),
        "--metrics-listen", busy.gateway()},
       1,
       "--metrics-listen"},
  };
  for (auto& c : cases) {
    auto run = run_command(c.argv);
    CAF_CHECK_EQUAL(run.status, c.status);
    CAF_CHECK(run.err.find(c.says) != std::string::npos);
    if (run.err.find(c.says) == std::string::npos)
      CAF_MESSAGE("said: " << run.err);
  }
  auto help = run_command({KINBOX_NODE_BIN, "--help"});
  CAF_CHECK_EQUAL(help.status, 0);
  CAF_CHECK(help.out.find("--max-frame-size") != std::string::npos);
}

CAF_TEST(SIGHUP sets the log level again without a restart) {
  nats_server nats;
  temp_dir dir{"kinbox-sighup"};
  auto conf = (dir.path / "node.conf").string();
  std::ofstream{conf} << "log-level=warning\n";
  auto port = pick_free_port();
  auto log = (dir.path / "node.log").string();
  process node_proc{{KINBOX_NODE_BIN, "--config", conf, "--nats", nats.url(), "--data-dir",
                     (dir.path / "data").string(), "--listen", "127.0.0.1:" + std::to_string(port),
                     "--metrics-listen", "off"},
                    log};
  CAF_REQUIRE(eventually([&] { return port_accepts(port); }, 30s));
  CAF_CHECK(!file_contains(log, "event=session_opened")); // a debug event
  std::ofstream{conf} << "log-level=debug\n";
  node_proc.signal(SIGHUP);
  CAF_CHECK(eventually([&] { return file_contains(log, "event=reloaded log_level=debug"); }));
  CAF_CHECK(node_proc.running());
  CAF_CHECK(port_accepts(port));
  CAF_CHECK(eventually([&] { return file_contains(log, "event=session_opened"); }));
  // A configuration that became invalid changes nothing.
  std::ofstream{conf} << "log-level=loud\n";
  node_proc.signal(SIGHUP);
  CAF_CHECK(eventually([&] { return file_contains(log, "event=reload_failed"); }));
  CAF_CHECK(node_proc.running());
  node_proc.signal(SIGTERM);
  auto status = node_proc.wait(30s);
  CAF_CHECK(status && *status == 0);
}

CAF_TEST(a node id a running node has is refused and a node whose id is taken stops) {
  nats_server nats;
  node first{&nats};
  temp_dir dir{"kinbox-same-id"};
  auto second = run_command(
      {KINBOX_NODE_BIN, "--nats", nats.url(), "--cluster", "test", "--node-id", first.id(),
       "--data-dir", (dir.path / "data").string(), "--key-file", first.data_dir() + "/cluster.key",
       "--listen", "127.0.0.1:" + std::to_string(pick_free_port()), "--metrics-listen", "off"});
  CAF_CHECK_EQUAL(second.status, 1);
  CAF_CHECK(second.err.find("node id 'node1' is in use by a running node (gateway " +
                            first.gateway() + ")") != std::string::npos);
  CAF_CHECK(first.log().find("shards_lost") == std::string::npos);
  CAF_CHECK(port_accepts(first.port()));
  // Two processes that started at once: the one that finds the other's record stops,
  // and leaves that record in place.
  cluster_probe probe{nats};
  auto records = probe.nodes_now();
  CAF_REQUIRE_EQUAL(records.size(), 1u);
  auto other = records[0];
  other.incarnation += 1;
  other.gateway = "127.0.0.1:1";
  probe.put_node_record(other);
  CAF_CHECK(
      eventually([&] { return first.log().find("event=node_id_taken") != std::string::npos; }));
  CAF_CHECK_EQUAL(first.stop(), 1);
  CAF_CHECK(first.log().find("event=stopping reason=node_id_taken") != std::string::npos);
  records = probe.nodes_now(); // within the record's lease: it is not expired yet
  CAF_REQUIRE_EQUAL(records.size(), 1u);
  CAF_CHECK_EQUAL(records[0].incarnation, other.incarnation);
}

CAF_TEST(a stop stuck past stop-timeout logs its step and exits 1) {
  temp_dir dir{"kinbox-stuck"};
  auto nats_port = pick_free_port();
  process nats_proc{{find_executable("nats-server"), "-js", "-a", "127.0.0.1", "-p",
                     std::to_string(nats_port), "-sd", (dir.path / "nats").string()},
                    (dir.path / "nats.log").string()};
  CAF_REQUIRE(eventually([&] { return port_accepts(nats_port); }, 15s));
  auto port = pick_free_port();
  auto log = (dir.path / "node.log").string();
  process node_proc{{KINBOX_NODE_BIN, "--nats", "nats://127.0.0.1:" + std::to_string(nats_port),
                     "--data-dir", (dir.path / "data").string(), "--listen",
                     "127.0.0.1:" + std::to_string(port), "--metrics-listen", "off",
                     "--drain-timeout", "1s", "--stop-timeout", "3s"},
                    log};
  CAF_REQUIRE(eventually([&] { return port_accepts(port); }, 30s));
  // A NATS server that hangs (its connections open, no answers) holds up every NATS step.
  nats_proc.signal(SIGSTOP);
  node_proc.signal(SIGTERM);
  auto status = node_proc.wait(20s);
  nats_proc.signal(SIGCONT);
  CAF_CHECK(status && *status == 1);
  CAF_CHECK(file_contains(log, "event=stop_stuck step="));
}

CAF_TEST(a Ctrl-C on dev-cluster stops the node and its nats-server at once and quietly) {
  temp_dir dir{"kinbox-devcluster"};
  auto listen = "127.0.0.1:" + std::to_string(pick_free_port());
  auto out = (dir.path / "out.log").string();
  // Its own process group, as a terminal's foreground job is: the Ctrl-C goes to all of it.
  process dev{
      {"setsid", "bash", std::string{KINBOX_SOURCE_DIR} + "/scripts/dev-cluster", "--no-build"},
      out,
      {"KINBOX_DEV_DIR=" + dir.str(), "KINBOX_LISTEN=" + listen}};
  CAF_REQUIRE(eventually([&] { return file_contains(out, "Press Ctrl-C"); }, 60s));
  auto node_log = dir.path / "node.log";
  auto before = std::filesystem::file_size(node_log);
  ::kill(-dev.pid(), SIGINT);
  auto status = dev.wait(2s);
  CAF_CHECK(status.has_value());
  auto nats_left = run_command({"pgrep", "-f", dir.str() + "/node/nats"});
  CAF_CHECK_EQUAL(nats_left.status, 1); // no such process
  std::ifstream in{node_log};
  in.seekg(static_cast<std::streamoff>(before));
  std::string line;
  bool stopped = false;
  while (std::getline(in, line)) {
    CAF_CHECK(line.find(" warning ") == std::string::npos);
    CAF_CHECK(line.find(" error ") == std::string::npos);
    if (line.find(" warning ") != std::string::npos || line.find(" error ") != std::string::npos)
      CAF_MESSAGE("at the stop: " << line);
    stopped = stopped || line.find("event=stopped") != std::string::npos;
  }
  CAF_CHECK(stopped);
}

CAF_TEST(log-format json writes one JSON object per line with each key as a field) {
  nats_server nats;
  node n{&nats, {"--log-format", "json"}};
  auto alice = make_user(n, "Alice");
  CAF_CHECK(alice->whoami());
  std::istringstream lines{n.log()};
  std::string line;
  size_t events = 0;
  bool ready = false;
  while (std::getline(lines, line)) {
    if (line.rfind("kinbox-node ", 0) == 0 || line.rfind("  ", 0) == 0)
      continue; // the ready banner, on stdout (the harness keeps both in one file)
    auto j = nlohmann::json::parse(line, nullptr, false);
    CAF_CHECK(j.is_object());
    if (!j.is_object())
      continue;
    CAF_CHECK(j.contains("time") && j.contains("level") && j.contains("component"));
    events += j.contains("event");
    ready = ready || (j.value("event", "") == "node_ready" && j.value("node", "") == "node1" &&
                      j.value("component", "") == "node");
  }
  CAF_CHECK_GREATER(events, 0u);
  CAF_CHECK(ready);
}

CAF_TEST(the certificates of scripts make-tls-certs carry a node NATS link over TLS) {
  temp_dir dir{"kinbox-tls"};
  auto certs = dir.path / "tls";
  auto made = run_command({"bash", std::string{KINBOX_SOURCE_DIR} + "/scripts/make-tls-certs",
                           certs.string(), "nats1"});
  CAF_REQUIRE_EQUAL(made.status, 0);
  auto port = pick_free_port();
  auto conf = (dir.path / "nats.conf").string();
  std::ofstream{conf} << "listen: 127.0.0.1:" << port << "\njetstream { store_dir: \""
                      << (dir.path / "js").string() << "\" }\ntls {\n  cert_file: \""
                      << (certs / "nats1.pem").string() << "\"\n  key_file: \""
                      << (certs / "nats1-key.pem").string() << "\"\n}\n";
  std::string nats_bin =
      std::filesystem::exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server";
  process server{{nats_bin, "-c", conf}, (dir.path / "nats.log").string()};
  CAF_REQUIRE(eventually([&] { return port_accepts(port); }, 15s));
  node n{nullptr,
         {"--nats", "tls://127.0.0.1:" + std::to_string(port), "--nats-ca",
          (certs / "ca.pem").string()}};
  auto alice = make_user(n, "Alice");
  CAF_CHECK(alice->whoami());
}

CAF_TEST(a configured key file must exist and every node with it presents the same key) {
  nats_server nats;
  temp_dir keys{"kinbox-keys"};
  auto missing =
      run_command({KINBOX_NODE_BIN, "--nats", nats.url(), "--data-dir",
                   (keys.path / "data").string(), "--key-file", (keys.path / "nope.key").string()});
  CAF_CHECK_EQUAL(missing.status, 1);
  CAF_CHECK(missing.err.find("nope.key") != std::string::npos);
  node first{&nats};
  auto key_file = first.data_dir() + "/cluster.key";
  node second{&nats, {"--key-file", key_file}, "node2"};
  auto a = client::connection::open("127.0.0.1", first.port(), std::nullopt);
  auto b = client::connection::open("127.0.0.1", second.port(), std::nullopt);
  CAF_REQUIRE(a && b);
  CAF_CHECK((*a)->cluster_key() == (*b)->cluster_key());
  // One cluster: an account made on one node logs in on the other.
  auto alice = make_user(first, "Alice");
  reconnect(alice, second);
  CAF_CHECK(alice->whoami());
}

CAF_TEST(a node with another cluster key or pepper refuses to join and starts nothing) {
  nats_server nats;
  node first{&nats};
  temp_dir other{"kinbox-node-other"};
  auto wrong_key =
      run_command({KINBOX_NODE_BIN, "--nats", nats.url(), "--cluster", "test", "--node-id",
                   "intruder", "--data-dir", other.str(), "--listen", "127.0.0.1:0"});
  CAF_CHECK_EQUAL(wrong_key.status, 1);
  CAF_CHECK(wrong_key.err.find("is not the cluster's") != std::string::npos);
  CAF_CHECK(wrong_key.err.find("--key-file") != std::string::npos);
  // The right key with another pepper file is refused too.
  auto pepper_file = other.path / "pepper";
  {
    std::ofstream out{pepper_file};
    out << "kinbox-pin-pepper-v1 " << std::string(64, 'a') << "\n";
  }
  std::filesystem::permissions(pepper_file, std::filesystem::perms::owner_read |
                                                std::filesystem::perms::owner_write);
  auto wrong_pepper = run_command({KINBOX_NODE_BIN, "--nats", nats.url(), "--cluster", "test",
                                   "--node-id", "intruder", "--data-dir", other.str(), "--key-file",
                                   first.data_dir() + "/cluster.key", "--pin-pepper-file",
                                   pepper_file.string(), "--listen", "127.0.0.1:0"});
  CAF_CHECK_EQUAL(wrong_pepper.status, 1);
  CAF_CHECK(wrong_pepper.err.find("PIN pepper") != std::string::npos);
  // Neither joined: the cluster has its one node, which shows its key's fingerprint.
  auto status = run_command(
      {KINBOX_ADMIN_BIN, "--nats", nats.url(), "--cluster", "test", "--json", "status"});
  CAF_CHECK_EQUAL(status.status, 0);
  CAF_CHECK(status.out.find("intruder") == std::string::npos);
  auto key = crypto::read_key_file(first.data_dir() + "/cluster.key");
  CAF_REQUIRE(key);
  CAF_CHECK(status.out.find("\"key\":\"" + crypto::fingerprint(key->pk) + "\"") !=
            std::string::npos);
}

CAF_TEST(every binary an operator runs prints its version) {
  for (auto [bin, name] : {std::pair{KINBOX_NODE_BIN, "kinbox-node"},
                           {KINBOX_CLI_BIN, "kinbox"},
                           {KINBOX_ADMIN_BIN, "kinbox-admin"}}) {
    auto run = run_command({bin, "--version"});
    CAF_CHECK_EQUAL(run.status, 0);
    CAF_CHECK_EQUAL(run.out, std::string{name} + " " + kinbox::version + "\n");
  }
}

CAF_TEST(kinbox-admin reports the cluster status) {
  nats_server nats;
  node n{&nats};
  auto alice = make_user(n, "Alice");
  auto status = run_command(
      {KINBOX_ADMIN_BIN, "--nats", nats.url(), "--cluster", "test", "--json", "status"});
  CAF_CHECK_EQUAL(status.status, 0);
  CAF_CHECK(status.out.find("\"accounts\":1") != std::string::npos);
  CAF_CHECK(status.out.find("\"online\":1") != std::string::npos);
  CAF_CHECK(status.out.find("\"state\":\"serving\"") != std::string::npos);
  CAF_CHECK(status.out.find(std::string{"\"version\":\""} + version + "\"") != std::string::npos);
  CAF_CHECK(status.out.find("\"heartbeat_age_ms\":") != std::string::npos);
  auto admin = [&](std::vector<std::string> words) {
    std::vector<std::string> argv{KINBOX_ADMIN_BIN, "--nats", nats.url(), "--cluster", "test"};
    argv.insert(argv.end(), words.begin(), words.end());
    return run_command(argv);
  };
  // One account, as an operator may see it: where, online, how much mail, no content.
  auto bob = make_user(n, "Bob");
  befriend(alice, bob);
  bob.conn.reset();
  CAF_REQUIRE(alice->send_text(bob.id, "for bob's eyes only"));
  auto seen = admin({"--json", "account", std::to_string(bob.id)});
  CAF_CHECK_EQUAL(seen.status, 0);
  CAF_CHECK(seen.out.find("\"node\":\"node1\"") != std::string::npos);
  CAF_CHECK(seen.out.find("\"online\":false") != std::string::npos);
  CAF_CHECK(seen.out.find("\"stored_envelopes\":1") != std::string::npos);
  CAF_CHECK(seen.out.find("bob's eyes") == std::string::npos);
  CAF_CHECK(seen.out.find("Bob") == std::string::npos);
  auto online = admin({"--json", "account", std::to_string(alice.id)});
  CAF_CHECK(online.out.find("\"session_node\":\"node1\"") != std::string::npos);
  CAF_CHECK_EQUAL(admin({"account", "12345"}).status, 1);
  // What a join would move, before it happens.
  auto plan = admin({"--json", "plan", "join", "node2"});
  CAF_CHECK_EQUAL(plan.status, 0);
  CAF_CHECK(plan.out.find("\"to\":\"node2\"") != std::string::npos);
  CAF_CHECK(plan.out.find("\"from\":\"node1\"") != std::string::npos);
  CAF_CHECK_EQUAL(admin({"plan", "drain", "node9"}).status, 1);
  // Usage errors: the line that is wrong and the command's usage, no NATS subject.
  struct misuse {
    std::vector<std::string> words;
    std::string says;
  };
  for (auto& m : std::vector<misuse>{
           {{"drain"}, "kinbox-admin drain: needs NODE\nusage: kinbox-admin drain NODE"},
           {{"plan", "join"}, "kinbox-admin plan: needs join or drain, and NODE"},
           {{"account", "bob"}, "kinbox-admin account: 'bob' is not a number"},
           {{"account", " 12"}, "kinbox-admin account: ' 12' is not a number"},
           {{"drain", "node1 "}, "kinbox-admin drain: 'node1 ' is not a node id"},
           {{"plan", "drain", "a\nPUB x"}, "kinbox-admin plan: 'a?PUB x' is not a node id"},
           {{"frobnicate"}, "kinbox-admin: unknown command 'frobnicate'"},
           {{"--frobnicate"}, "kinbox-admin: unrecognised option '--frobnicate'"}}) {
    auto run = admin(m.words);
    CAF_CHECK_EQUAL(run.status, 2);
    CAF_CHECK_EQUAL(run.err.substr(0, m.says.size()), m.says);
    CAF_CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 2);
  }
  auto help = admin({"--help"});
  CAF_CHECK(help.out.find("--command") == std::string::npos);
  auto nobody = admin({"drain", "node9"});
  CAF_CHECK_EQUAL(nobody.status, 1);
  CAF_CHECK(nobody.err.find("kinbox.") == std::string::npos); // no NATS subject
  CAF_CHECK(nobody.err.find("no node 'node9'") != std::string::npos);
  auto quick = admin({"--json", "drain", "--no-wait", "node1"}); // the node leaves
  CAF_CHECK_EQUAL(quick.status, 0);
  CAF_CHECK_EQUAL(quick.out, "{\"drained\":false,\"draining\":true,\"node\":\"node1\"}\n");
  CAF_CHECK(quick.err.find("no other node takes the shards of node1") != std::string::npos);
}

CAF_TEST(kinbox-admin status shows a killed node late or dead until its record expires) {
  nats_cluster nats;
  node a{nats, "a"};
  node b{nats, "b"};
  auto state_of = [&](const std::string& id) -> std::string {
    auto run = run_command({KINBOX_ADMIN_BIN, "--nats", nats.urls(), "--nats-credentials",
                            nats.credentials_file(), "--cluster", "test", "--json", "status"});
    auto j = nlohmann::json::parse(run.out, nullptr, false);
    if (!j.is_object())
      return "?";
    for (auto& n : j["nodes"])
      if (n.value("id", "") == id)
        return n.value("state", "?");
    return "gone";
  };
  CAF_REQUIRE(eventually([&] { return state_of("b") == "serving"; }, 20s));
  b.kill9();
  std::set<std::string> seen;
  CAF_CHECK(eventually(
      [&] {
        seen.insert(state_of("b"));
        return seen.count("gone") == 1;
      },
      20s));
  CAF_CHECK(seen.count("late") + seen.count("dead") > 0); // before the lease (3 s) ran out
  CAF_CHECK_EQUAL(state_of("a"), "serving");
}

CAF_TEST(the README story runs as written) {
  nats_server nats;
  node n{&nats};
  std::ifstream in{std::string{KINBOX_SOURCE_DIR} + "/README.md"};
  std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto section = readme.find("## Using it");
  CAF_REQUIRE(section != std::string::npos);
  auto begin = readme.find("```\n", section);
  auto end = readme.find("```\n", begin + 4);
  CAF_REQUIRE(begin != std::string::npos && end != std::string::npos);
  auto story = readme.substr(begin + 4, end - begin - 4);
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (auto at = story.find(from); at != std::string::npos; at = story.find(from, at + to.size()))
      story.replace(at, from.size(), to);
  };
  replace_all("build/kinbox", KINBOX_CLI_BIN);
  replace_all("127.0.0.1:7420", n.gateway());
  temp_dir home{"kinbox-readme"};
  auto script = home.path / "story.sh";
  std::ofstream{script} << "set -euo pipefail\ncd " << home.str() << "\nexport HOME=" << home.str()
                        << "\n"
                        << story;
  auto run = run_command({"bash", script.string()});
  if (run.status != 0)
    CAF_MESSAGE("the story said: " << run.out << run.err);
  CAF_CHECK_EQUAL(run.status, 0);
  CAF_CHECK(run.out.find(": hi!") != std::string::npos);
  CAF_CHECK(run.out.find("message from") != std::string::npos);
  CAF_CHECK(run.out.find(": match at 4?") != std::string::npos);
  CAF_CHECK(run.out.find("\"Football\"") != std::string::npos);
  CAF_CHECK(run.out.find("\"type\":\"delivered\"") != std::string::npos);
  CAF_CHECK(run.out.find("reported") != std::string::npos);
  CAF_CHECK(std::filesystem::exists(home.path / "mia.json"));
}

CAF_TEST(the group chat example runs as written) {
  nats_server nats;
  node n{&nats};
  temp_dir profiles{"kinbox-group-example"};
  auto run = run_command({"env", "KINBOX=" + std::string{KINBOX_CLI_BIN}, "GATEWAY=" + n.gateway(),
                          "PROFILES=" + profiles.str(), "bash",
                          std::string{KINBOX_SOURCE_DIR} + "/examples/group-chat.sh"});
  if (run.status != 0)
    CAF_MESSAGE("the example said: " << run.out << run.err);
  CAF_CHECK_EQUAL(run.status, 0);
  CAF_CHECK(run.out.find("message from") != std::string::npos);
  CAF_CHECK(run.out.find("Football at 4?") != std::string::npos);
  CAF_CHECK(run.out.find("read ") != std::string::npos);
  CAF_CHECK(run.err.find("not_allowed") != std::string::npos);
  CAF_CHECK(run.out.find("demo done") != std::string::npos);
}

CAF_TEST(the calls and quiet hours example runs as written) {
  nats_server nats;
  node n{&nats};
  temp_dir profiles{"kinbox-calls-example"};
  auto run = run_command({"env", "KINBOX=" + std::string{KINBOX_CLI_BIN}, "GATEWAY=" + n.gateway(),
                          "PROFILES=" + profiles.str(), "bash",
                          std::string{KINBOX_SOURCE_DIR} + "/examples/calls-and-quiet.sh"});
  if (run.status != 0)
    CAF_MESSAGE("the example said: " << run.out << run.err);
  CAF_CHECK_EQUAL(run.status, 0);
  CAF_CHECK(run.out.find("offline\nmissed call from") != std::string::npos);
  CAF_CHECK(run.out.find(": answer") != std::string::npos);
  CAF_CHECK(run.out.find("hangup (ended)") != std::string::npos);
  CAF_CHECK(run.out.find("asleep\naccepted") != std::string::npos);
  CAF_CHECK(run.err.find("(asleep)") != std::string::npos);
  CAF_CHECK(run.out.find("missed call from") != std::string::npos);
  CAF_CHECK(run.out.find("message from") != std::string::npos);
  CAF_CHECK(run.out.find("demo done") != std::string::npos);
}

CAF_TEST(the moments example runs as written) {
  nats_server nats;
  node n{&nats};
  temp_dir profiles{"kinbox-moments-example"};
  auto run = run_command({"env", "KINBOX=" + std::string{KINBOX_CLI_BIN}, "GATEWAY=" + n.gateway(),
                          "PROFILES=" + profiles.str(), "bash",
                          std::string{KINBOX_SOURCE_DIR} + "/examples/moments.sh"});
  if (run.status != 0)
    CAF_MESSAGE("the example said: " << run.out << run.err);
  CAF_CHECK_EQUAL(run.status, 0);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (auto at = run.out.find(what); at != std::string::npos; at = run.out.find(what, at + 1))
      ++n;
    return n;
  };
  CAF_CHECK_EQUAL(count(": Our new puppy!"), 2u); // Ann's and Dad's; Cal's went with the post
  CAF_CHECK_EQUAL(count("comments on"), 1u);      // Bea's; never Cal's
  CAF_CHECK_EQUAL(count(" likes "), 2u);          // Bea's and Dad's; never Ann's
  CAF_CHECK_EQUAL(count("was deleted"), 3u);      // Ann's two, and Cal's
  CAF_CHECK(run.out.find("demo done") != std::string::npos);
}

CAF_TEST(a client written from docs/protocol.md in another language works) {
  nats_server nats;
  node n{&nats};
  auto run = run_command({"python3", std::string{KINBOX_SOURCE_DIR} + "/examples/python_client.py",
                          "127.0.0.1:" + std::to_string(n.port())});
  CAF_CHECK_EQUAL(run.status, 0);
  if (run.status != 0)
    CAF_MESSAGE("python client said: " << run.out << run.err);
}

CAF_TEST_FIXTURE_SCOPE_END()
