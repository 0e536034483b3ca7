#include "actors/pin_service.hpp"

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <sodium.h>

#include "config/caf_error.hpp"

namespace kinbox {

namespace {

/// Wipes a PIN once it is used: it never outlives its request.
void wipe(std::string& s) {
  sodium_memzero(s.data(), s.size());
}

pin_worker::behavior_type pin_worker_behavior(pin_worker::pointer,
                                              std::shared_ptr<const pin_service_config> cfg) {
  return {
      [=](pin_hash_atom, std::string& pin) -> caf::result<std::string> {
        auto hash = crypto::hash_pin(pin, cfg->pepper, cfg->params);
        wipe(pin);
        if (!hash)
          return make_error(hash.error());
        return *hash;
      },
      [=](pin_check_atom, const std::string& hash, std::string& pin) {
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
}

void pin_service::stop() {
  for (auto& w : workers_)
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
}

std::optional<pin_worker> pin_service::acquire() {
  if (waiting_.fetch_add(1, std::memory_order_relaxed) >= max_waiting_) {
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return workers_[next_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
}

} // namespace kinbox
