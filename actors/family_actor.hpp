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
#include "actors/family_interface.hpp"
#include "actors/pin_service.hpp"
#include "cluster/entity_kit.hpp"
#include "cluster/kv_actor.hpp"

namespace kinbox {

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

} // namespace kinbox
