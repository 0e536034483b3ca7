#include "persistence/mailbox.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "config/log.hpp"
#include "config/metrics.hpp"
#include "persistence/mailbox_format.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

using namespace mailbox_format;

result<std::unique_ptr<mailbox>> mailbox::open(const options& opts) {
  if (::mkdir(opts.dir.c_str(), 0700) != 0 && errno != EEXIST)
    return failure{errc::storage_failure,
                   "cannot create mailbox dir '" + opts.dir + "': " + std::strerror(errno)};
  std::unique_ptr<mailbox> mb{new mailbox};
  mb->opts_ = opts;
  mb->max_size_ = opts.max_size;
  mb->cap_count_ = opts.cap_count;
  mb->cap_bytes_ = opts.cap_bytes;
  if (auto opened = mb->open_env(); !opened)
    return opened.error();
  return mb;
}

result<bool> mailbox::open_env() {
  auto opened = open_env_once();
  if (!opened && env_) {
    mdb_env_close(env_);
    env_ = nullptr;
  }
  return opened;
}

failure mailbox::closed() {
  return failure{errc::storage_failure,
                 "the mailbox could not be opened again after its compaction; restart the node"};
}

failure mailbox::disk_full() const {
  log::get("store")->error("event=disk_full map_size={} reason=\"no disk space to grow the map\"",
                           map_size_);
  return failure{errc::storage_failure, "no disk space for more mail"};
}

