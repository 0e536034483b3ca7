#include "bench/systems.hpp"

#include <mosquitto.h>
#include <nats/nats.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "bench/accounts.hpp"
#include "bench/payload.hpp"
#include "bench/runner.hpp"
#include "client/client.hpp"

namespace kinbox::bench {

namespace {

using namespace std::chrono_literals;

/// Payloads handed over from a library's callback thread to the receiving thread.
class payload_queue {
public:
  void push(payload_bytes p) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      items_.push_back(std::move(p));
    }
    cv_.notify_one();
  }

  bool pop_all(std::chrono::milliseconds timeout, std::vector<payload_bytes>& out) {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_for(lock, timeout, [&] { return !items_.empty(); });
    while (!items_.empty()) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return true;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<payload_bytes> items_;
};

// ---------------------------------------------------------------------------- kinbox

/// Sends the keys gathered so far in one ack frame, as an app does, and clears them.
void send_acks(kinbox_user& u, ack_request& acks) {
  if (acks.keys.empty())
    return;
  auto& conn = u.conn->conn();
  conn.write_frame(make_frame(frame_type::ack, conn.next_request_id(), acks));
  acks.keys.clear();
}

class kinbox_sender : public link_sender {
public:
  /// `resend`: keep each message until it is accepted and send it again (same id) when
  /// the cluster refuses it for a moment, as an app does; off, a refusal ends the run.
  kinbox_sender(kinbox_user user, public_key friend_box, account_id to, bool resend)
      : user_(std::move(user)), channel_(*crypto::box_channel::make(friend_box, user_.prof->box)),
        to_(to), resend_(resend) {}

  bool send(const payload_bytes& payload, bool more) override {
    // Like an app, keep the requests in flight under the gateway's per-connection limit.
    while (outstanding_ >= max_outstanding)
      drain(100ms);
    auto sealed = channel_.seal(payload);
    auto& conn = user_.conn->conn();
    ++outstanding_;
    auto f = make_frame(frame_type::send, conn.next_request_id(),
                        send_request{to_, crypto::new_message_id(), sealed});
    if (resend_)
      unaccepted_.emplace(f.request_id, f.body);
    conn.queue_frame(f);
    return more || conn.flush();
  }

  void pump() override { drain(0ms); }

  uint64_t resent() const override { return resent_; }

  void finish() override {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (outstanding_ > 0 && std::chrono::steady_clock::now() < deadline)
      drain(100ms);
  }

  ~kinbox_sender() override {
    try {
      drain(200ms); // the last receipts
    } catch (const std::exception&) {
    }
  }

private:
  /// Counts acceptances and acks delivered receipts, as an app does.
  void drain(std::chrono::milliseconds first_wait) {
    auto& conn = user_.conn->conn();
    conn.flush();
    auto wait = first_wait;
    ack_request receipts;
    for (;;) {
      auto f = conn.read_frame(wait);
      if (!f)
        break;
      if (f->type == frame_type::accepted) {
        --outstanding_;
        unaccepted_.erase(f->request_id);
      } else if (f->type == frame_type::error) {
        auto why = decode_body<error_body>(f->body);
        auto kept = unaccepted_.find(f->request_id);
        if (why && client::is_transient(why->code) && kept != unaccepted_.end()) {
          auto body = std::move(kept->second);
          unaccepted_.erase(kept);
          auto again = frame{frame_type::send, conn.next_request_id(), std::move(body)};
          unaccepted_.emplace(again.request_id, again.body);
          conn.queue_frame(again);
          ++resent_;
        } else {
          --outstanding_;
          throw std::runtime_error("kinbox refused a message: " +
                                   (why ? why->message : std::string{"?"}));
        }
      } else if (f->type == frame_type::mail)
        if (auto m = decode_body<mail_push>(f->body))
          receipts.keys.push_back(mail_key{m->kind, m->from, m->id});
      if (receipts.keys.size() == max_ack_keys)
        send_acks(user_, receipts);
      wait = 0ms;
    }
    send_acks(user_, receipts);
  }

  static constexpr int64_t max_outstanding = 512;

  kinbox_user user_;
  crypto::box_channel channel_;
  account_id to_;
  bool resend_;
  int64_t outstanding_ = 0;
  std::unordered_map<uint32_t, bytes> unaccepted_; ///< send bodies by request id (resend)
  uint64_t resent_ = 0;
};

class kinbox_receiver : public link_receiver {
public:
  kinbox_receiver(kinbox_user user, public_key friend_box)
      : user_(std::move(user)), channel_(*crypto::box_channel::make(friend_box, user_.prof->box)) {}

