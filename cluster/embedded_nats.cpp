#include "cluster/embedded_nats.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fcntl.h>

#include <sodium.h>

#include "config/log.hpp"
#include "crypto/crypto.hpp"

namespace kinbox {

std::string find_executable(const std::string& name) {
  auto executable = [](const std::string& path) { return ::access(path.c_str(), X_OK) == 0; };
  if (name.find('/') != std::string::npos)
    return executable(name) ? name : std::string{};
  const char* path_env = std::getenv("PATH");
  std::string dirs = path_env != nullptr ? path_env : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos)
      end = dirs.size();
    auto candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && executable(candidate))
      return candidate;
    start = end + 1;
  }
  auto fallback = "/usr/sbin/" + name;
  return executable(fallback) ? fallback : std::string{};
}

uint16_t pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool port_accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

result<nats_credentials> load_or_make_credentials(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
    uint8_t secret[24];
    randombytes_buf(secret, sizeof(secret));
    nats_credentials creds{"kinbox", crypto::to_hex(std::span<const uint8_t>{secret})};
    sodium_memzero(secret, sizeof(secret));
    if (auto written = write_nats_credentials(path, creds); !written)
      return written.error();
    log::get("cluster")->info("event=nats_credentials_created file={}", path);
    return creds;
  }
  return read_nats_credentials(path);
}

namespace {

/// The server's configuration: loopback only, JetStream in `store_dir`, one user.
result<std::string> write_server_config(const std::string& store_dir, const std::string& name,
                                        uint16_t port, const nats_credentials& creds) {
  auto path = store_dir + "/server.conf";
  auto quote = [](const std::string& x) {
    std::string out = "\"";
    for (char c : x) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    return out + "\"";
  };
  auto text = "server_name: " + quote(name) + "\nlisten: \"127.0.0.1:" + std::to_string(port) +
              "\"\njetstream { store_dir: " + quote(store_dir) +
              " }\nlog_file: " + quote(store_dir + "/nats-server.log") +
              "\nauthorization { user: " + quote(creds.user) +
              ", password: " + quote(creds.password) + " }\n";
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return failure{errc::unavailable, "cannot write '" + path + "': " + std::strerror(errno)};
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok)
    return failure{errc::unavailable, "cannot write '" + path + "'"};
  return path;
}

} // namespace

result<std::unique_ptr<embedded_nats>> embedded_nats::start(const std::string& binary,
                                                            const std::string& store_dir,
                                                            const std::string& name,
                                                            const nats_credentials& creds) {
  if (::mkdir(store_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return failure{errc::unavailable, "cannot create '" + store_dir + "': " + std::strerror(errno)};
  auto path = find_executable(binary);
  if (path.empty())
    return failure{errc::unavailable, "nats-server executable '" + binary +
                                          "' not found (install the nats-server package or set "
                                          "--nats-server-bin, or give --nats)"};
  auto port = pick_free_port();
  if (port == 0)
    return failure{errc::unavailable, "no free loopback port for nats-server"};
  auto port_text = std::to_string(port);
  auto log_file = store_dir + "/nats-server.log";
  auto config = write_server_config(store_dir, name, port, creds);
  if (!config)
    return config.error();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    return failure{errc::unavailable, std::string{"fork: "} + std::strerror(errno)};
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr); // the node blocks SIGTERM for sigwait
    // Its own session: a Ctrl-C in the node's terminal reaches the node, which leaves the
    // cluster through this server and then stops it.
    ::setsid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent)
      ::_exit(1);
    ::execl(path.c_str(), path.c_str(), "-c", config->c_str(), nullptr);
    ::_exit(127);
  }
  std::unique_ptr<embedded_nats> server{new embedded_nats};
  server->pid_ = pid;
  server->url_ = "nats://127.0.0.1:" + port_text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!port_accepts(port)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      return failure{errc::unavailable, "nats-server '" + binary + "' exited at start (status " +
                                            std::to_string(status) + "); see " + log_file};
    }
    if (std::chrono::steady_clock::now() > deadline)
      return failure{errc::unavailable, "nats-server did not start listening within 15 s"};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log::get("cluster")->info("event=embedded_nats_started pid={} url={} store={}", pid, server->url_,
                            store_dir);
  return server;
}

embedded_nats::~embedded_nats() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 1000; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      log::get("cluster")->info("event=embedded_nats_stopped pid={}", pid_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  log::get("cluster")->warn("event=embedded_nats_killed pid={}", pid_);
}

} // namespace kinbox