result<bool> mailbox::open_env_once() {
  auto* mb = this;
  auto& opts = opts_;
  int rc = mdb_env_create(&mb->env_);
  if (rc != 0)
    return lmdb_failure("mdb_env_create", rc);
  mdb_env_set_maxdbs(mb->env_, 5); // mail, index, meta, usage; and expiry of format 1
  mdb_env_set_mapsize(mb->env_, opts.initial_size);
  rc = mdb_env_open(mb->env_, opts.dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0)
    return lmdb_failure("mdb_env_open", rc);
  int dead = 0;
  mdb_reader_check(mb->env_, &dead);
  MDB_envinfo info;
  mdb_env_info(mb->env_, &info);
  // LMDB opens a grown mailbox with a map just as large as what it uses; an upgrade
  // rewrites the index in one transaction and needs about as much again.
  MDB_stat env_stat;
  mdb_env_stat(mb->env_, &env_stat);
  uint64_t used = (info.me_last_pgno + 1) * static_cast<uint64_t>(env_stat.ms_psize);
  if (2 * used > info.me_mapsize && info.me_mapsize < opts.max_size) {
    mdb_env_set_mapsize(mb->env_, std::min<uint64_t>(opts.max_size, 2 * used + opts.initial_size));
    mdb_env_info(mb->env_, &info);
  }
  mb->map_size_ = info.me_mapsize;
  txn_guard txn;
  if ((rc = txn.begin(mb->env_, 0)) != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  if ((rc = mdb_dbi_open(txn.get(), "mail", MDB_CREATE, &mb->mail_db_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "index", MDB_CREATE, &mb->index_db_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &mb->meta_db_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "usage", MDB_CREATE, &mb->usage_db_)) != 0)
    return lmdb_failure("mdb_dbi_open", rc);
  MDB_val key{sizeof(next_seq_key), const_cast<char*>(next_seq_key)}, val;
  if (mdb_get(txn.get(), mb->meta_db_, &key, &val) == 0 && val.mv_size == 8)
    mb->next_seq_ = get_u64(static_cast<const uint8_t*>(val.mv_data));
  MDB_val fkey{sizeof(format_key), const_cast<char*>(format_key)};
  uint64_t format = 1;
  if (mdb_get(txn.get(), mb->meta_db_, &fkey, &val) == 0 && val.mv_size == 8)
    format = get_u64(static_cast<const uint8_t*>(val.mv_data));
  if (format > current_format)
    return failure{errc::storage_failure, "mailbox in '" + opts.dir + "' has format " +
                                              std::to_string(format) + ", newer than this node's " +
                                              std::to_string(current_format)};
  if (format < current_format) {
    if ((rc = mb->upgrade(txn.get(), format)) != 0)
      return lmdb_failure("mailbox upgrade", rc);
    uint8_t format_bytes[8];
    put_u64(format_bytes, current_format);
    MDB_val fval{sizeof(format_bytes), format_bytes};
    if ((rc = mdb_put(txn.get(), mb->meta_db_, &fkey, &fval, 0)) != 0)
      return lmdb_failure("mdb_put format", rc);
  }
  if ((rc = txn.commit()) != 0)
    return lmdb_failure("mdb_txn_commit", rc);
  mb->allocate_disk(mb->map_size_);
  return true;
}

result<uint64_t> mailbox::compact() {
  if (!env_)
    return closed();
  namespace fs = std::filesystem;
  std::error_code ec;
  auto dir = fs::path{opts_.dir};
  auto copy_dir = dir / "compacting";
  fs::remove_all(copy_dir, ec);
  if (!fs::create_directory(copy_dir, ec))
    return failure{errc::storage_failure, "cannot make " + copy_dir.string() + ": " + ec.message()};
  fs::permissions(copy_dir, fs::perms::owner_all, ec);
  // Only the pages in use are copied: what acks, expiry and purges freed stays behind.
  if (int rc = mdb_env_copy2(env_, copy_dir.c_str(), MDB_CP_COMPACT); rc != 0) {
    fs::remove_all(copy_dir, ec);
    return lmdb_failure("mdb_env_copy2", rc);
  }
  auto copy = copy_dir / "data.mdb";
  auto synced = [](const fs::path& path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    bool ok = fd >= 0 && ::fsync(fd) == 0;
    if (fd >= 0)
      ::close(fd);
    return ok;
  };
  // The copy is made with the process's umask: the mailbox is the node's alone.
  fs::permissions(copy, fs::perms::owner_read | fs::perms::owner_write, ec);
  if (ec || !synced(copy, O_RDONLY)) {
    fs::remove_all(copy_dir, ec);
    return failure{errc::storage_failure, "cannot protect or sync the compacted mailbox"};
  }
  auto size = fs::file_size(copy, ec);
  mdb_env_close(env_);
  env_ = nullptr;
  fs::rename(copy, dir / "data.mdb", ec);
  bool replaced = !ec && synced(dir, O_RDONLY | O_DIRECTORY);
  fs::remove_all(copy_dir, ec);
  // Open again, the compacted file or (if the rename failed) the old one. Should that
  // fail, every later call answers storage_failure (mail is refused, none is lost).
  if (auto opened = open_env(); !opened) {
    log::get("store")->error("event=mailbox_closed msg=\"{}\"", opened.error().message);
    return opened.error();
  }
  if (!replaced)
    return failure{errc::storage_failure, "the compacted mailbox could not replace the old one"};
  return size;
}

mailbox::~mailbox() {
  if (env_)
    mdb_env_close(env_);
}

bool mailbox::allocate_disk(uint64_t size) {
  int fd = -1;
  int rc =
      mdb_env_get_fd(env_, &fd) != 0 ? EBADF : ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  bool was_full = disk_full_;
  disk_full_ = rc != 0;
  // Logged when it changes: mail is still accepted into the map's free pages meanwhile.
  if (disk_full_ && !was_full)
    log::get("store")->warn("event=map_growth_blocked size={} msg=\"{}\"", size, std::strerror(rc));
  if (!disk_full_ && was_full)
    log::get("store")->info("event=map_growth_unblocked size={}", size);
  return !disk_full_;
}

bool mailbox::grow() {
  if (map_size_ >= max_size_)
    return false;
  auto next = std::min(map_size_ * 2, max_size_);
  if (!allocate_disk(next) || mdb_env_set_mapsize(env_, next) != 0)
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
      if (disk_full_)
        return disk_full();
      log::get("store")->error("event=mailbox_full map_size={} max={}", map_size_, max_size_);
      return failure{errc::mailbox_full, "mailbox storage reached its maximum size"};
    }
    return lmdb_failure(what, rc);
  }
}

