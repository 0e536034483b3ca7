// Basic value types shared by the wire protocol, the client SDK and the server.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/errc.hpp"

namespace kinbox {

using bytes = std::vector<uint8_t>;

/// Numeric kinbox ID of an account (10 decimal digits, never 0).
using account_id = uint64_t;

/// Client-made 128-bit message id; unique per sender.
using message_id = std::array<uint8_t, 16>;

constexpr size_t public_key_size = 32;
constexpr size_t signature_size = 64;
using public_key = std::array<uint8_t, public_key_size>;
using signature = std::array<uint8_t, signature_size>;

enum class account_role : uint8_t { child = 1, parent = 2 };

/// AEAD of the sealed records, chosen in the handshake (client offers, server picks).
enum class record_cipher : uint8_t {
  chacha20_poly1305 = 1, ///< ChaCha20-Poly1305 (IETF); every peer has it
  aes256_gcm = 2,        ///< AES-256-GCM; only where the CPU has AES-NI (much faster there)
};

/// What a mailbox entry is: a message, or a receipt about a message the owner sent.
enum class mail_kind : uint8_t {
  message = 1,   ///< end-to-end encrypted envelope from a friend
  delivered = 2, ///< receipt: the recipient's device acked the message
  expired = 3,   ///< receipt: the message expired undelivered and was deleted
  notice = 4,    ///< from the server to a parent: an approval waits, a PIN locked (ids only)
  location = 5,  ///< pushed only: a child's latest location to its parent, never stored
  group = 6,     ///< a member's copy of a group message: its wrapped key and the shared content
  read = 7,      ///< receipt: the recipient's app showed the message (made by the reader's app)
  typing = 8,    ///< pushed only: a friend or group member is typing, never stored
  missed_call = 9, ///< a call that rang unanswered (or not at all): caller, call id, kind
  call = 10,     ///< pushed only: a call signal (offer, answer, ice...), never stored
  quiet = 11,    ///< pushed only: the child's quiet hours began (payload 1) or ended (0)
  moment = 12,   ///< a friend's post: its wrapped key and the shared content
  reaction = 13, ///< a like or a comment on a post the account got (or made)
  retraction = 14, ///< the poster deleted a post the account got: the app deletes it too
};

/// The state of one contact in an account's contact list.
enum class contact_state : uint8_t {
  outgoing = 1,        ///< the owner asked; the other side has not answered
  incoming = 2,        ///< the other side asked; the owner has not answered
  friends = 3,         ///< both sides confirmed
  blocked = 4,         ///< the owner blocked the other side
  awaiting_parent = 5, ///< the owner (a child) asked or accepted; its parent has not approved
  parent = 6,          ///< in a listing only: the owner's linked parent
  child = 7,           ///< in a listing only: a child linked to the owner
};

/// An error with its stable code and a human-readable message.
struct failure {
  errc code;
  std::string message;
  uint32_t retry_after_ms{}; ///< for rate_limited: when to try again; 0: no hint
};

/// A value or a failure, for code that does not run inside CAF (codec, client SDK). Never
/// dropped unread: a failure would go unnoticed.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : state_(std::move(value)) {}
  result(failure err) : state_(std::move(err)) {}

  explicit operator bool() const { return state_.index() == 0; }
  T& operator*() { return std::get<0>(state_); }
  const T& operator*() const { return std::get<0>(state_); }
  T* operator->() { return &std::get<0>(state_); }
  const T* operator->() const { return &std::get<0>(state_); }
  const failure& error() const { return std::get<1>(state_); }

private:
  std::variant<T, failure> state_;
};

inline bool is_valid_role(uint8_t value) {
  return value == 1 || value == 2;
}

/// Kinds that are pushed to an attached session from memory, never stored nor acked.
inline bool pushed_only(mail_kind k) {
  return k == mail_kind::location || k == mail_kind::typing || k == mail_kind::call ||
         k == mail_kind::quiet;
}

inline bool is_valid_mail_kind(uint8_t value) {
  return value >= 1 && value <= 14;
}

} // namespace kinbox
