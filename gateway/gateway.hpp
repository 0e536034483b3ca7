// The gateway acceptor: listens on the configured address and forks one session broker
// per accepted connection. On shutdown it stops accepting, tells every session to say
// bye, and quits once they are gone.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>

#include <memory>

#include "config/node_config.hpp"
#include "gateway/session.hpp"

namespace kinbox {

struct gateway_handle {
  caf::actor acceptor;
  uint16_t port = 0; ///< the bound port (useful when the configured port was 0)
};

/// Binds `addr` and starts accepting; fails if the address cannot be bound.
[[nodiscard]] result<gateway_handle> start_gateway(caf::actor_system& sys,
                                                   const listen_address& addr,
                                                   std::shared_ptr<const gateway_context> ctx);

} // namespace kinbox
