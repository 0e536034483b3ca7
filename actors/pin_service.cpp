#include "actors/pin_service.hpp"

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <sodium.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

/// Wipes a PIN once it is used: it never outlives its request.
void wipe(std::string& s) {
  sodium_memzero(s.data(), s.size());
}

/// Puts the calling thread in the idle scheduling class (SCHED_IDLE), once: its hashes
/// run on CPU that the node's other threads leave, and a waking I/O or scheduler thread
/// preempts it at once, so a flood of PIN tries cannot take CPU from messaging. Only for a
/// worker on a thread of its own: a scheduler thread must keep its class.
void yield_cpu_to_messaging(const pin_service_config& cfg) {
  thread_local bool lowered = false;
  if (!cfg.detached || lowered)
    return;
  lowered = true;
  sched_param param{};
  if (sched_setscheduler(gettid(), SCHED_IDLE, &param) != 0)
    log::get("pin")->warn("PIN worker keeps its CPU priority: {}", std::strerror(errno));
}

pin_worker::behavior_type pin_worker_behavior(pin_worker::pointer,
                                              std::shared_ptr<const pin_service_config> cfg) {
  return {
      [=](pin_hash_atom, std::string& pin) -> caf::result<std::string> {
        yield_cpu_to_messaging(*cfg);
        auto hash = crypto::hash_pin(pin, cfg->pepper, cfg->params);
        wipe(pin);
        if (!hash)
          return make_error(hash.error());
        return *hash;
      },
      [=](pin_check_atom, const std::string& hash, std::string& pin) {
        yield_cpu_to_messaging(*cfg);
        bool ok = crypto::verify_pin(hash, pin, cfg->pepper);
        wipe(pin);
        return ok;
      },
  };
}

} // namespace

pin_service::pin_service(caf::actor_system& sys, pin_service_config cfg)
    : max_waiting_(cfg.max_waiting) {
  auto shared = std::make_shared<const pin_service_config>(std::move(cfg));
  for (size_t i = 0; i < std::max<size_t>(1, shared->workers); ++i)
    workers_.push_back(shared->detached ? sys.spawn<caf::detached>(pin_worker_behavior, shared)
                                        : sys.spawn(pin_worker_behavior, shared));
  load_.assign(workers_.size(), 0);
}

void pin_service::stop() {
  for (auto& w : workers_)
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
}

std::optional<pin_service::ticket> pin_service::acquire(uint64_t account) {
  std::lock_guard guard{mutex_};
  if (waiting_ >= max_waiting_ || !accounts_.insert(account).second)
    return std::nullopt;
  ++waiting_;
  auto least = static_cast<size_t>(std::min_element(load_.begin(), load_.end()) - load_.begin());
  ++load_[least];
  return ticket{workers_[least], least, account};
}

void pin_service::done(const ticket& t) {
  std::lock_guard guard{mutex_};
  --waiting_;
  --load_[t.index];
  accounts_.erase(t.account);
}

size_t pin_service::waiting() const {
  std::lock_guard guard{mutex_};
  return waiting_;
}

} // namespace kinbox
