// kinbox-bench-relay: the loopback floor of kinbox-bench. One thread, one epoll loop, no
// framing, acks or encryption: each pair's sender connection has its bytes written to the
// pair's receiver connection as they come. What it costs per message is what any server
// pays on this machine to move one message in and out through the kernel.
//
//   kinbox-bench-relay HOST:PORT
//
// A connection first sends 5 bytes: role (0 sender, 1 receiver) and the pair as a
// little-endian u32. A receiver connects before its sender and hears one byte once it is
// registered; bytes for a pair without a receiver are dropped. Writes to receivers block:
// the bench's receivers always read.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/version.hpp"

namespace {

constexpr size_t hello_size = 5;

struct connection {
  uint8_t hello[hello_size]{};
  size_t hello_got = 0;
  bool sender = false;
  uint32_t pair = 0;
  bool ready() const { return hello_got == hello_size; }
};

bool write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

/// A listening socket, or -1 with `error` set.
int listen_on(const std::string& host_port, std::string& error) {
  auto colon = host_port.rfind(':');
  char* end = nullptr;
  auto port =
      colon == std::string::npos ? 0 : std::strtoul(host_port.c_str() + colon + 1, &end, 10);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (colon == std::string::npos || *end != '\0' || port == 0 || port > 65535 ||
      ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    error = "expected IPV4-ADDRESS:PORT";
    return -1;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 1024) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view{argv[1]} == "--version") {
    std::printf("kinbox-bench-relay %s\n", kinbox::version);
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: kinbox-bench-relay HOST:PORT\n");
    return 2;
  }
  std::string error;
  int listener = listen_on(argv[1], error);
  if (listener < 0) {
    std::fprintf(stderr, "kinbox-bench-relay: cannot listen on %s: %s\n", argv[1], error.c_str());
    return 1;
  }
  int ep = ::epoll_create1(0);
  if (ep < 0) {
    std::fprintf(stderr, "kinbox-bench-relay: epoll_create1: %s\n", std::strerror(errno));
    return 1;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, connection> conns;
  std::unordered_map<uint32_t, int> receivers;
  std::vector<uint8_t> buf(64 * 1024);
  auto drop = [&](int fd) {
    auto it = conns.find(fd);
    if (it != conns.end() && it->second.ready() && !it->second.sender) {
      auto r = receivers.find(it->second.pair);
      if (r != receivers.end() && r->second == fd)
        receivers.erase(r);
    }
    conns.erase(fd);
    ::close(fd);
  };
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(ep, events, 64, -1);
    if (n < 0 && errno == EINTR)
      continue;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (int c; (c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c] = connection{};
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end())
        continue; // dropped earlier in this round
      auto got = ::recv(fd, buf.data(), buf.size(), 0);
      if (got < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (got <= 0) {
        drop(fd);
        continue;
      }
      auto& c = it->second;
      const uint8_t* data = buf.data();
      auto size = static_cast<size_t>(got);
      if (!c.ready()) {
        auto take = std::min(size, hello_size - c.hello_got);
        std::memcpy(c.hello + c.hello_got, data, take);
        c.hello_got += take;
        data += take;
        size -= take;
        if (!c.ready())
          continue;
        c.sender = c.hello[0] == 0;
        std::memcpy(&c.pair, c.hello + 1, sizeof(c.pair));
        if (!c.sender) {
          ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK); // blocking writes
          receivers[c.pair] = fd;
          uint8_t registered = 0;
          if (!write_all(fd, &registered, 1))
            drop(fd);
          continue;
        }
      }
      if (!c.sender || size == 0)
        continue;
      auto r = receivers.find(c.pair);
      if (r != receivers.end() && !write_all(r->second, data, size))
        drop(r->second);
    }
  }
}
