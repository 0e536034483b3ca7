#define CAF_SUITE config
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "config/node_config.hpp"
#include "gateway/limits.hpp"

using namespace kinbox;

namespace {

config_outcome parse(std::vector<std::string> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), "kinbox-node");
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  std::vector<const char*> envp;
  for (auto& e : env)
    envp.push_back(e.c_str());
  envp.push_back(nullptr);
  return parse_node_config(static_cast<int>(argv.size()), argv.data(), envp.data());
}

node_config ok(const config_outcome& out) {
  if (auto* err = std::get_if<failure>(&out))
    CAF_FAIL("unexpected failure: " << err->message);
  CAF_REQUIRE(std::holds_alternative<node_config>(out));
  return std::get<node_config>(out);
}

std::string error_of(const config_outcome& out) {
  auto* err = std::get_if<failure>(&out);
  CAF_REQUIRE(err != nullptr);
  return err->message;
}

} // namespace

CAF_TEST(defaults are those of a local dev node) {
  auto cfg = ok(parse({}));
  CAF_CHECK_EQUAL(cfg.cluster, "dev");
  CAF_CHECK(cfg.nats_urls.empty());
  CAF_CHECK(cfg.mail_ttl == std::chrono::hours(24 * 15));
  CAF_CHECK_EQUAL(cfg.max_frame_size, 65536u);
  CAF_CHECK_EQUAL(cfg.gateway.port, 7420);
  CAF_CHECK_EQUAL(cfg.effective_key_file(), "kinbox-data/cluster.key");
  CAF_CHECK(cfg.commit_window == std::chrono::milliseconds(1));
  CAF_CHECK(cfg.ack_window == std::chrono::milliseconds(50));
  CAF_CHECK(ok(parse({"--ack-window", "0ms"})).ack_window == std::chrono::milliseconds(0));
}

/// Runs the calling thread on `cpus` until it goes out of scope.
class affinity_guard {
public:
  explicit affinity_guard(const cpu_set_t& cpus) {
    CAF_REQUIRE_EQUAL(sched_getaffinity(0, sizeof(saved_), &saved_), 0);
    CAF_REQUIRE_EQUAL(sched_setaffinity(0, sizeof(cpus), &cpus), 0);
  }
  ~affinity_guard() { sched_setaffinity(0, sizeof(saved_), &saved_); }

private:
  cpu_set_t saved_;
};

CAF_TEST(scheduler threads default to the CPUs the node may run on) {
  cpu_set_t all;
  CAF_REQUIRE_EQUAL(sched_getaffinity(0, sizeof(all), &all), 0);
  auto usable = std::min<size_t>(static_cast<size_t>(CPU_COUNT(&all)), 64);
  CAF_CHECK_EQUAL(ok(parse({})).worker_threads, usable);
  CAF_CHECK_EQUAL(ok(parse({"--worker-threads", "0"})).worker_threads, usable);
  CAF_CHECK_EQUAL(ok(parse({"--worker-threads", "3"})).worker_threads, 3u);
  CAF_CHECK(error_of(parse({"--worker-threads", "65"})).find("--worker-threads") !=
            std::string::npos);
  // Pinned to one CPU (two when the machine has them, so a fixed default shows).
  for (int want : {1, 2}) {
    if (CPU_COUNT(&all) < want)
      continue;
    cpu_set_t some;
    CPU_ZERO(&some);
    for (int cpu = 0, taken = 0; cpu < CPU_SETSIZE && taken < want; ++cpu)
      if (CPU_ISSET(cpu, &all)) {
        CPU_SET(cpu, &some);
        ++taken;
      }
    affinity_guard pinned{some};
    CAF_CHECK_EQUAL(ok(parse({})).worker_threads, static_cast<size_t>(want));
  }
}

