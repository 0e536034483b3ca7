// Bodies of the group frames, of group mail and of the receipts and typing signals of
// 1:1 and group conversations (docs/protocol.md, "Groups"). A group message is one
// upload: the content encrypted once with a random key, and that key wrapped for each
// member; the group's actor hands each member only its own wrapped key with the content.
#pragma once

#include "protocol/messages.hpp"

namespace kinbox {

namespace wire {
class reader;
class writer;
} // namespace wire

/// Random 64-bit id of a group chat, above every account id (accounts have 10 digits), so
/// an id tells which it names.
using group_id = uint64_t;

constexpr uint64_t max_account_id = 9'999'999'999;

inline bool is_group_id(uint64_t id) {
  return id > max_account_id;
}

/// Most members the wire carries in one group; a cluster's own maximum
/// (`--max-group-members`, default 32) is at most this.
constexpr size_t max_group_members_wire = 256;
/// Most bytes of one member's wrapped key (a box of the 32-byte content key: 72).
constexpr size_t max_wrapped_key = 128;
/// Most message ids one receipt names.
constexpr size_t max_receipt_ids = 1024;

/// Body of `group_create`: the name, and the members besides the creator (its friends).
struct group_create_request {
  std::string name;
  std::vector<account_id> members;
};

/// Body of `group_info` (and of `group_stale`): a group as its members see it. The
/// version grows with every change of the members.
struct group_info {
  group_id id = 0;
  std::string name;
  account_id creator = 0;
  uint64_t version = 0;
  std::vector<account_id> members;
};

/// Body of `group_add` and `group_remove`.
struct group_member_request {
  group_id group = 0;
  account_id id = 0;
};

/// Body of `group_list_result`: the groups of an account.
struct group_list {
  std::vector<group_info> groups;
};

/// One member's copy of the content key.
struct wrapped_key {
  account_id member = 0;
  bytes key;
};

/// Body of `group_send`: the content once, a wrapped key per member it is for, and the
/// membership version the keys were wrapped for.
struct group_send_request {
  group_id group = 0;
  uint64_t version = 0;
  message_id id{};
  bytes content;
  std::vector<wrapped_key> keys;
};

/// Payload of `group` mail: what one member gets of a group message.
struct group_mail {
  group_id group = 0;
  bytes key; ///< the content key, wrapped for this member
  bytes content;
};

/// Body of `typing`: to a friend (`group` false) or to a group's members.
struct typing_request {
  uint64_t to = 0; ///< an account id, or a group id
  bool group = false;
};

/// Body of `read`: the reader's app showed these messages of `to`.
struct read_request {
  account_id to = 0;
  std::vector<message_id> ids; ///< 1..max_receipt_ids
};

/// Payload of a `delivered` or `read` receipt naming more messages than its id: the
/// others (a receipt about one message has an empty payload).
struct receipt_ids {
  std::vector<message_id> more;
};

/// Payload of `typing` pushes: the group, or 0 for a friend typing to this account.
struct typing_body {
  group_id group = 0;
};

/// A list of wrapped keys on the wire: a u16 count, then each member:u64 key:blob (a
/// group message's and a post's or comment's).
bool read_wrapped_keys(wire::reader& r, std::vector<wrapped_key>& keys, size_t max_count);
void write_wrapped_keys(wire::writer& w, const std::vector<wrapped_key>& keys);

void write_body(bytes& out, const group_create_request& x);
void write_body(bytes& out, const group_info& x);
void write_body(bytes& out, const group_member_request& x);
void write_body(bytes& out, const group_list& x);
void write_body(bytes& out, const group_send_request& x);
void write_body(bytes& out, const group_mail& x);
void write_body(bytes& out, const typing_request& x);
void write_body(bytes& out, const read_request& x);
void write_body(bytes& out, const receipt_ids& x);
void write_body(bytes& out, const typing_body& x);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::group_create_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::group_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::group_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::group_send_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::typing_body)
