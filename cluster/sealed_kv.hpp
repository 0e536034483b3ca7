// The account buckets as the actors see them: a record per (space, account) in plaintext
// to its callers, and in NATS under a keyed hash of the account id, sealed with that
// account's own data key (crypto/storage.hpp). `shred` erases an account's data key: every
// record and every revision it ever had, wherever JetStream still keeps their bytes, can no
// longer be opened. Bans are the operators' records and are kept as they are: under their
// id or key hash, in plaintext, for their year.
//
// A plain class over blocking KV calls: the kv actor runs it on its own thread, and a
// node's start runs its migration before any actor.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "cluster/nats_link.hpp"
#include "crypto/storage.hpp"

namespace kinbox {

/// The buckets of account records (named kinbox_<cluster>_<space>).
enum class kv_space : uint8_t {
  accounts = 0,  ///< account id -> profile and public keys (JSON)
  contacts = 1,  ///< account id -> contact list (JSON)
  presence = 2,  ///< account id -> the node (and incarnation) of its session; deleted on detach
  last_seen = 3, ///< account id -> last detach time (ms), kept until account deletion
  families = 4,  ///< child id -> parent link, PIN hash and tries, approvals (JSON)
  bans = 5,      ///< "a<id>", "k<sign key hash>", "b<box key hash>" -> ban (JSON); kept 400 days
  profiles = 6,  ///< account id -> country, gender, avatar, device info (JSON)
  chats = 7,     ///< "g<group id>" -> a group's name, creator, members, version (JSON)
};

constexpr size_t kv_space_count = 8;

/// The bucket name's last part of a space ("accounts", ...).
const char* space_name(kv_space s);

class sealed_kv {
public:
  /// `spaces`: a bucket per space; `keys`: the erasable bucket of data keys; `key_life`:
  /// how long a data key is used from memory before it is read again (a key another node
  /// erased is used here no longer than that).
  sealed_kv(std::array<kv_bucket*, kv_space_count> spaces, kv_bucket* keys,
            crypto::storage_secrets secrets,
            std::chrono::milliseconds key_life = std::chrono::seconds(30));

  /// The record of `key` (an account id, or a ban key) in `space`; nullopt if there is
  /// none, or its account's data key was erased.
  [[nodiscard]] result<std::optional<bytes>> get(kv_space space, const std::string& key);
  [[nodiscard]] result<bool> put(kv_space space, const std::string& key, std::span<const uint8_t> value);
  /// Writes only if there is no record; false if there is, or the account was deleted.
  [[nodiscard]] result<bool> create(kv_space space, const std::string& key,
                                    std::span<const uint8_t> value);
  [[nodiscard]] result<bool> erase(kv_space space, const std::string& key);
  /// Erases the data key of account `owner`: all its sealed records become unreadable, and
  /// a tombstone in its place refuses any new record of it (`not_found`). Other nodes stop
  /// using the key within their `key_life`.
  [[nodiscard]] result<bool> shred(const std::string& owner);

  /// The KV key a record of `space` is stored under.
  std::string stored_key(kv_space space, const std::string& key) const;

  /// Moves records written before records were sealed (the account id as key, JSON in the
  /// clear) to their sealed form, and deletes the old key. Returns how many moved.
  [[nodiscard]] result<size_t> migrate();

private:
  result<std::optional<crypto::data_key>> data_key_of(const std::string& owner, bool make);
  kv_bucket& bucket(kv_space s) { return *spaces_[static_cast<size_t>(s)]; }

  std::array<kv_bucket*, kv_space_count> spaces_;
  kv_bucket* keys_;
  crypto::storage_secrets secrets_;
  std::chrono::milliseconds key_life_;
  struct cached_key {
    crypto::data_key key;
    std::chrono::steady_clock::time_point read_at;
  };
  /// Data keys in use; bounded (cleared when full: a miss costs one KV read).
  std::unordered_map<std::string, cached_key> cache_;
};

} // namespace kinbox
