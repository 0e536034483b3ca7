#include "client/connection.hpp"

#include <algorithm>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kinbox::client {

namespace {

using clock = std::chrono::steady_clock;

/// Binds `fd` to `source` (an IP address; the kernel picks the port at connect time).
bool bind_source(int fd, int family, const std::string& source, std::string& error) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* res = nullptr;
  if (::getaddrinfo(source.c_str(), nullptr, &hints, &res) != 0) {
    error = "bad source address " + source;
    return false;
  }
  bool bound = ::bind(fd, res->ai_addr, res->ai_addrlen) == 0;
  if (!bound)
    error = "bind " + source + ": " + std::strerror(errno);
  ::freeaddrinfo(res);
  return bound;
}

} // namespace

int connect_tcp(const std::string& host, uint16_t port, const std::string& source,
                std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto port_text = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res); rc != 0) {
    error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    if ((source.empty() || bind_source(fd, ai->ai_family, source, error)) &&
        ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    if (error.empty())
      error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

result<std::unique_ptr<connection>> connection::open(const std::string& host, uint16_t port,
                                                     std::optional<public_key> pinned_key,
                                                     milliseconds timeout,
                                                     const std::string& source) {
  std::string error;
  int fd = connect_tcp(host, port, source, error);
  if (fd < 0)
    return failure{errc::unavailable,
                   "cannot connect to " + host + ":" + std::to_string(port) + ": " + error};
  std::unique_ptr<connection> conn{new connection};
  conn->fd_ = fd;
  auto ephemeral = crypto::kx_keypair::generate();
  auto ciphers = crypto::supported_ciphers();
  if (!conn->write_frame(
          make_frame(frame_type::client_hello, 0, client_hello{ephemeral.pk, ciphers})))
    return failure{errc::unavailable, "connection closed during the handshake"};
  auto answer = conn->read_one(timeout);
  if (!answer)
    return answer.error();
  if (answer->type == frame_type::error) { // refused before the handshake (a limit)
    auto why = decode_body<error_body>(answer->body);
    if (why)
      return failure{why->code, why->message, why->retry_after_ms};
  }
  if (answer->type != frame_type::server_hello)
    return failure{errc::unexpected_frame, "the gateway did not answer with server_hello"};
  auto hello = decode_body<server_hello>(answer->body);
  if (!hello)
    return hello.error();
  if (pinned_key &&
      sodium_memcmp(pinned_key->data(), hello->cluster_key.data(), public_key_size) != 0)
    return failure{errc::key_mismatch, "the gateway presented cluster key " +
                                           crypto::fingerprint(hello->cluster_key) + " but " +
                                           crypto::fingerprint(*pinned_key) +
                                           " is pinned; refusing to talk to it"};
  if (std::find(ciphers.begin(), ciphers.end(), hello->cipher) == ciphers.end())
    return failure{errc::malformed_frame, "the gateway picked a record cipher not offered"};
  auto keys = crypto::client_session(ephemeral, hello->cluster_key, hello->ephemeral_key);
  if (!keys)
    return failure{errc::malformed_frame, "the gateway sent an invalid key"};
  conn->cluster_key_ = hello->cluster_key;
  // Below the smallest the protocol allows, a login or a send would not fit; above the
  // largest, a gateway could make the client buffer without bound.
  if (hello->max_frame_size < min_max_frame_size || hello->max_frame_size > max_max_frame_size)
    return failure{errc::malformed_frame, "the gateway announced a maximum frame size of " +
                                              std::to_string(hello->max_frame_size) +
                                              ", outside 1 KiB to 16 MiB"};
  conn->max_frame_size_ = hello->max_frame_size;
  conn->transcript_ = keys->transcript;
  conn->channel_.emplace(*keys, hello->cipher);
  // A device has one connection: keeping the AES key schedule costs it a few hundred
  // bytes and saves expanding the key for every record.
  conn->channel_->keep_keys_expanded(true);
  return conn;
}

connection::~connection() {
  if (fd_ >= 0)
    ::close(fd_);
}

failure connection::close_with(failure f) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  return f;
}

bool connection::write_raw(std::span<const uint8_t> data) {
  size_t done = 0;
  while (fd_ >= 0 && done < data.size()) {
    auto n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return fd_ >= 0;
}

namespace {

void append_sealed(std::optional<crypto::record_channel>& channel, bytes& out, const frame& f) {
  auto plain = encode_frame(f);
  if (channel) {
    channel->seal(out, plain);
  } else {
    append_length_prefix(out, plain.size());
    out.insert(out.end(), plain.begin(), plain.end());
  }
}

} // namespace

bytes connection::seal_frame(const frame& f) {
  bytes out;
  append_sealed(channel_, out, f);
  return out;
}

void connection::queue_frame(const frame& f) {
  append_sealed(channel_, out_, f);
}

bool connection::flush() {
  if (out_.empty())
    return fd_ >= 0;
  auto ok = write_raw(out_);
  out_.clear();
  return ok;
}

bool connection::write_frame(const frame& f) {
  queue_frame(f);
  return flush();
}

result<frame> connection::read_one(milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (fd_ < 0)
      return failure{errc::unavailable, "the connection is closed"};
    auto next = reader_.next();
    if (!next)
      return close_with(next.error());
    if (*next) {
      auto rec = **next;
      bytes plain;
      if (channel_) {
        auto opened = channel_->open(rec.prefix, rec.payload);
        if (!opened)
          return close_with(
              {errc::decrypt_failed, "a record from the gateway failed authentication"});
        plain = std::move(*opened);
      } else {
        plain.assign(rec.payload.begin(), rec.payload.end());
      }
      return decode_frame(plain);
    }
    if (!flush())
      return close_with({errc::unavailable, "the gateway closed the connection"});
    // Take what the socket already holds; wait only when it holds nothing.
    uint8_t buf[16384];
    auto n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      reader_.append({buf, static_cast<size_t>(n)});
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
      return close_with({errc::unavailable, "the gateway closed the connection"});
    auto now = clock::now();
    if (now >= deadline)
      return failure{errc::timeout, "no answer from the gateway in time"};
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::chrono::ceil<milliseconds>(deadline - now).count()));
  }
}

