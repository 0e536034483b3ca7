// Parent-PIN hashing off the actor scheduler: argon2id takes tens to hundreds of
// milliseconds and as many megabytes, so it runs on a few detached workers (threads of
// their own, at the lowest CPU priority), and at most `max_waiting` hashes may wait for
// them across the node. A flood of PIN tries is answered `rate_limited` at that bound, and
// the hashes it does get run only on CPU that messaging leaves.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/pin.hpp"

namespace kinbox {

using pin_hash_atom = caf::atom_constant<caf::atom("pin_hash")>;
using pin_check_atom = caf::atom_constant<caf::atom("pin_check")>;

// clang-format off
using pin_worker = caf::typed_actor<
  /// The hash of a PIN (fails with invalid_argument for a PIN that is not four digits).
  caf::replies_to<pin_hash_atom, std::string>::with<std::string>,
  /// Whether a PIN matches a hash.
  caf::replies_to<pin_check_atom, std::string, std::string>::with<bool>>;
// clang-format on

struct pin_service_config {
  crypto::pin_pepper pepper;
  crypto::pin_hash_params params;
  size_t workers = 1;      ///< hashes at once
  size_t max_waiting = 32; ///< hashes queued or running on the node
  /// Workers on threads of their own (production); false: scheduled like any actor, for
  /// tests under CAF's deterministic test coordinator.
  bool detached = true;
};

class pin_service {
public:
  pin_service(caf::actor_system& sys, pin_service_config cfg);
  ~pin_service() { stop(); }

  /// Stops the workers (before the actor system waits for its actors to end).
  void stop();

  /// A worker for one more hash, or nullopt when the node has `max_waiting` already; the
  /// caller calls `done` when its answer came.
  std::optional<pin_worker> acquire();
  void done() { waiting_.fetch_sub(1, std::memory_order_relaxed); }
  size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }

private:
  std::vector<pin_worker> workers_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> waiting_{0};
  size_t max_waiting_;
};

} // namespace kinbox

