// The user actor: one per account, living on the node that owns the account's shard.
// It owns the account's contact list (persisted in KV), the session attached to it, and
// its undelivered mail (through the node's store actor). Activated on its first message
// by loading its state from KV; requests that arrive meanwhile wait.
//
// Delivery (DESIGN.md §6.1): deliver -> push to the session if nothing older waits, and
// hold it here for the device's ack (the ack window), else store it -> reply accepted at
// the ack or once durable; the session's ack -> held mail is forgotten, stored mail is
// deleted -> a `delivered` receipt goes to the sender, where it is itself mail. Held mail
// whose ack does not come in time is stored. Requests may come one by one or in batches
// (one per socket read).
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "cluster/entity.hpp"
#include "cluster/kv_actor.hpp"
#include "cluster/router.hpp"
#include "persistence/store_actor.hpp"
#include "protocol/messages.hpp"

namespace kinbox {

/// Operations of entity requests addressed to a user. Owner operations are accepted only
/// when the caller is the account itself; the others come from other users' actors.
enum class user_op : uint8_t {
  deliver = 1,         ///< store mail from `caller`; body: kind u8, id[16], payload blob
  friend_request = 2,  ///< `caller` asks to be friends
  friend_accepted = 3, ///< `caller` accepted our request
  friend_declined = 4, ///< `caller` declined our request
  add_friend = 10,     ///< owner: body target_request
  accept_friend = 11,  ///< owner: body target_request
  decline_friend = 12, ///< owner: body target_request
  list_contacts = 13,  ///< owner: reply contact_list
  get_key = 14,        ///< owner: body target_request, reply key_reply (friends only)
  get_status = 15,     ///< owner: body target_request, reply status_reply (friends only)
  ack = 16,            ///< owner: body ack_request
};

/// Body of a `deliver` request.
struct deliver_body {
  mail_kind kind;
  message_id id;
  bytes payload;
};
bytes encode_deliver(const deliver_body& x);
bool decode_deliver(std::span<const uint8_t> in, deliver_body& x);

/// The deliver body of a message from a client's `send` body (`to:u64 id payload:blob`)
/// in one copy, with `to` and `id` read out; nullopt if the send body is malformed.
std::optional<bytes> deliver_from_send(std::span<const uint8_t> send_body, account_id& to,
                                       message_id& id);

using attach_atom = caf::atom_constant<caf::atom("attach")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using held_atom = caf::atom_constant<caf::atom("held")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
/// Sent to a session: mail to push to the device (std::vector<mail_push>, oldest first).
using push_atom = caf::atom_constant<caf::atom("push")>;
/// Sent to a session: close with this reason (an errc number).
using kick_atom = caf::atom_constant<caf::atom("kick")>;

// clang-format off
using user_actor = caf::typed_actor<
  caf::replies_to<entity_request>::with<entity_reply>,
  /// Requests handled in order and answered together, in order: one actor message per
  /// batch (e.g. all frames of one socket read for this user) instead of one per frame.
  caf::replies_to<std::vector<entity_request>>::with<std::vector<entity_reply>>,
  /// Attaches a session (a broker that understands push/kick); a session attached before
  /// is kicked with session_replaced. Answers with the account; not_found if unknown.
  caf::replies_to<attach_atom, caf::actor, uint64_t>::with<account_info>,
  /// Detaches the session with this id (if it is still the attached one).
  caf::reacts_to<detach_atom, uint64_t>,
  /// Writes all mail held for its ack to the store; answers once the put is sent (node
  /// shutdown: a store request sent after the answer comes after the put).
  caf::replies_to<flush_atom>::with<bool>,
  /// Internal: refresh presence while a session is attached.
  caf::reacts_to<tick_atom>,
  /// Internal: store held mail whose ack window is over.
  caf::reacts_to<held_atom>,
  /// Internal: passivate if still unknown.
  caf::reacts_to<idle_atom>>;
// clang-format on

using lookup_atom = caf::atom_constant<caf::atom("lookup")>;

/// Where the user actors of this node are found (the node's user host).
using user_directory = caf::typed_actor<caf::replies_to<lookup_atom, account_id>::with<user_actor>>;

/// Payload bytes of pushed mail that the node's user actors hold in memory for its ack.
/// Shared by all of them: past `max`, pushed mail is stored at once like any other.
class held_budget {
public:
  explicit held_budget(size_t max) : max_(max) {}
  /// Takes `n` bytes if they fit.
  bool take(size_t n) {
    auto used = used_.load(std::memory_order_relaxed);
    do {
      if (used + n > max_)
        return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void give(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  size_t used() const { return used_.load(std::memory_order_relaxed); }

private:
  std::atomic<size_t> used_{0};
  size_t max_;
};

/// What a user actor needs from its node. Injected so tests can replace each part.
struct user_deps {
  store_actor store;
  kv_actor kv;
  entity_actor router;
  std::function<uint64_t()> now_ms;
  std::chrono::milliseconds mail_ttl{std::chrono::hours(24 * 15)};
  std::string node_id;
  user_directory directory; ///< set by the host: other local user actors
  /// Whether an account's actor lives on this node (call it directly, not via the router).
  std::function<bool(account_id)> serves_locally;
  size_t drain_page_count = 1024;     ///< stored envelopes pushed per page
  size_t drain_page_bytes = 1u << 20; ///< payload bytes pushed per page
  /// Backlog pages pushed and not yet fully acked: the device works on one while the next
  /// is read and sent.
  size_t drain_pages_in_flight = 2;
  /// How long mail pushed to the attached device waits here for its ack before it is
  /// stored; mail acked in time never reaches the store. Zero stores all mail at once.
  std::chrono::milliseconds ack_window{50};
  /// Most envelopes one user holds that way; past it the held mail is stored.
  size_t max_held_per_user = 4096;
  /// The node-wide bound on held payload bytes (one budget shared by all user actors).
  std::shared_ptr<held_budget> held = std::make_shared<held_budget>(64u << 20);
};

/// Spawns the user actor of `id`. `deps` is shared: one per node, not one per account.
user_actor spawn_user(caf::actor_system& sys, account_id id, std::shared_ptr<const user_deps> deps);

/// Wall-clock milliseconds since the epoch, for production deps.
uint64_t system_now_ms();

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::account_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::mail_push>)
