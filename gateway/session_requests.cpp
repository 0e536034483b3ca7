// Each client request of a logged-in session sent as the entity request map_request
// (client_requests.hpp) makes of it, to the account's own user actor, another account's,
// or a child's family; or answered with its refusal.
#include "gateway/session_parts.hpp"

namespace kinbox::session_parts {

void handle_ready(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  auto rid = f.request_id;
  if (f.type == frame_type::whoami)
    return reply(self, frame_type::login_ok, rid, st.info);
  auto mapped = map_request(f, {st.account, st.info.role == account_role::parent, st.frozen, st.asleep, st.parent});
  if (auto* no = std::get_if<request_refusal>(&mapped)) {
    if (no->closes)
      return fail(self, frame_type::error, rid, no->why.code, no->why.message);
    return reply_error(self, rid, no->why);
  }
  auto& call = std::get<entity_call>(mapped);
  if (call.guesses_code && !within_code_guesses(self, rid))
    return;
  call_entity(self, rid, std::move(call.req), call.accepts);
}

} // namespace kinbox::session_parts
