#include "bench/accounts.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "bench/runner.hpp"

namespace kinbox::bench {

using namespace std::chrono_literals;

kinbox_user kinbox_register(const std::string& host, uint16_t port, const std::string& dir,
                            const std::string& name, const std::string& source) {
  kinbox_user u;
  u.prof = std::make_unique<client::profile>(client::profile::create(dir));
  auto c = client::client::connect(*u.prof, host, port, source);
  if (!c)
    throw std::runtime_error("kinbox connect: " + c.error().message);
  auto id = (*c)->register_account(name, "1985-01-01", account_role::parent);
  if (!id)
    throw std::runtime_error("kinbox register: " + id.error().message);
  u.id = *id;
  return u;
}

kinbox_user kinbox_register_child(const std::string& host, uint16_t port, const std::string& dir,
                                  const std::string& name, kinbox_user& parent) {
  auto setup = parent.conn->child_create(name, "2015-01-01");
  if (!setup)
    throw std::runtime_error("kinbox child_create: " + setup.error().message);
  kinbox_user u;
  u.prof = std::make_unique<client::profile>(client::profile::create(dir));
  auto c = client::client::connect(*u.prof, host, port);
  if (!c)
    throw std::runtime_error("kinbox connect: " + c.error().message);
  auto id = (*c)->register_child(setup->child, setup->secret);
  if (!id)
    throw std::runtime_error("kinbox register_child: " + id.error().message);
  u.id = *id;
  return u;
}

void kinbox_login(kinbox_user& u, const std::string& host, uint16_t port,
                  const std::string& source) {
  auto c = client::client::connect(*u.prof, host, port, source);
  if (!c)
    throw std::runtime_error("kinbox connect: " + c.error().message);
  if (auto me = (*c)->login(); !me)
    throw std::runtime_error("kinbox login: " + me.error().message);
  u.conn = std::move(*c);
}

void kinbox_befriend(kinbox_user& a, kinbox_user& b) {
  if (!a.conn->friend_add(b.id))
    throw std::runtime_error("kinbox friend_add failed");
  // The request travels to b's actor (on another node, perhaps one that is busy).
  for (int i = 0; i < 1000; ++i) {
    if (b.conn->friend_accept(a.id)) {
      for (int j = 0; j < 1000; ++j) {
        if (a.conn->keys_of(b.id) && b.conn->keys_of(a.id))
          return;
        std::this_thread::sleep_for(10ms);
      }
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("kinbox friendship did not complete");
}

kinbox_user kinbox_join(const std::string& host, uint16_t port, const std::string& dir,
                        const std::string& name) {
  auto u = kinbox_register(host, port, dir, name);
  kinbox_login(u, host, port);
  return u;
}

std::pair<kinbox_user, kinbox_user> kinbox_family(const std::string& host, uint16_t port,
                                                  const std::string& dir, size_t index) {
  auto parent = kinbox_register(host, port, dir + "/parent", "Parent" + std::to_string(index));
  kinbox_login(parent, host, port);
  auto child =
      kinbox_register_child(host, port, dir + "/child", "Child" + std::to_string(index), parent);
  kinbox_login(child, host, port);
  if (!parent.conn->pin_set(child.id, "2741"))
    throw std::runtime_error("kinbox pin_set failed");
  return {std::move(parent), std::move(child)};
}

double cpu_of(const std::vector<pid_t>& pids) {
  double out = 0;
  for (auto p : pids)
    if (p > 0)
      out += process_cpu_seconds(p);
  return out;
}

} // namespace kinbox::bench
