// Requests to sharded entities and their replies, in one form for both paths: handed to
// the local host actor directly, or encoded and sent through NATS to the shard's owner.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <span>
#include <string>
#include <vector>

#include "cluster/shard_map.hpp"
#include "protocol/types.hpp"

namespace kinbox {

struct entity_request {
  entity_kind kind = entity_kind::user;
  uint64_t id = 0;       ///< the entity addressed
  uint8_t op = 0;        ///< operation, defined by the entity (e.g. user_op)
  account_id caller = 0; ///< the authenticated account on whose behalf the request runs
  bytes body;
};

struct entity_reply {
  uint16_t status = 0; ///< 0 for success, else an errc number
  std::string message; ///< for errors
  bytes body;

  bool ok() const { return status == 0; }
};

inline entity_reply ok_reply(bytes body = {}) {
  return entity_reply{0, {}, std::move(body)};
}

inline entity_reply error_reply(errc code, std::string message = {}) {
  if (message.empty())
    message = std::string{errc_description(code)};
  return entity_reply{static_cast<uint16_t>(code), std::move(message), {}};
}

bytes encode_entity_request(const entity_request& x);
bool decode_entity_request(std::span<const uint8_t> in, entity_request& x);
bytes encode_entity_reply(const entity_reply& x);
bool decode_entity_reply(std::span<const uint8_t> in, entity_reply& x);

/// Anything that serves entity requests: the node's entity host, or the router.
using entity_actor = caf::typed_actor<caf::replies_to<entity_request>::with<entity_reply>>;

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::entity_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::entity_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::entity_request>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::entity_reply>)
