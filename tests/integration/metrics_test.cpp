// The node's HTTP endpoint through a real node, nats-server and TCP: /metrics parses as
// Prometheus text (a parser of the exposition format, not a search for a name), its
// counters move with a scripted conversation and no label carries an account id;
// /healthz turns 503 with the reason while the node's NATS is down and 200 when it is back;
// /readyz answers 200 while the node serves.
#define CAF_SUITE metrics
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "actors/user_interface.hpp"
#include "cluster/embedded_nats.hpp"
#include "cluster/shard_map.hpp"
#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

struct http_answer {
  int status = 0;
  std::string body;
};

/// GET `path` from 127.0.0.1:`port` (HTTP/1.1, the server closes the connection).
http_answer http_get(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  http_answer out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  auto request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)::write(fd, request.data(), request.size());
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos)
    return out;
  out.status = std::stoi(raw.substr(9, 3));
  out.body = raw.substr(head_end + 4);
  return out;
}

/// One sample of the exposition: a metric name, its labels and value.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// A parse of the Prometheus text format 0.0.4: every sample belongs to a family whose
/// TYPE came first, names and labels are well formed, values are numbers, and each
/// histogram's buckets grow up to +Inf, which equals its _count.
struct exposition {
  std::map<std::string, std::string> types; ///< family -> counter, gauge, histogram, ...
  std::vector<sample> samples;
  std::string error; ///< empty when it parsed

  double value(const std::string& name,
               const std::map<std::string, std::string>& labels = {}) const {
    for (auto& s : samples)
      if (s.name == name && s.labels == labels)
        return s.value;
    return std::nan("");
  }
};

/// The family of a sample name: a histogram's _bucket, _sum and _count belong to it.
std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s{suffix};
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      auto base = name.substr(0, name.size() - s.size());
      if (types.count(base) && types.at(base) == "histogram")
        return base;
    }
  }
  return name;
}

exposition parse_exposition(const std::string& text) {
  exposition out;
  static const std::regex metric_name{"[a-zA-Z_:][a-zA-Z0-9_:]*"};
  static const std::regex label_name{"[a-zA-Z_][a-zA-Z0-9_]*"};
  std::istringstream in{text};
  std::string line;
  size_t number = 0;
  auto fail = [&](const std::string& why) {
    out.error = "line " + std::to_string(number) + ": " + why + ": " + line;
  };
  while (out.error.empty() && std::getline(in, line)) {
    ++number;
    if (line.empty())
      continue;
    if (line[0] == '#') {
      std::istringstream words{line};
      std::string hash, keyword, name, rest;
      words >> hash >> keyword >> name;
      if (keyword == "TYPE") {
        words >> rest;
        if (!std::regex_match(name, metric_name))
          fail("bad metric name");
        else if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" &&
                 rest != "untyped")
          fail("bad type");
        else if (out.types.count(name))
          fail("a second TYPE");
        else
          out.types[name] = rest;
      }
      continue;
    }
    sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, metric_name)) {
      fail("bad sample name");
      break;
    }
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          fail("bad label");
          break;
        }
        auto key = line.substr(i, eq - i);
        if (!std::regex_match(key, label_name)) {
          fail("bad label name");
          break;
        }
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            value.push_back(line[j]);
          }
        }
        if (j >= line.size()) {
          fail("unterminated label value");
          break;
        }
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      if (!out.error.empty())
        break;
      if (i >= line.size()) {
        fail("unterminated labels");
        break;
      }
      ++i; // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      fail("no value");
      break;
    }
    auto value = line.substr(i + 1);
    if (auto space = value.find(' '); space != std::string::npos)
      value = value.substr(0, space); // a timestamp follows
    char* end = nullptr;
    s.value = value == "+Inf"   ? INFINITY
              : value == "-Inf" ? -INFINITY
                                : std::strtod(value.c_str(), &end);
    if (value != "+Inf" && value != "-Inf" && value != "NaN" &&
        (end == value.c_str() || *end != '\0')) {
      fail("value is not a number");
      break;
    }
    if (!out.types.count(family_of(s.name, out.types))) {
      fail("a sample before its TYPE");
      break;
    }
    out.samples.push_back(std::move(s));
  }
  // Histograms: cumulative buckets ending at +Inf, equal to _count, per label set.
  for (auto& [family, type] : out.types) {
    if (type != "histogram" || !out.error.empty())
      continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    for (auto& s : out.samples)
      if (s.name == family + "_bucket") {
        auto labels = s.labels;
        auto le = labels["le"];
        labels.erase("le");
        buckets[labels].push_back({le == "+Inf" ? INFINITY : std::stod(le), s.value});
      }
    for (auto& [labels, list] : buckets) {
      for (size_t k = 1; k < list.size(); ++k)
        if (list[k].first <= list[k - 1].first || list[k].second < list[k - 1].second)
          out.error = family + ": buckets do not grow";
      if (list.empty() || !std::isinf(list.back().first) ||
          list.back().second != out.value(family + "_count", labels))
        out.error = family + ": +Inf is not the count";
    }
  }
  return out;
}

