#include "cluster/nats_link.hpp"

#include "config/log.hpp"

namespace kinbox {

namespace {

failure nats_failure(const char* what, natsStatus s) {
  auto text = nats_error_text(s);
  log::get("cluster")->warn("event=nats_error op={} status=\"{}\"", what, text);
  return failure{errc::unavailable, std::string{what} + ": " + text};
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

void on_disconnected(natsConnection*, void*) {
  log::get("cluster")->warn("event=nats_disconnected");
}

void on_reconnected(natsConnection*, void*) {
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

kv_bucket::~kv_bucket() {
  kvStore_Destroy(kv_);
}

result<std::optional<kv_value>> kv_bucket::get(const std::string& key) {
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
  uint64_t rev = 0;
  auto s = kvStore_Put(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s != NATS_OK)
    return nats_failure("kv_put", s);
  return rev;
}

result<bool> kv_bucket::create(const std::string& key, std::span<const uint8_t> value) {
  uint64_t rev = 0;
  auto s = kvStore_Create(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s == NATS_OK)
    return true;
  // JetStream answers "wrong last sequence" when the key exists.
  if (s == NATS_ERR) {
    natsStatus last = NATS_OK;
    const char* detail = nats_GetLastError(&last);
    if (detail != nullptr &&
        std::string_view{detail}.find("wrong last sequence") != std::string_view::npos)
      return false;
  }
  return nats_failure("kv_create", s);
}

result<bool> kv_bucket::erase(const std::string& key) {
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

result<std::unique_ptr<nats_link>> nats_link::connect(const std::vector<std::string>& urls,
                                                      const std::string& client_name) {
  natsOptions* opts = nullptr;
  if (auto s = natsOptions_Create(&opts); s != NATS_OK)
    return nats_failure("nats_options", s);
  std::vector<const char*> servers;
  for (auto& u : urls)
    servers.push_back(u.c_str());
  natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  natsOptions_SetName(opts, client_name.c_str());
  natsOptions_UseGlobalMessageDelivery(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 250);
  natsOptions_SetTimeout(opts, 2000);
  natsOptions_SetDisconnectedCB(opts, on_disconnected, nullptr);
  natsOptions_SetReconnectedCB(opts, on_reconnected, nullptr);
  std::unique_ptr<nats_link> link{new nats_link};
  auto s = natsConnection_Connect(&link->conn_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK)
    return nats_failure("nats_connect", s);
  jsOptions js_opts;
  jsOptions_Init(&js_opts);
  js_opts.Wait = 2000; // KV calls answer or fail within 2 s; callers retry
  if (s = natsConnection_JetStream(&link->js_, link->conn_, &js_opts); s != NATS_OK)
    return nats_failure("jetstream", s);
  return link;
}

nats_link::~nats_link() {
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

result<std::unique_ptr<kv_bucket>> nats_link::open_bucket(const bucket_options& opts) {
  kvStore* kv = nullptr;
  auto s = js_KeyValue(&kv, js_, opts.name.c_str());
  if (s == NATS_OK)
    return std::make_unique<kv_bucket>(kv);
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = opts.name.c_str();
  cfg.History = opts.history;
  cfg.TTL = opts.ttl_ns;
  cfg.StorageType = js_FileStorage;
  if (s = js_CreateKeyValue(&kv, js_, &cfg); s != NATS_OK)
    return nats_failure("kv_create_bucket", s);
  return std::make_unique<kv_bucket>(kv);
}

bool nats_link::flush(int64_t timeout_ms) {
  return natsConnection_FlushTimeout(conn_, timeout_ms) == NATS_OK;
}

bool nats_link::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

std::string nats_link::new_inbox() {
  natsInbox* inbox = nullptr;
  natsInbox_Create(&inbox);
  std::string out = inbox;
  natsInbox_Destroy(inbox);
  return out;
}

} // namespace kinbox