bool mailbox::room_for_puts(uint64_t batch_bytes) {
  if (map_size_ < max_size_ && (!disk_full_ || grow()))
    return true; // the map can grow (again, once the disk has room)
  MDB_envinfo info;
  MDB_stat stat;
  txn_guard txn;
  if (mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &stat) != 0 ||
      txn.begin(env_, MDB_RDONLY) != 0)
    return false;
  uint64_t free_pages = map_size_ / stat.ms_psize - (info.me_last_pgno + 1);
  // Pages freed by earlier transactions: each record of the free DB (0) lists some.
  // A walk cut short counts fewer free pages: the answer errs towards "no room".
  (void)for_each_entry(txn.get(), 0, [&](MDB_cursor*, MDB_val&, MDB_val& val) {
    if (val.mv_size >= sizeof(size_t)) {
      size_t listed = 0;
      std::memcpy(&listed, val.mv_data, sizeof(listed));
      free_pages += listed;
    }
    return 0;
  });
  // The batch's pages (about twice its bytes, with the index) must leave the reserve free.
  return free_pages * stat.ms_psize > reserve_of(map_size_) + 2 * batch_bytes;
}

result<write_outcome> mailbox::write(const write_batch& batch) {
  if (!env_)
    return closed();
  auto out = write_txn(batch, !batch.puts.empty());
  if (out || batch.puts.empty())
    return out;
  // The puts could not be stored: the acks go on without them.
  log::get("store")->warn("event=puts_refused puts={} acks={} code={}", batch.puts.size(),
                          batch.acks.size(), errc_name(out.error().code));
  auto acks = write_txn(batch, false);
  if (!acks)
    return acks.error();
  acks->puts_failed = out.error();
  return acks;
}

