// The session: one CAF broker per TCP connection (forked by the gateway acceptor). It
// cuts the byte stream into records, runs the transport handshake, opens and seals every
// record after it, authenticates the account (register / signed-challenge login), turns
// requests into entity requests (through the entity service, wherever the entity lives),
// and pushes mail to the device. It is an endpoint of the entity service: the account's
// user actor, on any node, attaches it and pushes to it.
//
// Phases: hello -> auth -> ready. A record that is malformed, oversize, fails to
// authenticate or does not fit the phase gets an error frame and the connection closes;
// requests that fail for their own reasons get an error frame and the connection stays.
#pragma once

#include <caf/io/broker.hpp>

#include <chrono>
#include <functional>
#include <memory>

#include "actors/user_actor.hpp"
#include "cluster/kv_actor.hpp"
#include "crypto/crypto.hpp"
#include "gateway/limits.hpp"

namespace kinbox {

/// Sent to the gateway and its sessions when the node stops (with the gateways of other
/// nodes, for a drain): redirect the app there, or say bye, and close.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

/// What every session of a node shares.
struct gateway_context {
  crypto::kx_keypair cluster_key;
  std::shared_ptr<entity_service> service;
  kv_actor kv;
  size_t max_frame_size = 64 * 1024;
  size_t max_outbound_bytes = 4 * 1024 * 1024;
  size_t max_in_flight = 1024;                   ///< requests a connection may have open at once
  std::chrono::milliseconds auth_timeout{30000}; ///< time to complete the login
  std::shared_ptr<gateway_limits> limits;
  std::function<uint64_t()> now_ms;
  age_rules ages; ///< who may register a parent account
};

/// Moves the accepted connection `hdl` of `acceptor` into a new session broker.
caf::actor fork_session(caf::io::broker* acceptor, caf::io::connection_handle hdl,
                        std::shared_ptr<const gateway_context> ctx);

} // namespace kinbox
