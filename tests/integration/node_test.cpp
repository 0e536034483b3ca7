// kinbox-node as a program: embedded nats-server, configuration errors, key files,
// kinbox-admin.
#define CAF_SUITE node
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <signal.h>

#include <fstream>

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
  CAF_CHECK(!nats_link::connect({url}, "anonymous", std::nullopt));
  auto creds = read_nats_credentials(creds_file);
  CAF_REQUIRE(creds);
  CAF_CHECK(nats_link::connect({url}, "with-credentials", *creds));
  // The password appears on no command line.
  CAF_CHECK(!process_with_arg(creds->password, true));
  auto admin = run_command({KINBOX_ADMIN_BIN, "--data-dir", n.data_dir(), "--cluster", "test",
                            "--json", "status"});
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
  CAF_CHECK(same_port.err.find("cannot listen") != std::string::npos);
  auto alice = make_user(first, "Alice"); // the first node is unharmed
  CAF_CHECK(alice->whoami());
}

CAF_TEST(invalid options are refused with the option named and exit code 2) {
  auto bad_ttl = run_command({KINBOX_NODE_BIN, "--mail-ttl", "fortnight"});
  CAF_CHECK_EQUAL(bad_ttl.status, 2);
  CAF_CHECK(bad_ttl.err.find("--mail-ttl") != std::string::npos);
  auto unknown = run_command({KINBOX_NODE_BIN, "--frobnicate"});
  CAF_CHECK_EQUAL(unknown.status, 2);
  auto help = run_command({KINBOX_NODE_BIN, "--help"});
  CAF_CHECK_EQUAL(help.status, 0);
  CAF_CHECK(help.out.find("--max-frame-size") != std::string::npos);
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
  auto wrong_key = run_command({KINBOX_NODE_BIN, "--nats", nats.url(), "--cluster", "test",
                                "--node-id", "intruder", "--data-dir", other.str(), "--listen",
                                "127.0.0.1:0"});
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
  auto wrong_pepper = run_command(
      {KINBOX_NODE_BIN, "--nats", nats.url(), "--cluster", "test", "--node-id", "intruder",
       "--data-dir", other.str(), "--key-file", first.data_dir() + "/cluster.key",
       "--pin-pepper-file", pepper_file.string(), "--listen", "127.0.0.1:0"});
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
  for (auto [bin, name] : {std::pair{KINBOX_NODE_BIN, "kinbox-node"}, {KINBOX_CLI_BIN, "kinbox"},
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
                        << "\n" << story;
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