exposition scrape(uint16_t port) {
  auto got = http_get(port, "/metrics");
  CAF_REQUIRE_EQUAL(got.status, 200);
  auto parsed = parse_exposition(got.body);
  CAF_REQUIRE_EQUAL(parsed.error, "");
  return parsed;
}

struct fixture : nats_fixture {
  uint16_t metrics_port = pick_free_port();
  node n{&nats, {"--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)}};
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(metrics_tests, fixture)

CAF_TEST(metrics parse as Prometheus text and move with a conversation) {
  auto before = scrape(metrics_port);
  // Series by limit exist before any refusal.
  for (auto* limit : {"requests", "registrations", "handshakes", "code_guesses", "connections"})
    CAF_CHECK_EQUAL(before.value("kinbox_rate_limited_total", {{"limit", limit}}), 0);
  auto [amy, ben] = make_friends(n, "Amy", "Ben");
  std::vector<std::string> texts{"one", "two", "three", "four", "five"};
  send_pipelined(amy, ben.id, texts);
  CAF_REQUIRE_EQUAL(receive_n(ben, texts.size(), 5s).size(), texts.size());
  std::optional<exposition> after;
  // The acks and the store's gauges come a moment later.
  CAF_CHECK(eventually(
      [&] {
        after = scrape(metrics_port);
        return after->value("kinbox_mail_delivered_total") -
                   before.value("kinbox_mail_delivered_total") >=
               5;
      },
      10s));
  auto moved = [&](const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    auto was = before.value(name, labels);
    return after->value(name, labels) - (std::isnan(was) ? 0 : was); // a series may be new
  };
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_mail_accepted_total"), 5);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_frames_in_total", {{"type", "send"}}), 5);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_frames_out_total", {{"type", "accepted"}}), 5);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_logins_total", {{"result", "ok"}}), 2);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_entity_request_seconds_count", {{"kind", "user"}}), 5);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_store_commit_seconds_count"), 1);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_kv_call_seconds_count"), 1);
  CAF_CHECK_EQUAL(after->value("kinbox_sessions"), 2);
  CAF_CHECK_GREATER(after->value("kinbox_lmdb_map_size_bytes"), 0);
  CAF_CHECK_EQUAL(after->value("kinbox_messages_lost_total"), 0);
  // No label names an account, nor carries anything but the kinds the docs list.
  std::set<std::string> allowed{"type", "reason", "result", "kind", "limit", "version", "le"};
  for (auto& s : after->samples)
    for (auto& [key, value] : s.labels) {
      CAF_CHECK(allowed.count(key) == 1);
      CAF_CHECK(value.find(std::to_string(amy.id)) == std::string::npos);
      CAF_CHECK(value.find(std::to_string(ben.id)) == std::string::npos);
    }
}

