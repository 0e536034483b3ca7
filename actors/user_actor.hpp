// The user actor: one per account, living on the node that owns the account's shard.
// It owns the account's contact list (persisted in KV), the session attached to it (an
// endpoint on any node), and its undelivered mail (through the node's store actor).
// Activated on its first request by loading its state from KV; requests that arrive
// meanwhile wait. It reaches other entities only through the entity service.
//
// Delivery (DESIGN.md §6.1): deliver -> push to the session if nothing older waits, and
// hold it here for the device's ack (the ack window), else store it -> reply accepted at
// the ack or once durable; the session's ack -> held mail is forgotten, stored mail is
// deleted -> a `delivered` receipt goes to the sender, where it is itself mail. Held mail
// whose ack does not come in time is stored. Requests come in batches (one per socket
// read of a session, or per bus message from another node).
//
// Admission: mail is checked against the contact list when it arrives and again when it
// is paged out of the store: a message only from a friend or the linked parent or child,
// a notice only from the family of one of the account's children (receipts are made by
// servers). Blocking or removing
// a contact purges what it sent that still waits in the store, and mail that reaches the
// store later (a handoff from a node restarted after a crash) is dropped when paged.
//
// Moves: when its shard is handed off, the host sends `release`: the actor stores the
// mail it holds, tells its session to attach again (to the new owner), answers `moved`
// to every request after that, waits for its store calls and outgoing requests, answers,
// and stops two seconds later (still answering `moved` to late batches).
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "actors/avatar.hpp"
#include "actors/pin_service.hpp"
#include "actors/user_interface.hpp"
#include "cluster/entity_kit.hpp"
#include "cluster/kv_actor.hpp"
#include "config/limits.hpp"
#include "persistence/store_actor.hpp"
#include "protocol/messages.hpp"

namespace kinbox {

/// The hash a child's account keeps of its setup secret (hex).
std::string setup_hash_of(uint64_t secret);

using held_atom = caf::atom_constant<caf::atom("held")>;
/// Internal: look for mail the attached session has not acked in time (its attachment).
using redeliver_atom = caf::atom_constant<caf::atom("redeliver")>;

// What a user actor pushes to its session (through the entity service, so the session may
// be on another node). Each names the account, which the session checks.
/// Mail to push to the device: (account, std::vector<mail_push>), oldest first.
using push_atom = caf::atom_constant<caf::atom("push")>;
/// Close with this reason: (account, errc number).
using kick_atom = caf::atom_constant<caf::atom("kick")>;
/// The account moved to another node: attach again (account).
using reattach_atom = caf::atom_constant<caf::atom("reattach")>;
/// The frozen child account was linked again: its sends are allowed (account). Freezing
/// closes the session instead (a kick), so no order of pushes and replies can undo it.
using thawed_atom = caf::atom_constant<caf::atom("thawed")>;
/// The child's quiet hours began (true) or ended (false): its session refuses its sends
/// but to its parent meanwhile (account, asleep).
using asleep_atom = caf::atom_constant<caf::atom("asleep")>;
/// Internal: the ring of a call to this account is over unless it was answered (call id).
using ring_atom = caf::atom_constant<caf::atom("ring")>;
/// Internal: a child's quiet hours may begin or end now (the timer's generation).
using quiet_atom = caf::atom_constant<caf::atom("quiet")>;

// clang-format off
/// An entity actor (entity_kit.hpp): the requests of one socket read for this user come
/// in one batch; `stored` means mail for it arrived from another node; `flush` stores
/// all mail held for its ack (a store request sent after the answer comes after the put).
using user_actor = entity_actor::extend<
  caf::replies_to<entity_request>::with<entity_reply>,
  /// Internal: store held mail whose ack window is over.
  caf::reacts_to<held_atom>,
  caf::reacts_to<idle_atom>,
  caf::reacts_to<linger_atom>,
  caf::reacts_to<redeliver_atom, uint64_t>,
  caf::reacts_to<quiet_atom, uint64_t>,
  caf::reacts_to<ring_atom, uint64_t>,
  caf::reacts_to<entity_retry_atom>>;
// clang-format on

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
  std::shared_ptr<entity_service> service; ///< the only way to other entities and sessions
  std::function<uint64_t()> now_ms;
  friend_limit_config friend_limits;
  std::shared_ptr<pin_service> pins; ///< hashes the PIN a parent gives with a link code
  image_worker images;               ///< decodes and re-encodes avatars
  std::chrono::milliseconds link_code_ttl{std::chrono::minutes(10)};
  /// How long a child's setup code is good for (a parent makes a new one when it is over).
  std::chrono::milliseconds setup_code_ttl{std::chrono::hours(1)};
  age_rules ages;
  std::chrono::milliseconds mail_ttl{std::chrono::hours(24 * 15)};
  size_t avatar_max = 32u << 10;      ///< largest avatar kept, bytes
  size_t drain_page_count = 1024;     ///< stored envelopes pushed per page
  size_t drain_page_bytes = 1u << 20; ///< payload bytes pushed per page
  /// Backlog pages pushed and not yet fully acked: the device works on one while the next
  /// is read and sent.
  size_t drain_pages_in_flight = 2;
  /// How long mail pushed to the attached device waits here for its ack before it is
  /// stored; mail acked in time never reaches the store. Zero stores all mail at once.
  std::chrono::milliseconds ack_window{50};
  /// How long mail pushed to the attached session may go unacked before it is pushed
  /// again (a push lost on its way between nodes, with NATS failing over, would wait for
  /// the next login). The wait doubles while nothing is acked, up to 32 times.
  std::chrono::milliseconds redeliver_after{std::chrono::seconds(10)};
  /// Most envelopes one user holds that way; past it the held mail is stored.
  size_t max_held_per_user = 4096;
  /// How long a call to the account rings unanswered before the caller hears `no_answer`
  /// and a missed call is stored (`--ring-timeout`).
  std::chrono::milliseconds ring_timeout{std::chrono::seconds(60)};
  /// Each child's quiet hours begin and end up to this long after the minutes set, at a
  /// shift of its own, so that children whose periods end at the same minute are not all
  /// drained at once (`--quiet-release-spread`).
  std::chrono::milliseconds quiet_release_spread{0};
  /// The node-wide bound on held payload bytes (one budget shared by all user actors).
  std::shared_ptr<held_budget> held = std::make_shared<held_budget>(64u << 20);
};

/// Spawns the user actor of `id`. `deps` is shared: one per node, not one per account.
/// `host`: told when the actor of an id without an account stops unused (without one, the
/// actor just stops).
user_actor spawn_user(caf::actor_system& sys, account_id id, std::shared_ptr<const user_deps> deps,
                      entity_host host = {});

/// The user kind for the entity kit; `mail` keeps the stored mail of its shards.
entity_kind_spec user_kind_spec(std::shared_ptr<const user_deps> deps, shard_keeper mail);

/// Wall-clock milliseconds since the epoch, for production deps.
uint64_t system_now_ms();

/// Where an account's session is attached, as kept in the presence bucket.
struct presence_record {
  std::string node;
  uint64_t incarnation = 0;
  uint64_t since_ms = 0;
};
bytes encode_presence(const presence_record& p);
std::optional<presence_record> decode_presence(std::span<const uint8_t> data);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::account_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::mail_push>)
