// Parent-PIN hashing off the actor scheduler: argon2id takes tens to hundreds of
// milliseconds and as many megabytes, so it runs on a few detached workers (threads of
// their own, at the lowest CPU priority), and at most `max_waiting` hashes may wait for
// them across the node. A flood of PIN tries is answered `rate_limited` at that bound, and
// the hashes it does get run only on CPU that messaging leaves.
//
// The workers are shared fairly: an account (a family, or a parent making a link code)
// has at most one hash queued or running at a time, and a hash goes to the worker with
// the fewest, so one family's flood delays another family's check by one hash at most.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <mutex>
#include <set>
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

  /// A worker's turn for one hash on behalf of `account`.
  struct ticket {
    pin_worker worker;
    size_t index = 0; ///< of the worker
    uint64_t account = 0;
  };

  /// A turn for one more hash of `account`, or nullopt when the account has one queued
  /// or running already, or the node has `max_waiting`; the caller hands the ticket back
  /// to `done` when its answer came.
  std::optional<ticket> acquire(uint64_t account);
  void done(const ticket& t);
  size_t waiting() const;

private:
  std::vector<pin_worker> workers_;
  mutable std::mutex mutex_;
  std::vector<size_t> load_;         ///< hashes queued or running, per worker
  std::set<uint64_t> accounts_;      ///< accounts with a hash queued or running
  size_t waiting_ = 0;
  size_t max_waiting_;
};

} // namespace kinbox