  bool receive(std::chrono::milliseconds timeout, std::vector<payload_bytes>& out) override {
    auto& conn = user_.conn->conn();
    ack_request acks;
    auto wait = timeout;
    for (;;) {
      auto mail = conn.next_push(wait);
      if (!mail)
        return false;
      if (!*mail)
        break;
      wait = 0ms;
      acks.keys.push_back(mail_key{(*mail)->kind, (*mail)->from, (*mail)->id});
      if ((*mail)->kind == mail_kind::message)
        if (auto plain = channel_.open((*mail)->payload))
          out.push_back(std::move(*plain));
      if (acks.keys.size() == max_ack_keys)
        send_acks(user_, acks);
    }
    send_acks(user_, acks);
    return true;
  }

private:
  kinbox_user user_;
  crypto::box_channel channel_;
};

class kinbox_system : public system_under_test {
public:
  kinbox_system(std::string name, std::string a_host, uint16_t a_port, std::string b_host,
                uint16_t b_port, std::string work_dir, bool resend)
      : name_(std::move(name)), a_host_(std::move(a_host)), a_port_(a_port),
        b_host_(std::move(b_host)), b_port_(b_port), work_dir_(std::move(work_dir)),
        resend_(resend) {}

  std::string name() const override { return name_; }

  pair_links connect_pair(size_t index) override {
    auto base =
        work_dir_ + "/" + name_ + "-" + std::to_string(run_) + "-pair-" + std::to_string(index);
    if (index == 0)
      ++run_;
    auto a = kinbox_register(a_host_, a_port_, base + "-a", "Sender" + std::to_string(index));
    auto b = kinbox_register(b_host_, b_port_, base + "-b", "Receiver" + std::to_string(index));
    kinbox_login(a, a_host_, a_port_);
    kinbox_login(b, b_host_, b_port_);
    kinbox_befriend(a, b);
    auto a_box = a.prof->box.pk;
    auto b_box = b.prof->box.pk;
    auto to = b.id;
    return {std::make_unique<kinbox_sender>(std::move(a), b_box, to, resend_),
            std::make_unique<kinbox_receiver>(std::move(b), a_box)};
  }

private:
  std::string name_;
  std::string a_host_;
  uint16_t a_port_;
  std::string b_host_;
  uint16_t b_port_;
  std::string work_dir_;
  bool resend_;
  int run_ = 0;
};

// ------------------------------------------------------------------------------ MQTT

class mqtt_client {
public:
  mqtt_client(const std::string& id, const std::string& host, uint16_t port,
              bool clean_session = true) {
    mosq_ = mosquitto_new(id.c_str(), clean_session, this);
    if (!mosq_)
      throw std::runtime_error("mosquitto_new failed");
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(mosq_, 0);
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
      auto* client = static_cast<mqtt_client*>(self);
      auto* data = static_cast<const uint8_t*>(m->payload);
      client->queue.push(payload_bytes(data, data + m->payloadlen));
    });
    mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* self, int, int, const int*) {
      static_cast<mqtt_client*>(self)->subscribed = true;
    });
    mosquitto_publish_callback_set(
        mosq_, [](mosquitto*, void* self, int) { ++static_cast<mqtt_client*>(self)->published; });
    if (mosquitto_connect(mosq_, host.c_str(), port, 60) != MOSQ_ERR_SUCCESS)
      throw std::runtime_error("mosquitto_connect to " + host + ":" + std::to_string(port) +
                               " failed");
    mosquitto_loop_start(mosq_);
  }

  ~mqtt_client() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
  }

  mosquitto* handle() { return mosq_; }

  /// Subscribes and waits for the broker's SUBACK.
  void subscribe(const std::string& topic, int qos) {
    mosquitto_subscribe(mosq_, nullptr, topic.c_str(), qos);
    for (int i = 0; i < 500 && !subscribed; ++i)
      std::this_thread::sleep_for(10ms);
    if (!subscribed)
      throw std::runtime_error("mosquitto subscribe did not complete");
  }

  payload_queue queue;
  std::atomic<bool> subscribed{false};
  std::atomic<uint64_t> published{0}; ///< PUBACKs received (QoS 1)

private:
  mosquitto* mosq_ = nullptr;
};

class mqtt_sender : public link_sender {
public:
  mqtt_sender(std::unique_ptr<mqtt_client> c, std::string topic, int qos)
      : client_(std::move(c)), topic_(std::move(topic)), qos_(qos) {}
  bool send(const payload_bytes& payload, bool) override {
    return mosquitto_publish(client_->handle(), nullptr, topic_.c_str(),
                             static_cast<int>(payload.size()), payload.data(), qos_,
                             false) == MOSQ_ERR_SUCCESS;
  }

private:
  std::unique_ptr<mqtt_client> client_;
  std::string topic_;
  int qos_;
};

