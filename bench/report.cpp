#include "bench/report.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace kinbox::bench {

namespace {

double us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

/// The sweep's runs as rate -> system -> run, systems in the order they ran.
struct sweep_grid {
  std::vector<std::string> systems;
  std::map<double, std::map<std::string, const run_result*>> by_rate;
};

sweep_grid sweep_of(const std::vector<run_result>& results) {
  sweep_grid g;
  for (auto& r : results) {
    if (r.mode != load_mode::sweep)
      continue;
    if (std::find(g.systems.begin(), g.systems.end(), r.system) == g.systems.end())
      g.systems.push_back(r.system);
    g.by_rate[r.target_rate][r.system] = &r;
  }
  return g;
}

/// Latency against load: p99 and server CPU per message of every system at each rate.
void print_sweep(std::ostream& out, const std::vector<run_result>& results) {
  auto g = sweep_of(results);
  if (g.by_rate.empty())
    return;
  out << "\nlatency against load (open loop at each rate): p99 us / server cpu s per 1M\n";
  char cell[64];
  std::snprintf(cell, sizeof(cell), "%-10s", "rate");
  out << cell;
  for (auto& name : g.systems) {
    std::snprintf(cell, sizeof(cell), " %20s", name.c_str());
    out << cell;
  }
  out << "\n";
  for (auto& [rate, runs] : g.by_rate) {
    std::snprintf(cell, sizeof(cell), "%-10.0f", rate);
    out << cell;
    for (auto& name : g.systems) {
      auto it = runs.find(name);
      if (it == runs.end())
        std::snprintf(cell, sizeof(cell), " %20s", "-");
      else
        std::snprintf(cell, sizeof(cell), " %11.0f / %6.1f", us(it->second->latency.percentile(99)),
                      it->second->cpu_seconds_per_million);
      out << cell;
    }
    out << "\n";
  }
}

/// Peers of the single-node kinbox in the ratio table (kinbox across nodes and its NATS
/// floor have a table of their own).
bool is_single_node_peer(const run_result& r) {
  return r.system.rfind("kinbox", 0) != 0 && r.system != "nats-rr" && r.mode != load_mode::sweep &&
         r.mode != load_mode::timeline;
}

const run_result* find_run(const std::vector<run_result>& results, const std::string& system,
                           load_mode mode) {
  for (auto& r : results)
    if (r.system == system && r.mode == mode)
      return &r;
  return nullptr;
}

double ratio(double a, double b) {
  return b > 0 ? a / b : 0.0;
}

void print_cross(std::ostream& out, const std::vector<run_result>& results) {
  auto* cross_closed = find_run(results, "kinbox-2n", load_mode::closed);
  auto* single_closed = find_run(results, "kinbox", load_mode::closed);
  auto* cross_open = find_run(results, "kinbox-2n", load_mode::open);
  auto* rr_open = find_run(results, "nats-rr", load_mode::open);
  if (cross_closed == nullptr)
    return;
  out << "\nacross nodes (senders on one node, recipients on another)\n";
  char line[256];
  if (single_closed != nullptr) {
    std::snprintf(
        line, sizeof(line),
        "  closed loop: kinbox-2n / kinbox throughput %.2fx (target >= 0.5), server "
        "cpu per message %.2fx, servers busy %.0f%% / %.0f%%\n",
        ratio(cross_closed->throughput, single_closed->throughput),
        ratio(cross_closed->cpu_seconds_per_million, single_closed->cpu_seconds_per_million),
        100 * cross_closed->server_cores, 100 * single_closed->server_cores);
    out << line;
  }
  if (cross_open != nullptr && rr_open != nullptr) {
    std::snprintf(line, sizeof(line),
                  "  open loop at %.0f msgs/s: p99 kinbox-2n %.0f us, NATS request/reply %.0f us: "
                  "%.2fx (target <= 2)\n",
                  cross_open->target_rate, us(cross_open->latency.percentile(99)),
                  us(rr_open->latency.percentile(99)),
                  ratio(static_cast<double>(cross_open->latency.percentile(99)),
                        static_cast<double>(rr_open->latency.percentile(99))));
    out << line;
  }
}

void print_timeline(std::ostream& out, const std::vector<run_result>& results) {
  for (auto& r : results) {
    if (r.mode != load_mode::timeline)
      continue;
    out << "\ntimeline: " << r.system << " at " << static_cast<uint64_t>(r.target_rate)
        << " msgs/s, delivered per second:\n";
    for (size_t s = 0; s < r.per_second.size(); ++s) {
      out << (s % 10 == 0 ? (s ? "\n  " : "  ") : " ");
      char cell[32];
      std::snprintf(cell, sizeof(cell), "%6lu", static_cast<unsigned long>(r.per_second[s]));
      out << cell;
    }
    out << "\n  worst second: " << worst_second(r)
        << "; refused for a moment and sent again: " << r.resent
        << "; out of order: " << r.out_of_order << "\n";
    for (auto& e : r.events) {
      auto back = recovery_seconds(r, e);
      out << "  " << e.label << " at " << e.at_seconds << " s: worst second after it "
          << worst_second(r, e.at_seconds) << ", back within 10% of the rate "
          << (back < 0 ? std::string{"never"} : std::to_string(static_cast<int>(back)) + " s")
          << " later\n";
    }
  }
}

std::string answers_text(const std::map<std::string, uint64_t>& answers) {
  std::string text;
  for (auto& [name, n] : answers)
    text += (text.empty() ? "" : ", ") + name + " " + std::to_string(n);
  return text;
}

/// Per request: each kind of target's answers and p50/p99 beside the ordinary id's.
void print_probe(std::ostream& out, const probe_figures& p) {
  out << "\nprobe: a stranger's requests, " << p.probes
      << " targets of each kind, each asked once, " << p.wait_seconds
      << " s after they were made (latency / ordinary id's)\n";
  char line[400];
  std::snprintf(line, sizeof(line), "  %-12s %-10s %9s %9s %7s %7s  %s\n", "request", "target",
                "p50 us", "p99 us", "p50 x", "p99 x", "answers");
  out << line;
  const probe_figures::cell* ordinary = nullptr;
  for (auto& c : p.cells) {
    if (c.target == "ordinary")
      ordinary = &c;
    auto rel = [&](double pct) {
      return ordinary ? ratio(static_cast<double>(c.latency.percentile(pct)),
                              static_cast<double>(ordinary->latency.percentile(pct)))
                      : 0.0;
    };
    std::snprintf(line, sizeof(line), "  %-12s %-10s %9.1f %9.1f %6.2fx %6.2fx  %s\n",
                  c.request.c_str(), c.target.c_str(), us(c.latency.percentile(50)),
                  us(c.latency.percentile(99)), rel(50), rel(99), answers_text(c.answers).c_str());
    out << line;
  }
}

} // namespace

