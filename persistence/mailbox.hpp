// The node's mailbox of undelivered mail in LMDB. Only undelivered mail is stored: an
// envelope is deleted when its recipient acks it or when it expires.
//
// Guarantees: `write` returns only after its one transaction is committed and synced, so
// everything it reports as stored survives a crash of the process or the machine. A full
// map is grown (doubling, up to `max_size`, with the disk space allocated at once) and the
// transaction retried. Acks never fail because puts did: when the puts cannot be stored
// (the map at its limit, the disk full) the acks are committed alone and the puts fail
// with a retryable error, and a reserve of the map is kept for acks and expiry. Each
// recipient's stored mail is capped in count and bytes.
// Thread safety: one thread uses a mailbox (the store actor); never fork() while open.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages.hpp"

namespace kinbox {

/// One stored piece of mail. For receipts `id` is the id of the message they are about.
struct envelope {
  account_id recipient = 0;
  mail_kind kind = mail_kind::message;
  message_id id{};
  account_id sender = 0;
  uint64_t stored_at_ms = 0;
  uint64_t expires_at_ms = 0;
  bytes payload;
  uint64_t seq = 0; ///< arrival order in the mailbox; set by `pending`
};

/// Names one envelope: (recipient, kind, sender, id) is unique in the mailbox.
struct mail_ref {
  account_id recipient;
  mail_key key;
};

struct write_batch {
  std::vector<envelope> puts;
  std::vector<mail_ref> acks;
  /// Per put: whether its recipient's cap applies (new mail from a sender), or not (mail
  /// accepted already, moving between nodes). Empty: the cap applies to none.
  std::vector<bool> capped{};
  bool empty() const { return puts.empty() && acks.empty(); }
};

/// What became of one put.
enum class put_result : uint8_t {
  stored,    ///< new, now durable
  duplicate, ///< stored before (a no-op)
  over_cap,  ///< refused: its recipient holds as much mail as the cap allows
};

/// A recipient's stored mail.
struct mail_usage {
  uint64_t count = 0;
  uint64_t bytes = 0; ///< payload bytes
};

/// What the whole mailbox holds, for the node's metrics.
struct mailbox_totals {
  uint64_t envelopes = 0;
  uint64_t bytes = 0;      ///< payload bytes
  uint64_t used_bytes = 0; ///< LMDB pages in use
  uint64_t map_size = 0;
};

/// A page of stored mail and whether more follows it.
struct mail_page {
  std::vector<envelope> mail;
  bool more = false;
};

/// Mail removed by one step of an expiry pass, and whether the pass goes on.
struct expired_mail {
  std::vector<envelope> mail; ///< payloads left out
  bool more = false;          ///< call again to continue the pass where this step stopped
};

struct write_outcome {
  std::vector<put_result> stored; ///< per put, when `puts_failed` is empty
  /// Why none of the puts was stored (map at its limit, disk full); the acks were.
  std::optional<failure> puts_failed;
  /// Per ack: what it removed (recipient, kind, id, sender and seq), or nothing if none
  /// was stored.
  std::vector<std::optional<envelope>> acked;
};

/// Envelopes as they travel between nodes in a handoff (the stored form, with the
/// recipient; sequence numbers stay behind: the receiving mailbox numbers them anew).
bytes encode_envelopes(std::span<const envelope> mail);
[[nodiscard]] std::optional<std::vector<envelope>> decode_envelopes(std::span<const uint8_t> data);

class mailbox {
public:
  struct options {
    std::string dir;
    uint64_t initial_size = 64ull << 20;
    uint64_t max_size = 16ull << 30;
    uint64_t cap_count = 10'000;      ///< most envelopes stored per recipient (0: no cap)
    uint64_t cap_bytes = 64ull << 20; ///< most payload bytes stored per recipient (0: no cap)
  };

  /// Opens (creating if needed) the mailbox in `opts.dir`.
  [[nodiscard]] static result<std::unique_ptr<mailbox>> open(const options& opts);

  ~mailbox();
  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;