/// A receiver whose client's library callbacks fill a payload queue (MQTT, NATS).
template <class Client>
class queue_receiver : public link_receiver {
public:
  explicit queue_receiver(std::unique_ptr<Client> c) : client_(std::move(c)) {}
  bool receive(std::chrono::milliseconds timeout, std::vector<payload_bytes>& out) override {
    return client_->queue.pop_all(timeout, out);
  }

private:
  std::unique_ptr<Client> client_;
};

class mqtt_system : public system_under_test {
public:
  mqtt_system(std::string host, uint16_t port, int qos)
      : host_(std::move(host)), port_(port), qos_(qos) {
    mosquitto_lib_init();
  }

  std::string name() const override { return "mqtt-qos" + std::to_string(qos_); }

  pair_links connect_pair(size_t index) override {
    auto tag =
        std::to_string(::getpid()) + "-" + std::to_string(index) + "-" + std::to_string(run_++);
    auto topic = "kinbox-bench/" + tag;
    auto sub = std::make_unique<mqtt_client>("kb-sub-" + tag, host_, port_);
    sub->subscribe(topic, qos_);
    auto pub = std::make_unique<mqtt_client>("kb-pub-" + tag, host_, port_);
    return {std::make_unique<mqtt_sender>(std::move(pub), topic, qos_),
            std::make_unique<queue_receiver<mqtt_client>>(std::move(sub))};
  }

private:
  std::string host_;
  uint16_t port_;
  int qos_;
  int run_ = 0;
};

// ------------------------------------------------------------------------------ NATS

class nats_conn {
public:
  explicit nats_conn(const std::string& url) {
    if (natsConnection_ConnectTo(&nc_, url.c_str()) != NATS_OK)
      throw std::runtime_error("cannot connect to NATS at " + url);
  }
  ~nats_conn() {
    if (sub_)
      natsSubscription_Destroy(sub_);
    natsConnection_Destroy(nc_);
  }
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
  payload_queue queue;
};

class nats_sender : public link_sender {
public:
  nats_sender(std::unique_ptr<nats_conn> c, std::string subject)
      : conn_(std::move(c)), subject_(std::move(subject)) {}
  bool send(const payload_bytes& payload, bool) override {
    return natsConnection_Publish(conn_->nc_, subject_.c_str(), payload.data(),
                                  static_cast<int>(payload.size())) == NATS_OK;
  }
  void finish() override { natsConnection_FlushTimeout(conn_->nc_, 10000); }

private:
  std::unique_ptr<nats_conn> conn_;
  std::string subject_;
};

class nats_system : public system_under_test {
public:
  explicit nats_system(std::string url) : url_(std::move(url)) {}
  std::string name() const override { return "nats"; }

  pair_links connect_pair(size_t index) override {
    auto subject = "kinbox-bench." + std::to_string(::getpid()) + "." + std::to_string(index) +
                   "." + std::to_string(run_++);
    auto sub = std::make_unique<nats_conn>(url_);
    auto on_msg = [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
      auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg));
      static_cast<nats_conn*>(closure)->queue.push(
          payload_bytes(data, data + natsMsg_GetDataLength(msg)));
      natsMsg_Destroy(msg);
    };
    if (natsConnection_Subscribe(&sub->sub_, sub->nc_, subject.c_str(), on_msg, sub.get()) !=
        NATS_OK)
      throw std::runtime_error("NATS subscribe failed");
    natsSubscription_SetPendingLimits(sub->sub_, -1, -1);
    natsConnection_Flush(sub->nc_);
    auto pub = std::make_unique<nats_conn>(url_);
    return {std::make_unique<nats_sender>(std::move(pub), subject),
            std::make_unique<queue_receiver<nats_conn>>(std::move(sub))};
  }

private:
  std::string url_;
  int run_ = 0;
};

/// The sender publishes requests; a responder's callback echoes each to its reply subject,
/// the receiver's inbox: one request/reply round trip per message.
class nats_rr_system : public system_under_test {
public:
  explicit nats_rr_system(std::string url) : url_(std::move(url)) {}
  std::string name() const override { return "nats-rr"; }

