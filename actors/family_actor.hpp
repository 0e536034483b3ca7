// The family actor: one per child (entity kind `family_kind`, id = the child's account
// id), on the node that owns its shard, reached only through the entity service. It owns
// the child's one parent link, the parent PIN's hash and its tries, the friend-approval
// policy and the approvals waiting (all in the families KV bucket, so they survive a
// restart and a move). Requests run one at a time, to the end (KV writes and PIN hashes
// included): a PIN try is counted durably before its hash is checked.
//
// The child's latest location lives only in the actor's memory (never in KV or LMDB): it
// goes to the linked parent's user actor at once (pushed if the parent is online) and is
// kept for `location_ttl_ms`, for the parent's next login; a newer one replaces it.
//
// Who may do what (anyone else hears `not_found`, as for a child that does not exist):
//   the child: redeem a link code (a linked child moving to another parent gives its
//     parent's PIN), change the PIN with the old one, approve or deny with the PIN typed
//     on its device, read the link and the approvals, send its location; its user actor
//     asks whether a friend step needs approval, links a new account to the parent that
//     made it, and checks the PIN before the child deletes itself
// The parent is told (a stored notice) of every change to its links that its own app did
// not make: a link redeemed, a move to another parent, the PIN changed on the child's
// device, the child deleted with the PIN.
//   the linked parent: unlink, set the PIN, set the policy, approve or deny, read (the
//     approvals with who the other side is, and its contact-level profile while a step
//     waits), switch location sharing, fetch the latest location
#pragma once

#include <caf/actor_system.hpp>

#include <functional>
#include <memory>

#include "actors/family.hpp"
#include "actors/pin_service.hpp"
#include "cluster/entity_kit.hpp"
#include "cluster/kv_actor.hpp"

namespace kinbox {

constexpr entity_kind family_kind = 2;

enum class family_op : uint8_t {
  redeem = 1,          ///< child: body link_redeem_request
  unlink = 2,          ///< parent
  set_pin = 3,         ///< parent: body pin:str
  change_pin = 4,      ///< child: body pin_change_request
  approval_needed = 5, ///< the child's user actor: body other:u64 ours:u8; reply u8 1: approved now
  list_approvals = 6,  ///< child or parent: reply approval_list
  decide = 7,          ///< parent: body other:u64 approve:u8
  decide_with_pin = 8, ///< child: body approval_by_pin
  set_policy = 9,      ///< parent: body policy:u8
  get_link = 10,       ///< child or parent: reply link_info
  location_update = 11,  ///< child: body location_update; kept in memory, sent to the parent
  location_latest = 12,  ///< parent: reply `at_ms:u64 payload:blob`, or empty if none is fresh
  location_sharing = 13, ///< parent: body on:u8
  erase = 14,            ///< child (deleting its account): the record goes; body u8 1: the
                         ///< child deleted itself with the PIN (the parent is told)
  found = 15,            ///< the new child's user actor: body parent:u64; links it from its start
  verify_pin = 16,       ///< the child's user actor: body pin:str; counted as any PIN try
  approval_profile = 17, ///< parent: body other:u64 (a step with it waits); reply the
                         ///< contact-level profile of `other`
  forget = 18,           ///< the child's user actor: body other:u64, an account deleted;
                         ///< a step with it that waits goes
};

/// Another account and a yes or no about it: the body of `approval_needed` (whether the
/// child asked first), `decide` and the user's `parent_decision` (whether the parent
/// approves).
struct account_flag {
  account_id other = 0;
  bool yes = false;
};
bytes encode_account_flag(const account_flag& x);
/// nullopt unless the body is exactly an id and a flag of 0 or 1.
std::optional<account_flag> decode_account_flag(std::span<const uint8_t> in);

/// A child's latest location as the family hands it to the parent's user actor.
struct location_body {
  uint64_t at_ms = 0;
  bytes payload;
};
bytes encode_location(const location_body& x);
std::optional<location_body> decode_location(std::span<const uint8_t> in);

struct family_deps {
  kv_actor kv;
  std::shared_ptr<entity_service> service;
  std::shared_ptr<pin_service> pins;
  std::function<uint64_t()> now_ms;
  pin_rules pin_limits;
  uint64_t approval_ttl_ms = 7ull * 24 * 3600 * 1000; ///< a waiting approval expires
  uint64_t location_ttl_ms = 10ull * 60 * 1000; ///< an offline parent gets a location this fresh
  rate_limit link_redeems{10.0 / 3600, 5}; ///< link codes one child may try: 10 an hour
};

/// The family kind for the entity kit: its actors keep all they hold in KV (no shard
/// keeper), so a release only stops them.
entity_kind_spec family_kind_spec(family_deps deps);

/// How family pushes cross nodes (families push nothing to sessions).
push_codec family_push_codec();

} // namespace kinbox
