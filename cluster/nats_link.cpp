#include "cluster/nats_link.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "config/log.hpp"
#include "config/metrics.hpp"
#include "crypto/key_file.hpp"

namespace kinbox {

namespace {

failure nats_failure(const char* what, natsStatus s) {
  // Plain requests handle "no responders" themselves; here it is a JetStream call, and
  // JetStream is not enabled or has no leader yet.
  auto text = s == NATS_NO_RESPONDERS
                  ? std::string{"no JetStream answered (nats-server needs -js, or a jetstream "
                                "block in its config)"}
                  : nats_error_text(s);
  log::get("cluster")->warn("event=nats_error op={} status=\"{}\"", what, text);
  return failure{errc::unavailable, std::string{what} + ": " + text};
}

/// Why a connection failed, and the option that fixes it; `unavailable` only when trying
/// again may help (no server answered).
failure connect_failure(natsStatus s, const std::vector<std::string>& urls, bool with_credentials) {
  std::string list;
  for (auto& u : urls)
    list += (list.empty() ? "" : ",") + u;
  switch (s) {
  case NATS_CONNECTION_AUTH_FAILED:
    if (!with_credentials)
      return {errc::invalid_argument, "the NATS servers want a user and password: give "
                                      "--nats-credentials (a file with user= and password= "
                                      "lines)"};
    return {errc::invalid_argument, "the NATS servers refused the credentials: check the user= "
                                    "and password= lines of --nats-credentials"};
  case NATS_SECURE_CONNECTION_REQUIRED:
    return {errc::invalid_argument, "the NATS servers require TLS: give --nats-ca with the CA "
                                    "that signed their certificates"};
  case NATS_SECURE_CONNECTION_WANTED:
    return {errc::invalid_argument, "TLS was asked for (--nats-ca or a tls:// URL) but the NATS "
                                    "servers at " +
                                        list + " do not offer it"};
  case NATS_SSL_ERROR:
    return {errc::invalid_argument,
            "the TLS handshake with the NATS servers failed (" + nats_error_text(s) +
                "): --nats-ca must be the CA that signed their certificates, and the URL's "
                "host must be a name in them"};
  default:
    return {errc::unavailable, "no NATS server answered at " + list + " (" + nats_error_text(s) +
                                   "): is nats-server running there? check --nats"};
  }
}

void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  nats_message m;
  m.subject = natsMsg_GetSubject(msg);
  if (auto* reply = natsMsg_GetReply(msg))
    m.reply = reply;
  auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg));
  m.data.assign(data, data + natsMsg_GetDataLength(msg));
  m.no_responders = natsMsg_IsNoResponders(msg);
  natsMsg_Destroy(msg);
  (*static_cast<nats_handler*>(closure))(std::move(m));
}

/// JetStream answers "wrong last sequence" when a create finds the key, or an update
/// finds a newer revision.
bool is_wrong_last_sequence(natsStatus s) {
  if (s != NATS_ERR)
    return false;
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  return detail != nullptr &&
         std::string_view{detail}.find("wrong last sequence") != std::string_view::npos;
}

void on_disconnected(natsConnection*, void* closure) {
  if (!static_cast<std::atomic<bool>*>(closure)->load())
    log::get("cluster")->warn("event=nats_disconnected");
}

void on_reconnected(natsConnection*, void*) {
  metrics::get().nats_reconnects.Increment();
  log::get("cluster")->info("event=nats_reconnected");
}

} // namespace

std::string nats_error_text(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  if (const char* detail = nats_GetLastError(&last); detail != nullptr && *detail != '\0')
    text += std::string{" ("} + detail + ")";
  return text;
}

namespace {

/// Observes how long one KV call took, in the node's metrics.
struct kv_timer {
  int64_t started = metrics::node_metrics::now_ns();
  ~kv_timer() { metrics::get().kv_seconds.Observe(metrics::node_metrics::seconds_since(started)); }
};

} // namespace

kv_bucket::~kv_bucket() {
  kvStore_Destroy(kv_);
}