  pair_links connect_pair(size_t index) override {
    auto base = "kinbox-bench-rr." + std::to_string(::getpid()) + "." + std::to_string(index) +
                "." + std::to_string(run_);
    if (index == 0)
      ++run_;
    auto responder = std::make_unique<nats_conn>(url_);
    auto echo = [](natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
      if (auto* reply = natsMsg_GetReply(msg))
        natsConnection_Publish(nc, reply, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
      natsMsg_Destroy(msg);
    };
    auto request_subject = base + ".request";
    if (natsConnection_Subscribe(&responder->sub_, responder->nc_, request_subject.c_str(), echo,
                                 nullptr) != NATS_OK)
      throw std::runtime_error("NATS subscribe failed");
    natsSubscription_SetPendingLimits(responder->sub_, -1, -1);
    natsConnection_Flush(responder->nc_);
    auto inbox = std::make_unique<nats_conn>(url_);
    auto reply_subject = base + ".reply";
    auto on_reply = [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
      auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg));
      static_cast<nats_conn*>(closure)->queue.push(
          payload_bytes(data, data + natsMsg_GetDataLength(msg)));
      natsMsg_Destroy(msg);
    };
    if (natsConnection_Subscribe(&inbox->sub_, inbox->nc_, reply_subject.c_str(), on_reply,
                                 inbox.get()) != NATS_OK)
      throw std::runtime_error("NATS subscribe failed");
    natsSubscription_SetPendingLimits(inbox->sub_, -1, -1);
    natsConnection_Flush(inbox->nc_);
    auto pub = std::make_unique<nats_conn>(url_);
    return {std::make_unique<nats_request_sender>(std::move(pub), request_subject, reply_subject),
            std::make_unique<reply_receiver>(std::move(inbox), std::move(responder))};
  }

private:
  /// The sender's inbox of replies; it also keeps the pair's responder alive.
  class reply_receiver : public link_receiver {
  public:
    reply_receiver(std::unique_ptr<nats_conn> inbox, std::unique_ptr<nats_conn> responder)
        : inbox_(std::move(inbox)), responder_(std::move(responder)) {}
    bool receive(std::chrono::milliseconds timeout, std::vector<payload_bytes>& out) override {
      return inbox_->queue.pop_all(timeout, out);
    }

  private:
    std::unique_ptr<nats_conn> inbox_;
    std::unique_ptr<nats_conn> responder_;
  };

  class nats_request_sender : public link_sender {
  public:
    nats_request_sender(std::unique_ptr<nats_conn> c, std::string subject, std::string reply)
        : conn_(std::move(c)), subject_(std::move(subject)), reply_(std::move(reply)) {}
    bool send(const payload_bytes& payload, bool) override {
      return natsConnection_PublishRequest(conn_->nc_, subject_.c_str(), reply_.c_str(),
                                           payload.data(),
                                           static_cast<int>(payload.size())) == NATS_OK;
    }
    void finish() override { natsConnection_FlushTimeout(conn_->nc_, 10000); }

  private:
    std::unique_ptr<nats_conn> conn_;
    std::string subject_;
    std::string reply_;
  };

  std::string url_;
  int run_ = 0;
};

// ----------------------------------------------------------------------------- relay

/// A socket of kinbox-bench-relay, closed with the object.
class relay_socket {
public:
  relay_socket(const std::string& host, uint16_t port, uint8_t role, uint32_t pair) {
    std::string error;
    fd_ = client::connect_tcp(host, port, {}, error);
    if (fd_ < 0)
      throw std::runtime_error("cannot connect to the relay at " + host + ":" +
                               std::to_string(port) + ": " + error);
    uint8_t hello[5] = {role};
    std::memcpy(hello + 1, &pair, sizeof(pair));
    if (!write_all(hello)) {
      ::close(fd_);
      throw std::runtime_error("the relay closed the connection");
    }
  }
  ~relay_socket() { ::close(fd_); }
  relay_socket(const relay_socket&) = delete;
  relay_socket& operator=(const relay_socket&) = delete;

  bool write_all(std::span<const uint8_t> data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      data = data.subspan(static_cast<size_t>(n));
    }
    return true;
  }
  int fd() const { return fd_; }

private:
  int fd_ = -1;
};

class relay_sender : public link_sender {
public:
  explicit relay_sender(std::unique_ptr<relay_socket> s) : socket_(std::move(s)) {}
  bool send(const payload_bytes& payload, bool more) override {
    out_.insert(out_.end(), payload.begin(), payload.end());
    if (more)
      return true;
    auto ok = socket_->write_all(out_);
    out_.clear();
    return ok;
  }

private:
  std::unique_ptr<relay_socket> socket_;
  payload_bytes out_;
};

