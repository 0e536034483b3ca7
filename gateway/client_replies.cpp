#include "gateway/client_replies.hpp"

#include "actors/chat_interface.hpp"
#include "actors/user_interface.hpp"

namespace kinbox {

namespace {

/// `r`'s result as the frame of type `type`, if it is a T.
template <class T>
std::optional<frame> as(frame_type type, uint32_t request_id, const entity_reply& r) {
  if (auto* x = result_as<T>(r))
    return make_frame(type, request_id, *x);
  return std::nullopt;
}

} // namespace

frame client_reply(uint32_t request_id, const entity_reply& r,
                   const std::optional<message_id>& accepts) {
  if (!r.ok()) {
    auto f = r.to_failure();
    return make_frame(frame_type::error, request_id,
                      error_body{f.code, f.message, f.retry_after_ms});
  }
  if (r.value.empty()) {
    if (accepts)
      return make_frame(frame_type::accepted, request_id, accepted_reply{*accepts});
    return frame{frame_type::ok, request_id, {}};
  }
  if (auto* sent = result_as<group_send_result>(r)) {
    if (sent->stale)
      return make_frame(frame_type::group_stale, request_id, sent->current);
    if (accepts)
      return make_frame(frame_type::accepted, request_id, accepted_reply{*accepts});
  }
  // clang-format off
  for (auto answer : {as<profile_reply>(frame_type::profile, request_id, r),
                      as<contact_list>(frame_type::friend_list_result, request_id, r),
                      as<key_reply>(frame_type::key_result, request_id, r),
                      as<status_reply>(frame_type::status_result, request_id, r),
                      as<account_document>(frame_type::account_data, request_id, r),
                      as<child_setup_reply>(frame_type::child_setup, request_id, r),
                      as<link_code_reply>(frame_type::link_code, request_id, r),
                      as<link_info>(frame_type::link_info, request_id, r),
                      as<approval_list>(frame_type::approval_list, request_id, r),
                      as<register_reply>(frame_type::register_ok, request_id, r),
                      as<group_info>(frame_type::group_info, request_id, r),
                      as<group_list>(frame_type::group_list_result, request_id, r),
                      as<quiet_reply>(frame_type::quiet_result, request_id, r),
                      as<call_ring_result>(frame_type::call_rung, request_id, r)})
    // clang-format on
    if (answer)
      return std::move(*answer);
  return make_frame(frame_type::error, request_id,
                    error_body{errc::internal, "a result no client frame carries", 0});
}

} // namespace kinbox
