// The SDK's quiet hours: a parent sets or reads its child's schedule; the child's own
// session hears when they begin and end (received::what::quiet_began / quiet_ended).
#include "client/client.hpp"

namespace kinbox::client {

result<quiet_reply> client::quiet_set(account_id child,
                                      const std::optional<quiet_schedule>& schedule) {
  return call<quiet_reply>(frame_type::quiet_set, encode_body(quiet_set_request{child, schedule}));
}

result<quiet_reply> client::quiet_get(account_id owner) {
  return call<quiet_reply>(frame_type::quiet_get, encode_body(target_request{owner}));
}

} // namespace kinbox::client