void print_table(std::ostream& out, const std::vector<run_result>& results,
                 const extra_figures& extra) {
  char line[256];
  std::snprintf(line, sizeof(line), "%-15s %-8s %10s %11s %9s %9s %9s %6s %5s %5s %9s %6s\n",
                "system", "load", "rate", "msgs/s", "p50 us", "p99 us", "p99.9 us", "lost", "dup",
                "ooo", "cpu s/1M", "srv%");
  out << line;
  for (auto& r : results) {
    std::snprintf(line, sizeof(line),
                  "%-15s %-8s %10.0f %11.0f %9.1f %9.1f %9.1f %6lu %5lu %5lu %9.2f %5.0f%%\n",
                  r.system.c_str(), mode_name(r.mode), r.target_rate, r.throughput,
                  us(r.latency.percentile(50)), us(r.latency.percentile(99)),
                  us(r.latency.percentile(99.9)), static_cast<unsigned long>(r.lost),
                  static_cast<unsigned long>(r.duplicates),
                  static_cast<unsigned long>(r.out_of_order), r.cpu_seconds_per_million,
                  100 * r.server_cores);
    out << line;
  }
  out << "(srv%: the servers' CPU over the run, 100% = one core)\n";
  // kinbox against each peer, same load mode (the sweep has its own table).
  std::map<std::string, const run_result*> kinbox_by_mode;
  for (auto& r : results)
    if (r.system == "kinbox")
      kinbox_by_mode[mode_name(r.mode)] = &r;
  bool header = false;
  for (auto& r : results) {
    auto k = kinbox_by_mode.find(mode_name(r.mode));
    if (!is_single_node_peer(r) || k == kinbox_by_mode.end())
      continue;
    if (!header) {
      out << "\nkinbox / peer (same load mode; >1 means kinbox is higher). A throughput ratio\n"
             "compares servers only when both were at least 90% busy; otherwise the load\n"
             "generator bounded the run and the CPU per message is the figure that counts.\n";
      std::snprintf(line, sizeof(line), "%-10s %-6s %11s %11s %11s  %s\n", "peer", "load",
                    "throughput", "p99", "cpu/msg", "bound by");
      out << line;
      header = true;
    }
    bool servers =
        k->second->server_cores >= server_bound_share && r.server_cores >= server_bound_share;
    std::snprintf(line, sizeof(line), "%-10s %-6s %10.2fx %10.2fx %10.2fx  %s\n", r.system.c_str(),
                  mode_name(r.mode), ratio(k->second->throughput, r.throughput),
                  ratio(static_cast<double>(k->second->latency.percentile(99)),
                        static_cast<double>(r.latency.percentile(99))),
                  ratio(k->second->cpu_seconds_per_million, r.cpu_seconds_per_million),
                  servers ? "servers" : "client (compare cpu/msg)");
    out << line;
  }
  print_cross(out, results);
  print_sweep(out, results);
  print_timeline(out, results);
  if (extra.offline_drain_rate)
    out << "\nkinbox offline drain: " << *extra.offline_messages << " messages at "
        << static_cast<uint64_t>(*extra.offline_drain_rate) << " msgs/s\n";
  if (extra.mqtt_offline_drain_rate) {
    out << "mosquitto persistent-session drain: " << *extra.offline_messages << " messages at "
        << static_cast<uint64_t>(*extra.mqtt_offline_drain_rate) << " msgs/s";
    if (extra.offline_drain_rate)
      out << " (kinbox / mosquitto: " << *extra.offline_drain_rate / *extra.mqtt_offline_drain_rate
          << "x)";
    out << "\n";
  }
  if (extra.rss_per_session)
    out << "kinbox idle sessions: " << *extra.idle_sessions << " sessions, "
        << static_cast<uint64_t>(*extra.rss_per_session) << " bytes of node RSS per session\n";
  if (extra.location) {
    auto& l = *extra.location;
    char line[300];
    std::snprintf(line, sizeof(line),
                  "location: %zu children every %.1f s, half the parents online: %llu updates, "
                  "%llu pushed live; kinbox-node %.1f CPU-s per million updates (less its idle "
                  "%.2f%% of a core); disk writes meanwhile: node %llu bytes, nats-server %llu "
                  "bytes\n",
                  l.families, l.interval_seconds, static_cast<unsigned long long>(l.updates),
                  static_cast<unsigned long long>(l.pushed), l.node_cpu_per_million(),
                  100 * l.idle_node_cores, static_cast<unsigned long long>(l.node_disk_writes),
                  static_cast<unsigned long long>(l.nats_disk_writes));
    out << line;
  }
  if (extra.probe)
    print_probe(out, *extra.probe);
  for (auto& c : extra.calls) {
    char line[400];
    std::snprintf(line, sizeof(line),
                  "calls (%s): %llu calls answered at once: offer to the callee's push p50 "
                  "%.2f ms, p99 %.2f ms; answer to the caller's push p50 %.2f ms, p99 %.2f ms; "
                  "a 1:1 message in the same run p50 %.2f ms, p99 %.2f ms (offer/message p50 "
                  "%.2fx); %llu lost\n",
                  c.where.c_str(), static_cast<unsigned long long>(c.calls), c.offer_p50_ms,
                  c.offer_p99_ms, c.answer_p50_ms, c.answer_p99_ms, c.message_p50_ms,
                  c.message_p99_ms, c.message_p50_ms > 0 ? c.offer_p50_ms / c.message_p50_ms : 0.0,
                  static_cast<unsigned long long>(c.lost));
    out << line;
  }
  for (auto& m : extra.moments) {
    char line[400];
    std::snprintf(line, sizeof(line),
                  "moments (%s): %llu posts to %zu friends (%zu online) at %.0f posts/s; server "
                  "CPU %.1f us per post, %.2f us per copy; group mail to the same friends %.2f us "
                  "per copy (moment/group %.2fx); %llu copies lost\n",
                  m.where.c_str(), static_cast<unsigned long long>(m.posts), m.friends, m.online,
                  m.post_rate, m.cpu_per_post_us, m.cpu_per_copy_us, m.group_cpu_per_copy_us,
                  m.group_cpu_per_copy_us > 0 ? m.cpu_per_copy_us / m.group_cpu_per_copy_us : 0.0,
                  static_cast<unsigned long long>(m.lost));
    out << line;
  }
  if (extra.quiet_release) {
    auto& q = *extra.quiet_release;
    char line[500];
    std::snprintf(line, sizeof(line),
                  "quiet hours end: %zu children online, %llu messages released in %.2f s "
                  "(servers at %.0f%% of a core meanwhile), %llu lost; a conversation at %.0f "
                  "msgs/s in the 5 s before the end p50 %.2f ms, p99 %.2f ms; during the "
                  "release p50 %.2f ms, p99 %.2f ms (p99 during/before %.2fx); %llu of its "
                  "messages lost\n",
                  q.children, static_cast<unsigned long long>(q.waiting), q.release_s,
                  100 * q.release_cores, static_cast<unsigned long long>(q.lost), q.rate,
                  q.before_p50_ms, q.before_p99_ms, q.during_p50_ms, q.during_p99_ms,
                  q.before_p99_ms > 0 ? q.during_p99_ms / q.before_p99_ms : 0.0,
                  static_cast<unsigned long long>(q.conversation_lost));
    out << line;
  }
  for (auto& g : extra.groups) {
    char line[500];
    std::snprintf(
        line, sizeof(line),
        "group of %zu (%zu online, %s): closed loop %.0f msgs/s; server CPU %.1f us "
        "per group message, %.1f us per copy, 1:1 %.1f us per copy (group/1:1 %.2fx); "
        "upload %.0f bytes per message, 1:1 to each member %.0f (%.3fx; of 4 KiB %.3fx); open loop "
        "at "
        "%.0f msgs/s: send to the last online push p50 %.2f ms, p99 %.2f ms; %llu "
        "not seen by every online member\n",
        g.members, g.online, g.where.c_str(), g.closed_rate, g.cpu_per_message_us,
        g.cpu_per_copy_us, g.one_to_one_cpu_per_copy_us,
        g.one_to_one_cpu_per_copy_us > 0 ? g.cpu_per_copy_us / g.one_to_one_cpu_per_copy_us : 0.0,
        g.upload_bytes_group, g.upload_bytes_one_to_one,
        g.upload_bytes_one_to_one > 0 ? g.upload_bytes_group / g.upload_bytes_one_to_one : 0.0,
        g.upload_bytes_one_to_one_4k > 0 ? g.upload_bytes_group_4k / g.upload_bytes_one_to_one_4k
                                         : 0.0,
        g.open_rate, g.p50_ms, g.p99_ms, static_cast<unsigned long long>(g.late_or_lost));
    out << line;
  }
  if (extra.pin_flood) {
    auto& p = *extra.pin_flood;
    auto* quiet = find_run(results, "kinbox-quiet", load_mode::closed);
    auto* flooded = find_run(results, "kinbox-pinflood", load_mode::closed);
    char line[400];
    std::snprintf(line, sizeof(line),
                  "PIN flood: %zu children for %.1f s: %llu wrong PINs checked (%.1f/s), %llu "
                  "refused locked, %llu rate-limited, %llu other\n",
                  p.children, p.seconds, static_cast<unsigned long long>(p.wrong),
                  p.seconds > 0 ? static_cast<double>(p.wrong) / p.seconds : 0.0,
                  static_cast<unsigned long long>(p.locked),
                  static_cast<unsigned long long>(p.limited),
                  static_cast<unsigned long long>(p.other));
    out << line;
    if (quiet != nullptr && flooded != nullptr) {
      std::snprintf(line, sizeof(line),
                    "  closed loop with / without the flood: throughput %.2fx, p99 %.2fx (the "
                    "node's CPU with the flood includes its PIN hashes)\n",
                    ratio(flooded->throughput, quiet->throughput),
                    ratio(static_cast<double>(flooded->latency.percentile(99)),
                          static_cast<double>(quiet->latency.percentile(99))));
      out << line;
    }
  }
  if (extra.idle_node_cores_per_10k) {
    char idle[200];
    std::snprintf(idle, sizeof(idle),
                  "idle cost per 10,000 sessions held %.0f s: kinbox-node %.2f%% of a core",
                  *extra.idle_seconds, 100 * *extra.idle_node_cores_per_10k);
    out << idle;
    if (extra.idle_nats_cores_per_10k) {
      std::snprintf(idle, sizeof(idle), ", its nats-server %.2f%%",
                    100 * *extra.idle_nats_cores_per_10k);
      out << idle;
    }
    out << "\n";
  }
}

