// kinbox-bench: the same 1:1 messaging workload against kinbox, MQTT (mosquitto), raw NATS
// and kinbox-bench-relay (the loopback floor), side by side, with kinbox's ratio to each.
// scripts/bench starts the servers and runs it; docs/performance.md explains the figures.
#include <boost/program_options.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <tuple>

#include <unistd.h>

#include <nats/nats.h>

#include "bench/payload.hpp"
#include "bench/report.hpp"
#include "bench/runner.hpp"
#include "client/client.hpp"
#include "config/version.hpp"
#include "crypto/crypto.hpp"

namespace po = boost::program_options;
using namespace kinbox;
using namespace kinbox::bench;

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty())
      out.push_back(item);
  return out;
}

std::vector<pid_t> pids_of(const std::string& text) {
  std::vector<pid_t> out;
  for (auto& p : split(text))
    out.push_back(static_cast<pid_t>(std::stol(p)));
  return out;
}

/// "SECONDS=LABEL=COMMAND"
timed_event parse_event(const std::string& text) {
  auto first = text.find('=');
  auto second = first == std::string::npos ? first : text.find('=', first + 1);
  if (second == std::string::npos)
    throw std::runtime_error("--event takes SECONDS=LABEL=COMMAND, not '" + text + "'");
  return timed_event{std::stod(text.substr(0, first)), text.substr(first + 1, second - first - 1),
                     text.substr(second + 1)};
}

/// The run of median throughput.
run_result median(std::vector<run_result> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const run_result& a, const run_result& b) { return a.throughput < b.throughput; });
  return runs[runs.size() / 2];
}

run_result median_run(system_under_test& sys, const run_config& cfg, const std::vector<pid_t>& pids,
                      int repeat) {
  std::vector<run_result> runs;
  bool tty = ::isatty(2) != 0;
  for (int i = 0; i < repeat; ++i)
    runs.push_back(run_workload(sys, cfg, pids, [tty](const std::string& line) {
      std::cerr << (tty ? "\r" : "") << line << (tty ? "   " : "\n") << std::flush;
    }));
  if (tty)
    std::cerr << "\r" << std::string(90, ' ') << "\r";
  return median(std::move(runs));
}

} // namespace

