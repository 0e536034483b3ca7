// The chat actor: one per group chat (entity kind `chat_kind`, id = the group id), on the
// node that owns its shard, reached only through the entity service. It holds the group's
// record (chats KV bucket: members, creator, name, membership version; no message) and
// runs its membership changes one at a time, each checked against the members' user
// actors (`relations`) and written to KV before it is answered. Sends, typing and reads
// of the group run between changes, at once.
//
// Who may do what (anyone else hears `not_found`, as for a group that does not exist):
//   create: an account, with 1..max-1 of its friends (the group's id is new);
//   add: a member, one of its own friends, if every child of the group approves it and
//     it approves every member if it is a child (else `not_allowed`, which names no one);
//   remove: the creator (while a member), or the linked parent of the removed child
//     (from outside the group too); a member removing itself leaves;
//   leave, show, send, typing: a member;
//   relation_ended: a member's own actor; a child whose relation with another member
//     ended leaves the groups they share.
//
// A send names the membership version its keys were wrapped for: a stale one is answered
// with the group as it is now. Otherwise each member with a key gets its copy through its
// user actor as `group` mail, which admits it only from a sender it approves today (the
// per-recipient filter); copies the filter drops are counted, and the sender hears
// `accepted` once every copy is answered. A copy that could not be delivered (a node
// gone past its retries) makes the send fail retryable: sent again with the same message
// id, it is stored once by the members that have it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "actors/chat.hpp"
#include "actors/chat_interface.hpp"
#include "cluster/entity_kit.hpp"
#include "cluster/kv_actor.hpp"

namespace kinbox {

/// What the chat actors of a node counted.
struct group_counters {
  std::atomic<uint64_t> copies{0};   ///< copies handed to members' user actors
  std::atomic<uint64_t> dropped{0};  ///< copies a member's filter (or mailbox cap) dropped
};

/// Members a group call rings by default, as Signal does.
constexpr size_t default_max_ring = 16;

struct chat_deps {
  kv_actor kv;
  std::shared_ptr<entity_service> service;
  std::function<uint64_t()> now_ms;
  size_t max_members = default_max_group_members;
  size_t max_ring = default_max_ring; ///< members one group offer rings (`--max-ring`)
  std::shared_ptr<group_counters> counters = std::make_shared<group_counters>();
};

/// The chat kind for the entity kit: its actors keep all they hold in KV (no shard
/// keeper), so a release only stops them once their fan-outs are answered.
entity_kind_spec chat_kind_spec(chat_deps deps);

} // namespace kinbox