result<std::optional<kv_value>> kv_bucket::get(const std::string& key) {
  kv_timer timed;
  kvEntry* e = nullptr;
  auto s = kvStore_Get(&e, kv_, key.c_str());
  if (s == NATS_NOT_FOUND)
    return std::optional<kv_value>{};
  if (s != NATS_OK)
    return nats_failure("kv_get", s);
  kv_value v;
  auto* data = static_cast<const uint8_t*>(kvEntry_Value(e));
  v.value.assign(data, data + kvEntry_ValueLen(e));
  v.revision = kvEntry_Revision(e);
  kvEntry_Destroy(e);
  return std::optional<kv_value>{std::move(v)};
}

result<uint64_t> kv_bucket::put(const std::string& key, std::span<const uint8_t> value) {
  kv_timer timed;
  uint64_t rev = 0;
  auto s = kvStore_Put(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s != NATS_OK)
    return nats_failure("kv_put", s);
  return rev;
}

result<bool> kv_bucket::create(const std::string& key, std::span<const uint8_t> value) {
  kv_timer timed;
  uint64_t rev = 0;
  auto s = kvStore_Create(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s == NATS_OK)
    return true;
  if (is_wrong_last_sequence(s))
    return false;
  return nats_failure("kv_create", s);
}

result<std::optional<uint64_t>> kv_bucket::update(const std::string& key,
                                                  std::span<const uint8_t> value, uint64_t last) {
  kv_timer timed;
  uint64_t rev = 0;
  auto s =
      kvStore_Update(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()), last);
  if (s == NATS_OK)
    return std::optional<uint64_t>{rev};
  if (is_wrong_last_sequence(s))
    return std::optional<uint64_t>{};
  return nats_failure("kv_update", s);
}

result<bool> kv_bucket::erase(const std::string& key) {
  kv_timer timed;
  auto s = kvStore_Delete(kv_, key.c_str());
  if (s != NATS_OK)
    return nats_failure("kv_delete", s);
  return true;
}

result<std::vector<std::string>> kv_bucket::keys() {
  kvKeysList list;
  kvWatchOptions opts;
  kvWatchOptions_Init(&opts);
  opts.Timeout = 5000;
  auto s = kvStore_Keys(&list, kv_, &opts);
  std::vector<std::string> out;
  if (s == NATS_NOT_FOUND)
    return out;
  if (s != NATS_OK)
    return nats_failure("kv_keys", s);
  for (int i = 0; i < list.Count; ++i)
    out.emplace_back(list.Keys[i]);
  kvKeysList_Destroy(&list);
  return out;
}

kv_watch::kv_watch(kv_bucket& bucket, std::function<void(kv_change&&)> handler)
    : bucket_(bucket), handler_(std::move(handler)) {
  thread_ = std::thread{[this] { run(); }};
}

kv_watch::~kv_watch() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (current_ != nullptr)
      kvWatcher_Stop(current_);
  }
  thread_.join();
}

void kv_watch::run() {
  constexpr int64_t poll_ms = 250;
  while (!stop_) {
    kvWatcher* w = nullptr;
    if (auto s = kvStore_WatchAll(&w, bucket_.handle(), nullptr); s != NATS_OK) {
      log::get("cluster")->warn("event=kv_watch_failed bucket={} status=\"{}\"",
                                kvStore_Bucket(bucket_.handle()), nats_error_text(s));
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
      continue;
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      current_ = w;
    }
    while (!stop_) {
      kvEntry* e = nullptr;
      auto s = kvWatcher_Next(&e, w, poll_ms);
      if (s == NATS_TIMEOUT)
        continue;
      if (s != NATS_OK)
        break; // stopped, or the watcher broke: make a new one (it replays the values)
      kv_change change;
      if (e == nullptr) {
        change.caught_up = true;
      } else {
        change.key = kvEntry_Key(e);
        auto* data = static_cast<const uint8_t*>(kvEntry_Value(e));
        change.value.assign(data, data + kvEntry_ValueLen(e));
        change.revision = kvEntry_Revision(e);
        change.deleted = kvEntry_Operation(e) != kvOp_Put;
        kvEntry_Destroy(e);
      }
      handler_(std::move(change));
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      current_ = nullptr;
    }
    kvWatcher_Destroy(w);
  }
}

