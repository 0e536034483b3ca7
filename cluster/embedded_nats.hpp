// A `nats-server -js` child process on loopback, for a lone dev node that was given no
// NATS URL. Its JetStream data lives under the node's data dir. It accepts only the
// given user (its configuration file, mode 0600, holds the password; nothing goes on its
// command line). The child gets SIGTERM when the node dies (PR_SET_PDEATHSIG), so a
// killed node leaves no server behind. Start it before the LMDB env is opened (never fork
// with an open env).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cluster/nats_link.hpp"
#include "protocol/types.hpp"

namespace kinbox {

class embedded_nats {
public:
  /// Starts the server on a free loopback port and waits until it accepts connections.
  [[nodiscard]] static result<std::unique_ptr<embedded_nats>>
  start(const std::string& binary, const std::string& store_dir, const std::string& name,
        const nats_credentials& creds);

  /// Stops the server (SIGTERM, then SIGKILL after 10 s) and reaps it.
  ~embedded_nats();

  const std::string& url() const { return url_; }

private:
  embedded_nats() = default;
  pid_t pid_ = -1;
  std::string url_;
};

/// The path of an executable: `name` itself if it holds a '/', else the first match in
/// PATH, else /usr/sbin/name (where Debian installs nats-server, often not in a user's
/// PATH). Empty if none exists.
std::string find_executable(const std::string& name);

/// Reads the credentials file at `path`, or makes one with a random password (mode 0600)
/// if there is none: how a dev node's embedded server gets its user.
[[nodiscard]] result<nats_credentials> load_or_make_credentials(const std::string& path);

/// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t pick_free_port();

/// Whether something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(uint16_t port);

} // namespace kinbox