nlohmann::json to_json(const std::vector<run_result>& results, const extra_figures& extra,
                       const nlohmann::json& setup) {
  nlohmann::json runs = nlohmann::json::array();
  for (auto& r : results)
    runs.push_back({{"system", r.system},
                    {"load", mode_name(r.mode)},
                    {"target_rate", r.target_rate},
                    {"sent", r.sent},
                    {"delivered", r.delivered},
                    {"lost", r.lost},
                    {"duplicates", r.duplicates},
                    {"out_of_order", r.out_of_order},
                    {"resent", r.resent},
                    {"seconds", r.seconds},
                    {"throughput", r.throughput},
                    {"latency_us",
                     {{"p50", us(r.latency.percentile(50))},
                      {"p99", us(r.latency.percentile(99))},
                      {"p99_9", us(r.latency.percentile(99.9))},
                      {"max", us(r.latency.max())}}},
                    {"server_cpu_seconds", r.server_cpu_seconds},
                    {"server_cpu_seconds_per_million", r.cpu_seconds_per_million},
                    {"server_cores", r.server_cores},
                    {"per_second", r.per_second}});
  for (size_t i = 0; i < results.size(); ++i)
    for (auto& e : results[i].events)
      runs[i]["events"].push_back({{"at_seconds", e.at_seconds},
                                   {"label", e.label},
                                   {"worst_second_after", worst_second(results[i], e.at_seconds)},
                                   {"recovery_seconds", recovery_seconds(results[i], e)}});
  nlohmann::json doc{{"setup", setup}, {"runs", runs}};
  if (extra.offline_drain_rate)
    doc["offline_drain"] = {{"messages", *extra.offline_messages},
                            {"msgs_per_second", *extra.offline_drain_rate}};
  if (extra.mqtt_offline_drain_rate)
    doc["mqtt_offline_drain"] = {{"messages", *extra.offline_messages},
                                 {"msgs_per_second", *extra.mqtt_offline_drain_rate}};
  if (extra.rss_per_session)
    doc["idle_sessions"] = {{"sessions", *extra.idle_sessions},
                            {"rss_bytes_per_session", *extra.rss_per_session}};
  for (auto& c : extra.calls)
    doc["calls"].push_back({{"where", c.where},
                            {"calls", c.calls},
                            {"offer_p50_ms", c.offer_p50_ms},
                            {"offer_p99_ms", c.offer_p99_ms},
                            {"answer_p50_ms", c.answer_p50_ms},
                            {"answer_p99_ms", c.answer_p99_ms},
                            {"message_p50_ms", c.message_p50_ms},
                            {"message_p99_ms", c.message_p99_ms},
                            {"lost", c.lost}});
  for (auto& m : extra.moments)
    doc["moments"].push_back({{"where", m.where},
                              {"friends", m.friends},
                              {"online", m.online},
                              {"posts", m.posts},
                              {"post_rate", m.post_rate},
                              {"cpu_per_post_us", m.cpu_per_post_us},
                              {"cpu_per_copy_us", m.cpu_per_copy_us},
                              {"group_cpu_per_copy_us", m.group_cpu_per_copy_us},
                              {"lost", m.lost}});
  if (extra.quiet_release) {
    auto& q = *extra.quiet_release;
    doc["quiet_release"] = {{"children", q.children},
                            {"waiting", q.waiting},
                            {"release_seconds", q.release_s},
                            {"release_cores", q.release_cores},
                            {"lost", q.lost},
                            {"rate", q.rate},
                            {"before_p50_ms", q.before_p50_ms},
                            {"before_p99_ms", q.before_p99_ms},
                            {"during_p50_ms", q.during_p50_ms},
                            {"during_p99_ms", q.during_p99_ms},
                            {"conversation_lost", q.conversation_lost}};
  }
  for (auto& g : extra.groups)
    doc["groups"].push_back({{"where", g.where},
                             {"members", g.members},
                             {"online", g.online},
                             {"messages", g.messages},
                             {"closed_rate", g.closed_rate},
                             {"cpu_per_message_us", g.cpu_per_message_us},
                             {"cpu_per_copy_us", g.cpu_per_copy_us},
                             {"one_to_one_cpu_per_copy_us", g.one_to_one_cpu_per_copy_us},
                             {"upload_bytes_group", g.upload_bytes_group},
                             {"upload_bytes_one_to_one", g.upload_bytes_one_to_one},
                             {"upload_bytes_group_4k", g.upload_bytes_group_4k},
                             {"upload_bytes_one_to_one_4k", g.upload_bytes_one_to_one_4k},
                             {"open_rate", g.open_rate},
                             {"p50_ms", g.p50_ms},
                             {"p99_ms", g.p99_ms},
                             {"late_or_lost", g.late_or_lost}});
  if (extra.location) {
    auto& l = *extra.location;
    doc["location"] = {{"families", l.families},
                       {"interval_seconds", l.interval_seconds},
                       {"updates", l.updates},
                       {"pushed", l.pushed},
                       {"node_cpu_seconds", l.node_cpu_seconds},
                       {"node_cpu_seconds_per_million", l.node_cpu_per_million()},
                       {"idle_node_cores", l.idle_node_cores},
                       {"node_disk_write_bytes", l.node_disk_writes},
                       {"nats_disk_write_bytes", l.nats_disk_writes}};
  }
  if (extra.probe) {
    auto& cells = doc["probe"]["cells"];
    doc["probe"]["probes"] = extra.probe->probes;
    doc["probe"]["wait_seconds"] = extra.probe->wait_seconds;
    for (auto& c : extra.probe->cells)
      cells.push_back(
          {{"request", c.request},
           {"target", c.target},
           {"answers", c.answers},
           {"latency_us",
            {{"p50", us(c.latency.percentile(50))}, {"p99", us(c.latency.percentile(99))}}}});
  }
  if (extra.pin_flood) {
    auto& p = *extra.pin_flood;
    doc["pin_flood"] = {{"children", p.children},    {"seconds", p.seconds},
                        {"wrong_pin", p.wrong},      {"pin_locked", p.locked},
                        {"rate_limited", p.limited}, {"other", p.other}};
  }
  if (extra.idle_node_cores_per_10k) {
    doc["idle_sessions"]["held_seconds"] = *extra.idle_seconds;
    doc["idle_sessions"]["node_cores_per_10k"] = *extra.idle_node_cores_per_10k;
    if (extra.idle_nats_cores_per_10k)
      doc["idle_sessions"]["nats_cores_per_10k"] = *extra.idle_nats_cores_per_10k;
  }
  return doc;
}

