// kinbox-pin-bench: what one parent-PIN check costs at the node's argon2id parameters
// (Google Benchmark). Each row reports checks per second and the peak memory one check
// adds to the process (its resident-set high-water mark, reset before the row), beside
// the same check at the lightest parameters libsodium allows, measured in the same run.
#include <benchmark/benchmark.h>

#include <sodium.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include "config/version.hpp"
#include "crypto/pin.hpp"

namespace {

using kinbox::crypto::pin_hash_params;

/// A field of /proc/self/status in bytes ("VmRSS", "VmHWM").
double status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  double kib = 0;
  while (in >> key) {
    if (key == field + ":" && in >> kib)
      return kib * 1024;
    in.ignore(4096, '\n');
  }
  return 0;
}

/// Starts a new high-water mark of the resident set (Linux: clear_refs 5).
void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

void pin_check(benchmark::State& state, pin_hash_params params) {
  kinbox::crypto::pin_pepper pepper;
  pepper.key.fill(7);
  auto hash = kinbox::crypto::hash_pin("2741", pepper, params);
  if (!hash) {
    state.SkipWithError("hashing failed");
    return;
  }
  reset_peak_rss();
  auto before = status_bytes("VmRSS");
  for (auto _ : state)
    benchmark::DoNotOptimize(kinbox::crypto::verify_pin(*hash, "5813", pepper));
  state.counters["checks/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["MiB/check"] = (status_bytes("VmHWM") - before) / (1 << 20);
  state.counters["argon2 MiB"] = static_cast<double>(params.memory) / (1 << 20);
  state.counters["ops"] = static_cast<double>(params.ops);
}

// The node's parameters (pin_hash_params' defaults: libsodium's interactive limits), and
// libsodium's minimum as the baseline of the same run.
BENCHMARK_CAPTURE(pin_check, node_default, pin_hash_params{})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(pin_check, libsodium_minimum,
                  pin_hash_params{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view{argv[1]} == "--version") {
    std::printf("kinbox-pin-bench %s\n", kinbox::version);
    return 0;
  }
  if (sodium_init() < 0)
    return 1;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
