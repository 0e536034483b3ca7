#include "config/metrics.hpp"

#include <CivetServer.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "config/version.hpp"

namespace kinbox::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Counter& counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help, const prometheus::Labels& labels = {}) {
  return BuildCounter().Name(name).Help(help).Register(r).Add(labels);
}

prometheus::Gauge& gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Histogram& histogram(prometheus::Registry& r, const std::string& name,
                                 const std::string& help,
                                 prometheus::Histogram::BucketBoundaries b) {
  return BuildHistogram().Name(name).Help(help).Register(r).Add({}, std::move(b));
}

const prometheus::Histogram::BucketBoundaries request_buckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

} // namespace

node_metrics::node_metrics()
    : connections(gauge(registry, "kinbox_connections", "TCP connections to the gateway")),
      sessions(gauge(registry, "kinbox_sessions", "logged-in sessions")),
      logins_ok(counter(registry, "kinbox_logins_total", "logins", {{"result", "ok"}})),
      logins_refused(counter(registry, "kinbox_logins_total", "logins", {{"result", "refused"}})),
      mail_accepted(counter(registry, "kinbox_mail_accepted_total",
                            "mail stored or held for a recipient and answered accepted")),
      mail_delivered(
          counter(registry, "kinbox_mail_delivered_total", "mail acked by the recipient's app")),
      mail_expired(
          counter(registry, "kinbox_mail_expired_total", "mail deleted past its TTL undelivered")),
      messages_lost(counter(registry, "kinbox_messages_lost_total",
                            "accepted mail this node could not keep or hand over (must stay 0)")),
      mailbox_envelopes(gauge(registry, "kinbox_mailbox_envelopes", "envelopes stored")),
      mailbox_bytes(gauge(registry, "kinbox_mailbox_bytes", "bytes of stored envelopes")),
      lmdb_map_used_bytes(gauge(registry, "kinbox_lmdb_map_used_bytes", "LMDB pages in use")),
      lmdb_map_size_bytes(gauge(registry, "kinbox_lmdb_map_size_bytes", "LMDB map size")),
      commit_batch(histogram(registry, "kinbox_store_commit_batch_size",
                             "puts and acks per group commit",
                             {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096})),
      commit_seconds(histogram(registry, "kinbox_store_commit_seconds",
                               "one group commit of the mailbox, fsync included",
                               {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1})),
      request_seconds(BuildHistogram()
                          .Name("kinbox_entity_request_seconds")
                          .Help("requests to entities, from a session or another entity")
                          .Register(registry)),
      bus_messages(counter(registry, "kinbox_bus_messages_total",
                           "requests, answers and pushes sent to other nodes")),
      bus_batches(counter(registry, "kinbox_bus_batches_total",
                          "NATS messages that carried them (a batch each)")),
      nats_reconnects(
          counter(registry, "kinbox_nats_reconnects_total", "times the NATS connection came back")),
      kv_seconds(histogram(registry, "kinbox_kv_call_seconds", "one JetStream KV call",
                           {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5})),
      shard_moves(
          counter(registry, "kinbox_shard_moves_total", "shards this node took or released")),
      handoff_envelopes(counter(registry, "kinbox_handoff_envelopes_total",
                                "stored envelopes handed to another node")),
      pin_checks_right(
          counter(registry, "kinbox_pin_checks_total", "parent PIN checks", {{"result", "right"}})),
      pin_checks_wrong(
          counter(registry, "kinbox_pin_checks_total", "parent PIN checks", {{"result", "wrong"}})),
      pin_lockouts(
          counter(registry, "kinbox_pin_lockouts_total", "PINs locked after too many wrong tries")),
      rate_limited(BuildCounter()
                       .Name("kinbox_rate_limited_total")
                       .Help("requests and connections refused by a limit")
                       .Register(registry)) {
  auto& in =
      BuildCounter().Name("kinbox_frames_in_total").Help("frames read, by type").Register(registry);
  auto& out = BuildCounter()
                  .Name("kinbox_frames_out_total")
                  .Help("frames written, by type")
                  .Register(registry);
  for (int t = 0; t < 256; ++t) {
    auto name = frame_type_name(static_cast<frame_type>(t));
    if (name == "unknown")
      continue;
    frames_in[t] = &in.Add({{"type", std::string{name}}});
    frames_out[t] = &out.Add({{"type", std::string{name}}});
  }
  auto& refused_family = BuildCounter()
                             .Name("kinbox_mail_refused_total")
                             .Help("mail refused, by error")
                             .Register(registry);
  for (int c = 0; c < 256; ++c) {
    auto name = errc_name(static_cast<errc>(c));
    if (name != "unknown")
      mail_refused[c] = &refused_family.Add({{"reason", std::string{name}}});
  }
  // Every series exists from the start, at 0: a rate of refusals needs its first sample.
  for (auto* limit : {"requests", "registrations", "handshakes", "code_guesses", "connections"})
    rate_limited.Add({{"limit", limit}});
  for (auto* kind : {"user", "family", "chat"})
    requests_of(kind);
  BuildGauge()
      .Name("kinbox_build_info")
      .Help("the node's version")
      .Register(registry)
      .Add({{"version", std::string{version}}})
      .Set(1);
}