failure connection::goodbye(const frame& f) {
  if (f.type == frame_type::redirect) {
    auto r = decode_body<redirect_body>(f.body);
    if (!r)
      return close_with({errc::unavailable, "the gateway is leaving"});
    redirected_to_ = r->gateways;
    return close_with({r->code, r->message});
  }
  auto why = decode_body<error_body>(f.body);
  return close_with(why ? failure{why->code, why->message}
                        : failure{errc::unavailable, "the gateway said bye"});
}

result<frame> connection::read_frame(milliseconds timeout) {
  return read_one(timeout);
}

result<frame> connection::request(frame_type type, bytes body, milliseconds timeout) {
  // The gateway would close the connection on it; a fresh one would meet the same.
  auto record = frame_header_size + body.size() + crypto::record_channel::overhead;
  if (record > max_frame_size_)
    return failure{errc::frame_too_large, "the request takes " + std::to_string(record) +
                                              " bytes; the gateway accepts at most " +
                                              std::to_string(max_frame_size_)};
  auto id = next_request_id();
  if (!write_frame(frame{type, id, std::move(body)}))
    return close_with({errc::unavailable, "the gateway closed the connection"});
  auto deadline = clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
    auto f = read_one(std::max(left, milliseconds(0)));
    if (!f)
      return f.error();
    if (f->type == frame_type::mail) {
      auto mail = decode_body<mail_push>(f->body);
      if (mail)
        pushes_.push_back(std::move(*mail));
      continue;
    }
    if (f->type == frame_type::bye || f->type == frame_type::redirect)
      return goodbye(*f);
    if (f->request_id != id)
      continue;
    if (f->type == frame_type::error) {
      auto why = decode_body<error_body>(f->body);
      if (!why)
        return why.error();
      return failure{why->code, why->message, why->retry_after_ms};
    }
    return f;
  }
}

result<std::optional<mail_push>> connection::next_push(milliseconds timeout) {
  if (!pushes_.empty()) {
    auto m = std::move(pushes_.front());
    pushes_.pop_front();
    return std::optional<mail_push>{std::move(m)};
  }
  auto deadline = clock::now() + timeout;
  for (;;) {
    auto left = std::max(std::chrono::duration_cast<milliseconds>(deadline - clock::now()),
                         milliseconds(0));
    auto f = read_one(left);
    if (!f) {
      if (f.error().code == errc::timeout)
        return std::optional<mail_push>{};
      return f.error();
    }
    if (f->type == frame_type::bye || f->type == frame_type::redirect)
      return goodbye(*f);
    if (f->type != frame_type::mail)
      continue;
    auto mail = decode_body<mail_push>(f->body);
    if (!mail)
      return mail.error();
    return std::optional<mail_push>{std::move(*mail)};
  }
}

} // namespace kinbox::client