result<write_outcome> mailbox::write_txn(const write_batch& batch, bool with_puts) {
  uint64_t batch_bytes = 0;
  for (auto& e : batch.puts)
    batch_bytes += envelope_header_size + e.payload.size();
  if (with_puts && !room_for_puts(batch_bytes)) {
    if (disk_full_)
      return disk_full();
    log::get("store")->error("event=mailbox_full map_size={} max={}", map_size_, max_size_);
    return failure{errc::mailbox_full, "mailbox storage reached its maximum size"};
  }
  write_outcome out;
  uint64_t seq = 0;
  auto ok = with_write_txn([&](MDB_txn* txn) {
    out = write_outcome{};
    seq = next_seq_;
    usage_table usage{txn, usage_db_};
    for (size_t p = 0; with_puts && p < batch.puts.size(); ++p) {
      auto& e = batch.puts[p];
      index_key_bytes ik{e.recipient, e.kind, e.id, e.sender};
      uint8_t index_value[index_value_size];
      put_u64(index_value, seq);
      put_u64(index_value + 8, e.sender);
      MDB_val ikey = ik.val(), ival{sizeof(index_value), index_value};
      auto rc = mdb_put(txn, index_db_, &ikey, &ival, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) {
        out.stored.push_back(put_result::duplicate);
        continue;
      }
      check(rc, "mdb_put index");
      auto& u = usage.of(e.recipient);
      bool capped = p < batch.capped.size() && batch.capped[p];
      if (capped && ((cap_count_ != 0 && u.count + 1 > cap_count_) ||
                     (cap_bytes_ != 0 && u.bytes + e.payload.size() > cap_bytes_))) {
        check(mdb_del(txn, index_db_, &ikey, nullptr), "mdb_del index");
        out.stored.push_back(put_result::over_cap);
        continue;
      }
      ++u.count;
      u.bytes += e.payload.size();
      mail_key_bytes mk{e.recipient, seq++};
      auto value = encode_envelope(e);
      MDB_val mkey = mk.val(), mval{value.size(), value.data()};
      check(mdb_put(txn, mail_db_, &mkey, &mval, 0), "mdb_put mail");
      out.stored.push_back(put_result::stored);
    }
    out.acked.resize(batch.acks.size());
    cursor_guard index;
    check(index.open(txn, index_db_), "mdb_cursor_open");
    for (size_t a = 0; a < batch.acks.size(); ++a) {
      auto& ack = batch.acks[a];
      index_key_bytes ik{ack.recipient, ack.key.kind, ack.key.id, ack.key.sender};
      MDB_val ikey = ik.val(), ival;
      if (mdb_cursor_get(index.get(), &ikey, &ival, MDB_SET_KEY) != 0 ||
          ival.mv_size != index_value_size)
        continue;
      auto* iv = static_cast<const uint8_t*>(ival.mv_data);
      mail_key_bytes mk{ack.recipient, get_u64(iv)};
      envelope removed;
      removed.recipient = ack.recipient;
      removed.kind = ack.key.kind;
      removed.id = ack.key.id;
      removed.sender = get_u64(iv + 8);
      removed.seq = get_u64(iv);
      check(mdb_cursor_del(index.get(), 0), "mdb_cursor_del index");
      MDB_val mkey = mk.val(), mval;
      if (mdb_get(txn, mail_db_, &mkey, &mval) == 0) {
        usage.remove(ack.recipient, mval.mv_size - std::min(mval.mv_size, envelope_header_size));
        check(mdb_del(txn, mail_db_, &mkey, nullptr), "mdb_del mail");
      }
      out.acked[a] = std::move(removed);
    }
    usage.write();
    // Persist what is handed out next (reserved sequences included) once a put is stored.
    if (std::find(out.stored.begin(), out.stored.end(), put_result::stored) != out.stored.end()) {
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
  if (!env_)
    return closed();
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
    } else {
      // A damaged record: its recipient cannot have this mail.
      metrics::get().messages_lost.Increment();
      log::get("store")->error("event=envelope_unreadable bytes={}", val.mv_size);
    }
    rc = mdb_cursor_get(cur.get(), &key, &val, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_failure("mdb_cursor_get", rc);
  return page;
}

result<expired_mail> mailbox::expire(uint64_t now_ms, size_t limit) {
  if (!env_)
    return closed();
  expired_mail out;
  auto resume = expire_from_;
  auto ok = with_write_txn([&](MDB_txn* txn) {
    out = expired_mail{};
    resume = expire_from_;
    usage_table usage{txn, usage_db_};
    cursor_guard cur;
    check(cur.open(txn, mail_db_), "mdb_cursor_open");
    // A recipient's mail is in arrival order, so what expired is the front of its range:
    // take that front, then jump to the next recipient.
    size_t visited = 0;
    mail_key_bytes start{resume, 0};
    MDB_val key = start.val(), val;
    int rc = mdb_cursor_get(cur.get(), &key, &val, MDB_SET_RANGE);
    while (rc == 0 && visited < limit) {
      ++visited;
      auto recipient = get_u64(static_cast<const uint8_t*>(key.mv_data));
      envelope e;
      if (key.mv_size == 16 && decode_envelope(recipient, val, false, e) &&
          e.expires_at_ms <= now_ms) {
        index_key_bytes ik{recipient, e.kind, e.id, e.sender};
        MDB_val ikey = ik.val();
        mdb_del(txn, index_db_, &ikey, nullptr);
        usage.remove(recipient, val.mv_size - envelope_header_size);
        check(mdb_cursor_del(cur.get(), 0), "mdb_cursor_del");
        out.mail.push_back(std::move(e));
        rc = mdb_cursor_get(cur.get(), &key, &val, MDB_NEXT); // the entry after the deleted one
        continue;
      }
      if (recipient == UINT64_MAX) {
        rc = MDB_NOTFOUND;
        break;
      }
      mail_key_bytes next{recipient + 1, 0};
      key = next.val();
      rc = mdb_cursor_get(cur.get(), &key, &val, MDB_SET_RANGE);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      check(rc, "mdb_cursor_get");
    out.more = rc == 0;
    if (out.more)
      resume = get_u64(static_cast<const uint8_t*>(key.mv_data));
    usage.write();
  });
  if (!ok)
    return ok.error();
  expire_from_ = out.more ? resume : 0;
  return out;
}

result<std::vector<account_id>> mailbox::recipients(account_id after, size_t limit) {
  if (!env_)
    return closed();
  std::vector<account_id> out;
  if (after == UINT64_MAX)
    return out;
  txn_guard txn;
  int rc = txn.begin(env_, MDB_RDONLY);
  if (rc != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  cursor_guard cur;
  if ((rc = cur.open(txn.get(), mail_db_)) != 0)
    return lmdb_failure("mdb_cursor_open", rc);
  mail_key_bytes start{after + 1, 0};
  MDB_val key = start.val(), val;
  rc = mdb_cursor_get(cur.get(), &key, &val, MDB_SET_RANGE);
  while (rc == 0 && out.size() < limit) {
    auto recipient = get_u64(static_cast<const uint8_t*>(key.mv_data));
    out.push_back(recipient);
    if (recipient == UINT64_MAX)
      break;
    mail_key_bytes next{recipient + 1, 0};
    key = next.val();
    rc = mdb_cursor_get(cur.get(), &key, &val, MDB_SET_RANGE);
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_failure("mdb_cursor_get", rc);
  return out;
}

bytes encode_envelopes(std::span<const envelope> mail) {
  bytes out;
  size_t size = 4;
  for (auto& e : mail)
    size += 12 + envelope_header_size + e.payload.size();
  out.reserve(size);
  uint8_t count[4];
  wire::put_u32_be(count, static_cast<uint32_t>(mail.size()));
  out.insert(out.end(), count, count + 4);
  for (auto& e : mail) {
    auto stored = encode_envelope(e);
    uint8_t head[12];
    put_u64(head, e.recipient);
    wire::put_u32_be(head + 8, static_cast<uint32_t>(stored.size()));
    out.insert(out.end(), head, head + 12);
    out.insert(out.end(), stored.begin(), stored.end());
  }
  return out;
}

std::optional<std::vector<envelope>> decode_envelopes(std::span<const uint8_t> data) {
  if (data.size() < 4)
    return std::nullopt;
  auto count = wire::get_u32_be(data.data());
  size_t pos = 4;
  std::vector<envelope> out;
  for (uint32_t i = 0; i < count; ++i) {
    if (data.size() - pos < 12)
      return std::nullopt;
    auto recipient = get_u64(data.data() + pos);
    auto len = wire::get_u32_be(data.data() + pos + 8);
    pos += 12;
    if (data.size() - pos < len)
      return std::nullopt;
    MDB_val v{len, const_cast<uint8_t*>(data.data() + pos)};
    envelope e;
    if (!decode_envelope(recipient, v, true, e))
      return std::nullopt;
    out.push_back(std::move(e));
    pos += len;
  }
  if (pos != data.size())
    return std::nullopt;
  return out;
}

result<mail_usage> mailbox::usage(account_id recipient) {
  if (!env_)
    return closed();
  txn_guard txn;
  int rc = txn.begin(env_, MDB_RDONLY);
  if (rc != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  uint8_t key[8];
  put_u64(key, recipient);
  MDB_val k{sizeof(key), key}, v;
  rc = mdb_get(txn.get(), usage_db_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return mail_usage{};
  if (rc != 0)
    return lmdb_failure("mdb_get usage", rc);
  if (v.mv_size != 16)
    return failure{errc::storage_failure, "malformed usage record"};
  auto* p = static_cast<const uint8_t*>(v.mv_data);
  return mail_usage{get_u64(p), get_u64(p + 8)};
}

result<uint64_t> mailbox::count() {
  if (!env_)
    return closed();
  txn_guard txn;
  int rc = txn.begin(env_, MDB_RDONLY);
  if (rc != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  return count_in(txn.get());
}

result<uint64_t> mailbox::count_in(MDB_txn* txn) {
  MDB_stat st;
  if (int rc = mdb_stat(txn, mail_db_, &st); rc != 0)
    return lmdb_failure("mdb_stat", rc);
  return static_cast<uint64_t>(st.ms_entries);
}

result<mailbox_totals> mailbox::totals() {
  if (!env_)
    return closed();
  txn_guard txn;
  int rc = txn.begin(env_, MDB_RDONLY);
  if (rc != 0)
    return lmdb_failure("mdb_txn_begin", rc);
  auto envelopes = count_in(txn.get());
  if (!envelopes)
    return envelopes.error();
  mailbox_totals out;
  out.envelopes = *envelopes;
  rc = for_each_entry(txn.get(), usage_db_, [&](MDB_cursor*, MDB_val&, MDB_val& val) {
    if (val.mv_size == 16)
      out.bytes += get_u64(static_cast<const uint8_t*>(val.mv_data) + 8);
    return 0;
  });
  if (rc != 0)
    return lmdb_failure("usage walk", rc);
  MDB_envinfo info;
  MDB_stat env;
  if (mdb_env_info(env_, &info) == 0 && mdb_env_stat(env_, &env) == 0)
    out.used_bytes = (info.me_last_pgno + 1) * env.ms_psize;
  out.map_size = map_size_;
  return out;
}

} // namespace kinbox