result<nats_credentials> read_nats_credentials(const std::string& path) {
  auto bad = [&](const std::string& why) {
    return failure{errc::invalid_argument, "NATS credentials file '" + path + "': " + why};
  };
  auto text = crypto::read_secret_file(path, "NATS credentials file", 4096);
  if (!text)
    return text.error();
  nats_credentials creds;
  std::istringstream in{*text};
  sodium_memzero(text->data(), text->size());
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      return bad("lines must be user=... or password=...");
    auto key = line.substr(0, eq);
    auto value = line.substr(eq + 1);
    if (key == "user")
      creds.user = value;
    else if (key == "password")
      creds.password = value;
    else
      return bad("unknown key '" + key + "'");
  }
  if (creds.user.empty() || creds.password.empty())
    return bad("needs both user= and password=");
  return creds;
}

result<bool> write_nats_credentials(const std::string& path, const nats_credentials& creds) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return failure{errc::unavailable, "cannot create '" + path + "': " + std::strerror(errno)};
  auto text = "# NATS credentials of a kinbox cluster\nuser=" + creds.user +
              "\npassword=" + creds.password + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok)
    return failure{errc::unavailable, "cannot write '" + path + "'"};
  return true;
}

result<std::unique_ptr<nats_link>> nats_link::connect(const std::vector<std::string>& urls,
                                                      const std::string& client_name,
                                                      const std::optional<nats_credentials>& creds,
                                                      const std::string& ca_file) {
  natsOptions* opts = nullptr;
  if (auto s = natsOptions_Create(&opts); s != NATS_OK)
    return nats_failure("nats_options", s);
  std::vector<const char*> servers;
  for (auto& u : urls)
    servers.push_back(u.c_str());
  natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  natsOptions_SetName(opts, client_name.c_str());
  if (creds)
    natsOptions_SetUserInfo(opts, creds->user.c_str(), creds->password.c_str());
  if (!ca_file.empty()) {
    natsOptions_SetSecure(opts, true);
    if (auto s = natsOptions_LoadCATrustedCertificates(opts, ca_file.c_str()); s != NATS_OK) {
      natsOptions_Destroy(opts);
      std::ifstream readable{ca_file};
      return failure{errc::invalid_argument,
                     "cannot load the CA certificates of --nats-ca '" + ca_file + "': " +
                         (readable ? "not a PEM file of certificates" : "no readable file") +
                         " (the CA that signed the NATS servers' certificates)"};
    }
  }
  natsOptions_UseGlobalMessageDelivery(opts, true);
  natsOptions_SetSendAsap(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 250);
  natsOptions_SetTimeout(opts, 2000);
  std::unique_ptr<nats_link> link{new nats_link};
  natsOptions_SetDisconnectedCB(opts, on_disconnected, &link->closing_);
  natsOptions_SetReconnectedCB(opts, on_reconnected, nullptr);
  auto s = natsConnection_Connect(&link->conn_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK)
    return connect_failure(s, urls, creds.has_value());
  jsOptions js_opts;
  jsOptions_Init(&js_opts);
  js_opts.Wait = 2000; // KV calls answer or fail within 2 s; callers retry
  if (s = natsConnection_JetStream(&link->js_, link->conn_, &js_opts); s != NATS_OK)
    return nats_failure("jetstream", s);
  return link;
}

nats_link::~nats_link() {
  closing_ = true; // the disconnect that follows is ours: no warning
  for (auto& entry : subscriptions_)
    natsSubscription_Unsubscribe(entry->sub);
  if (js_)
    jsCtx_Destroy(js_);
  if (conn_) {
    natsConnection_Close(conn_);
    natsConnection_Destroy(conn_);
  }
  for (auto& entry : subscriptions_)
    natsSubscription_Destroy(entry->sub);
}