CAF_TEST(command line beats config file beats environment) {
  auto file = std::filesystem::temp_directory_path() /
              ("kinbox-config-" + std::to_string(::getpid()) + ".conf");
  std::ofstream{file} << "cluster=fromfile\nnode-id=filenode\nmail-ttl=2h\n";
  auto cfg = ok(parse({"--config", file.string(), "--cluster", "fromcli"},
                      {"KINBOX_CLUSTER=fromenv", "KINBOX_NODE_ID=envnode", "KINBOX_MAIL_TTL=1h",
                       "KINBOX_DATA_DIR=/tmp/envdir", "OTHER=x"}));
  CAF_CHECK_EQUAL(cfg.cluster, "fromcli");
  CAF_CHECK_EQUAL(cfg.node_id, "filenode");
  CAF_CHECK(cfg.mail_ttl == std::chrono::hours(2));
  CAF_CHECK_EQUAL(cfg.data_dir, "/tmp/envdir");
  std::filesystem::remove(file);
}

CAF_TEST(several nats urls split on commas) {
  auto cfg = ok(parse({"--nats", "nats://a:4222,nats://b:4222", "--nats", "nats://c:4222"}));
  CAF_REQUIRE_EQUAL(cfg.nats_urls.size(), 3u);
  CAF_CHECK_EQUAL(cfg.nats_urls[2], "nats://c:4222");
}

CAF_TEST(invalid values are refused naming the option) {
  CAF_CHECK(error_of(parse({"--mail-ttl", "15"})).find("--mail-ttl") != std::string::npos);
  CAF_CHECK(error_of(parse({"--mail-ttl", "0s"})).find("--mail-ttl") != std::string::npos);
  CAF_CHECK(error_of(parse({"--max-frame-size", "100"})).find("--max-frame-size") !=
            std::string::npos);
  CAF_CHECK(error_of(parse({"--listen", "nohost"})).find("--listen") != std::string::npos);
  CAF_CHECK(error_of(parse({"--max-outbound", "64KiB", "--max-frame-size", "64KiB"}))
                .find("--max-outbound") != std::string::npos);
  CAF_CHECK(error_of(parse({"--listen", "h:70000"})).find("--listen") != std::string::npos);
  CAF_CHECK(error_of(parse({"--cluster", "Bad Name"})).find("--cluster") != std::string::npos);
  CAF_CHECK(error_of(parse({"--nats", "http://x"})).find("--nats") != std::string::npos);
  CAF_CHECK(error_of(parse({"--shards", "abc"})).find("shards") != std::string::npos);
  CAF_CHECK(error_of(parse({"--no-such-option"})).find("no-such-option") != std::string::npos);
  CAF_CHECK(error_of(parse({}, {"KINBOX_SWEEP_INTERVAL=1ms"})).find("--sweep-interval") !=
            std::string::npos);
  CAF_CHECK(error_of(parse({"--config", "/nonexistent/kinbox.conf"})).find("--config") !=
            std::string::npos);
  CAF_CHECK(error_of(parse({"--ack-window", "2s"})).find("--ack-window") != std::string::npos);
}

CAF_TEST(misconfigurations are refused by name with where they came from) {
  auto file = (std::filesystem::temp_directory_path() /
               ("kinbox-misconfig-" + std::to_string(::getpid()) + ".conf"))
                  .string();
  struct misconfiguration {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string file_text;
    std::string message; ///< what the error starts with
  };
  std::vector<misconfiguration> cases{
      {{"/some/dir"}, {}, "", "unexpected argument '/some/dir'"},
      {{"--data-dir", "/a", "extra"}, {}, "", "unexpected argument 'extra'"},
      {{}, {"KINBOX_DATADIR=/x"}, "", "unknown environment variable KINBOX_DATADIR"},
      {{}, {"KINBOX_MAIL_TTL=15"}, "", "KINBOX_MAIL_TTL: invalid value for --mail-ttl"},
      {{"--config", file}, {}, "cluster=a\n\nno-such=1\n", file + ":3: unknown option 'no-such'"},
      {{"--config", file},
       {},
       "# a comment\nmail-ttl=15 # no unit\n",
       file + ":2: invalid value for --mail-ttl"},
      {{"--config", file}, {}, "shards=abc\n", file + ":1: invalid value for --shards"},
      {{"--config", file}, {}, "just words\n", file + ":1: expected name=value"},
      {{"--config", file}, {}, "help=1\n", file + ":1: unknown option 'help'"},
      {{"--config", file, "--mail-ttl", "15"}, {}, "mail-ttl=1h\n", "invalid value for --mail-ttl"},
      {{"--log-level", "loud"}, {}, "", "invalid value for --log-level"},
      {{"--metrics-listen", "nowhere"}, {}, "", "invalid value for --metrics-listen"},
  };
  for (auto& c : cases) {
    std::ofstream{file} << c.file_text;
    auto message = error_of(parse(c.args, c.env));
    CAF_CHECK_EQUAL(message.substr(0, c.message.size()), c.message);
  }
  std::filesystem::remove(file);
  // The names the logs print, and kinbox's own scripts' variables, are fine.
  CAF_CHECK_EQUAL(ok(parse({"--log-level", "warning"})).log_level, "warning");
  CAF_CHECK_EQUAL(ok(parse({"--log-level", "critical"})).log_level, "critical");
  CAF_CHECK_EQUAL(ok(parse({}, {"KINBOX_KEEP_TEST_DIRS=1", "KINBOX_BUILD=/b"})).cluster, "dev");
}

