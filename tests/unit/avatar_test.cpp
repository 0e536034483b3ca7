// Avatars are decoded and written anew by libvips: formats other than PNG, JPEG and WebP
// are not opened, a header declaring too many pixels is refused before decoding, what is
// kept holds no metadata and nothing after the image, and fits the size it must.
#define CAF_SUITE avatar
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <vips/vips.h>
#include <zlib.h>

#include <algorithm>
#include <string>

#include "actors/avatar.hpp"
#include "tests/images.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

constexpr size_t cap = 32u << 10;

bool contains(const bytes& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

/// Width and height of an image as libvips reads them (0, 0 if it cannot).
std::pair<int, int> size_of(const bytes& image) {
  auto* in = vips_image_new_from_buffer(image.data(), image.size(), "", nullptr);
  if (in == nullptr)
    return {0, 0};
  std::pair<int, int> out{vips_image_get_width(in), vips_image_get_height(in)};
  g_object_unref(in);
  return out;
}

void put_u32(bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(v >> shift));
}

/// A PNG chunk with its length and checksum.
void put_chunk(bytes& out, const char* type, const bytes& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  bytes chunk(type, type + 4);
  chunk.insert(chunk.end(), data.begin(), data.end());
  out.insert(out.end(), chunk.begin(), chunk.end());
  put_u32(out, static_cast<uint32_t>(crc32(0, chunk.data(), static_cast<uInt>(chunk.size()))));
}

/// A PNG that declares `w` x `h` and holds almost no pixel data: what a decompression
/// bomb looks like before it is decoded.
bytes png_header(uint32_t w, uint32_t h) {
  bytes out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  bytes ihdr;
  put_u32(ihdr, w);
  put_u32(ihdr, h);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", bytes{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
  put_chunk(out, "IEND", {});
  return out;
}

} // namespace

CAF_TEST(each of the three formats comes back re-encoded in its own format) {
  for (auto format : {image_format::png, image_format::jpeg, image_format::webp}) {
    auto image = make_image(format, 40, 30);
    CAF_REQUIRE(!image.empty());
    auto kept = normalize_avatar(image, cap);
    CAF_REQUIRE(kept);
    CAF_CHECK(size_of(*kept) == std::make_pair(40, 30));
    CAF_CHECK(std::string(vips_foreign_find_load_buffer(kept->data(), kept->size())) ==
              std::string(vips_foreign_find_load_buffer(image.data(), image.size())));
  }
}

CAF_TEST(metadata and bytes after the image are dropped) {
  const std::string gps = "GPS-48.8584N-2.2945E-never-kept";
  auto photo = jpeg_with_exif(gps);
  CAF_REQUIRE(contains(photo, gps));
  auto kept = normalize_avatar(photo, cap);
  CAF_REQUIRE(kept);
  CAF_CHECK(!contains(*kept, gps));
  CAF_CHECK(!contains(*kept, "Exif"));
  auto png = make_image(image_format::png, 8, 8);
  const std::string script = "<script>alert(1)</script>";
  png.insert(png.end(), script.begin(), script.end());
  auto clean = normalize_avatar(png, cap);
  CAF_REQUIRE(clean);
  CAF_CHECK(!contains(*clean, script));
}

CAF_TEST(a large image is scaled down to fit an avatar) {
  auto big = make_image(image_format::png, 2000, 1000);
  auto kept = normalize_avatar(big, 1u << 20);
  CAF_REQUIRE(kept);
  CAF_CHECK(size_of(*kept) == std::make_pair(avatar_side, avatar_side / 2));
}

CAF_TEST(what is not a PNG JPEG or WebP image is refused) {
  auto bomb = png_header(65535, 65535);
  auto refused = normalize_avatar(bomb, cap);
  CAF_REQUIRE(!refused);
  CAF_CHECK(refused.error().code == errc::invalid_argument);
  CAF_CHECK(refused.error().message.find("declares more pixels") != std::string::npos);
  std::string script = "\x89PNG\r\n\x1a\n<script>alert(1)</script>";
  bytes jpeg_noise{0xff, 0xd8, 0xff};
  for (int i = 0; i < 200; ++i)
    jpeg_noise.push_back(static_cast<uint8_t>(i * 37));
  std::string gif = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='8' height='8'/>";
  for (auto& bad : {bytes(script.begin(), script.end()), jpeg_noise, bytes(gif.begin(), gif.end()),
                    bytes(svg.begin(), svg.end()), bytes{}}) {
    auto r = normalize_avatar(bad, cap);
    CAF_REQUIRE(!r);
    CAF_CHECK(r.error().code == errc::invalid_argument);
  }
  // A truncated image is refused, not half decoded.
  auto png = make_image(image_format::png, 64, 64);
  png.resize(png.size() / 2);
  CAF_CHECK(!normalize_avatar(png, cap));
  // Re-encoded larger than the cap: refused with the size.
  auto photo = make_image(image_format::png, 300, 300);
  auto too_big = normalize_avatar(photo, 100);
  CAF_REQUIRE(!too_big);
  CAF_CHECK(too_big.error().message.find("re-encoded") != std::string::npos);
}
