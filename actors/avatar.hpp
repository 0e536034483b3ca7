// Avatars as the server keeps them: decoded and encoded again by libvips, so what friends
// download is pixels and nothing else. A PNG, JPEG or WebP (nothing else is even opened)
// is refused when its header declares more pixels than an avatar needs (a decompression
// bomb is refused before a byte of it is decoded), scaled down to fit `avatar_side`, and
// written again in its own format without metadata: EXIF (a child's GPS position, the
// camera), comments, ICC profiles and bytes after the image are gone.
//
// Decoding takes milliseconds of CPU: it runs on the node's image worker (a detached
// actor), never on a scheduler thread.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "protocol/types.hpp"

namespace kinbox {

/// Largest width or height an avatar may declare, and most pixels.
constexpr int max_avatar_side_declared = 4096;
constexpr int64_t max_avatar_pixels_declared = 16ll << 20;
/// Avatars are kept at most this wide and high.
constexpr int avatar_side = 512;

/// The avatar as it is kept: re-encoded, metadata dropped, at most `avatar_side` on a side
/// and `max_bytes` long; invalid_argument with the reason otherwise. Thread-safe.
[[nodiscard]] result<bytes> normalize_avatar(std::span<const uint8_t> image, size_t max_bytes);

using avatar_atom = caf::atom_constant<caf::atom("avatar")>;

// clang-format off
using image_worker = caf::typed_actor<
  /// `normalize_avatar(image, max_bytes)`.
  caf::replies_to<avatar_atom, bytes, uint64_t>::with<bytes>>;
// clang-format on

/// The image worker: on a thread of its own (`detached`), or scheduled like any actor for
/// tests under CAF's deterministic coordinator.
image_worker spawn_image_worker(caf::actor_system& sys, bool detached = true);

} // namespace kinbox
