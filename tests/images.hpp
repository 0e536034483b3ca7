// Images for the tests of avatars, made with libvips (what the server decodes with): a
// plain image of a format and size, and a JPEG carrying an EXIF block with a marker in it,
// as a phone's photo carries its GPS position.
#pragma once

#include <vips/vips.h>

#include <memory>
#include <string>

#include "protocol/types.hpp"

namespace kinbox::testing {

enum class image_format { png, jpeg, webp };

/// An image of `width` x `height` in `format`, empty if libvips failed.
inline bytes make_image(image_format format, int width, int height) {
  if (VIPS_INIT("kinbox-test") != 0)
    return {};
  VipsImage* black = nullptr;
  VipsImage* lit = nullptr;
  if (vips_black(&black, width, height, "bands", 3, nullptr) != 0)
    return {};
  vips_linear1(black, &lit, 1.0, 90.0, nullptr);
  g_object_unref(black);
  void* out = nullptr;
  size_t length = 0;
  int rc = format == image_format::png    ? vips_pngsave_buffer(lit, &out, &length, nullptr)
           : format == image_format::jpeg ? vips_jpegsave_buffer(lit, &out, &length, nullptr)
                                          : vips_webpsave_buffer(lit, &out, &length, nullptr);
  g_object_unref(lit);
  if (rc != 0)
    return {};
  auto* begin = static_cast<uint8_t*>(out);
  bytes image(begin, begin + length);
  g_free(out);
  return image;
}

/// A JPEG with an EXIF APP1 segment (a little-endian TIFF header, an empty directory)
/// followed by `marker`, right after its start-of-image marker.
inline bytes jpeg_with_exif(const std::string& marker) {
  auto jpeg = make_image(image_format::jpeg, 16, 16);
  if (jpeg.size() < 2)
    return {};
  bytes exif{'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  exif.insert(exif.end(), marker.begin(), marker.end());
  auto length = exif.size() + 2;
  bytes app1{0xff, 0xe1, static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
  app1.insert(app1.end(), exif.begin(), exif.end());
  jpeg.insert(jpeg.begin() + 2, app1.begin(), app1.end());
  return jpeg;
}

} // namespace kinbox::testing
