// Reports of a benchmark suite: a table on stdout with kinbox's ratio to each peer, a JSON
// document, and a PNG chart (through gnuplot, when installed).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/calls.hpp"
#include "bench/groups.hpp"
#include "bench/moments.hpp"
#include "bench/quiet.hpp"
#include "bench/runner.hpp"

namespace kinbox::bench {

struct extra_figures {
  std::optional<double> offline_drain_rate; ///< messages per second
  std::optional<double> mqtt_offline_drain_rate;
  std::optional<size_t> offline_messages;
  std::optional<size_t> idle_sessions;
  std::optional<double> rss_per_session; ///< bytes
  std::optional<double> idle_seconds;
  /// CPU (cores) of kinbox-node and of its nats-server per 10,000 idle sessions.
  std::optional<double> idle_node_cores_per_10k;
  std::optional<double> idle_nats_cores_per_10k;
  std::optional<location_figures> location;
  /// The pin mode: what the flood met (its closed loops are the kinbox-quiet and
  /// kinbox-pinflood runs).
  std::optional<pin_flood_figures> pin_flood;
  std::optional<probe_figures> probe;
  std::vector<group_run_figures> groups;
  std::vector<call_run_figures> calls;
  std::vector<moment_run_figures> moments;
  std::optional<quiet_release_figures> quiet_release;
};

void print_table(std::ostream& out, const std::vector<run_result>& results,
                 const extra_figures& extra);

nlohmann::json to_json(const std::vector<run_result>& results, const extra_figures& extra,
                       const nlohmann::json& setup);

/// Writes a PNG of throughput and latency percentiles per system; false without gnuplot.
bool write_chart(const std::vector<run_result>& results, const std::string& png_path);

} // namespace kinbox::bench
