// What the chat entity (one per group, `chat_kind`) accepts and answers: its operations
// with the types of their arguments and results (cluster/entity_interface.hpp). The
// caller of a request is the account that makes it; who may make which is in chat.hpp.
#pragma once

#include <span>

#include "cluster/entity_interface.hpp"
#include "protocol/calls.hpp"
#include "protocol/groups.hpp"

namespace kinbox {

constexpr entity_kind chat_kind = 3;

enum class chat_op : uint8_t {
  create = 1,         ///< the creator, with its friends: the group is made
  add = 2,            ///< a member adds one of its friends
  remove = 3,         ///< the creator, or the linked parent of the removed child
  leave = 4,          ///< a member (its own actor too, when the account is deleted or banned)
  show = 5,           ///< a member (a child's actor, for the child's parent)
  send = 6,           ///< a member: one upload, a copy to each member
  typing = 7,         ///< a member: pushed to the members online, never stored
  relation_ended = 8, ///< a member's actor: a relation of the member with `other` ended
  ring = 9,           ///< a member's actor: an offer to the group; up to max-ring members
                      ///< ring, each through its own filter
};

/// The argument of `relation_ended`, which only a child's actor sends: the child no
/// longer approves `other`, and leaves every group `other` is in.
struct relation_end {
  account_id other = 0;
};

/// The answer to `send`: accepted (every copy answered), or the group changed since the
/// keys were wrapped: `current` is the group now.
struct group_send_result {
  bool stale = false;
  group_info current;
};

// clang-format off
using chat_interface = entity_interface<
  op<chat_op::create, group_create_request, group_info>,
  op<chat_op::add, target_request, group_info>,
  op<chat_op::remove, target_request, group_info>,
  op<chat_op::leave>,
  op<chat_op::show, nothing, group_info>,
  op<chat_op::send, group_send_request, group_send_result>,
  op<chat_op::typing>,
  op<chat_op::relation_ended, relation_end>,
  op<chat_op::ring, call_request, call_ring_result>>;
// clang-format on

/// A request for chat operation `Op` of group `group`.
template <chat_op Op>
entity_request chat_request(group_id group, account_id caller,
                            chat_interface::arg_of<Op> arg = {}) {
  return make_request<chat_interface, Op>(chat_kind, group, caller, std::move(arg));
}

void write_body(bytes& out, const relation_end& x);
void write_body(bytes& out, const group_send_result& x);
template <>
result<relation_end> decode_body<relation_end>(std::span<const uint8_t> in);
template <>
result<group_send_result> decode_body<group_send_result>(std::span<const uint8_t> in);

/// The codec of the chat kind (chats push nothing to sessions).
entity_codec chat_codec();

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::relation_end)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::group_send_result)
