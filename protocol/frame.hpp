// The kinbox wire format (docs/protocol.md is the contract): length-prefixed records; each
// record holds one frame = version, type, request id, body. Before the handshake completes
// records carry frames in the clear; after it, each record is one AEAD ciphertext of a frame.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/types.hpp"

namespace kinbox {

constexpr uint8_t protocol_version = 1;
constexpr size_t length_prefix_size = 4;
constexpr size_t frame_header_size = 6; // version u8, type u8, request id u32
constexpr size_t default_max_frame_size = 64 * 1024;
constexpr size_t min_max_frame_size = 1024;
constexpr size_t max_max_frame_size = 16 * 1024 * 1024;
constexpr size_t max_name_length = 64;
constexpr size_t max_text_length = 1024;

// X(name, number, wire name): every frame type, from which the enum and the names come.
#define KINBOX_FRAME_TABLE(X)                                                                      \
  X(client_hello, 0x01, "client_hello")                                                           \
  X(server_hello, 0x02, "server_hello")                                                           \
  X(error, 0x03, "error")                                                                         \
  X(ok, 0x04, "ok")                                                                               \
  X(bye, 0x05, "bye")                                                                             \
  X(redirect, 0x06, "redirect")                                                                   \
  X(register_account, 0x10, "register")                                                          \
  X(register_ok, 0x11, "register_ok")                                                             \
  X(login, 0x12, "login")                                                                         \
  X(login_ok, 0x13, "login_ok")                                                                   \
  X(whoami, 0x14, "whoami")                                                                       \
  X(profile_set, 0x15, "profile_set")                                                             \
  X(profile_get, 0x16, "profile_get")                                                             \
  X(profile, 0x17, "profile")                                                                     \
  X(account_export, 0x18, "account_export")                                                       \
  X(account_data, 0x19, "account_data")                                                           \
  X(account_delete, 0x1a, "account_delete")                                                       \
  X(child_create, 0x1b, "child_create")                                                           \
  X(child_setup, 0x1c, "child_setup")                                                             \
  X(child_setup_code, 0x1d, "child_setup_code")                                                   \
  X(register_child, 0x1e, "register_child")                                                       \
  X(friend_add, 0x20, "friend_add")                                                               \
  X(friend_accept, 0x21, "friend_accept")                                                         \
  X(friend_decline, 0x22, "friend_decline")                                                       \
  X(friend_list, 0x23, "friend_list")                                                             \
  X(friend_list_result, 0x24, "friend_list_result")                                               \
  X(key_get, 0x25, "key_get")                                                                     \
  X(key_result, 0x26, "key_result")                                                               \
  X(status_get, 0x27, "status_get")                                                               \
  X(status_result, 0x28, "status_result")                                                         \
  X(contacts_get, 0x29, "contacts_get")                                                           \
  X(contact_block, 0x2a, "contact_block")                                                         \
  X(contact_remove, 0x2b, "contact_remove")                                                       \
  X(report, 0x2c, "report")                                                                       \
  X(send, 0x30, "send")                                                                           \
  X(accepted, 0x31, "accepted")                                                                   \
  X(ack, 0x32, "ack")                                                                             \
  X(mail, 0x40, "mail")                                                                           \
  X(link_create, 0x50, "link_create")                                                             \
  X(link_code, 0x51, "link_code")                                                                 \
  X(link_redeem, 0x52, "link_redeem")                                                             \
  X(link_remove, 0x53, "link_remove")                                                             \
  X(link_get, 0x54, "link_get")                                                                   \
  X(link_info, 0x55, "link_info")                                                                 \
  X(pin_set, 0x56, "pin_set")                                                                     \
  X(pin_change, 0x57, "pin_change")                                                               \
  X(approvals_get, 0x58, "approvals_get")                                                         \
  X(approval_list, 0x59, "approval_list")                                                         \
  X(approval_decide, 0x5a, "approval_decide")                                                     \
  X(approval_pin, 0x5b, "approval_pin")                                                           \
  X(policy_set, 0x5c, "policy_set")                                                               \
  X(location_send, 0x5d, "location_send")                                                         \
  X(location_sharing, 0x5e, "location_sharing")                                                 \
  X(group_create, 0x60, "group_create")                                                         \
  X(group_info, 0x61, "group_info")                                                             \
  X(group_add, 0x62, "group_add")                                                               \
  X(group_remove, 0x63, "group_remove")                                                         \
  X(group_leave, 0x64, "group_leave")                                                           \
  X(group_list, 0x65, "group_list")                                                             \
  X(group_list_result, 0x66, "group_list_result")                                               \
  X(group_show, 0x67, "group_show")                                                             \
  X(group_send, 0x68, "group_send")                                                             \
  X(group_stale, 0x69, "group_stale")                                                           \
  X(typing, 0x6a, "typing")                                                                     \
  X(read, 0x6b, "read")                                                                         \
  X(quiet_set, 0x70, "quiet_set")                                                               \
  X(quiet_get, 0x71, "quiet_get")                                                               \
  X(quiet_result, 0x72, "quiet_result")                                                         \
  X(call, 0x74, "call")                                                                         \
  X(call_rung, 0x75, "call_rung")                                                               \
  X(call_end, 0x76, "call_end")                                                                 \
  X(moment_post, 0x78, "moment_post")                                                           \
  X(moment_react, 0x79, "moment_react")                                                         \
  X(moment_delete, 0x7a, "moment_delete")

enum class frame_type : uint8_t {
#define KINBOX_FRAME_ENUM(name, number, text) name = number,
  KINBOX_FRAME_TABLE(KINBOX_FRAME_ENUM)
#undef KINBOX_FRAME_ENUM
};

bool is_known_frame_type(uint8_t value);

std::string_view frame_type_name(frame_type type);

struct frame {
  frame_type type;
  uint32_t request_id = 0;
  bytes body;
};

/// A decoded frame whose body still lies in the buffer it was decoded from.
struct frame_view {
  frame_type type;
  uint32_t request_id = 0;
  std::span<const uint8_t> body;
};

/// Appends the header of a frame (version, type, request id) to `out`; its body follows.
void write_frame_header(bytes& out, frame_type type, uint32_t request_id);

/// Header and body of a frame, without the length prefix.
bytes encode_frame(const frame& f);

/// Decodes a frame; fails with unsupported_version, unknown_type or malformed_frame.
result<frame> decode_frame(std::span<const uint8_t> data);

/// `decode_frame` without copying the body out of `data`.
result<frame_view> decode_frame_view(std::span<const uint8_t> data);

/// One length-prefixed record cut from the byte stream.
struct record {
  std::span<const uint8_t> prefix;  ///< the 4 length bytes (authenticated data when sealed)
  std::span<const uint8_t> payload; ///< the record's content
};

/// Cuts a TCP byte stream into records. A length of 0 or above the maximum frame size is
/// refused as soon as its prefix arrives, before the payload is buffered.
class record_reader {
public:
  explicit record_reader(size_t max_record_size) : max_record_size_(max_record_size) {}

  void append(std::span<const uint8_t> data);

  /// The next complete record, valid until the next `append`; nullopt if more bytes are needed.
  result<std::optional<record>> next();

  /// Bytes received but not yet returned as records.
  size_t buffered() const { return buffer_.size() - read_pos_; }

  /// Frees the buffer when every byte has been returned (an idle connection then holds no
  /// buffer memory). Invalidates records returned before.
  void release_if_idle();

  /// Bytes of buffer capacity an idle reader may keep.
  static constexpr size_t idle_capacity = 256;

private:
  size_t max_record_size_;
  bytes buffer_;
  size_t read_pos_ = 0;
};

/// Appends the 4-byte length prefix of a record of `payload_size` bytes.
void append_length_prefix(bytes& out, size_t payload_size);

} // namespace kinbox
