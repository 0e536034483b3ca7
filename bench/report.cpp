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

} // namespace

void print_table(std::ostream& out, const std::vector<run_result>& results,
                 const extra_figures& extra) {
  char line[256];
  std::snprintf(line, sizeof(line), "%-10s %-6s %10s %11s %9s %9s %9s %6s %5s %5s %9s\n", "system",
                "load", "rate", "msgs/s", "p50 us", "p99 us", "p99.9 us", "lost", "dup", "ooo",
                "cpu s/1M");
  out << line;
  for (auto& r : results) {
    std::snprintf(
        line, sizeof(line), "%-10s %-6s %10.0f %11.0f %9.1f %9.1f %9.1f %6lu %5lu %5lu %9.2f\n",
        r.system.c_str(), mode_name(r.mode), r.target_rate, r.throughput,
        us(r.latency.percentile(50)), us(r.latency.percentile(99)), us(r.latency.percentile(99.9)),
        static_cast<unsigned long>(r.lost), static_cast<unsigned long>(r.duplicates),
        static_cast<unsigned long>(r.out_of_order), r.cpu_seconds_per_million);
    out << line;
  }
  // kinbox against each peer, same load mode (the sweep has its own table).
  std::map<std::string, const run_result*> kinbox_by_mode;
  for (auto& r : results)
    if (r.system == "kinbox")
      kinbox_by_mode[mode_name(r.mode)] = &r;
  bool header = false;
  for (auto& r : results) {
    auto k = kinbox_by_mode.find(mode_name(r.mode));
    if (r.system == "kinbox" || r.mode == load_mode::sweep || k == kinbox_by_mode.end())
      continue;
    if (!header) {
      out << "\nkinbox / peer (same load mode; >1 means kinbox is higher)\n";
      std::snprintf(line, sizeof(line), "%-10s %-6s %11s %11s %11s\n", "peer", "load", "throughput",
                    "p99", "cpu/msg");
      out << line;
      header = true;
    }
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    std::snprintf(line, sizeof(line), "%-10s %-6s %10.2fx %10.2fx %10.2fx\n", r.system.c_str(),
                  mode_name(r.mode), ratio(k->second->throughput, r.throughput),
                  ratio(static_cast<double>(k->second->latency.percentile(99)),
                        static_cast<double>(r.latency.percentile(99))),
                  ratio(k->second->cpu_seconds_per_million, r.cpu_seconds_per_million));
    out << line;
  }
  print_sweep(out, results);
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
                    {"seconds", r.seconds},
                    {"throughput", r.throughput},
                    {"latency_us",
                     {{"p50", us(r.latency.percentile(50))},
                      {"p99", us(r.latency.percentile(99))},
                      {"p99_9", us(r.latency.percentile(99.9))},
                      {"max", us(r.latency.max())}}},
                    {"server_cpu_seconds", r.server_cpu_seconds},
                    {"server_cpu_seconds_per_million", r.cpu_seconds_per_million}});
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
      if (r.mode != load_mode::sweep) {
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
