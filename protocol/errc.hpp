// Error codes of kinbox: one table from which the wire codes, their names and their
// descriptions come. Numbers are stable: clients match on them, never on the text.
#pragma once

#include <cstdint>
#include <string_view>

namespace kinbox {

// X(name, number, retryable, description)
#define KINBOX_ERRC_TABLE(X)                                                                       \
  X(malformed_frame, 1, false, "the frame could not be decoded")                                   \
  X(frame_too_large, 2, false, "the frame is longer than the maximum frame size")                  \
  X(unsupported_version, 3, false, "the protocol version is not supported")                        \
  X(unexpected_frame, 4, false, "the frame is not allowed in the connection's current state")      \
  X(unknown_type, 5, false, "the frame type is unknown")                                           \
  X(decrypt_failed, 6, false, "a frame failed authentication (tampered, replayed or reordered)")   \
  X(auth_failed, 7, false, "the login signature did not verify for this account")                  \
  X(invalid_argument, 8, false, "a field of the request is out of range")                          \
  X(not_found, 9, false, "no such account, or it is not a friend of the caller")                   \
  X(mailbox_full, 10, true, "the recipient's mailbox storage is full; retry later")                \
  X(unavailable, 11, true, "the cluster could not serve the request now; retry later")             \
  X(internal, 12, false, "an internal server error; the server logged the details")                \
  X(session_replaced, 13, false, "the account logged in on another connection")                    \
  X(shutting_down, 14, true, "the node is shutting down; reconnect to another node or later")      \
  X(slow_consumer, 15, true, "the connection did not read its data fast enough")                   \
  X(timeout, 16, true, "the request did not complete in time; retry")                              \
  X(key_mismatch, 17, false, "the gateway presented a key other than the pinned one")              \
  X(storage_failure, 18, true, "the mailbox store failed; the mail was not stored; retry")      \
  X(moved, 19, true, "the entity is being moved to another node; retry")                        \
  X(mailbox_cap, 20, true, "the recipient has as much undelivered mail as allowed; retry later") \
  X(rate_limited, 21, true, "too many requests or connections; retry after the time given")     \
  X(friend_request_limit, 22, true, "too many friend requests from this account; retry later")   \
  X(friend_request_cooldown, 23, true,                                                           \
    "a request to this account was declined or expired lately; retry after the time given")     \
  X(wrong_pin, 24, false, "the parent PIN is wrong")                                               \
  X(pin_locked, 25, true, "too many wrong PINs; the PIN is locked until the time given")           \
  X(already_linked, 26, false, "the child is linked to a parent already")                         \
  X(location_off, 27, false, "the parent has switched location sharing off")                     \
  X(banned, 28, false, "this account is banned from kinbox")                                    \
  X(account_deleted, 29, false, "the account was deleted")                                     \
  X(parent_required, 30, false,                                                                  \
    "only the child's parent may do this: from the parent's app, or with the parent's PIN")    \
  X(account_frozen, 31, false,                                                                   \
    "this child account has no parent; it waits for a parent's link code")                      \
  X(not_allowed, 32, false, "the group's rules do not allow this")                               \
  X(stale_membership, 33, false,                                                                 \
    "the group changed since the message was encrypted; wrap it for the members given")         \
  X(asleep, 34, true, "it is quiet time for this child; try again when it ends")

enum class errc : uint16_t {
#define KINBOX_ERRC_ENUM(name, number, retryable, text) name = number,
  KINBOX_ERRC_TABLE(KINBOX_ERRC_ENUM)
#undef KINBOX_ERRC_ENUM
};

/// Stable snake_case name of a code, "unknown" for numbers outside the table.
std::string_view errc_name(errc code);

/// One-sentence description of a code.
std::string_view errc_description(errc code);

/// Whether a client may retry the same request later.
bool errc_retryable(errc code);

/// Whether `number` names a code of the table.
bool errc_known(uint16_t number);

} // namespace kinbox