/// Splits the relayed byte stream back into the fixed-size payloads.
class relay_receiver : public link_receiver {
public:
  explicit relay_receiver(std::unique_ptr<relay_socket> s) : socket_(std::move(s)) {
    uint8_t registered = 0;
    if (::recv(socket_->fd(), &registered, 1, MSG_WAITALL) != 1)
      throw std::runtime_error("the relay did not register the receiver");
  }
  bool receive(std::chrono::milliseconds timeout, std::vector<payload_bytes>& out) override {
    pollfd p{socket_->fd(), POLLIN, 0};
    auto ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready <= 0)
      return ready == 0 || errno == EINTR;
    uint8_t buf[16384];
    auto n = ::recv(socket_->fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0)
      return n < 0 && (errno == EAGAIN || errno == EINTR);
    pending_.insert(pending_.end(), buf, buf + n);
    size_t whole = pending_.size() / payload_size * payload_size;
    for (size_t at = 0; at < whole; at += payload_size)
      out.emplace_back(pending_.begin() + static_cast<ptrdiff_t>(at),
                       pending_.begin() + static_cast<ptrdiff_t>(at + payload_size));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(whole));
    return true;
  }

private:
  std::unique_ptr<relay_socket> socket_;
  payload_bytes pending_;
};

class relay_system : public system_under_test {
public:
  relay_system(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  std::string name() const override { return "relay"; }

  pair_links connect_pair(size_t) override {
    auto pair = next_pair_++;
    auto receiver = std::make_unique<relay_receiver>(
        std::make_unique<relay_socket>(host_, port_, uint8_t{1}, pair));
    return {std::make_unique<relay_sender>(
                std::make_unique<relay_socket>(host_, port_, uint8_t{0}, pair)),
            std::move(receiver)};
  }

private:
  std::string host_;
  uint16_t port_;
  uint32_t next_pair_ = 0;
};

} // namespace

std::unique_ptr<system_under_test> make_kinbox_cross(const std::string& a_host, uint16_t a_port,
                                                     const std::string& b_host, uint16_t b_port,
                                                     const std::string& work_dir,
                                                     const std::string& name, bool resend) {
  return std::make_unique<kinbox_system>(name, a_host, a_port, b_host, b_port, work_dir, resend);
}

std::unique_ptr<system_under_test> make_nats_request_reply(const std::string& url) {
  return std::make_unique<nats_rr_system>(url);
}

std::unique_ptr<system_under_test> make_kinbox(const std::string& host, uint16_t port,
                                               const std::string& work_dir) {
  return std::make_unique<kinbox_system>("kinbox", host, port, host, port, work_dir, false);
}

std::unique_ptr<system_under_test> make_mqtt(const std::string& host, uint16_t port, int qos) {
  return std::make_unique<mqtt_system>(host, port, qos);
}

std::unique_ptr<system_under_test> make_nats(const std::string& url) {
  return std::make_unique<nats_system>(url);
}

std::unique_ptr<system_under_test> make_relay(const std::string& host, uint16_t port) {
  return std::make_unique<relay_system>(host, port);
}

