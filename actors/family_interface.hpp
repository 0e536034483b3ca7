// What the family entity (one per child, `family_kind`) accepts and answers: its
// operations with the types of their arguments and results (cluster/entity_interface.hpp).
// Who may ask for what is in family_actor.hpp; the client's own bodies travel as they
// are, and the types below are those only entities send each other.
#pragma once

#include <span>

#include "cluster/entity_interface.hpp"
#include "protocol/messages.hpp"

namespace kinbox {

constexpr entity_kind family_kind = 2;

enum class family_op : uint8_t {
  redeem = 1,            ///< child: redeem a parent's link code (a move gives the old PIN)
  unlink = 2,            ///< parent
  set_pin = 3,           ///< parent
  change_pin = 4,        ///< child, with the old PIN
  approval_needed = 5,   ///< the child's user actor: does a friend step with `other` wait?
  list_approvals = 6,    ///< child or parent
  decide = 7,            ///< parent: approve or deny a waiting step
  decide_with_pin = 8,   ///< child, with the PIN typed on its device
  set_policy = 9,        ///< parent
  get_link = 10,         ///< child or parent
  location_update = 11,  ///< child: kept in memory, sent to the parent
  location_latest = 12,  ///< parent: the latest location, if one is fresh
  location_sharing = 13, ///< parent
  erase = 14,            ///< child (deleting its account): the record goes
  found = 15,            ///< the new child's user actor: link it to its parent from its start
  verify_pin = 16,       ///< the child's user actor: a PIN, counted as any PIN try
  approval_profile = 17, ///< parent: the contact-level profile of `id` while a step waits
  forget = 18,           ///< the child's user actor: account `id` was deleted; its step goes
};

/// Another account and a yes or no about it: whether the child asked first
/// (`approval_needed`), whether the parent approves (the user's `parent_decision`).
struct account_flag {
  account_id other = 0;
  bool yes = false;
};

/// The answer to `approval_needed`: approved now (the policy lets the child alone), or
/// waiting for the parent.
struct approval_answer {
  bool approved = false;
};

/// A child's latest location as the family hands it to the parent's user actor.
struct location_body {
  uint64_t at_ms = 0;
  bytes payload;
};

/// The answer to `location_latest`.
struct location_reply {
  std::optional<location_body> fix; ///< none when none is fresh or sharing is off
};

/// The argument of `erase`.
struct erase_request {
  bool by_child_with_pin = false; ///< the child deleted itself with the PIN: the parent is told
};

/// The argument of `verify_pin`.
struct pin_check {
  std::string pin;
};

// clang-format off
using family_interface = entity_interface<
  op<family_op::redeem, link_redeem_request>,
  op<family_op::unlink>,
  op<family_op::set_pin, pin_set_request>,
  op<family_op::change_pin, pin_change_request>,
  op<family_op::approval_needed, account_flag, approval_answer>,
  op<family_op::list_approvals, nothing, approval_list>,
  op<family_op::decide, approval_decision>,
  op<family_op::decide_with_pin, approval_by_pin>,
  op<family_op::set_policy, policy_request>,
  op<family_op::get_link, nothing, link_info>,
  op<family_op::location_update, location_update>,
  op<family_op::location_latest, nothing, location_reply>,
  op<family_op::location_sharing, location_sharing_request>,
  op<family_op::erase, erase_request>,
  op<family_op::found, target_request>,  // the parent
  op<family_op::verify_pin, pin_check>,
  op<family_op::approval_profile, target_request, profile_reply>,
  op<family_op::forget, target_request>>;
// clang-format on

/// A request for family operation `Op` of `child`'s family.
template <family_op Op>
entity_request family_request(account_id child, account_id caller,
                              family_interface::arg_of<Op> arg = {}) {
  return make_request<family_interface, Op>(family_kind, child, caller, std::move(arg));
}

void write_body(bytes& out, const account_flag& x);
void write_body(bytes& out, const approval_answer& x);
void write_body(bytes& out, const location_body& x);
void write_body(bytes& out, const location_reply& x);
void write_body(bytes& out, const erase_request& x);
void write_body(bytes& out, const pin_check& x);
template <>
result<account_flag> decode_body<account_flag>(std::span<const uint8_t> in);
template <>
result<approval_answer> decode_body<approval_answer>(std::span<const uint8_t> in);
template <>
result<location_body> decode_body<location_body>(std::span<const uint8_t> in);
template <>
result<location_reply> decode_body<location_reply>(std::span<const uint8_t> in);
template <>
result<erase_request> decode_body<erase_request>(std::span<const uint8_t> in);
template <>
result<pin_check> decode_body<pin_check>(std::span<const uint8_t> in);

/// The codec of the family kind (families push nothing to sessions).
entity_codec family_codec();

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::account_flag)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::approval_answer)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::location_body)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::location_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::erase_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::pin_check)