int main(int argc, char** argv) {
  po::options_description desc{"usage: kinbox-bench [options]\n\noptions"};
  // clang-format off
  desc.add_options()
    ("help,h", "print this help")
    ("version", "print the version and exit")
    ("kinbox", po::value<std::string>(), "kinbox gateway HOST:PORT")
    ("kinbox-pid", po::value<pid_t>()->default_value(0), "kinbox-node pid (for CPU and RSS)")
    ("kinbox-nats-pid", po::value<pid_t>()->default_value(0),
     "pid of the nats-server of the kinbox cluster (idle cost in the density mode)")
    ("cross", po::value<std::string>(),
     "gateways A,B (HOST:PORT) of two nodes of one cluster for the cross-node and timeline "
     "runs: senders on A, their recipients on B")
    ("cluster-pids", po::value<std::string>(),
     "comma list of the cross-node cluster's server pids (both nodes and their nats-server)")
    ("mqtt", po::value<std::string>(), "mosquitto broker HOST:PORT (runs QoS 0 and QoS 1)")
    ("mqtt-pid", po::value<pid_t>()->default_value(0), "mosquitto pid")
    ("nats", po::value<std::string>(), "nats-server URL for the raw NATS run")
    ("nats-pid", po::value<pid_t>()->default_value(0), "nats-server pid")
    ("relay", po::value<std::string>(),
     "kinbox-bench-relay HOST:PORT (the loopback floor: bytes in, bytes out)")
    ("relay-pid", po::value<pid_t>()->default_value(0), "kinbox-bench-relay pid")
    ("suite", po::value<std::string>()->default_value("closed,open,offline"),
     "comma list of: closed, open, sweep, offline, density, cross (kinbox-2n and nats-rr "
     "closed and open), timeline (open loop while --event commands run), location "
     "(children send locations to online and offline parents), pin (closed loop with and "
     "without a flood of wrong parent PINs, alternating), probe (a stranger's requests to "
     "ordinary, unknown, deleted and blocking ids: answers and latency), group (a sender "
     "and groups of --group-sizes members, half online: CPU per group message and per copy "
     "beside 1:1, upload bytes, send-to-last-push latency; on --kinbox, and across --cross), "
     "calls (a caller rings a friend who answers at once, --calls times: offer-to-push and "
     "answer-to-push latency beside a 1:1 message's; on --kinbox, and across --cross), "
     "moments (a poster posts to --moment-friends friends, half online: CPU per post and per "
     "copy beside group mail to them; on --kinbox, and across --cross), quiet (--quiet-children "
     "children online in quiet hours with --quiet-messages each waiting, all released at one "
     "minute, while two others talk at --quiet-rate: release time and the talk's latency "
     "before and during it; on --kinbox)")
    ("calls", po::value<uint64_t>()->default_value(500), "calls: calls (and 1:1 messages) per run")
    ("moment-friends", po::value<size_t>()->default_value(50), "moments: the poster's friends")
    ("moment-posts", po::value<uint64_t>()->default_value(500), "moments: posts (and group messages)")
    ("quiet-children", po::value<size_t>()->default_value(1000), "quiet: children (ten per parent)")
    ("quiet-messages", po::value<size_t>()->default_value(10), "quiet: messages waiting per child")
    ("quiet-rate", po::value<double>()->default_value(200), "quiet: the conversation's msgs/s")
    ("group-sizes", po::value<std::string>()->default_value("8,32"), "group: group sizes")
    ("group-messages", po::value<uint64_t>()->default_value(1000),
     "group: messages per group size and loop")
    ("probes", po::value<size_t>()->default_value(200), "probe: targets of each kind")
    ("probe-wait", po::value<double>()->default_value(130),
     "probe: seconds between setup and probes (past the idle time of the targets' actors)")
    ("families", po::value<size_t>()->default_value(300), "location: parent-child pairs")
    ("location-interval", po::value<double>()->default_value(2),
     "location: seconds between one child's updates")
    ("location-seconds", po::value<double>()->default_value(30), "location: how long")
    ("pin-children", po::value<size_t>()->default_value(128),
     "pin: linked children whose apps try wrong PINs (each locks after a few)")
    ("pin-threads", po::value<size_t>()->default_value(48),
     "pin: flooding threads (more than the node's PIN queue holds, so it stays full)")
    ("timeline-rate", po::value<double>()->default_value(20000), "timeline: total msgs/s")
    ("timeline-seconds", po::value<double>()->default_value(40), "timeline: seconds")
    ("event", po::value<std::vector<std::string>>()->composing(),
     "timeline: SECONDS=LABEL=COMMAND, a shell command run in the background at that time "
     "(e.g. start a node, drain one); repeatable")
    ("idle-seconds", po::value<double>()->default_value(60),
     "density: how long the idle sessions are held while the servers' CPU is counted")
    ("pairs", po::value<size_t>()->default_value(8), "sender/receiver pairs")
    ("messages", po::value<uint64_t>()->default_value(200000), "messages per run, all pairs")
    ("window", po::value<size_t>()->default_value(64), "closed loop: messages in flight per pair")
    ("rate", po::value<double>()->default_value(0),
     "open loop: total msgs/s; 0 = half of each system's closed-loop throughput")
    ("sweep-rates", po::value<std::string>()->default_value("5000,20000,60000,110000"),
     "sweep: total msgs/s of each open-loop run, the same for every system")
    ("sweep-seconds", po::value<double>()->default_value(8), "sweep: seconds per rate")
    ("repeat", po::value<int>()->default_value(1),
     "runs per closed and open figure; the median is reported (the sweep runs once)")
    ("offline-messages", po::value<size_t>()->default_value(100000), "offline mode backlog")
    ("sessions", po::value<size_t>()->default_value(15000), "density mode idle sessions")
    ("session-threads", po::value<size_t>()->default_value(4), "threads opening idle sessions")
    ("work-dir", po::value<std::string>(), "where client profiles go (default: a temp dir)")
    ("json", po::value<std::string>(), "write the results as JSON to this file")
    ("png", po::value<std::string>(), "write a chart to this PNG file (needs gnuplot)");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kinbox-bench: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("version")) {
    std::cout << "kinbox-bench " << kinbox::version << "\n";
    return 0;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (!crypto::init())
    return 1;
  auto suite = split(vm["suite"].as<std::string>());
  auto has = [&](const char* s) { return std::find(suite.begin(), suite.end(), s) != suite.end(); };
  std::vector<double> sweep_rates;
  if (has("sweep"))
    for (auto& text : split(vm["sweep-rates"].as<std::string>())) {
      char* end = nullptr;
      auto rate = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || !(rate > 0)) {
        std::cerr << "kinbox-bench: --sweep-rates: " << text << " is not a positive rate\n";
        return 2;
      }
      sweep_rates.push_back(rate);
    }
  auto work_dir = vm.count("work-dir") ? vm["work-dir"].as<std::string>()
                                       : (std::filesystem::temp_directory_path() /
                                          ("kinbox-bench-" + std::to_string(::getpid())))
                                             .string();
  std::filesystem::create_directories(work_dir);

  struct entry {
    std::unique_ptr<system_under_test> sys;
    std::vector<pid_t> pids;
  };
  std::vector<entry> systems;
  std::vector<entry> cross; // kinbox across nodes, and its floor: NATS request/reply
  std::unique_ptr<system_under_test> timeline_sys;
  std::string kinbox_host;
  uint16_t kinbox_port = 0;
  // --cross: senders' gateway A, recipients' gateway B, and the cluster's server pids.
  std::string a_host, b_host;
  uint16_t a_port = 0, b_port = 0;
  std::vector<pid_t> cluster_pids;
  try {
    if (vm.count("kinbox")) {
      auto hp = client::split_host_port(vm["kinbox"].as<std::string>());
      if (!hp)
        throw std::runtime_error(hp.error().message);
      kinbox_host = hp->first;
      kinbox_port = hp->second;
      systems.push_back({make_kinbox(kinbox_host, kinbox_port, work_dir + "/runs"),
                         {vm["kinbox-pid"].as<pid_t>()}});
    }
    if (vm.count("cross")) {
      auto gateways = split(vm["cross"].as<std::string>());
      if (gateways.size() != 2)
        throw std::runtime_error("--cross takes two gateways A,B");
      auto a = client::split_host_port(gateways[0]);
      auto b = client::split_host_port(gateways[1]);
      if (!a || !b)
        throw std::runtime_error(!a ? a.error().message : b.error().message);
      std::tie(a_host, a_port) = *a;
      std::tie(b_host, b_port) = *b;
      if (vm.count("cluster-pids"))
        cluster_pids = pids_of(vm["cluster-pids"].as<std::string>());
      if (has("cross"))
        cross.push_back({make_kinbox_cross(a_host, a_port, b_host, b_port, work_dir + "/cross",
                                           "kinbox-2n", false),
                         cluster_pids});
      if (has("timeline"))
        timeline_sys = make_kinbox_cross(a_host, a_port, b_host, b_port, work_dir + "/timeline",
                                         "kinbox-join", true);
    }
    if (vm.count("mqtt")) {
      auto hp = client::split_host_port(vm["mqtt"].as<std::string>());
      if (!hp)
        throw std::runtime_error(hp.error().message);
      systems.push_back({make_mqtt(hp->first, hp->second, 0), {vm["mqtt-pid"].as<pid_t>()}});
      systems.push_back({make_mqtt(hp->first, hp->second, 1), {vm["mqtt-pid"].as<pid_t>()}});
    }
    if (vm.count("nats")) {
      systems.push_back({make_nats(vm["nats"].as<std::string>()), {vm["nats-pid"].as<pid_t>()}});
      if (has("cross"))
        cross.push_back(
            {make_nats_request_reply(vm["nats"].as<std::string>()), {vm["nats-pid"].as<pid_t>()}});
    }
    if (vm.count("relay")) {
      auto hp = client::split_host_port(vm["relay"].as<std::string>());
      if (!hp)
        throw std::runtime_error(hp.error().message);
      systems.push_back({make_relay(hp->first, hp->second), {vm["relay-pid"].as<pid_t>()}});
    }
  } catch (const std::exception& e) {
    std::cerr << "kinbox-bench: " << e.what() << "\n";
    return 1;
  }
  if (systems.empty() && cross.empty() && !timeline_sys && !(has("group") && vm.count("cross"))) {
    std::cerr << "kinbox-bench: give at least one of --kinbox, --mqtt, --nats, --relay\n";
    return 2;
  }

  run_config cfg;
  cfg.pairs = vm["pairs"].as<size_t>();
  cfg.messages = vm["messages"].as<uint64_t>();
  cfg.window = vm["window"].as<size_t>();
  auto repeat = std::max(1, vm["repeat"].as<int>());
  std::vector<run_result> results;
  std::map<std::string, double> max_rate;
  extra_figures extra;
  try {
    if (has("closed") || has("open"))
      for (auto& e : systems) {
        cfg.mode = load_mode::closed;
        auto r = median_run(*e.sys, cfg, e.pids, repeat);
        max_rate[r.system] = r.throughput;
        if (has("closed"))
          results.push_back(r);
      }
    if (has("open"))
      for (auto& e : systems) {
        cfg.mode = load_mode::open;
        auto fixed = vm["rate"].as<double>();
        cfg.rate = fixed > 0 ? fixed : std::max(100.0, max_rate[e.sys->name()] / 2);
        results.push_back(median_run(*e.sys, cfg, e.pids, repeat));
      }
    // Across nodes: closed loop, then open loop at half of kinbox-2n's closed-loop rate for
    // both kinbox-2n and raw NATS request/reply (the same rate: the p99 ratio target).
    double cross_rate = 0;
    for (auto& e : cross) {
      cfg.mode = load_mode::closed;
      auto r = median_run(*e.sys, cfg, e.pids, repeat);
      if (r.system == "kinbox-2n")
        cross_rate = std::max(100.0, r.throughput / 2);
      results.push_back(r);
    }
    for (auto& e : cross) {
      cfg.mode = load_mode::open;
      cfg.rate = cross_rate > 0 ? cross_rate : 10000;
      results.push_back(median_run(*e.sys, cfg, e.pids, repeat));
    }
    if (timeline_sys) {
      auto t = cfg;
      t.mode = load_mode::timeline;
      t.rate = vm["timeline-rate"].as<double>();
      t.messages = static_cast<uint64_t>(t.rate * vm["timeline-seconds"].as<double>());
      if (vm.count("event"))
        for (auto& text : vm["event"].as<std::vector<std::string>>())
          t.events.push_back(parse_event(text));
      auto pids = vm.count("cluster-pids") ? pids_of(vm["cluster-pids"].as<std::string>())
                                           : std::vector<pid_t>{};
      results.push_back(median_run(*timeline_sys, t, pids, 1));
    }
    for (auto rate : sweep_rates) {
      auto sweep = cfg;
      sweep.mode = load_mode::sweep;
      sweep.rate = rate;
      auto messages = rate * vm["sweep-seconds"].as<double>();
      sweep.messages = std::max<uint64_t>(cfg.pairs, static_cast<uint64_t>(messages));
      for (auto& e : systems)
        results.push_back(median_run(*e.sys, sweep, e.pids, 1));
    }
    if (has("offline")) {
      auto n = vm["offline-messages"].as<size_t>();
      extra.offline_messages = n;
      if (kinbox_port != 0) {
        auto secs = kinbox_offline_drain(kinbox_host, kinbox_port, work_dir + "/offline", n);
        extra.offline_drain_rate = static_cast<double>(n) / secs;
      }
      if (vm.count("mqtt")) {
        auto hp = client::split_host_port(vm["mqtt"].as<std::string>());
        extra.mqtt_offline_drain_rate =
            static_cast<double>(n) / mqtt_offline_drain(hp->first, hp->second, n);
      }
    }
    if (has("pin") && kinbox_port != 0) {
      // Closed loop without and with a PIN flood, alternating, median of each.
      auto& kinbox = systems.front();
      pin_flood flood(kinbox_host, kinbox_port, work_dir + "/pin", vm["pin-children"].as<size_t>(),
                      vm["pin-threads"].as<size_t>());
      cfg.mode = load_mode::closed;
      std::vector<run_result> quiet, flooded;
      for (int i = 0; i < repeat; ++i) {
        quiet.push_back(median_run(*kinbox.sys, cfg, kinbox.pids, 1));
        flood.start();
        flooded.push_back(median_run(*kinbox.sys, cfg, kinbox.pids, 1));
        flood.pause();
        // The tries still queued on the node are checked before the next quiet run.
        std::this_thread::sleep_for(std::chrono::seconds(2));
      }
      results.push_back(median(std::move(quiet)));
      results.back().system = "kinbox-quiet";
      results.push_back(median(std::move(flooded)));
      results.back().system = "kinbox-pinflood";
      extra.pin_flood = flood.figures();
    }
    if (has("probe") && kinbox_port != 0)
      extra.probe = kinbox_probe(kinbox_host, kinbox_port, work_dir + "/probe",
                                 vm["probes"].as<size_t>(), vm["probe-wait"].as<double>());
    if (has("location") && kinbox_port != 0)
      extra.location = kinbox_locations(
          kinbox_host, kinbox_port, work_dir + "/location", vm["families"].as<size_t>(),
          vm["location-interval"].as<double>(), vm["location-seconds"].as<double>(),
          vm["kinbox-pid"].as<pid_t>(), vm["kinbox-nats-pid"].as<pid_t>());
    if (has("group")) {
      std::vector<size_t> sizes;
      for (auto& text : split(vm["group-sizes"].as<std::string>()))
        sizes.push_back(std::stoul(text));
      auto n = vm["group-messages"].as<uint64_t>();
      if (kinbox_port != 0) {
        std::vector<pid_t> pids{vm["kinbox-pid"].as<pid_t>(), vm["kinbox-nats-pid"].as<pid_t>()};
        auto one = kinbox_groups(kinbox_host, kinbox_port, kinbox_host, kinbox_port,
                                 work_dir + "/groups", sizes, n, pids, "one node");
        extra.groups.insert(extra.groups.end(), one.begin(), one.end());
      }
      if (a_port != 0) {
        auto two = kinbox_groups(a_host, a_port, b_host, b_port, work_dir + "/groups-cross", sizes,
                                 n, cluster_pids, "across nodes");
        extra.groups.insert(extra.groups.end(), two.begin(), two.end());
      }
    }
    if (has("calls")) {
      auto n = vm["calls"].as<uint64_t>();
      if (kinbox_port != 0)
        extra.calls.push_back(kinbox_calls(kinbox_host, kinbox_port, kinbox_host, kinbox_port,
                                           work_dir + "/calls", n, "one node"));
      if (a_port != 0)
        extra.calls.push_back(kinbox_calls(a_host, a_port, b_host, b_port,
                                           work_dir + "/calls-cross", n, "across nodes"));
    }
    if (has("moments")) {
      auto friends = vm["moment-friends"].as<size_t>();
      auto posts = vm["moment-posts"].as<uint64_t>();
      if (kinbox_port != 0)
        extra.moments.push_back(kinbox_moments(
            kinbox_host, kinbox_port, kinbox_host, kinbox_port, work_dir + "/moments", friends,
            posts, {vm["kinbox-pid"].as<pid_t>(), vm["kinbox-nats-pid"].as<pid_t>()}, "one node"));
      if (a_port != 0)
        extra.moments.push_back(kinbox_moments(a_host, a_port, b_host, b_port,
                                               work_dir + "/moments-cross", friends, posts,
                                               cluster_pids, "across nodes"));
    }
    if (has("quiet") && kinbox_port != 0)
      extra.quiet_release = kinbox_quiet_release(
          kinbox_host, kinbox_port, work_dir + "/quiet", vm["quiet-children"].as<size_t>(),
          vm["quiet-messages"].as<size_t>(), vm["quiet-rate"].as<double>(),
          {vm["kinbox-pid"].as<pid_t>(), vm["kinbox-nats-pid"].as<pid_t>()});
    if (has("density") && kinbox_port != 0) {
      auto pid = vm["kinbox-pid"].as<pid_t>();
      auto n = vm["sessions"].as<size_t>();
      auto before = process_rss_bytes(pid);
      auto sessions = kinbox_idle_sessions(kinbox_host, kinbox_port, work_dir + "/idle", n,
                                           vm["session-threads"].as<size_t>());
      auto after = process_rss_bytes(pid);
      extra.idle_sessions = n;
      extra.rss_per_session =
          after > before ? static_cast<double>(after - before) / static_cast<double>(n) : 0;
      // What holding them costs: the node's and its nats-server's CPU while they idle.
      auto nats_pid = vm["kinbox-nats-pid"].as<pid_t>();
      auto seconds = vm["idle-seconds"].as<double>();
      auto node_before = process_cpu_seconds(pid);
      auto nats_before = process_cpu_seconds(nats_pid);
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      auto per_10k = 10000.0 / static_cast<double>(n) / seconds;
      extra.idle_seconds = seconds;
      extra.idle_node_cores_per_10k = (process_cpu_seconds(pid) - node_before) * per_10k;
      if (nats_pid > 0)
        extra.idle_nats_cores_per_10k = (process_cpu_seconds(nats_pid) - nats_before) * per_10k;
    }
  } catch (const std::exception& e) {
    std::cerr << "kinbox-bench: " << e.what() << "\n";
    return 1;
  }

  print_table(std::cout, results, extra);
  nlohmann::json setup{{"pairs", cfg.pairs},
                       {"messages", cfg.messages},
                       {"window", cfg.window},
                       {"repeat", repeat},
                       {"payload_bytes", payload_size}};
  if (vm.count("json")) {
    std::ofstream out{vm["json"].as<std::string>()};
    out << to_json(results, extra, setup).dump(2) << "\n";
  }
  if (vm.count("png") && !results.empty() && !write_chart(results, vm["png"].as<std::string>()))
    std::cerr << "kinbox-bench: no chart (gnuplot missing or failed)\n";
  std::filesystem::remove_all(work_dir);
  nats_Close();
  // The figures stand, but a system lost or duplicated messages. While shards move, mail
  // pushed and not yet acked is pushed again by its next owner: apps drop it by id.
  for (auto& r : results)
    if (r.lost > 0 || (r.duplicates > 0 && r.mode != load_mode::timeline))
      return 3;
  return 0;
}
