// The SDK's calls: signals to a friend (sealed for it through the box channel) or an
// offer to a group, and a parent ending its child's calls. Call signals come back through
// `receive` as received::what::call; a missed call as received::what::missed_call.
#include "client/client.hpp"

namespace kinbox::client {

result<call_ring_result> client::call_offer(uint64_t to, call_id id, bool video,
                                            std::string_view description) {
  call_request req{to, id, call_signal::offer, video, {}};
  if (!is_group_id(to) && !description.empty()) {
    auto* channel = channel_to(to);
    if (channel == nullptr)
      return failure{errc::not_found, "no such friend"};
    req.payload = channel->seal(encode_plaintext(description));
  }
  return call<call_ring_result>(frame_type::call, encode_body(req));
}

result<bool> client::call_signal_to(call_id id, call_signal s, account_id to,
                                    std::string_view text) {
  call_request req{to, id, s, false, {}};
  if (!text.empty()) { // sealed for the one peer it is for, never sent in the clear
    auto* channel = to != 0 ? channel_to(to) : nullptr;
    if (channel == nullptr)
      return failure{errc::invalid_argument, "a signal's payload needs a friend to seal it for"};
    req.payload = channel->seal(encode_plaintext(text));
  }
  return expect_ok(frame_type::call, encode_body(req));
}

result<bool> client::call_end(account_id child) {
  return expect_ok(frame_type::call_end, encode_body(target_request{child}));
}

} // namespace kinbox::client
