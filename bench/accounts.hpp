// Accounts of the kinbox-bench modes: registered, logged in, made friends or families
// through the client SDK, as the app does.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/client.hpp"

namespace kinbox::bench {

struct kinbox_user {
  std::unique_ptr<client::profile> prof; // on the heap: the client refers to it
  std::unique_ptr<client::client> conn;
  account_id id = 0;
};

/// Registers a parent account (a child's friends would wait for its parent's approval);
/// not logged in. `source` is the local address to connect from.
kinbox_user kinbox_register(const std::string& host, uint16_t port, const std::string& dir,
                            const std::string& name, const std::string& source = {});

/// A child account made by `parent` (logged in) and registered by its own device; not
/// logged in.
kinbox_user kinbox_register_child(const std::string& host, uint16_t port, const std::string& dir,
                                  const std::string& name, kinbox_user& parent);

void kinbox_login(kinbox_user& u, const std::string& host, uint16_t port,
                  const std::string& source = {});

/// A parent account, registered and logged in.
kinbox_user kinbox_join(const std::string& host, uint16_t port, const std::string& dir,
                        const std::string& name);

/// `a` asks, `b` accepts once the request has reached it, and each has the other's keys.
void kinbox_befriend(kinbox_user& a, kinbox_user& b);

/// A parent and its linked child (with a PIN set), both registered and logged in.
std::pair<kinbox_user, kinbox_user> kinbox_family(const std::string& host, uint16_t port,
                                                  const std::string& dir, size_t index);

/// The CPU seconds the processes `pids` have used (0 for a pid of 0).
double cpu_of(const std::vector<pid_t>& pids);

} // namespace kinbox::bench
