// The store actor: the only writer of the node's LMDB mailbox. It runs detached (on its
// own thread) because commits block on fsync, and it batches the puts and acks of one
// commit window into one transaction (group commit), so durability costs one fsync per
// batch, not per message.
//
// A put is answered once it is durable, or once it is acked before its batch commits (the
// ack cancels the put, which is never written). Either way the sender may forget the
// message. Mail pushed to an online device waits for its ack in the user actor (the ack
// window) and reaches the store only if the ack does not come in time.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <memory>
#include <vector>

#include "persistence/mailbox.hpp"

namespace kinbox {

using put_atom = caf::atom_constant<caf::atom("put")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using pending_atom = caf::atom_constant<caf::atom("pending")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using usage_atom = caf::atom_constant<caf::atom("usage")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using recipients_atom = caf::atom_constant<caf::atom("recipients")>;
using compact_atom = caf::atom_constant<caf::atom("compact")>;
using compact_now_atom = caf::atom_constant<caf::atom("compact_n")>;
using gauges_atom = caf::atom_constant<caf::atom("gauges")>;

/// When the store rewrites the mailbox file without its freed pages (mailbox::compact).
struct compaction_config {
  /// After an account's mail was purged (a deletion), at most this long until the
  /// mailbox file holds none of it (or ten times the last compaction's duration, if
  /// longer: deletions in a row keep compaction to a tenth of the store's time); 0: at once.
  std::chrono::milliseconds after_purge{std::chrono::seconds(60)};
  /// Otherwise this often, if mail was acked, expired or purged since (delivered mail
  /// leaves the file within it); 0: never.
  std::chrono::milliseconds every{std::chrono::hours(1)};
};

/// Most envelopes one put/ack batch commits; more waiting mail goes into the next batch.
constexpr size_t max_batch_size = 4096;

// clang-format off
using store_actor = caf::typed_actor<
  /// Stores envelopes durably, with their recipients' caps (`capped`: new mail) or
  /// without (mail accepted already, moving between nodes); what became of each.
  /// Envelopes get their sequence in the order they arrive. Fails with mailbox_full or
  /// storage_failure (both retryable); then none of them is stored except those their
  /// recipient acked meanwhile. Acks in the same commit are not affected.
  caf::replies_to<put_atom, std::vector<envelope>, bool>::with<std::vector<put_result>>,
  /// Deletes acked mail durably; answers with what was removed (payloads left out).
  caf::replies_to<ack_atom, std::vector<mail_ref>>::with<std::vector<envelope>>,
  /// A page of a recipient's stored envelopes after a sequence number, oldest first:
  /// (recipient, after_seq, max_count, max_bytes). Puts that came before it are committed
  /// first, so the page holds them.
  caf::replies_to<pending_atom, account_id, uint64_t, uint64_t, uint64_t>::with<mail_page>,
  /// One step of the expiry pass at the given time (ms since epoch): deletes expired mail
  /// and answers with what went and whether the pass goes on.
  caf::replies_to<expire_atom, uint64_t>::with<expired_mail>,
  /// Number of stored envelopes.
  caf::replies_to<count_atom>::with<uint64_t>,
  /// What one recipient has stored: envelopes and payload bytes.
  caf::replies_to<usage_atom, account_id>::with<uint64_t, uint64_t>,
  /// Recipients with stored mail after an id, in order (after, max_count). Puts that
  /// came before it are committed first.
  caf::replies_to<recipients_atom, account_id, uint64_t>::with<std::vector<account_id>>,
  /// Internal: commits the batch collected so far.
  caf::reacts_to<flush_atom>,
  /// Mail of an account was purged (it was deleted): compact within `after_purge`.
  caf::reacts_to<compact_atom>,
  /// Internal: compact now (`periodic`: the timer of `every`).
  caf::reacts_to<compact_now_atom, bool>,
  /// Internal: the mailbox gauges, read every few seconds; each read that works tells
  /// /healthz the store answers (metrics' store_answered_ns).
  caf::reacts_to<gauges_atom>>;
// clang-format on

/// Spawns the store actor, detached, owning `box`. Puts and acks wait up to
/// `commit_window` for more, then commit together (one fsync).
store_actor spawn_store(caf::actor_system& sys, std::unique_ptr<mailbox> box,
                        std::chrono::microseconds commit_window = std::chrono::microseconds(1000),
                        compaction_config compaction = {});

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::envelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::put_result>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::mail_page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::expired_mail)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::envelope>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::mail_ref>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::account_id>)