CAF_TEST(pin checks lockouts rate limits bus messages and shard moves move their counters) {
  auto before = scrape(metrics_port);
  // A child's PIN: one right try, then wrong ones until it locks.
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  CAF_REQUIRE(mum->pin_set(mia.id, "2741"));
  auto ben = make_user(n, "Ben");
  auto cat = make_user(n, "Cat");
  CAF_REQUIRE(mia->friend_add(ben.id));
  CAF_REQUIRE(mia->approval_by_pin(ben.id, true, "2741"));
  CAF_REQUIRE(mia->friend_add(cat.id));
  std::optional<errc> last;
  for (int i = 0; i < 6 && last != errc::pin_locked; ++i) {
    auto wrong = mia->approval_by_pin(cat.id, true, "0000");
    CAF_REQUIRE(!wrong);
    last = wrong.error().code;
  }
  CAF_CHECK(last == errc::pin_locked);
  // Mail waits on this node for Dan, whose shard goes to node2 when it joins.
  auto placement = cluster_probe{nats}.placement_now();
  CAF_REQUIRE(placement);
  auto targets = rendezvous_targets(placement->shards, {"node1", "node2"});
  auto goes_to_node2 = [&](account_id id) {
    return targets[shard_of(placement->shards, user_kind, id)] == 1;
  };
  std::optional<user> dan;
  for (int i = 0; i < 16 && !dan; ++i)
    if (auto u = make_user(n, "Dan"); goes_to_node2(u.id))
      dan = std::move(u);
  CAF_REQUIRE(dan);
  befriend(ben, *dan);
  dan->conn.reset();
  // The mailbox gauges follow what is stored, however close together the commits.
  auto stored_reaches = [&](double count) {
    return eventually(
        [&] { return scrape(metrics_port).value("kinbox_mailbox_envelopes") >= count; }, 10s);
  };
  send_pipelined(ben, dan->id, {"while you were out"});
  CAF_CHECK(stored_reaches(1));
  send_pipelined(ben, dan->id, {"still out"});
  CAF_CHECK(stored_reaches(2));
  uint16_t metrics2 = pick_free_port();
  node n2{&nats,
          {"--metrics-listen", "127.0.0.1:" + std::to_string(metrics2), "--limit-requests", "1",
           "--key-file", n.data_dir() + "/cluster.key"},
          "node2"};
  cluster_probe probe{nats};
  CAF_REQUIRE(eventually([&] { return probe.settled(2); }, 30s));
  CAF_REQUIRE_EQUAL(probe.owner_of(dan->id), "node2");
  // Ben's session on node1 now reaches Dan's actor on node2 over the bus.
  send_pipelined(ben, dan->id, {"and again"});
  // node2 takes one request a second (bursts of ten) from a connection.
  auto eve = make_user(n2, "Eve");
  bool limited = false;
  for (int i = 0; i < 30 && !limited; ++i) {
    auto asked = eve->approvals(eve.id);
    limited = !asked && asked.error().code == errc::rate_limited;
  }
  CAF_CHECK(limited);
  auto after = scrape(metrics_port);
  auto moved = [&](const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    auto was = before.value(name, labels);
    return after.value(name, labels) - (std::isnan(was) ? 0 : was);
  };
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_pin_checks_total", {{"result", "right"}}), 1);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_pin_checks_total", {{"result", "wrong"}}), 5);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_pin_lockouts_total"), 1);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_shard_moves_total"), 1);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_handoff_envelopes_total"), 1);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_bus_messages_total"), 1);
  CAF_CHECK_GREATER_OR_EQUAL(moved("kinbox_bus_batches_total"), 1);
  CAF_CHECK_LESS_OR_EQUAL(moved("kinbox_bus_batches_total"), moved("kinbox_bus_messages_total"));
  auto second = scrape(metrics2);
  CAF_CHECK_GREATER_OR_EQUAL(second.value("kinbox_rate_limited_total", {{"limit", "requests"}}), 1);
  // The stored messages reach Dan, now served by node2.
  reconnect(*dan, n2);
  CAF_CHECK_EQUAL(receive_n(*dan, 3, 10s).size(), 3u);
  CAF_CHECK_EQUAL(second.value("kinbox_messages_lost_total"), 0);
}

CAF_TEST(healthz turns 503 while the node NATS is down and 200 when it is back) {
  CAF_CHECK(eventually([&] { return http_get(metrics_port, "/healthz").status == 200; }, 10s));
  CAF_CHECK_EQUAL(http_get(metrics_port, "/readyz").status, 200);
  // Exactly these paths: nothing else is served, nor a path they begin.
  for (auto* other : {"/", "/metricsfoo", "/healthz/x", "/etc/passwd", "/../cluster.key"})
    CAF_CHECK_EQUAL(http_get(metrics_port, other).status, 404);
  nats.stop();
  http_answer down;
  CAF_CHECK(eventually(
      [&] {
        down = http_get(metrics_port, "/healthz");
        return down.status == 503;
      },
      20s));
  CAF_CHECK(down.body.find("NATS") != std::string::npos ||
            down.body.find("KV") != std::string::npos ||
            down.body.find("lease") != std::string::npos);
  // Past its lease the node serves no shard: a load balancer stops sending apps to it.
  CAF_CHECK(eventually([&] { return http_get(metrics_port, "/readyz").status == 503; }, 20s));
  nats.start();
  CAF_CHECK(eventually([&] { return http_get(metrics_port, "/healthz").status == 200; }, 30s));
  CAF_CHECK_EQUAL(http_get(metrics_port, "/readyz").status, 200);
  // Answering /healthz leaves nothing behind that holds up a stop.
  CAF_CHECK_EQUAL(n.stop(), 0);
}

CAF_TEST_FIXTURE_SCOPE_END()
