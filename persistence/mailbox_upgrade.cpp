// Upgrades of a mailbox written by an older node, run in the transaction that opens it:
// format 1 to 2 (index values), 2 to 3 (the sender in index keys) and the usage table.
#include <array>
#include <map>
#include <vector>

#include "persistence/mailbox_format.hpp"

namespace kinbox {

using namespace mailbox_format;

int mailbox::upgrade(MDB_txn* txn, uint64_t format) {
  int rc = 0;
  size_t upgraded = 0;
  if (format < 2 && (rc = upgrade_values(txn, upgraded)) != 0)
    return rc;
  if ((rc = upgrade_keys(txn, upgraded)) != 0 || (rc = count_usage(txn)) != 0)
    return rc;
  if (upgraded > 0) // a new data dir has nothing to upgrade, only the format to write
    log::get("store")->info("event=mailbox_upgraded format={} envelopes={}", current_format,
                            upgraded);
  return 0;
}

int mailbox::upgrade_values(MDB_txn* txn, size_t& upgraded) {
  // Format 1 kept seq|expires_at in the index and an expiry DB: rewrite the index values
  // as seq|sender and drop the expiry DB.
  int rc = for_each_entry(txn, index_db_, [&](MDB_cursor* cur, MDB_val& key, MDB_val& val) {
    if (key.mv_size != format2_index_key_size || val.mv_size != index_value_size)
      return 0;
    auto recipient = get_u64(static_cast<const uint8_t*>(key.mv_data));
    auto seq = get_u64(static_cast<const uint8_t*>(val.mv_data));
    mail_key_bytes mk{recipient, seq};
    MDB_val mkey = mk.val(), mval;
    envelope e;
    if (mdb_get(txn, mail_db_, &mkey, &mval) != 0 || !decode_envelope(recipient, mval, false, e))
      return 0;
    uint8_t value[index_value_size];
    put_u64(value, seq);
    put_u64(value + 8, e.sender);
    MDB_val nval{sizeof(value), value};
    int put = mdb_cursor_put(cur, &key, &nval, MDB_CURRENT);
    upgraded += put == 0 ? 1 : 0;
    return put;
  });
  if (rc != 0)
    return rc;
  MDB_dbi expiry = 0;
  if (mdb_dbi_open(txn, "expiry", 0, &expiry) == 0 && (rc = mdb_drop(txn, expiry, 1)) != 0)
    return rc;
  return 0;
}

int mailbox::upgrade_keys(MDB_txn* txn, size_t& upgraded) {
  // Format 2 keyed the index recipient|kind|id: append the sender (from the value). The
  // entries are collected first, as new keys would land among those still to visit.
  std::vector<std::pair<std::array<uint8_t, format2_index_key_size>, std::array<uint8_t, 16>>> old;
  int rc = for_each_entry(txn, index_db_, [&](MDB_cursor*, MDB_val& key, MDB_val& val) {
    if (key.mv_size == format2_index_key_size && val.mv_size == index_value_size) {
      auto& entry = old.emplace_back();
      std::memcpy(entry.first.data(), key.mv_data, key.mv_size);
      std::memcpy(entry.second.data(), val.mv_data, val.mv_size);
    }
    return 0;
  });
  if (rc != 0)
    return rc;
  for (auto& [key, value] : old) {
    MDB_val okey{key.size(), key.data()};
    if ((rc = mdb_del(txn, index_db_, &okey, nullptr)) != 0)
      return rc;
    uint8_t nkey[index_key_size];
    std::memcpy(nkey, key.data(), key.size());
    std::memcpy(nkey + format2_index_key_size, value.data() + 8, 8);
    MDB_val k{sizeof(nkey), nkey}, v{value.size(), value.data()};
    if ((rc = mdb_put(txn, index_db_, &k, &v, 0)) != 0)
      return rc;
  }
  upgraded = std::max(upgraded, old.size());
  return 0;
}

int mailbox::count_usage(MDB_txn* txn) {
  // Format 2 had no usage table: count every recipient's stored mail.
  std::map<account_id, mail_usage> usage;
  int rc = for_each_entry(txn, mail_db_, [&](MDB_cursor*, MDB_val& key, MDB_val& val) {
    if (key.mv_size == 16 && val.mv_size >= envelope_header_size) {
      auto& u = usage[get_u64(static_cast<const uint8_t*>(key.mv_data))];
      ++u.count;
      u.bytes += val.mv_size - envelope_header_size;
    }
    return 0;
  });
  if (rc != 0)
    return rc;
  for (auto& [recipient, u] : usage) {
    uint8_t k[8], v[16];
    put_u64(k, recipient);
    put_u64(v, u.count);
    put_u64(v + 8, u.bytes);
    MDB_val kv{sizeof(k), k}, vv{sizeof(v), v};
    if ((rc = mdb_put(txn, usage_db_, &kv, &vv, 0)) != 0)
      return rc;
  }
  return 0;
}

} // namespace kinbox