  /// Stores puts (idempotent on recipient, kind, sender, id) and removes acked mail in one
  /// durable transaction. Each new put gets the next sequence number, in batch order.
  [[nodiscard]] result<write_outcome> write(const write_batch& batch);

  /// Envelopes of `recipient` stored after `after_seq`, oldest first: at most `max_count`,
  /// and no more payload bytes than `max_bytes` (but at least one envelope).
  [[nodiscard]] result<mail_page> pending(account_id recipient, uint64_t after_seq,
                                          size_t max_count, size_t max_bytes);

  /// One step of an expiry pass over all recipients: removes envelopes whose expiry is at
  /// or before `now_ms`, visiting at most `limit` envelopes and recipients, and returns
  /// them without payloads, so that senders can be told. A recipient's mail is expected to
  /// expire in arrival order (one TTL per node): the pass takes the expired front of each
  /// recipient's mail.
  [[nodiscard]] result<expired_mail> expire(uint64_t now_ms, size_t limit);

  /// Number of stored envelopes.
  [[nodiscard]] result<uint64_t> count();

  /// Envelopes and payload bytes stored, and the map's use (a walk over the recipients).
  [[nodiscard]] result<mailbox_totals> totals();

  /// What `recipient` has stored.
  [[nodiscard]] result<mail_usage> usage(account_id recipient);

  /// Recipients with stored mail, in id order, after `after` (at most `limit`): how a
  /// handoff finds the mail of a shard.
  [[nodiscard]] result<std::vector<account_id>> recipients(account_id after, size_t limit);

  /// Current map size in bytes.
  uint64_t map_size() const { return map_size_; }

  /// Rewrites the mailbox file with only the pages in use (`mdb_env_copy2` with
  /// `MDB_CP_COMPACT`, synced, renamed over the old file): mail acked, expired or purged
  /// leaves no bytes in it, not even in freed pages. Blocks while it copies what is
  /// stored; returns the new file's size. On a failure the old file stays in use; if
  /// neither file opens again, every later call answers `storage_failure`.
  [[nodiscard]] result<uint64_t> compact();

private:
  mailbox() = default;
  /// Opens the environment; on a failure `env_` is left null.
  result<bool> open_env();
  result<bool> open_env_once();
  /// What every call answers once the environment could not be opened again.
  static failure closed();
  /// A refusal of new mail for lack of disk space (logged as disk_full).
  failure disk_full() const;

  template <class F>
  result<bool> with_write_txn(F&& body);
  result<write_outcome> write_txn(const write_batch& batch, bool with_puts);
  /// Whether a batch of puts of about `batch_bytes` may use the map: it can grow, or its
  /// free pages hold the batch and leave the reserve.
  bool room_for_puts(uint64_t batch_bytes);

  bool grow();
  /// Allocates the disk space of the whole map, so that pages already mapped never meet
  /// a full disk.
  bool allocate_disk(uint64_t size);
  int upgrade(MDB_txn* txn, uint64_t format);
  /// Envelopes stored, as transaction `txn` sees them.
  result<uint64_t> count_in(MDB_txn* txn);
  int upgrade_values(MDB_txn* txn, size_t& upgraded);
  int upgrade_keys(MDB_txn* txn, size_t& upgraded);
  int count_usage(MDB_txn* txn);

  options opts_;
  MDB_env* env_ = nullptr;
  MDB_dbi mail_db_ = 0;  // recipient|seq -> envelope
  MDB_dbi index_db_ = 0; // recipient|kind|id|sender -> seq|sender
  MDB_dbi meta_db_ = 0;  // "next_seq" -> u64, "format" -> u64
  MDB_dbi usage_db_ = 0; // recipient -> count u64 | bytes u64
  uint64_t next_seq_ = 1;
  account_id expire_from_ = 0; // where the current expiry pass goes on
  uint64_t map_size_ = 0;
  uint64_t max_size_ = 0;
  uint64_t cap_count_ = 0;
  uint64_t cap_bytes_ = 0;
  bool disk_full_ = false; ///< the last grow found no disk space
};

} // namespace kinbox
