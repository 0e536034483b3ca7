#include "persistence/mailbox.hpp"

#include <sys/stat.h>

#include <cstring>

#include "config/log.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

constexpr size_t envelope_header_size = 1 + 16 + 8 + 8 + 8;
constexpr char next_seq_key[] = "next_seq";

void put_u64(uint8_t* out, uint64_t x) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(x);
    x >>= 8;
  }
}

uint64_t get_u64(const uint8_t* in) {
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

struct index_key_bytes {
  uint8_t data[25];
  index_key_bytes(account_id recipient, mail_kind kind, const message_id& id) {
    put_u64(data, recipient);
    data[8] = static_cast<uint8_t>(kind);
    std::memcpy(data + 9, id.data(), id.size());
  }
  MDB_val val() { return {sizeof(data), data}; }
};

struct expiry_key_bytes {
  uint8_t data[24];
  expiry_key_bytes(uint64_t expires_at, account_id recipient, uint64_t seq) {
    put_u64(data, expires_at);
    put_u64(data + 8, recipient);
    put_u64(data + 16, seq);
  }
  MDB_val val() { return {sizeof(data), data}; }
};

bytes encode_envelope(const envelope& e) {
  bytes out(envelope_header_size + e.payload.size());
  out[0] = static_cast<uint8_t>(e.kind);
  std::memcpy(out.data() + 1, e.id.data(), 16);
  put_u64(out.data() + 17, e.sender);
  put_u64(out.data() + 25, e.stored_at_ms);
  put_u64(out.data() + 33, e.expires_at_ms);
  std::memcpy(out.data() + envelope_header_size, e.payload.data(), e.payload.size());
  return out;
}

bool decode_envelope(account_id recipient, const MDB_val& v, bool with_payload, envelope& e) {
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

failure lmdb_failure(const char* what, int rc) {
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

/// Thrown inside a write body to abort the transaction with an LMDB code.
struct lmdb_abort {
  int rc;
  const char* what;
};

void check(int rc, const char* what) {
  if (rc != 0)
    throw lmdb_abort{rc, what};
}

} // namespace

result<std::unique_ptr<mailbox>> mailbox::open(const options& opts) {
  if (::mkdir(opts.dir.c_str(), 0700) != 0 && errno != EEXIST)
    return failure{errc::storage_failure,
                   "cannot create mailbox dir '" + opts.dir + "': " + std::strerror(errno)};
  std::unique_ptr<mailbox> mb{new mailbox};
  mb->max_size_ = opts.max_size;
  int rc = mdb_env_create(&mb->env_);
  if (rc != 0)
    return lmdb_failure("mdb_env_create", rc);
  mdb_env_set_maxdbs(mb->env_, 4);
  mdb_env_set_mapsize(mb->env_, opts.initial_size);
  rc = mdb_env_open(mb->env_, opts.dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0)
    return lmdb_failure("mdb_env_open", rc);
  int dead = 0;
  mdb_reader_check(mb->env_, &dead);
  MDB_envinfo info;
  mdb_env_info(mb->env_, &info);
  mb->map_size_ = info.me_mapsize;
  txn_guard txn;
  if ((rc = txn.begin(mb->env_, 0)) != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  if ((rc = mdb_dbi_open(txn.get(), "mail", MDB_CREATE, &mb->mail_db_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "index", MDB_CREATE, &mb->index_db_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "expiry", MDB_CREATE, &mb->expiry_db_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &mb->meta_db_)) != 0)
    return lmdb_failure("mdb_dbi_open", rc);
  MDB_val key{sizeof(next_seq_key), const_cast<char*>(next_seq_key)}, val;
  if (mdb_get(txn.get(), mb->meta_db_, &key, &val) == 0 && val.mv_size == 8)
    mb->next_seq_ = get_u64(static_cast<const uint8_t*>(val.mv_data));
  if ((rc = txn.commit()) != 0)
    return lmdb_failure("mdb_txn_commit", rc);
  return mb;
}

mailbox::~mailbox() {
  if (env_)
    mdb_env_close(env_);
}

bool mailbox::grow() {
  if (map_size_ >= max_size_)
    return false;
  auto next = std::min(map_size_ * 2, max_size_);
  if (mdb_env_set_mapsize(env_, next) != 0)
    return false;
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;
  log::get("store")->warn("event=map_grown map_size={}", map_size_);
  return true;
}

template <class F>
result<bool> mailbox::with_write_txn(F&& body) {
  for (;;) {
    int rc = 0;
    const char* what = "mdb_txn_begin";
    {
      txn_guard txn;
      rc = txn.begin(env_, 0);
      if (rc == 0) {
        try {
          body(txn.get());
          what = "mdb_txn_commit";
          rc = txn.commit();
        } catch (const lmdb_abort& e) {
          rc = e.rc;
          what = e.what;
        }
      }
    }
    if (rc == 0)
      return true;
    if (rc == MDB_MAP_FULL) {
      if (grow())
        continue;
      log::get("store")->error("event=mailbox_full map_size={} max={}", map_size_, max_size_);
      return failure{errc::mailbox_full, "mailbox storage reached its maximum size"};
    }
    return lmdb_failure(what, rc);
  }
}

result<write_outcome> mailbox::write(const write_batch& batch) {
  write_outcome out;
  uint64_t seq = 0;
  auto ok = with_write_txn([&](MDB_txn* txn) {
    out = write_outcome{};
    seq = next_seq_;
    for (auto& e : batch.puts) {
      index_key_bytes ik{e.recipient, e.kind, e.id};
      MDB_val ikey = ik.val(), existing;
      if (mdb_get(txn, index_db_, &ikey, &existing) == 0) {
        out.stored.push_back(false);
        continue;
      }
      auto this_seq = seq++;
      mail_key_bytes mk{e.recipient, this_seq};
      auto value = encode_envelope(e);
      MDB_val mkey = mk.val(), mval{value.size(), value.data()};
      check(mdb_put(txn, mail_db_, &mkey, &mval, 0), "mdb_put mail");
      uint8_t index_value[16];
      put_u64(index_value, this_seq);
      put_u64(index_value + 8, e.expires_at_ms);
      MDB_val ival{sizeof(index_value), index_value};
      check(mdb_put(txn, index_db_, &ikey, &ival, 0), "mdb_put index");
      expiry_key_bytes ek{e.expires_at_ms, e.recipient, this_seq};
      MDB_val ekey = ek.val(), empty{0, nullptr};
      check(mdb_put(txn, expiry_db_, &ekey, &empty, 0), "mdb_put expiry");
      out.stored.push_back(true);
    }
    out.acked.resize(batch.acks.size());
    for (size_t a = 0; a < batch.acks.size(); ++a) {
      auto& ack = batch.acks[a];
      index_key_bytes ik{ack.recipient, ack.key.kind, ack.key.id};
      MDB_val ikey = ik.val(), ival;
      if (mdb_get(txn, index_db_, &ikey, &ival) != 0 || ival.mv_size != 16)
        continue;
      auto* iv = static_cast<const uint8_t*>(ival.mv_data);
      auto this_seq = get_u64(iv);
      auto expires_at = get_u64(iv + 8);
      mail_key_bytes mk{ack.recipient, this_seq};
      MDB_val mkey = mk.val(), mval;
      envelope removed;
      if (mdb_get(txn, mail_db_, &mkey, &mval) == 0 &&
          decode_envelope(ack.recipient, mval, false, removed))
        out.acked[a] = std::move(removed);
      mdb_del(txn, mail_db_, &mkey, nullptr);
      check(mdb_del(txn, index_db_, &ikey, nullptr), "mdb_del index");
      expiry_key_bytes ek{expires_at, ack.recipient, this_seq};
      MDB_val ekey = ek.val();
      mdb_del(txn, expiry_db_, &ekey, nullptr);
    }
    if (seq != next_seq_) {
      uint8_t seq_bytes[8];
      put_u64(seq_bytes, seq);
      MDB_val key{sizeof(next_seq_key), const_cast<char*>(next_seq_key)};
      MDB_val val{sizeof(seq_bytes), seq_bytes};
      check(mdb_put(txn, meta_db_, &key, &val, 0), "mdb_put meta");
    }
  });
  if (!ok)
    return ok.error();
  next_seq_ = seq;
  return out;
}

result<mail_page> mailbox::pending(account_id recipient, uint64_t after_seq, size_t max_count,
                                   size_t max_bytes) {
  mail_page page;
  auto& out = page.mail;
  txn_guard txn;
  int rc = txn.begin(env_, MDB_RDONLY);
  if (rc != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  cursor_guard cur;
  if ((rc = cur.open(txn.get(), mail_db_)) != 0)
    return lmdb_failure("mdb_cursor_open", rc);
  mail_key_bytes start{recipient, after_seq + 1};
  MDB_val key = start.val(), val;
  size_t bytes_taken = 0;
  rc = mdb_cursor_get(cur.get(), &key, &val, MDB_SET_RANGE);
  while (rc == 0 && key.mv_size == 16 &&
         get_u64(static_cast<const uint8_t*>(key.mv_data)) == recipient) {
    envelope e;
    if (decode_envelope(recipient, val, true, e)) {
      if (out.size() >= max_count || (!out.empty() && bytes_taken + e.payload.size() > max_bytes)) {
        page.more = true;
        break;
      }
      bytes_taken += e.payload.size();
      e.seq = get_u64(static_cast<const uint8_t*>(key.mv_data) + 8);
      out.push_back(std::move(e));
    }
    rc = mdb_cursor_get(cur.get(), &key, &val, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_failure("mdb_cursor_get", rc);
  return page;
}

result<std::vector<envelope>> mailbox::expire(uint64_t now_ms, size_t limit) {
  std::vector<envelope> out;
  auto ok = with_write_txn([&](MDB_txn* txn) {
    out.clear();
    cursor_guard cur;
    check(cur.open(txn, expiry_db_), "mdb_cursor_open");
    MDB_val key, val;
    int rc = mdb_cursor_get(cur.get(), &key, &val, MDB_FIRST);
    while (rc == 0 && out.size() < limit && key.mv_size == 24) {
      auto* k = static_cast<const uint8_t*>(key.mv_data);
      if (get_u64(k) > now_ms)
        break;
      auto recipient = get_u64(k + 8);
      mail_key_bytes mk{recipient, get_u64(k + 16)};
      MDB_val mkey = mk.val(), mval;
      envelope e;
      if (mdb_get(txn, mail_db_, &mkey, &mval) == 0 && decode_envelope(recipient, mval, false, e)) {
        index_key_bytes ik{recipient, e.kind, e.id};
        MDB_val ikey = ik.val();
        mdb_del(txn, index_db_, &ikey, nullptr);
        check(mdb_del(txn, mail_db_, &mkey, nullptr), "mdb_del mail");
        out.push_back(std::move(e));
      }
      check(mdb_cursor_del(cur.get(), 0), "mdb_cursor_del");
      rc = mdb_cursor_get(cur.get(), &key, &val, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      check(rc, "mdb_cursor_get");
  });
  if (!ok)
    return ok.error();
  return out;
}

result<uint64_t> mailbox::count() {
  txn_guard txn;
  int rc = txn.begin(env_, MDB_RDONLY);
  if (rc != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  MDB_stat st;
  if ((rc = mdb_stat(txn.get(), mail_db_, &st)) != 0)
    return lmdb_failure("mdb_stat", rc);
  return static_cast<uint64_t>(st.ms_entries);
}

} // namespace kinbox