bool nats_link::publish(const std::string& subject, std::span<const uint8_t> data,
                        const std::string& reply) {
  natsStatus s;
  if (reply.empty())
    s = natsConnection_Publish(conn_, subject.c_str(), data.data(), static_cast<int>(data.size()));
  else
    s = natsConnection_PublishRequest(conn_, subject.c_str(), reply.c_str(), data.data(),
                                      static_cast<int>(data.size()));
  return s == NATS_OK;
}

result<bool> nats_link::subscribe(const std::string& subject, nats_handler handler) {
  auto entry = std::make_unique<subscription_entry>();
  entry->handler = std::move(handler);
  auto s =
      natsConnection_Subscribe(&entry->sub, conn_, subject.c_str(), on_message, &entry->handler);
  if (s != NATS_OK)
    return nats_failure("nats_subscribe", s);
  natsSubscription_SetPendingLimits(entry->sub, -1, -1);
  std::lock_guard<std::mutex> guard{mtx_};
  subscriptions_.push_back(std::move(entry));
  return true;
}

namespace {

/// Raises the replicas of an existing stream (a NATS cluster that grew; a KV bucket is
/// the stream KV_<bucket>). Only logs on failure: it works with fewer copies.
void raise_replicas(jsCtx* js, const std::string& stream, int replicas) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr{};
  if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr) != NATS_OK)
    return;
  if (si->Config->Replicas < replicas) {
    auto from = si->Config->Replicas;
    si->Config->Replicas = replicas;
    jsStreamInfo* updated = nullptr;
    auto s = js_UpdateStream(&updated, js, si->Config, nullptr, &jerr);
    if (s == NATS_OK) {
      log::get("cluster")->info("event=replicas_raised stream={} from={} to={}", stream, from,
                                replicas);
      jsStreamInfo_Destroy(updated);
    } else {
      log::get("cluster")->warn("event=replicas_not_raised stream={} replicas={} status=\"{}\"",
                                stream, from, nats_error_text(s));
    }
  }
  jsStreamInfo_Destroy(si);
}

} // namespace

result<std::unique_ptr<kv_bucket>> nats_link::existing_bucket(const std::string& name) {
  kvStore* kv = nullptr;
  auto s = js_KeyValue(&kv, js_, name.c_str());
  if (s == NATS_NOT_FOUND)
    return failure{errc::not_found, "no KV bucket " + name};
  if (s != NATS_OK)
    return nats_failure("kv_open_bucket", s);
  return std::make_unique<kv_bucket>(kv);
}

result<std::unique_ptr<kv_bucket>> nats_link::open_bucket(const bucket_options& opts) {
  kvStore* kv = nullptr;
  auto s = js_KeyValue(&kv, js_, opts.name.c_str());
  if (s == NATS_OK && opts.remake_on_ttl_change) {
    kvStatus* status = nullptr;
    if (kvStore_Status(&status, kv) == NATS_OK) {
      auto ttl = kvStatus_TTL(status);
      kvStatus_Destroy(status);
      if (ttl != opts.ttl_ns) {
        log::get("cluster")->info("event=kv_bucket_remade bucket={} ttl_ns={} was={}", opts.name,
                                  opts.ttl_ns, ttl);
        kvStore_Destroy(kv);
        kv = nullptr;
        js_DeleteKeyValue(js_, opts.name.c_str());
        s = NATS_NOT_FOUND;
      }
    }
  }
  if (s == NATS_OK) {
    if (opts.replicas > 1)
      raise_replicas(js_, "KV_" + opts.name, opts.replicas);
    return std::make_unique<kv_bucket>(kv);
  }
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = opts.name.c_str();
  cfg.History = opts.history;
  cfg.TTL = opts.ttl_ns;
  cfg.StorageType = js_FileStorage;
  cfg.Replicas = opts.replicas;
  if (s = js_CreateKeyValue(&kv, js_, &cfg); s != NATS_OK) {
    // Another node may have made it a moment ago.
    if (js_KeyValue(&kv, js_, opts.name.c_str()) == NATS_OK)
      return std::make_unique<kv_bucket>(kv);
    return nats_failure("kv_create_bucket", s);
  }
  return std::make_unique<kv_bucket>(kv);
}

