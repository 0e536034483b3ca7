// The one place where the typed result of an entity request becomes the frame that
// answers the client: each result type has its frame, an error its error frame (with the
// retry-after), a send's success is `accepted`, and a result of no type is `ok`.
#pragma once

#include <optional>

#include "cluster/entity.hpp"
#include "protocol/frame.hpp"

namespace kinbox {

/// The answer to client request `request_id`; `accepts` is the message id of a send.
frame client_reply(uint32_t request_id, const entity_reply& r,
                   const std::optional<message_id>& accepts = std::nullopt);

} // namespace kinbox