prometheus::Histogram& node_metrics::requests_of(std::string_view kind) {
  return request_seconds.Add({{"kind", std::string{kind}}}, request_buckets);
}

void node_metrics::refused(errc code) {
  if (auto* c = mail_refused[static_cast<uint8_t>(code)])
    c->Increment();
}

void node_metrics::limited(std::string_view limit) {
  rate_limited.Add({{"limit", std::string{limit}}}).Increment();
}

int64_t node_metrics::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double node_metrics::seconds_since(int64_t start_ns) {
  return static_cast<double>(now_ns() - start_ns) / 1e9;
}

node_metrics& get() {
  static node_metrics m;
  return m;
}

std::string text() {
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, get().registry.Collect());
  return out.str();
}

namespace {

/// One GET path: `answer` gives the status and the body.
class handler : public CivetHandler {
public:
  handler(std::function<std::pair<int, std::string>()> answer, std::string content_type)
      : answer_(std::move(answer)), content_type_(std::move(content_type)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    auto [status, body] = answer_();
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              status, status == 200 ? "OK" : "Service Unavailable", content_type_.c_str(),
              body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

private:
  std::function<std::pair<int, std::string>()> answer_;
  std::string content_type_;
};

std::pair<int, std::string> check(const std::function<std::string()>& f) {
  auto why = f ? f() : std::string{};
  if (why.empty())
    return {200, "ok\n"};
  return {503, why + "\n"};
}

} // namespace

struct http_server::impl {
  handler metrics{[] {
                    return std::pair<int, std::string>{200, text()};
                  },
                  "text/plain; version=0.0.4; charset=utf-8"};
  handler healthz;
  handler readyz;
  std::unique_ptr<CivetServer> server;

  explicit impl(health checks)
      : healthz([f = checks.healthz] { return check(f); }, "text/plain; charset=utf-8"),
        readyz([f = checks.readyz] { return check(f); }, "text/plain; charset=utf-8") {}
};

http_server::http_server(const std::string& listen, health checks)
    : impl_(std::make_unique<impl>(std::move(checks))) {
  // Threads are cheap here; a few idle connections should not hold up a health probe.
  std::vector<std::string> options{"listening_ports",    listen, "num_threads", "8",
                                   "request_timeout_ms", "2000"};
  try {
    impl_->server = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot serve metrics on " + listen + ": " + e.what());
  }
  // "$": these paths exactly, not every path they begin.
  impl_->server->addHandler("/metrics$", impl_->metrics);
  impl_->server->addHandler("/healthz$", impl_->healthz);
  impl_->server->addHandler("/readyz$", impl_->readyz);
}

http_server::~http_server() {
  if (impl_->server)
    impl_->server->close();
}

} // namespace kinbox::metrics
