// Account records and contact lists as they are kept in the KV buckets (JSON), and the
// friend-request state machine as a plain class, so the rules are testable without actors.
//
// States of a contact, seen from the owner of the list:
//   (none) --add--> outgoing --their accept--> friends
//   (none) --their request--> incoming --accept--> friends, --decline--> (none)
//   outgoing + their request (both asked) --> friends
//   blocked: requests from it are dropped silently; the requester sees no difference.
// `awaiting_parent` is where a child's step will wait for the parent's PIN approval.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "protocol/messages.hpp"

namespace kinbox {

/// What the accounts bucket holds of one account.
struct account_record {
  account_id id = 0;
  std::string name;
  std::string birth_date;
  account_role role = account_role::child;
  public_key sign_key{};
  public_key box_key{};
  uint64_t created_ms = 0;
};

bytes encode_account(const account_record& a);
std::optional<account_record> decode_account(std::span<const uint8_t> data);

/// Checks a registration: name of 1..64 printable bytes, a real past birth date, a role.
std::optional<std::string> validate_registration(const register_request& req);

/// What the contact list of an account says about one other account after an event.
enum class contact_effect {
  none,           ///< nothing changed
  changed,        ///< the list changed; persist it
  notify_request, ///< changed; tell the other side of our request
  notify_accept,  ///< changed; tell the other side we accepted
  notify_decline, ///< changed; tell the other side we declined
};

class contact_list_state {
public:
  std::optional<contact_state> state_of(account_id other) const;
  bool are_friends(account_id other) const { return state_of(other) == contact_state::friends; }
  const std::map<account_id, contact_state>& entries() const { return entries_; }

  /// The owner asks `other` to be friends.
  contact_effect add(account_id other);
  /// `other` asked the owner.
  contact_effect receive_request(account_id other);
  /// The owner accepts `other`'s request; nullopt if there is no such request.
  std::optional<contact_effect> accept(account_id other);
  /// `other` accepted the owner's request.
  contact_effect receive_accept(account_id other);
  /// The owner declines `other`'s request; nullopt if there is no such request.
  std::optional<contact_effect> decline(account_id other);
  /// `other` declined the owner's request.
  contact_effect receive_decline(account_id other);

  bytes encode() const;
  static std::optional<contact_list_state> decode(std::span<const uint8_t> data);

private:
  std::map<account_id, contact_state> entries_;
};

} // namespace kinbox
