// The session: one CAF broker per TCP connection (forked by the gateway acceptor). It
// cuts the byte stream into records, runs the transport handshake, opens and seals every
// record after it, authenticates the account (register / signed-challenge login), turns
// requests into entity requests for the router, and pushes mail to the device.
//
// Phases: hello -> auth -> ready. A record that is malformed, oversize, fails to
// authenticate or does not fit the phase gets an error frame and the connection closes;
// requests that fail for their own reasons get an error frame and the connection stays.
#pragma once

#include <caf/io/broker.hpp>

#include <chrono>
#include <functional>
#include <memory>

#include "actors/user_host.hpp"
#include "cluster/kv_actor.hpp"
#include "crypto/crypto.hpp"

namespace kinbox {

/// Sent to a session by the gateway when the node stops: say bye and close.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

/// What every session of a node shares.
struct gateway_context {
  crypto::kx_keypair cluster_key;
  entity_actor router;
  user_host_actor host;
  kv_actor kv;
  size_t max_frame_size = 64 * 1024;
  size_t max_outbound_bytes = 4 * 1024 * 1024;
  size_t max_in_flight = 1024;                   ///< requests a connection may have open at once
  std::chrono::milliseconds auth_timeout{30000}; ///< time to complete the login
  /// Whether an account's user actor lives on this node and may be called directly
  /// (the router's local shortcut, without the router); empty: always use the router.
  std::function<bool(account_id)> serves_locally;
  std::function<uint64_t()> now_ms;
};

/// Moves the accepted connection `hdl` of `acceptor` into a new session broker.
caf::actor fork_session(caf::io::broker* acceptor, caf::io::connection_handle hdl,
                        std::shared_ptr<const gateway_context> ctx, uint64_t session_id);

} // namespace kinbox
