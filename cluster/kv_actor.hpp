// The kv actor: the one place where actors reach the cluster's JetStream KV buckets and
// its reports stream, through the sealed view of the account records (sealed_kv.hpp).
// Calls block on a round trip to NATS, so it runs detached (its own thread) and the
// scheduler threads never wait on the network.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "cluster/entity.hpp"
#include "cluster/nats_link.hpp"
#include "cluster/sealed_kv.hpp"

namespace kinbox {


/// How long a ban is kept (the bans bucket's TTL): at least a year.
constexpr auto ban_keep = std::chrono::hours(24 * 400);

/// The bans bucket's keys: of an account, and of each of its public keys (a banned
/// account's keys do not come back under a new id, whichever of them it keeps).
std::string ban_key_of_account(account_id id);
std::string ban_key_of_sign_key(std::span<const uint8_t> sign_key);
std::string ban_key_of_box_key(std::span<const uint8_t> box_key);

/// The reports stream (kinbox_<cluster>_reports): reports on `reports_subject`,
/// resolutions on `resolutions_subject`; messages are kept 400 days.
std::string reports_stream(const std::string& cluster);
std::string reports_subject(const std::string& cluster);
std::string resolutions_subject(const std::string& cluster);

struct kv_lookup {
  bool found = false;
  bytes value;
};

using kv_get_atom = caf::atom_constant<caf::atom("kv_get")>;
using kv_put_atom = caf::atom_constant<caf::atom("kv_put")>;
using kv_create_atom = caf::atom_constant<caf::atom("kv_create")>;
using kv_delete_atom = caf::atom_constant<caf::atom("kv_delete")>;
using report_atom = caf::atom_constant<caf::atom("report")>;
using kv_shred_atom = caf::atom_constant<caf::atom("kv_shred")>;

// clang-format off
using kv_actor = caf::typed_actor<
  /// Reads a key; `found` is false for a missing or deleted key.
  caf::replies_to<kv_get_atom, kv_space, std::string>::with<kv_lookup>,
  /// Writes a key unconditionally.
  caf::replies_to<kv_put_atom, kv_space, std::string, bytes>::with<bool>,
  /// Writes a key only if it does not exist; false if it does.
  caf::replies_to<kv_create_atom, kv_space, std::string, bytes>::with<bool>,
  /// Deletes a key.
  caf::replies_to<kv_delete_atom, kv_space, std::string>::with<bool>,
  /// Erases the data key of an account (by id): every sealed record of it, in any
  /// revision, can no longer be opened.
  caf::replies_to<kv_shred_atom, std::string>::with<bool>,
  /// Appends a report to the reports stream; its sequence once it is durable.
  caf::replies_to<report_atom, bytes>::with<uint64_t>>;
// clang-format on

/// The cluster's buckets, opened (and created if missing) over one NATS link.
struct kv_buckets {
  std::unique_ptr<kv_bucket> spaces[kv_space_count];
  std::unique_ptr<kv_bucket> keys;    ///< the accounts' data keys (erasable)
  std::shared_ptr<kv_bucket> nodes;   ///< node records, TTL = the membership lease
  std::shared_ptr<kv_bucket> cluster; ///< the placement
  std::unique_ptr<js_stream> reports;
  std::string report_subject; ///< where reports are published

  /// `replicas`: copies of each bucket on the NATS servers (3 on a 3-server cluster);
  /// `reports_max_bytes`: the reports stream's bound (a full stream refuses new reports).
  [[nodiscard]] static result<std::shared_ptr<kv_buckets>>
  open(nats_link& link, const std::string& cluster, int replicas, std::chrono::milliseconds lease,
       uint64_t reports_max_bytes);

  /// Opens the buckets of a running cluster without making or changing any (tools).
  [[nodiscard]] static result<std::shared_ptr<kv_buckets>> existing(nats_link& link,
                                                                    const std::string& cluster);
};

/// The sealed view of the account buckets (the kv actor's, and a migration's).
sealed_kv sealed_view(kv_buckets& b, const crypto::storage_secrets& secrets,
                      std::chrono::milliseconds key_life = std::chrono::seconds(30));

kv_actor spawn_kv(caf::actor_system& sys, std::shared_ptr<kv_buckets> buckets,
                  crypto::storage_secrets secrets);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::kv_space)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::kv_lookup)
