#define CAF_SUITE bench
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <sstream>

#include "bench/histogram.hpp"
#include "bench/payload.hpp"
#include "bench/report.hpp"

using namespace kinbox::bench;

namespace {

/// Within the histogram's resolution (64 sub-buckets per power of two).
bool close_to(uint64_t value, uint64_t expected) {
  auto diff = value > expected ? value - expected : expected - value;
  return static_cast<double>(diff) <= static_cast<double>(expected) / 64.0;
}

run_result sweep_run(const std::string& system, double rate, uint64_t p99_ns) {
  run_result r;
  r.system = system;
  r.mode = load_mode::sweep;
  r.target_rate = rate;
  for (int i = 0; i < 100; ++i)
    r.latency.record(p99_ns);
  r.cpu_seconds_per_million = 12.5;
  return r;
}

} // namespace

CAF_TEST(histogram percentiles are within its resolution) {
  histogram h;
  CAF_CHECK_EQUAL(h.percentile(99), 0u);
  for (uint64_t us = 1; us <= 10000; ++us)
    h.record(us * 1000);
  CAF_CHECK_EQUAL(h.count(), 10000u);
  CAF_CHECK_EQUAL(h.max(), 10'000'000u);
  CAF_CHECK(close_to(h.percentile(50), 5'000'000));
  CAF_CHECK(close_to(h.percentile(99), 9'900'000));
  CAF_CHECK(close_to(h.percentile(100), 10'000'000));
  histogram other;
  other.record(50'000'000);
  h.merge(other);
  CAF_CHECK_EQUAL(h.count(), 10001u);
  CAF_CHECK_EQUAL(h.max(), 50'000'000u);
  CAF_CHECK(close_to(h.percentile(100), 50'000'000));
}

CAF_TEST(the sequence tracker counts duplicates and late messages) {
  sequence_tracker t;
  for (uint64_t seq : {0, 1, 1, 3, 2, 4, 0})
    t.record(seq);
  CAF_CHECK_EQUAL(t.unique(), 5u);
  CAF_CHECK_EQUAL(t.duplicates(), 2u);
  CAF_CHECK_EQUAL(t.out_of_order(), 1u);
}

CAF_TEST(payloads carry their stamp and reject anything else) {
  auto p = make_payload(stamp{7, 123456789, 42});
  CAF_CHECK_EQUAL(p.size(), payload_size);
  auto s = read_payload(p);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->pair, 7u);
  CAF_CHECK_EQUAL(s->seq, 123456789u);
  CAF_CHECK_EQUAL(s->due_ns, 42u);
  p[0] ^= 0xff;
  CAF_CHECK(!read_payload(p));
  p[0] ^= 0xff;
  p.pop_back();
  CAF_CHECK(!read_payload(p));
}

CAF_TEST(the sweep has its own table and stays out of the ratios) {
  std::vector<run_result> results{sweep_run("kinbox", 5000, 900'000),
                                  sweep_run("relay", 5000, 300'000),
                                  sweep_run("kinbox", 20000, 1'700'000)};
  std::ostringstream out;
  print_table(out, results, {});
  auto text = out.str();
  CAF_CHECK(text.find("kinbox / peer") == std::string::npos);
  auto table = text.find("latency against load");
  CAF_REQUIRE(table != std::string::npos);
  std::istringstream rows{text.substr(table)};
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(rows, line))
    lines.push_back(line);
  CAF_REQUIRE_EQUAL(lines.size(), 4u);
  CAF_CHECK(lines[1].find("kinbox") < lines[1].find("relay"));
  std::istringstream first{lines[2]};
  std::string rate, kinbox_p99, slash, kinbox_cpu, relay_p99;
  first >> rate >> kinbox_p99 >> slash >> kinbox_cpu >> relay_p99;
  CAF_CHECK_EQUAL(rate, "5000");
  CAF_CHECK(close_to(std::stoull(kinbox_p99), 900));
  CAF_CHECK_EQUAL(kinbox_cpu, "12.5");
  CAF_CHECK(close_to(std::stoull(relay_p99), 300));
  CAF_CHECK(lines[3].find("20000") == 0);
  CAF_CHECK_EQUAL(lines[3].back(), '-'); // no relay run at 20k
}
