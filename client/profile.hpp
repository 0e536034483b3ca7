// A client's local profile directory: its secret keys (never sent anywhere), its kinbox
// ID, the gateway it uses, the cluster key pinned on first use, and the ids of recently
// received messages (so duplicates are dropped across runs). Files are mode 0600, the
// directory 0700.
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "crypto/crypto.hpp"

namespace kinbox::client {

/// A message the app was given: the same id from another sender is another message.
struct seen_message {
  account_id from = 0;
  message_id id{};
  friend bool operator==(const seen_message&, const seen_message&) = default;
};

struct profile {
  std::string dir;
  account_id id = 0; ///< 0 until registered
  std::string name;
  account_role role = account_role::child;
  crypto::sign_keypair sign;
  crypto::box_keypair box;
  std::string gateway;                  ///< host:port, empty if never set
  std::optional<public_key> pinned_key; ///< the cluster key, pinned on first use
  std::deque<seen_message> seen;        ///< most recent received messages

  static constexpr size_t max_seen = 4096;

  /// Loads the profile in `dir`; nullopt (not an error) if there is none yet.
  [[nodiscard]] static result<std::optional<profile>> load(const std::string& dir);

  /// A new profile with fresh keys (not written yet).
  static profile create(const std::string& dir);

  /// Writes the profile atomically (temp file + rename), mode 0600.
  [[nodiscard]] result<bool> save() const;

  bool was_seen(const seen_message& m) const;
  void mark_seen(const seen_message& m);
  /// Takes back the `n` last marks (of ids not seen before).
  void forget_newest(size_t n);
};

} // namespace kinbox::client