CAF_TEST(the packaged example config file is valid) {
  auto cfg =
      ok(parse({"--config", std::string{KINBOX_SOURCE_DIR} + "/config/package/kinbox-node.conf"}));
  CAF_CHECK_EQUAL(cfg.data_dir, "/var/lib/kinbox");
  CAF_CHECK_EQUAL(cfg.cluster, "dev");
  // Each commented-out line, uncommented as an operator would, is a valid setting.
  std::ifstream in{std::string{KINBOX_SOURCE_DIR} + "/config/package/kinbox-node.conf"};
  auto path = std::filesystem::temp_directory_path() / "kinbox-uncommented.conf";
  std::ofstream out{path};
  std::regex setting{"# [a-z][a-z0-9-]*=[^ ]*"};
  size_t uncommented = 0;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, setting)) {
      out << line.substr(2) << "\n";
      ++uncommented;
    }
  }
  out.close();
  CAF_CHECK_GREATER(uncommented, 50u);
  auto all = parse({"--config", path.string()});
  if (auto* err = std::get_if<failure>(&all))
    CAF_FAIL("an uncommented line is refused: " << err->message);
  std::filesystem::remove(path);
}

CAF_TEST(help documents every option) {
  auto out = parse({"--help"});
  auto* help = std::get_if<help_request>(&out);
  CAF_REQUIRE(help != nullptr);
  for (auto opt :
       {"--cluster", "--node-id", "--data-dir", "--listen", "--nats", "--key-file", "--mail-ttl",
        "--max-frame-size", "--sweep-interval", "--log-level", "--commit-window", "--ack-window"})
    CAF_CHECK(help->text.find(opt) != std::string::npos);
}

CAF_TEST(durations and sizes parse with units) {
  CAF_CHECK(*parse_duration("250ms") == std::chrono::milliseconds(250));
  CAF_CHECK(*parse_duration("15d") == std::chrono::hours(360));
  CAF_CHECK(!parse_duration("d"));
  CAF_CHECK(!parse_duration("5y"));
  auto kib = parse_size("64KiB");
  CAF_CHECK(kib && *kib == 65536u);
  auto mib = parse_size("2M");
  CAF_CHECK(mib && *mib == (2u << 20));
  CAF_CHECK(!parse_size("12XB"));
}

CAF_TEST(limits and caps are read from their options) {
  auto cfg = ok(parse({"--limit-requests", "10", "--limit-registrations-per-address", "36",
                       "--limit-connections-per-address", "7", "--mailbox-cap-count", "50"}));
  CAF_CHECK_EQUAL(cfg.limits.requests_per_connection.per_second, 10.0);
  CAF_CHECK_EQUAL(cfg.limits.requests_per_connection.burst, 100.0);
  CAF_CHECK_EQUAL(cfg.limits.registrations_per_address.per_second, 0.01); // 36 an hour
  CAF_CHECK_EQUAL(cfg.limits.registrations_per_address.burst, 36.0);
  CAF_CHECK_EQUAL(cfg.limits.connections_per_address, 7u);
  CAF_CHECK_EQUAL(cfg.mailbox_cap_count, 50u);
  CAF_CHECK(error_of(parse({"--limit-requests", "-1"})).find("--limit-requests") !=
            std::string::npos);
  CAF_CHECK(error_of(parse({"--mailbox-cap-count", "0"})).find("--mailbox-cap-count") !=
            std::string::npos);
  CAF_CHECK(error_of(parse({"--mailbox-cap-bytes", "1KiB"})).find("--mailbox-cap-bytes") !=
            std::string::npos);
}