double kinbox_offline_drain(const std::string& host, uint16_t port, const std::string& work_dir,
                            size_t messages) {
  auto a = kinbox_register(host, port, work_dir + "/offline-a", "OfflineSender");
  auto b = kinbox_register(host, port, work_dir + "/offline-b", "OfflineReceiver");
  kinbox_login(a, host, port);
  kinbox_login(b, host, port);
  kinbox_befriend(a, b);
  b.conn.reset();
  auto b_box = b.prof->box.pk;
  auto a_box = a.prof->box.pk;
  kinbox_sender sender{std::move(a), b_box, b.id, false};
  for (size_t i = 0; i < messages; ++i) {
    if (!sender.send(make_payload(stamp{0, i, now_ns()}), i + 1 < messages))
      throw std::runtime_error("offline send failed");
    if (i % 256 == 0)
      sender.pump();
  }
  sender.finish();
  auto start = std::chrono::steady_clock::now();
  kinbox_login(b, host, port);
  kinbox_receiver receiver{std::move(b), a_box};
  size_t got = 0;
  std::vector<payload_bytes> batch;
  while (got < messages) {
    batch.clear();
    if (!receiver.receive(5s, batch) || batch.empty())
      throw std::runtime_error("offline drain stalled at " + std::to_string(got));
    got += batch.size();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double mqtt_offline_drain(const std::string& host, uint16_t port, size_t messages) {
  mosquitto_lib_init();
  auto tag = std::to_string(::getpid());
  auto topic = "kinbox-bench/offline/" + tag;
  auto sub_id = "kb-offline-sub-" + tag;
  {
    // A persistent session (clean_session false) with a QoS 1 subscription, then offline.
    mqtt_client sub{sub_id, host, port, false};
    sub.subscribe(topic, 1);
  }
  mqtt_client pub{"kb-offline-pub-" + tag, host, port};
  for (size_t i = 0; i < messages; ++i) {
    auto payload = make_payload(stamp{0, i, now_ns()});
    while (mosquitto_publish(pub.handle(), nullptr, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), 1, false) != MOSQ_ERR_SUCCESS)
      std::this_thread::sleep_for(1ms);
  }
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (pub.published < messages && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  if (pub.published < messages)
    throw std::runtime_error("mosquitto did not acknowledge every queued message");
  auto start = std::chrono::steady_clock::now();
  mqtt_client sub{sub_id, host, port, false};
  size_t got = 0;
  std::vector<payload_bytes> batch;
  while (got < messages) {
    batch.clear();
    sub.queue.pop_all(5s, batch);
    if (batch.empty())
      throw std::runtime_error("mosquitto offline drain stalled at " + std::to_string(got));
    got += batch.size();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Loopback has about 28k ephemeral ports per (source, destination) pair: past 20k idle
/// sessions to a 127.x gateway, each further 20k come from the next 127.0.0.x address.
std::string idle_source_address(const std::string& host, size_t index) {
  constexpr size_t per_address = 20000;
  if (index < per_address || host.rfind("127.", 0) != 0)
    return {};
  return "127.0.0." + std::to_string(1 + index / per_address);
}

std::shared_ptr<void> kinbox_idle_sessions(const std::string& host, uint16_t port,
                                           const std::string& work_dir, size_t sessions,
                                           size_t threads) {
  auto users = std::make_shared<std::vector<kinbox_user>>(sessions);
  std::vector<std::thread> workers;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  for (size_t t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (size_t i = next++; i < sessions && !failed; i = next++) {
        try {
          auto dir = work_dir + "/idle-" + std::to_string(i);
          auto source = idle_source_address(host, i);
          (*users)[i] = kinbox_register(host, port, dir, "Idle" + std::to_string(i), source);
          kinbox_login((*users)[i], host, port, source);
        } catch (const std::exception&) {
          failed = true;
        }
      }
    });
  for (auto& w : workers)
    w.join();
  if (failed)
    throw std::runtime_error("could not open all idle sessions");
  return users;
}

location_figures kinbox_locations(const std::string& host, uint16_t port,
                                  const std::string& work_dir, size_t families, double interval,
                                  double seconds, pid_t node_pid, pid_t nats_pid) {
  std::vector<kinbox_user> parents, children;
  for (size_t i = 0; i < families; ++i) {
    auto [p, c] = kinbox_family(host, port, work_dir + "/family" + std::to_string(i), i);
    parents.push_back(std::move(p));
    children.push_back(std::move(c));
  }
  for (size_t i = 1; i < families; i += 2)
    parents[i].conn.reset(); // offline: only the latest location waits, in memory
  location_figures out{families, interval};
  // Drop what the setup left (link notices) before counting.
  for (size_t i = 0; i < families; i += 2)
    (void)parents[i].conn->receive(std::chrono::milliseconds(200));
  // What the node costs idle (heartbeats, timers), to take out of the updates' figure.
  auto idle = std::min(seconds, 10.0);
  auto idle_before = process_cpu_seconds(node_pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(idle));
  out.idle_node_cores = (process_cpu_seconds(node_pid) - idle_before) / idle;
  auto cpu_before = process_cpu_seconds(node_pid);
  auto node_writes = process_disk_writes(node_pid);
  auto nats_writes = process_disk_writes(nats_pid);
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  std::atomic<uint64_t> updates{0}, pushed{0};
  std::atomic<bool> stop{false};
  // The online parents read what is pushed to them.
  std::thread readers([&] {
    while (!stop) {
      for (size_t i = 0; i < families; i += 2) {
        auto got = parents[i].conn->receive(std::chrono::milliseconds(0));
        if (got)
          for (auto& r : *got)
            if (r.kind == client::received::what::location)
              ++pushed;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  // Each child sends at its own phase in the interval, as independent devices do.
  for (uint64_t round = 0;; ++round) {
    auto round_start = start + std::chrono::duration<double>(interval * static_cast<double>(round));
    if (round_start >= end)
      break;
    for (size_t i = 0; i < families; ++i) {
      std::this_thread::sleep_until(
          round_start + std::chrono::duration<double>(interval * static_cast<double>(i) /
                                                      static_cast<double>(families)));
      client::geo_point where{48.0 + 0.001 * static_cast<double>(round), 2.0, 10};
      if (!children[i].conn->location_share(where))
        throw std::runtime_error("location_share failed");
      ++updates;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  readers.join();
  out.updates = updates;
  out.pushed = pushed;
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.node_cpu_seconds =
      std::max(0.0, process_cpu_seconds(node_pid) - cpu_before - out.idle_node_cores * elapsed);
  out.node_disk_writes = process_disk_writes(node_pid) - node_writes;
  out.nats_disk_writes = process_disk_writes(nats_pid) - nats_writes;
  return out;
}

namespace {

/// What a stranger sends about an id: every request type that names one, as a raw frame
/// (the SDK would stop at a missing key before it sends), and who sends it.
struct probe_request {
  std::string name;
  frame_type type;
  std::function<bytes(account_id)> body;
  enum class sender { stranger, frozen_child, not_logged_in } from = sender::stranger;
};

std::vector<probe_request> probe_requests(account_id bystander) {
  using s = probe_request::sender;
  auto id = [](account_id t) { return encode_body(target_request{t}); };
  return {
      {"status", frame_type::status_get, id},
      {"keys", frame_type::key_get, id},
      {"send", frame_type::send,
       [](account_id t) {
         return encode_body(send_request{t, crypto::new_message_id(), bytes(64, 7)});
       }},
      {"profile", frame_type::profile_get, id},
      {"export", frame_type::account_export, id},
      {"delete", frame_type::account_delete, id},
      {"contacts", frame_type::contacts_get, id},
      {"block", frame_type::contact_block,
       [=](account_id t) {
         return encode_body(contact_action{t, bystander});
       }},
      {"accept", frame_type::friend_accept, id},
      {"link_get", frame_type::link_get, id},
      {"link_remove", frame_type::link_remove, id},
      {"pin_set", frame_type::pin_set,
       [](account_id t) {
         return encode_body(pin_set_request{t, "5827"});
       }},
      {"approvals", frame_type::approvals_get, id},
      {"decide", frame_type::approval_decide,
       [=](account_id t) {
         return encode_body(approval_decision{t, bystander, true});
       }},
      {"policy", frame_type::policy_set,
       [](account_id t) {
         return encode_body(policy_request{t, 2});
       }},
      {"sharing", frame_type::location_sharing,
       [](account_id t) {
         return encode_body(location_sharing_request{t, true});
       }},
      {"setup_code", frame_type::child_setup_code, id},
      {"link_redeem", frame_type::link_redeem,
       [](account_id t) {
         return encode_body(link_redeem_request{t, 12345, {}});
       },
       s::frozen_child},
      {"reg_child", frame_type::register_child,
       [](account_id t) {
         return encode_body(register_child_request{t, 77, crypto::sign_keypair::generate().pk,
                                                   crypto::box_keypair::generate().pk});
       },
       s::not_logged_in},
      {"friend_add", frame_type::friend_add, id},
      {"report", frame_type::report,
       [](account_id t) {
         return encode_body(report_request{t, report_category::other});
       }},
  };
}

} // namespace

probe_figures kinbox_probe(const std::string& host, uint16_t port, const std::string& work_dir,
                           size_t probes, double wait_seconds) {
  const std::vector<std::string> kinds{"ordinary", "unknown", "deleted",
                                       "blocking", "child",   "live_code"};
  /// A parent, and its children unlinked by it: they may redeem link codes, a few each
  /// (half the kinds each, within a child's bucket of link codes).
  struct stranger {
    kinbox_user parent;
    kinbox_user frozen_children[2];
  };
  std::vector<stranger> strangers;
  std::vector<std::vector<account_id>> targets(kinds.size());
  std::vector<kinbox_user> keep; // targets whose code must stay live: their actors hold it
  std::mt19937_64 rng{42};
  for (size_t i = 0; i < probes; ++i) {
    auto dir = work_dir + "/probe" + std::to_string(i);
    stranger st{kinbox_register(host, port, dir + "/stranger", "Stranger"), {}};
    kinbox_login(st.parent, host, port);
    for (size_t c = 0; c < 2; ++c) {
      auto& child = st.frozen_children[c];
      child = kinbox_register_child(host, port, dir + "/stranger-child" + std::to_string(c),
                                    "Shade", st.parent);
      kinbox_login(child, host, port);
      if (!st.parent.conn->link_remove(child.id))
        throw std::runtime_error("kinbox link_remove failed");
    }
    targets[0].push_back(kinbox_register(host, port, dir + "/ordinary", "Ordinary").id);
    targets[1].push_back(1'000'000'000 + rng() % 9'000'000'000);
    auto gone = kinbox_register(host, port, dir + "/deleted", "Deleted");
    kinbox_login(gone, host, port);
    if (!gone.conn->account_delete(gone.id))
      throw std::runtime_error("kinbox account_delete failed");
    targets[2].push_back(gone.id);
    auto blocker = kinbox_register(host, port, dir + "/blocking", "Blocking");
    kinbox_login(blocker, host, port);
    if (!blocker.conn->contact_block(blocker.id, st.parent.id))
      throw std::runtime_error("kinbox contact_block failed");
    targets[3].push_back(blocker.id);
    auto other_parent = kinbox_register(host, port, dir + "/other-parent", "Other");
    kinbox_login(other_parent, host, port);
    targets[4].push_back(
        kinbox_register_child(host, port, dir + "/child", "Child", other_parent).id);
    auto coded = kinbox_register(host, port, dir + "/coded", "Coded");
    kinbox_login(coded, host, port);
    if (!coded.conn->link_create("3958"))
      throw std::runtime_error("kinbox link_create failed");
    targets[5].push_back(coded.id);
    keep.push_back(std::move(coded));
    strangers.push_back(std::move(st));
  }
  // The targets' actors were just used; after the wait, all of them have left memory.
  std::this_thread::sleep_for(std::chrono::duration<double>(wait_seconds));
  auto requests = probe_requests(targets[0].front());
  probe_figures out;
  out.probes = probes;
  out.wait_seconds = wait_seconds;
  for (auto& r : requests)
    for (auto& k : kinds)
      out.cells.push_back({r.name, k, {}, {}});
  std::vector<size_t> order(kinds.size());
  for (size_t i = 0; i < probes; ++i) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t q = 0; q < requests.size(); ++q)
      for (auto k : order) {
        auto& r = requests[q];
        std::unique_ptr<client::connection> fresh;
        client::connection* conn = nullptr;
        switch (r.from) {
        case probe_request::sender::stranger:
          conn = &strangers[i].parent.conn->conn();
          break;
        case probe_request::sender::frozen_child:
          conn = &strangers[i].frozen_children[k % 2].conn->conn();
          break;
        case probe_request::sender::not_logged_in: {
          auto opened = client::connection::open(host, port, std::nullopt);
          if (!opened)
            throw std::runtime_error("kinbox connect: " + opened.error().message);
          fresh = std::move(*opened);
          conn = fresh.get();
          break;
        }
        }
        auto since = std::chrono::steady_clock::now();
        auto answer = conn->request(r.type, r.body(targets[k][i]));
        auto& c = out.cells[q * kinds.size() + k];
        c.latency.record(static_cast<uint64_t>(
            std::chrono::nanoseconds(std::chrono::steady_clock::now() - since).count()));
        ++c.answers[std::string(answer ? "ok" : errc_name(answer.error().code))];
      }
  }
  return out;
}

struct pin_flood::impl {
  std::vector<kinbox_user> parents, children;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable cv;
  bool running = false;
  bool stopping = false;
  std::chrono::steady_clock::time_point started;
  double seconds = 0;
  std::atomic<uint64_t> wrong{0}, locked{0}, limited{0}, other{0};

  void flood(size_t first, size_t step) {
    for (size_t i = first;; i = i + step < children.size() ? i + step : first) {
      {
        std::unique_lock lock{mutex};
        cv.wait(lock, [&] { return running || stopping; });
        if (stopping)
          return;
      }
      auto r = children[i].conn->pin_change("5813", "9753");
      if (!r && r.error().code == errc::wrong_pin) {
        ++wrong;
        continue;
      }
      if (!r && r.error().code == errc::pin_locked)
        ++locked;
      else if (!r && r.error().code == errc::rate_limited)
        ++limited;
      else
        ++other;
      std::this_thread::sleep_for(20ms);
    }
  }
};

pin_flood::pin_flood(const std::string& host, uint16_t port, const std::string& work_dir,
                     size_t children, size_t threads)
    : impl_(std::make_unique<impl>()) {
  for (size_t i = 0; i < children; ++i) {
    auto [p, c] = kinbox_family(host, port, work_dir + "/family" + std::to_string(i), i);
    impl_->parents.push_back(std::move(p));
    impl_->children.push_back(std::move(c));
  }
  threads = std::clamp<size_t>(threads, 1, std::max<size_t>(1, children));
  for (size_t t = 0; t < threads; ++t)
    impl_->threads.emplace_back([this, t, threads] { impl_->flood(t, threads); });
}

pin_flood::~pin_flood() {
  {
    std::lock_guard lock{impl_->mutex};
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads)
    t.join();
}

void pin_flood::start() {
  {
    std::lock_guard lock{impl_->mutex};
    impl_->running = true;
    impl_->started = std::chrono::steady_clock::now();
  }
  impl_->cv.notify_all();
}

void pin_flood::pause() {
  std::lock_guard lock{impl_->mutex};
  if (!impl_->running)
    return;
  impl_->running = false;
  impl_->seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->started).count();
}

pin_flood_figures pin_flood::figures() const {
  std::lock_guard lock{impl_->mutex};
  return {impl_->children.size(), impl_->seconds, impl_->wrong,
          impl_->locked,          impl_->limited, impl_->other};
}

} // namespace kinbox::bench