result<std::unique_ptr<kv_bucket>> nats_link::open_erasable_bucket(const bucket_options& opts) {
  auto stream = "KV_" + opts.name;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr{};
  if (js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &jerr) == NATS_OK) {
    jsStreamInfo_Destroy(si);
    if (opts.replicas > 1)
      raise_replicas(js_, stream, opts.replicas);
  } else {
    auto subject = "$KV." + opts.name + ".>";
    const char* subjects[] = {subject.c_str()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = opts.replicas;
    cfg.MaxMsgsPerSubject = opts.history;
    cfg.AllowRollup = true;
    cfg.AllowDirect = true;
    cfg.DenyDelete = false;
    cfg.Discard = js_DiscardNew;
    auto s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    if (s != NATS_OK && js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &jerr) != NATS_OK)
      return nats_failure("kv_create_bucket", s);
    jsStreamInfo_Destroy(si);
  }
  kvStore* kv = nullptr;
  if (auto s = js_KeyValue(&kv, js_, opts.name.c_str()); s != NATS_OK)
    return nats_failure("kv_open_bucket", s);
  return std::make_unique<kv_bucket>(kv, js_, stream);
}

result<bool> kv_bucket::erase_current(const std::string& key) {
  kv_timer timed;
  if (js_ == nullptr)
    return failure{errc::internal, "the bucket does not allow erasing"};
  kvEntry* e = nullptr;
  auto s = kvStore_Get(&e, kv_, key.c_str());
  if (s == NATS_NOT_FOUND)
    return false;
  if (s != NATS_OK)
    return nats_failure("kv_get", s);
  auto seq = kvEntry_Revision(e);
  kvEntry_Destroy(e);
  jsErrCode jerr{};
  s = js_EraseMsg(js_, stream_.c_str(), seq, nullptr, &jerr);
  if (s != NATS_OK)
    return nats_failure("kv_erase", s);
  return true;
}

result<std::unique_ptr<js_stream>> nats_link::existing_stream(const std::string& name) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr{};
  auto s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND)
    return failure{errc::not_found, "no stream " + name};
  if (s != NATS_OK)
    return nats_failure("stream_info", s);
  jsStreamInfo_Destroy(si);
  return std::make_unique<js_stream>(js_, name);
}

result<std::unique_ptr<js_stream>> nats_link::open_stream(const stream_options& opts) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr{};
  auto discard = opts.discard_new ? js_DiscardNew : js_DiscardOld;
  if (js_GetStreamInfo(&si, js_, opts.name.c_str(), nullptr, &jerr) == NATS_OK) {
    auto* c = si->Config;
    if (c->MaxBytes != opts.max_bytes || c->Discard != discard || c->MaxAge != opts.max_age_ns) {
      c->MaxBytes = opts.max_bytes;
      c->Discard = discard;
      c->MaxAge = opts.max_age_ns;
      jsStreamInfo* updated = nullptr;
      auto s = js_UpdateStream(&updated, js_, c, nullptr, &jerr);
      if (s == NATS_OK) {
        log::get("cluster")->info("event=stream_bounds_set stream={} max_bytes={}", opts.name,
                                  opts.max_bytes);
        jsStreamInfo_Destroy(updated);
      } else {
        log::get("cluster")->warn("event=stream_bounds_not_set stream={} status=\"{}\"", opts.name,
                                  nats_error_text(s));
      }
    }
    jsStreamInfo_Destroy(si);
    if (opts.replicas > 1)
      raise_replicas(js_, opts.name, opts.replicas);
    return std::make_unique<js_stream>(js_, opts.name);
  }
  std::vector<const char*> subjects;
  for (auto& s : opts.subjects)
    subjects.push_back(s.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = opts.name.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = js_FileStorage;
  cfg.MaxAge = opts.max_age_ns;
  cfg.MaxBytes = opts.max_bytes;
  cfg.Discard = discard;
  cfg.Replicas = opts.replicas;
  auto s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
  if (s != NATS_OK) {
    // Another node may have made it a moment ago.
    if (js_GetStreamInfo(&si, js_, opts.name.c_str(), nullptr, &jerr) != NATS_OK)
      return nats_failure("stream_create", s);
  }
  jsStreamInfo_Destroy(si);
  return std::make_unique<js_stream>(js_, opts.name);
}