bool write_chart(const std::vector<run_result>& results, const std::string& png_path) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0)
    return false;
  auto dir =
      std::filesystem::temp_directory_path() / ("kinbox-bench-chart-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto data = (dir / "data.txt").string();
  bool has_bars = false;
  {
    std::ofstream out{data};
    for (auto& r : results)
      if (r.mode != load_mode::sweep && r.mode != load_mode::timeline) {
        has_bars = true;
        out << '"' << r.system << " " << mode_name(r.mode) << "\" " << r.throughput << " "
            << us(r.latency.percentile(50)) << " " << us(r.latency.percentile(99)) << " "
            << us(r.latency.percentile(99.9)) << "\n";
      }
  }
  // One block per system: rate and p99, for the latency-against-load panel.
  auto grid = sweep_of(results);
  auto sweep_data = (dir / "sweep.txt").string();
  {
    std::ofstream out{sweep_data};
    for (auto& name : grid.systems) {
      out << "\"" << name << "\"\n";
      for (auto& [rate, runs] : grid.by_rate)
        if (auto it = runs.find(name); it != runs.end())
          out << rate << " " << us(it->second->latency.percentile(99)) << "\n";
      out << "\n\n";
    }
  }
  bool has_sweep = !grid.systems.empty();
  auto script = (dir / "chart.gp").string();
  {
    std::ofstream gp{script};
    int panels = (has_bars ? 2 : 0) + (has_sweep ? 1 : 0);
    gp << "set terminal pngcairo size 1200," << 450 * panels << " noenhanced\n"
       << "set output '" << png_path << "'\n"
       << "set multiplot layout " << panels << ",1 title 'kinbox-bench'\n"
       << "set grid ytics\n";
    if (has_bars)
      gp << "set style data histograms\nset style fill solid 0.8 border -1\n"
         << "set xtics rotate by -30\n"
         << "set title 'delivered messages per second'\n"
         << "plot '" << data << "' using 2:xtic(1) title 'msgs/s'\n"
         << "set title 'latency percentiles (microseconds, log scale)'\nset logscale y\n"
         << "plot '" << data << "' using 3:xtic(1) title 'p50', '' using 4 title 'p99', "
         << "'' using 5 title 'p99.9'\n";
    if (has_sweep) {
      gp << "set title 'p99 latency against load (microseconds, open loop)'\n"
         << "set logscale y\nset style data linespoints\nset xtics norotate\nset logscale x\n"
         << "set xrange [" << grid.by_rate.begin()->first / 2 << ":"
         << grid.by_rate.rbegin()->first * 2 << "]\nset format x '%.0f'\nset xtics (";
      const char* separator = "";
      for (auto& entry : grid.by_rate) {
        gp << separator << entry.first;
        separator = ", ";
      }
      gp << ")\nset xlabel 'messages per second'\nset key left top\n"
         << "plot for [i=0:" << grid.systems.size() - 1 << "] '" << sweep_data
         << "' index i using 1:2 title columnheader(1)\n";
    }
    gp << "unset multiplot\n";
  }
  auto ok = std::system(("gnuplot '" + script + "' 2>/dev/null").c_str()) == 0;
  std::filesystem::remove_all(dir);
  return ok;
}

} // namespace kinbox::bench
