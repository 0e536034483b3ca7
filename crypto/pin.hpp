// The parent PIN: four digits, kept only as an argon2id hash of the PIN keyed with a
// server-side pepper. The pepper lives outside every database (a file given to every
// node, or derived from the cluster key), so a copy of the KV buckets alone does not let
// anyone try the 10,000 PINs offline. Hashing is slow on purpose: call these functions
// from a worker thread, never from an actor scheduler thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/crypto.hpp"

namespace kinbox::crypto {

constexpr size_t pin_length = 4;
constexpr size_t pepper_size = 32;

/// A secret mixed into every PIN before it is hashed; wiped when destroyed.
struct pin_pepper {
  std::array<uint8_t, pepper_size> key{};
  pin_pepper() = default;
  pin_pepper(const pin_pepper&) = default;
  pin_pepper& operator=(const pin_pepper&) = default;
  ~pin_pepper();
};

/// argon2id cost (libsodium's opslimit and memlimit).
struct pin_hash_params {
  uint64_t ops = 2;             ///< crypto_pwhash_OPSLIMIT_INTERACTIVE
  size_t memory = 64u << 20;    ///< bytes; crypto_pwhash_MEMLIMIT_INTERACTIVE
};

/// Whether `pin` is exactly four ASCII digits.
bool is_valid_pin(std::string_view pin);

/// Whether a PIN is among the first an attacker tries: one digit four times, a run up or
/// down (0123, 9876), two digits alternating (1212) or doubled (1122), and the few dozen
/// most chosen PINs. Such PINs are refused when a PIN is set, never when one is checked.
bool is_guessable_pin(std::string_view pin);

/// Why `pin` may not become a parent PIN (not four digits, or guessable), or nullopt.
std::optional<std::string> new_pin_problem(std::string_view pin);

/// The pepper derived from the cluster's transport key (used when no pepper file is given).
pin_pepper derive_pin_pepper(const kx_keypair& cluster_key);

/// A fingerprint of the pepper that reveals nothing of it (16 hex digits of a hash keyed
/// with it): nodes compare it to find a node started with another pepper.
std::string pepper_fingerprint(const pin_pepper& pepper);

/// Reads a pepper file: one line "kinbox-pin-pepper-v1 <64 hex digits>", mode 0600.
[[nodiscard]] result<pin_pepper> read_pin_pepper(const std::string& path);

/// The argon2id hash string (crypto_pwhash_str) of the peppered PIN; fails with
/// invalid_argument for a PIN that is not four digits, internal if memory runs out.
[[nodiscard]] result<std::string> hash_pin(std::string_view pin, const pin_pepper& pepper,
                                           const pin_hash_params& params);

/// Whether `pin` matches `hash` (the parameters are those stored in the hash).
[[nodiscard]] bool verify_pin(const std::string& hash, std::string_view pin,
                              const pin_pepper& pepper);

} // namespace kinbox::crypto
