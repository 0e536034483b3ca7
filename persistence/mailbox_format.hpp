// The mailbox's format on disk and the LMDB helpers its code shares: the key and value
// layouts, the transaction and cursor guards, and each recipient's usage row. Internal to
// persistence/ (mailbox.cpp, and the format upgrades in mailbox_upgrade.cpp).
#pragma once

#include <lmdb.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "config/log.hpp"
#include "persistence/mailbox.hpp"

namespace kinbox::mailbox_format {

constexpr size_t envelope_header_size = 1 + 16 + 8 + 8 + 8;
constexpr char next_seq_key[] = "next_seq";
constexpr char format_key[] = "format";
/// 1: index values seq|expires_at and an `expiry` DB; 2: index values seq|sender and no
/// expiry DB (expiry scans each recipient's range, whose front expires first); 3: the
/// sender in the index key too (the same id from two senders is two envelopes).
constexpr uint64_t current_format = 3;
constexpr size_t index_key_size = 33;
constexpr size_t format2_index_key_size = 25;
constexpr size_t index_value_size = 16;

inline void put_u64(uint8_t* out, uint64_t x) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(x);
    x >>= 8;
  }
}

inline uint64_t get_u64(const uint8_t* in) {
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i)
    x = (x << 8) | in[i];
  return x;
}

struct mail_key_bytes {
  uint8_t data[16];
  mail_key_bytes(account_id recipient, uint64_t seq) {
    put_u64(data, recipient);
    put_u64(data + 8, seq);
  }
  MDB_val val() { return {sizeof(data), data}; }
};

/// recipient | kind | id | sender: one recipient's entries are in id (time) order.
struct index_key_bytes {
  uint8_t data[index_key_size];
  index_key_bytes(account_id recipient, mail_kind kind, const message_id& id, account_id sender) {
    put_u64(data, recipient);
    data[8] = static_cast<uint8_t>(kind);
    std::memcpy(data + 9, id.data(), id.size());
    put_u64(data + 25, sender);
  }
  MDB_val val() { return {sizeof(data), data}; }
};

inline bytes encode_envelope(const envelope& e) {
  bytes out(envelope_header_size + e.payload.size());
  out[0] = static_cast<uint8_t>(e.kind);
  std::memcpy(out.data() + 1, e.id.data(), 16);
  put_u64(out.data() + 17, e.sender);
  put_u64(out.data() + 25, e.stored_at_ms);
  put_u64(out.data() + 33, e.expires_at_ms);
  std::memcpy(out.data() + envelope_header_size, e.payload.data(), e.payload.size());
  return out;
}

inline bool decode_envelope(account_id recipient, const MDB_val& v, bool with_payload, envelope& e) {
  if (v.mv_size < envelope_header_size)
    return false;
  auto* p = static_cast<const uint8_t*>(v.mv_data);
  if (!is_valid_mail_kind(p[0]))
    return false;
  e.recipient = recipient;
  e.kind = static_cast<mail_kind>(p[0]);
  std::memcpy(e.id.data(), p + 1, 16);
  e.sender = get_u64(p + 17);
  e.stored_at_ms = get_u64(p + 25);
  e.expires_at_ms = get_u64(p + 33);
  if (with_payload)
    e.payload.assign(p + envelope_header_size, p + v.mv_size);
  return true;
}

inline failure lmdb_failure(const char* what, int rc) {
  log::get("store")->error("event=lmdb_error op={} rc={} msg=\"{}\"", what, rc, mdb_strerror(rc));
  return failure{errc::storage_failure, std::string{what} + ": " + mdb_strerror(rc)};
}

/// Aborts the transaction unless it was committed.
class txn_guard {
public:
  txn_guard() = default;
  txn_guard(const txn_guard&) = delete;
  txn_guard& operator=(const txn_guard&) = delete;
  ~txn_guard() {
    if (txn_)
      mdb_txn_abort(txn_);
  }
  int begin(MDB_env* env, unsigned flags) { return mdb_txn_begin(env, nullptr, flags, &txn_); }
  int commit() {
    auto rc = mdb_txn_commit(txn_); // frees the txn even when it fails
    txn_ = nullptr;
    return rc;
  }
  MDB_txn* get() const { return txn_; }

private:
  MDB_txn* txn_ = nullptr;
};

class cursor_guard {
public:
  ~cursor_guard() {
    if (cur_)
      mdb_cursor_close(cur_);
  }
  int open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &cur_); }
  MDB_cursor* get() const { return cur_; }

private:
  MDB_cursor* cur_ = nullptr;
};

/// Calls `f(cursor, key, value)` for every entry of `dbi` in key order and stops at the
/// first non-zero result of `f`, which it returns; 0 once all were seen, else LMDB's code.
template <class F>
[[nodiscard]] int for_each_entry(MDB_txn* txn, MDB_dbi dbi, F&& f) {
  cursor_guard cur;
  int rc = cur.open(txn, dbi);
  if (rc != 0)
    return rc;
  MDB_val key, val;
  for (rc = mdb_cursor_get(cur.get(), &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur.get(), &key, &val, MDB_NEXT))
    if (int stop = f(cur.get(), key, val); stop != 0)
      return stop;
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/// Thrown inside a write body to abort the transaction with an LMDB code.
struct lmdb_abort {
  int rc;
  const char* what;
};

inline void check(int rc, const char* what) {
  if (rc != 0)
    throw lmdb_abort{rc, what};
}

/// The map kept free for acks and expiry once it cannot grow: they delete, but deleting
/// copies pages too.
inline uint64_t reserve_of(uint64_t map_size) {
  return std::clamp<uint64_t>(map_size / 16, 256 << 10, 64 << 20);
}

/// Each recipient's usage as a transaction changes it; written back at its end.
class usage_table {
public:
  usage_table(MDB_txn* txn, MDB_dbi db) : txn_(txn), db_(db) {}

  mail_usage& of(account_id recipient) {
    auto [i, fresh] = rows_.try_emplace(recipient);
    if (fresh) {
      uint8_t key[8];
      put_u64(key, recipient);
      MDB_val k{sizeof(key), key}, v;
      if (mdb_get(txn_, db_, &k, &v) == 0 && v.mv_size == 16) {
        auto* p = static_cast<const uint8_t*>(v.mv_data);
        i->second = mail_usage{get_u64(p), get_u64(p + 8)};
      }
    }
    return i->second;
  }

  void remove(account_id recipient, uint64_t payload_bytes) {
    auto& u = of(recipient);
    u.count -= std::min<uint64_t>(u.count, 1);
    u.bytes -= std::min(u.bytes, payload_bytes);
  }

  void write() {
    for (auto& [recipient, u] : rows_) {
      uint8_t key[8], value[16];
      put_u64(key, recipient);
      MDB_val k{sizeof(key), key};
      if (u.count == 0) {
        auto rc = mdb_del(txn_, db_, &k, nullptr);
        if (rc != MDB_NOTFOUND)
          check(rc, "mdb_del usage");
        continue;
      }
      put_u64(value, u.count);
      put_u64(value + 8, u.bytes);
      MDB_val v{sizeof(value), value};
      check(mdb_put(txn_, db_, &k, &v, 0), "mdb_put usage");
    }
  }

private:
  MDB_txn* txn_;
  MDB_dbi db_;
  std::unordered_map<account_id, mail_usage> rows_;
};

} // namespace kinbox::mailbox_format