CAF_TEST(friend request limits are read from their options) {
  auto defaults = ok(parse({}));
  CAF_CHECK_EQUAL(defaults.friend_limits.requests.burst, 20.0);
  CAF_CHECK_EQUAL(defaults.friend_limits.request_ttl_ms, 7ull * 24 * 3600 * 1000);
  auto cfg = ok(parse({"--friend-requests-per-hour", "36", "--friend-request-ttl", "2d",
                       "--friend-request-cooldown", "0s"}));
  CAF_CHECK_EQUAL(cfg.friend_limits.requests.per_second, 0.01);
  CAF_CHECK_EQUAL(cfg.friend_limits.requests.burst, 36.0);
  CAF_CHECK_EQUAL(cfg.friend_limits.request_ttl_ms, 2ull * 24 * 3600 * 1000);
  CAF_CHECK_EQUAL(cfg.friend_limits.cooldown_ms, 0u);
  CAF_CHECK(error_of(parse({"--friend-request-ttl", "10s"})).find("--friend-request-ttl") !=
            std::string::npos);
  CAF_CHECK(
      error_of(parse({"--friend-requests-per-hour", "-3"})).find("--friend-requests-per-hour") !=
      std::string::npos);
}

CAF_TEST(the avatar cap is read from its option and fits in a frame) {
  CAF_CHECK_EQUAL(ok(parse({})).avatar_max_bytes, 32u << 10);
  CAF_CHECK_EQUAL(ok(parse({"--avatar-max-bytes", "8KiB"})).avatar_max_bytes, 8u << 10);
  CAF_CHECK(error_of(parse({"--avatar-max-bytes", "64KiB"})).find("--avatar-max-bytes") !=
            std::string::npos);
  CAF_CHECK_EQUAL(
      ok(parse({"--max-frame-size", "1MiB", "--avatar-max-bytes", "512KiB"})).avatar_max_bytes,
      512u << 10);
  CAF_CHECK_EQUAL(ok(parse({"--max-frame-size", "16KiB"})).avatar_max_bytes, 15u << 10);
}

CAF_TEST(the location TTL is read from its option and bounded) {
  CAF_CHECK_EQUAL(ok(parse({})).location_ttl.count(), 600'000);
  CAF_CHECK_EQUAL(ok(parse({"--location-ttl", "90s"})).location_ttl.count(), 90'000);
  CAF_CHECK(error_of(parse({"--location-ttl", "1s"})).find("--location-ttl") != std::string::npos);
  CAF_CHECK(error_of(parse({"--location-ttl", "2d"})).find("--location-ttl") != std::string::npos);
}

CAF_TEST(a token bucket gives its burst then its rate and says how long to wait) {
  token_bucket b;
  rate_limit limit{10, 3};
  auto t0 = limit_clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(!b.take(limit, t0));
  auto wait = b.take(limit, t0);
  CAF_REQUIRE(wait);
  CAF_CHECK_EQUAL(wait->count(), 100); // one token every 100 ms
  CAF_CHECK(!b.take(limit, t0 + std::chrono::milliseconds(100)));
  CAF_CHECK(b.take(limit, t0 + std::chrono::milliseconds(150)));
  CAF_CHECK(!b.full(limit, t0 + std::chrono::milliseconds(200)));
  CAF_CHECK(b.full(limit, t0 + std::chrono::seconds(1)));
  token_bucket unlimited;
  for (int i = 0; i < 1000; ++i)
    CAF_CHECK(!unlimited.take(rate_limit{0, 0}, t0));
}
