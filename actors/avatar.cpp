#include "actors/avatar.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <vips/vips.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

/// libvips, set up once: no operation cache (every avatar is new), one thread per call (the
/// image worker's), and the loaders it marks untrusted blocked.
bool vips_ready() {
  static std::once_flag once;
  static bool ready = false;
  std::call_once(once, [] {
    ready = VIPS_INIT("kinbox") == 0;
    if (!ready)
      return;
    vips_cache_set_max(0);
    vips_concurrency_set(1);
    vips_block_untrusted_set(TRUE);
    // What libvips warns of (a truncated image, a bad checksum) is the sender's fault:
    // the refusal says so; the log keeps it at debug level.
    g_log_set_handler(
        "VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
        [](const gchar*, GLogLevelFlags, const gchar* text, gpointer) {
          log::get("image")->debug("event=image_warning text=\"{}\"", text);
        },
        nullptr);
  });
  return ready;
}

struct image_ref {
  VipsImage* image = nullptr;
  ~image_ref() {
    if (image != nullptr)
      g_object_unref(image);
  }
};

enum class format { png, jpeg, webp };

/// The format by the loader libvips picks from the first bytes; only these three are
/// ever handed to a decoder.
std::optional<format> format_of(std::span<const uint8_t> data) {
  const char* loader = vips_foreign_find_load_buffer(data.data(), data.size());
  if (loader == nullptr)
    return std::nullopt;
  std::string_view name{loader};
  if (name == "VipsForeignLoadPngBuffer")
    return format::png;
  if (name == "VipsForeignLoadJpegBuffer")
    return format::jpeg;
  if (name == "VipsForeignLoadWebpBuffer")
    return format::webp;
  return std::nullopt;
}

failure refused(std::string why) {
  vips_error_clear();
  return failure{errc::invalid_argument, std::move(why)};
}

} // namespace

result<bytes> normalize_avatar(std::span<const uint8_t> data, size_t max_bytes) {
  if (!vips_ready())
    return failure{errc::internal, "images cannot be read on this node"};
  auto kind = format_of(data);
  if (!kind)
    return refused("the avatar must be a PNG, JPEG or WebP image");
  // The header only: the size it declares is checked before anything is decoded.
  image_ref in;
  in.image = vips_image_new_from_buffer(data.data(), data.size(), "", "access",
                                        VIPS_ACCESS_SEQUENTIAL, "fail", TRUE, nullptr);
  if (in.image == nullptr)
    return refused("the avatar is not a readable image");
  auto width = vips_image_get_width(in.image);
  auto height = vips_image_get_height(in.image);
  if (width <= 0 || height <= 0 || width > max_avatar_side_declared ||
      height > max_avatar_side_declared ||
      static_cast<int64_t>(width) * height > max_avatar_pixels_declared)
    return refused("the avatar declares more pixels than an avatar has (at most " +
                   std::to_string(max_avatar_side_declared) + " on a side)");
  image_ref scaled;
  if (vips_thumbnail_image(in.image, &scaled.image, avatar_side, "height", avatar_side, "size",
                           VIPS_SIZE_DOWN, nullptr) != 0)
    return refused("the avatar could not be decoded");
  void* out = nullptr;
  size_t length = 0;
  int rc = 0;
  switch (*kind) {
  case format::png:
    rc = vips_pngsave_buffer(scaled.image, &out, &length, "strip", TRUE, nullptr);
    break;
  case format::jpeg:
    rc = vips_jpegsave_buffer(scaled.image, &out, &length, "strip", TRUE, "Q", 85, nullptr);
    break;
  case format::webp:
    rc = vips_webpsave_buffer(scaled.image, &out, &length, "strip", TRUE, "Q", 85, nullptr);
    break;
  }
  std::unique_ptr<void, decltype(&g_free)> owned{out, g_free};
  if (rc != 0)
    return refused("the avatar could not be decoded");
  if (length > max_bytes)
    return refused("the avatar is " + std::to_string(length) + " bytes once re-encoded; at most " +
                   std::to_string(max_bytes) + " are kept");
  auto* begin = static_cast<const uint8_t*>(out);
  return bytes(begin, begin + length);
}

namespace {

image_worker::behavior_type image_worker_behavior(image_worker::pointer) {
  return {
      [](avatar_atom, const bytes& image, uint64_t max_bytes) -> caf::result<bytes> {
        auto normal = normalize_avatar(image, max_bytes);
        if (!normal)
          return make_error(normal.error());
        return std::move(*normal);
      },
  };
}

} // namespace

image_worker spawn_image_worker(caf::actor_system& sys, bool detached) {
  return detached ? sys.spawn<caf::detached>(image_worker_behavior)
                  : sys.spawn(image_worker_behavior);
}

} // namespace kinbox
