// libFuzzer target: every body decoder of the wire and of the bus on arbitrary bytes (the
// first byte picks the decoder). What decodes must encode again to something that
// decodes: no decoder accepts what its encoder cannot represent.
#include <cstddef>
#include <cstdint>
#include <span>

#include "actors/chat.hpp"
#include "actors/chat_interface.hpp"
#include "actors/contacts.hpp"
#include "actors/family.hpp"
#include "actors/family_actor.hpp"
#include "actors/safety.hpp"
#include "actors/user_actor.hpp"
#include "cluster/entity.hpp"
#include "persistence/mailbox.hpp"
#include "protocol/calls.hpp"
#include "protocol/groups.hpp"
#include "protocol/messages.hpp"
#include "protocol/moments.hpp"
#include "protocol/quiet.hpp"

namespace {

template <class T>
void round_trip(std::span<const uint8_t> in) {
  auto x = kinbox::decode_body<T>(in);
  if (x && !kinbox::decode_body<T>(kinbox::encode_body(*x)))
    __builtin_trap();
}

/// A kind's codec on arbitrary bytes: the operation is the first byte, then an argument
/// or a result; what decodes encodes again to something that decodes.
void codec_round_trip(const kinbox::request_codec& codec, std::span<const uint8_t> in) {
  if (in.size() < 2)
    return;
  auto op = in[0];
  auto body = in.subspan(2);
  bool arg = in[1] % 2 == 0;
  auto decode = arg ? codec.decode_arg : codec.decode_result;
  auto encode = arg ? codec.encode_arg : codec.encode_result;
  auto value = decode(op, body);
  if (!value)
    return;
  auto again = encode(op, *value);
  if (!again || !decode(op, *again))
    __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kinbox;
  if (size < 1)
    return 0;
  std::span<const uint8_t> in{data + 1, size - 1};
  switch (data[0] % 83) {
  case 0: return round_trip<client_hello>(in), 0;
  case 1: return round_trip<server_hello>(in), 0;
  case 2: return round_trip<error_body>(in), 0;
  case 3: return round_trip<redirect_body>(in), 0;
  case 4: return round_trip<register_request>(in), 0;
  case 5: return round_trip<register_reply>(in), 0;
  case 6: return round_trip<login_request>(in), 0;
  case 7: return round_trip<account_info>(in), 0;
  case 8: return round_trip<target_request>(in), 0;
  case 9: return round_trip<contact_list>(in), 0;
  case 10: return round_trip<key_reply>(in), 0;
  case 11: return round_trip<status_reply>(in), 0;
  case 12: return round_trip<send_request>(in), 0;
  case 13: return round_trip<accepted_reply>(in), 0;
  case 14: return round_trip<ack_request>(in), 0;
  case 15: return round_trip<mail_push>(in), 0;
  case 16:
    if (auto mail = decode_envelopes(in); mail && !decode_envelopes(encode_envelopes(*mail)))
      __builtin_trap();
    return 0;
  case 17: return (void)decode_endpoint(in), 0;
  case 18: return (void)decode_bus_message(in), 0;
  case 19: return (void)decode_account(in), 0;
  case 20: return round_trip<attach_reply>(in), 0;
  case 21: return round_trip<deliver_body>(in), 0;
  case 22: return (void)decode_presence(in), 0;
  case 23: return round_trip<attach_body>(in), 0;
  case 24: return round_trip<link_create_request>(in), 0;
  case 25: return round_trip<link_code_reply>(in), 0;
  case 26: return round_trip<link_redeem_request>(in), 0;
  case 27: return round_trip<link_info>(in), 0;
  case 28: return round_trip<pin_set_request>(in), 0;
  case 29: return round_trip<pin_change_request>(in), 0;
  case 30: return round_trip<approval_list>(in), 0;
  case 31: return round_trip<approval_decision>(in), 0;
  case 32: return round_trip<approval_by_pin>(in), 0;
  case 33: return round_trip<policy_request>(in), 0;
  case 34: return round_trip<notice_body>(in), 0;
  case 35: return (void)contact_list_state::decode(in), 0;
  case 36: return (void)family_state::decode(in), 0;
  case 37: return round_trip<contact_action>(in), 0;
  case 38: return round_trip<location_update>(in), 0;
  case 39: return round_trip<location_sharing_request>(in), 0;
  case 40: return round_trip<location_body>(in), 0;
  case 41: return round_trip<report_request>(in), 0;
  case 42:
    if (auto r = decode_report(in); r && !decode_report(encode_report(*r)))
      __builtin_trap();
    return 0;
  case 43:
    if (auto r = decode_resolution(in); r && !decode_resolution(encode_resolution(*r)))
      __builtin_trap();
    return 0;
  case 44:
    if (auto b = decode_ban(in); b && !decode_ban(encode_ban(*b)))
      __builtin_trap();
    return 0;
  case 45: return round_trip<child_create_request>(in), 0;
  case 46: return round_trip<child_setup_reply>(in), 0;
  case 47: return round_trip<register_child_request>(in), 0;
  case 48: return round_trip<account_delete_request>(in), 0;
  case 49: return round_trip<profile_request>(in), 0;
  case 50: return round_trip<found_body>(in), 0;
  case 51: return round_trip<card_body>(in), 0;
  case 52: return round_trip<account_flag>(in), 0;
  case 53: return round_trip<ban_order>(in), 0;
  case 54: return round_trip<location_reply>(in), 0;
  case 55: return codec_round_trip(user_interface::codec(), in), 0;
  case 56: return codec_round_trip(family_interface::codec(), in), 0;
  case 57: return round_trip<group_create_request>(in), 0;
  case 58: return round_trip<group_info>(in), 0;
  case 59: return round_trip<group_member_request>(in), 0;
  case 60: return round_trip<group_list>(in), 0;
  case 61: return round_trip<group_send_request>(in), 0;
  case 62: return round_trip<group_mail>(in), 0;
  case 63: return round_trip<typing_request>(in), 0;
  case 64: return round_trip<read_request>(in), 0;
  case 65: return round_trip<receipt_ids>(in), 0;
  case 66: return round_trip<typing_body>(in), 0;
  case 67: return round_trip<relation_query>(in), 0;
  case 68: return round_trip<relation_answer>(in), 0;
  case 69:
    if (auto c = chat_record::decode(in); c && !chat_record::decode(c->encode()))
      __builtin_trap();
    return 0;
  case 70: return round_trip<quiet_set_request>(in), 0;
  case 71: return round_trip<quiet_reply>(in), 0;
  case 72: return round_trip<call_request>(in), 0;
  case 73: return round_trip<call_ring_result>(in), 0;
  case 74: return round_trip<call_event>(in), 0;
  case 75: return round_trip<missed_call_body>(in), 0;
  case 76: return round_trip<moment_post>(in), 0;
  case 77: return round_trip<moment_reaction>(in), 0;
  case 78: return round_trip<moment_delete>(in), 0;
  case 79: return round_trip<moment_mail>(in), 0;
  case 80: return round_trip<reaction_mail>(in), 0;
  case 81: return round_trip<retraction_mail>(in), 0;
  default: return codec_round_trip(chat_interface::codec(), in), 0;
  }
}