result<uint64_t> js_stream::publish(const std::string& subject, std::span<const uint8_t> data) {
  jsPubAck* ack = nullptr;
  jsErrCode jerr{};
  auto s = js_Publish(&ack, js_, subject.c_str(), data.data(), static_cast<int>(data.size()),
                      nullptr, &jerr);
  if (s != NATS_OK)
    return nats_failure("stream_publish", s);
  auto seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  return seq;
}

result<std::pair<uint64_t, uint64_t>> js_stream::bounds() {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr{};
  auto s = js_GetStreamInfo(&si, js_, name_.c_str(), nullptr, &jerr);
  if (s != NATS_OK)
    return nats_failure("stream_info", s);
  std::pair<uint64_t, uint64_t> out{si->State.FirstSeq, si->State.LastSeq};
  jsStreamInfo_Destroy(si);
  return out;
}

result<std::optional<stream_message>> js_stream::get(uint64_t seq) {
  natsMsg* msg = nullptr;
  jsErrCode jerr{};
  auto s = js_GetMsg(&msg, js_, name_.c_str(), seq, nullptr, &jerr);
  if (s == NATS_NOT_FOUND)
    return std::optional<stream_message>{};
  if (s != NATS_OK)
    return nats_failure("stream_get", s);
  auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg));
  stream_message out{seq, natsMsg_GetSubject(msg), bytes(data, data + natsMsg_GetDataLength(msg))};
  natsMsg_Destroy(msg);
  return std::optional<stream_message>{std::move(out)};
}

result<bytes> nats_link::request(const std::string& subject, std::span<const uint8_t> data,
                                 int64_t timeout_ms) {
  natsMsg* reply = nullptr;
  auto s = natsConnection_Request(&reply, conn_, subject.c_str(), data.data(),
                                  static_cast<int>(data.size()), timeout_ms);
  if (s == NATS_NO_RESPONDERS)
    return failure{errc::unavailable, "nobody serves " + subject};
  if (s == NATS_TIMEOUT)
    return failure{errc::timeout, "no answer on " + subject};
  if (s != NATS_OK)
    return nats_failure("nats_request", s);
  auto* p = reinterpret_cast<const uint8_t*>(natsMsg_GetData(reply));
  bytes out(p, p + natsMsg_GetDataLength(reply));
  natsMsg_Destroy(reply);
  return out;
}

size_t nats_link::max_payload() const {
  auto n = natsConnection_GetMaxPayload(conn_);
  return n > 0 ? static_cast<size_t>(n) : 1u << 20;
}

bool nats_link::flush(int64_t timeout_ms) {
  return natsConnection_FlushTimeout(conn_, timeout_ms) == NATS_OK;
}

bool nats_link::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

size_t nats_link::known_servers() const {
  char** servers = nullptr;
  int count = 0;
  if (natsConnection_GetServers(conn_, &servers, &count) != NATS_OK)
    return 1;
  for (int i = 0; i < count; ++i)
    free(servers[i]);
  free(servers);
  return static_cast<size_t>(count);
}

std::string nats_link::connected_url() const {
  char url[256] = {0};
  if (natsConnection_GetConnectedUrl(conn_, url, sizeof(url)) != NATS_OK)
    return {};
  return url;
}

} // namespace kinbox
