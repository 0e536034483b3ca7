// What kinbox stores in NATS KV, sealed so that a deletion erases (crypto-shredding, as
// docs/privacy.md explains): every record of an account is sealed with a data key of that
// account's own, and its KV key is a keyed hash of the account id, not the id. Deleting an
// account erases its one data-key record; every revision of every record it had, and every
// stale byte JetStream keeps of them, is then ciphertext under a key that no longer exists.
//
// The secrets come from the node's root secret (the PIN pepper: a file every node has, or
// derived from the cluster key): a key for the keyed hashes, and a key that wraps data
// keys, so a copy of the NATS store alone opens nothing.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/pin.hpp"
#include "protocol/types.hpp"

namespace kinbox::crypto {

constexpr size_t data_key_size = 32;

/// A data key; wiped when destroyed.
struct data_key {
  std::array<uint8_t, data_key_size> key{};
  data_key() = default;
  data_key(const data_key&) = default;
  data_key& operator=(const data_key&) = default;
  ~data_key();
  static data_key generate();
};

/// The storage secrets of a cluster, derived from its root secret.
struct storage_secrets {
  std::array<uint8_t, 32> key_hash{};  ///< keys the hashes that stand for ids in KV keys
  std::array<uint8_t, 32> key_wrap{};  ///< seals the data keys
  storage_secrets() = default;
  storage_secrets(const storage_secrets&) = default;
  storage_secrets& operator=(const storage_secrets&) = default;
  ~storage_secrets();
  static storage_secrets derive(const pin_pepper& root);
};

/// The KV key that stands for `key` in the bucket `space`: "h" and 32 hex digits of a hash
/// keyed with the storage secret, so keys name no account to whoever lacks it.
std::string hashed_key(const storage_secrets& s, std::string_view space, std::string_view key);

/// Seals `plain` with `k` for the KV key `ad` (a sealed value moved to another key does
/// not open): format 1, a 24-byte nonce, XChaCha20-Poly1305 ciphertext.
bytes seal_record(const data_key& k, std::string_view ad, std::span<const uint8_t> plain);
/// The plaintext of a sealed value; nullopt if it does not open.
std::optional<bytes> open_record(const data_key& k, std::string_view ad,
                                 std::span<const uint8_t> sealed);

/// A data key sealed with the wrap secret (as `seal_record`), and back.
bytes wrap_data_key(const storage_secrets& s, std::string_view ad, const data_key& k);
std::optional<data_key> unwrap_data_key(const storage_secrets& s, std::string_view ad,
                                        std::span<const uint8_t> wrapped);

} // namespace kinbox::crypto
