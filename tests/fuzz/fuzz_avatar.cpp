// libFuzzer target: the avatar check and re-encode (libvips behind it) on arbitrary bytes.
// Nothing may crash or hang; what comes out is an image of a kept format, within the
// size cap and the side an avatar has, that decodes again to the same.
#include <vips/vips.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "actors/avatar.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t cap = 32u << 10;
  auto kept = kinbox::normalize_avatar({data, size}, cap);
  if (!kept)
    return 0;
  if (kept->size() > cap)
    __builtin_trap();
  auto again = kinbox::normalize_avatar(*kept, cap);
  if (!again)
    __builtin_trap(); // what the server keeps, it must be able to read back
  auto* image = vips_image_new_from_buffer(kept->data(), kept->size(), "", nullptr);
  if (image == nullptr)
    __builtin_trap();
  bool fits = vips_image_get_width(image) <= kinbox::avatar_side &&
              vips_image_get_height(image) <= kinbox::avatar_side;
  g_object_unref(image);
  if (!fits)
    __builtin_trap();
  return 0;
}
