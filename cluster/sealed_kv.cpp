#include "cluster/sealed_kv.hpp"

#include <chrono>

namespace kinbox {

namespace {

const char* names[kv_space_count] = {"accounts", "contacts", "presence", "last_seen",
                                     "families", "bans",     "profiles", "chats"};

/// Data keys kept in memory at most.
constexpr size_t max_cached_keys = 65536;

/// What stands in the keys bucket where an erased account's data key was: no record of
/// the account is written again, under a new key or any other (a wrapped key is longer).
const uint8_t tombstone[] = {0};

bool is_tombstone(std::span<const uint8_t> value) {
  return value.size() == 1 && value[0] == tombstone[0];
}

bool sealed(kv_space s) {
  return s != kv_space::bans;
}

} // namespace

const char* space_name(kv_space s) {
  return names[static_cast<size_t>(s)];
}

sealed_kv::sealed_kv(std::array<kv_bucket*, kv_space_count> spaces, kv_bucket* keys,
                     crypto::storage_secrets secrets, std::chrono::milliseconds key_life)
    : spaces_(spaces), keys_(keys), secrets_(std::move(secrets)), key_life_(key_life) {}

std::string sealed_kv::stored_key(kv_space space, const std::string& key) const {
  return sealed(space) ? crypto::hashed_key(secrets_, space_name(space), key) : key;
}

result<std::optional<crypto::data_key>> sealed_kv::data_key_of(const std::string& owner,
                                                               bool make) {
  auto now = std::chrono::steady_clock::now();
  if (auto i = cache_.find(owner); i != cache_.end()) {
    if (now - i->second.read_at < key_life_)
      return std::optional<crypto::data_key>{i->second.key};
    cache_.erase(i);
  }
  auto remember = [&](const crypto::data_key& k) {
    if (cache_.size() >= max_cached_keys)
      cache_.clear();
    cache_.insert_or_assign(owner, cached_key{k, now});
  };
  auto key = crypto::hashed_key(secrets_, "keys", owner);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto found = keys_->get(key);
    if (!found)
      return found.error();
    if (*found && is_tombstone((*found)->value)) {
      if (make)
        return failure{errc::not_found, "the account was deleted"};
      return std::optional<crypto::data_key>{};
    }
    if (*found) {
      auto k = crypto::unwrap_data_key(secrets_, key, (*found)->value);
      if (!k)
        return failure{errc::internal, "a data key does not open: another root secret?"};
      remember(*k);
      return std::optional<crypto::data_key>{*k};
    }
    if (!make)
      return std::optional<crypto::data_key>{};
    // Written once and never superseded: only a current message can be erased for good.
    auto fresh = crypto::data_key::generate();
    auto made = keys_->create(key, crypto::wrap_data_key(secrets_, key, fresh));
    if (!made)
      return made.error();
    if (*made) {
      remember(fresh);
      return std::optional<crypto::data_key>{fresh};
    }
    // Made by another node a moment ago: read it.
  }
  return failure{errc::unavailable, "the account's data key could not be read"};
}

result<std::optional<bytes>> sealed_kv::get(kv_space space, const std::string& key) {
  auto stored = stored_key(space, key);
  auto found = bucket(space).get(stored);
  if (!found)
    return found.error();
  if (!*found)
    return std::optional<bytes>{};
  if (!sealed(space))
    return std::optional<bytes>{std::move((*found)->value)};
  auto k = data_key_of(key, false);
  if (!k)
    return k.error();
  if (!*k)
    return std::optional<bytes>{}; // shredded: as good as gone
  auto plain = crypto::open_record(**k, stored, (*found)->value);
  if (!plain)
    return failure{errc::internal, "a stored record does not open"};
  return std::optional<bytes>{std::move(*plain)};
}

result<bool> sealed_kv::put(kv_space space, const std::string& key, std::span<const uint8_t> value) {
  auto stored = stored_key(space, key);
  if (!sealed(space)) {
    auto r = bucket(space).put(stored, value);
    return r ? result<bool>{true} : result<bool>{r.error()};
  }
  auto k = data_key_of(key, true);
  if (!k)
    return k.error();
  auto r = bucket(space).put(stored, crypto::seal_record(**k, stored, value));
  return r ? result<bool>{true} : result<bool>{r.error()};
}

result<bool> sealed_kv::create(kv_space space, const std::string& key,
                               std::span<const uint8_t> value) {
  auto stored = stored_key(space, key);
  if (!sealed(space))
    return bucket(space).create(stored, value);
  auto k = data_key_of(key, true);
  if (!k && k.error().code == errc::not_found)
    return false; // a deleted account's id is taken for good
  if (!k)
    return k.error();
  return bucket(space).create(stored, crypto::seal_record(**k, stored, value));
}

result<bool> sealed_kv::erase(kv_space space, const std::string& key) {
  return bucket(space).erase(stored_key(space, key));
}

result<bool> sealed_kv::shred(const std::string& owner) {
  cache_.erase(owner);
  auto key = crypto::hashed_key(secrets_, "keys", owner);
  // The tombstone is created, never put over a key: a key another node made between the
  // erasure and the tombstone is erased in turn.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto erased = keys_->erase_current(key);
    if (!erased)
      return erased.error();
    auto marked = keys_->create(key, tombstone);
    if (!marked)
      return marked.error();
    if (*marked)
      return true;
  }
  return failure{errc::unavailable, "the account's data key was made again while it was erased"};
}

result<size_t> sealed_kv::migrate() {
  size_t moved = 0;
  for (size_t i = 0; i < kv_space_count; ++i) {
    auto space = static_cast<kv_space>(i);
    if (!sealed(space))
      continue;
    auto listed = bucket(space).keys();
    if (!listed)
      return listed.error();
    for (auto& key : *listed) {
      if (key.empty() || key[0] == 'h')
        continue; // sealed already
      auto old = bucket(space).get(key);
      if (!old)
        return old.error();
      if (*old) {
        if (auto written = put(space, key, (*old)->value); !written)
          return written.error();
        ++moved;
      }
      if (auto gone = bucket(space).erase(key); !gone)
        return gone.error();
    }
  }
  return moved;
}

} // namespace kinbox
