#include "protocol/text.hpp"

#include <cstdint>

namespace kinbox {

namespace {

/// The next code point of `s` from `pos` (advanced past it), or nullopt if `s` is not
/// well-formed UTF-8 there (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
std::optional<char32_t> next_code_point(std::string_view s, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t lead = byte(pos);
  size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3
                                   : (lead >> 3) == 0x1e ? 4 : 0;
  if (length == 0 || pos + length > s.size())
    return std::nullopt;
  char32_t cp = length == 1 ? lead : lead & (0x7f >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xc0) != 0x80)
      return std::nullopt;
    cp = (cp << 6) | (byte(pos + i) & 0x3f);
  }
  static constexpr char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < smallest[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return std::nullopt;
  pos += length;
  return cp;
}

bool is_control(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

/// Characters that reorder or hide what is shown (Trojan Source, CVE-2021-42574) or join
/// invisibly.
bool is_hiding(char32_t c) {
  return c == 0x00ad || c == 0x061c || c == 0x180e || (c >= 0x200b && c <= 0x200f) ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c == 0xfeff ||
         (c >= 0xfff9 && c <= 0xfffb);
}

bool is_unassignable(char32_t c) {
  bool noncharacter = (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe;
  bool private_use = (c >= 0xe000 && c <= 0xf8ff) || c >= 0xf0000;
  return noncharacter || private_use;
}

bool is_space(char32_t c) {
  return c == ' ' || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}

std::optional<std::string> check_shown_name(std::string_view name, size_t max_bytes,
                                            size_t max_chars) {
  if (name.empty() || name.size() > max_bytes)
    return "name must be 1 to " + std::to_string(max_bytes) + " bytes";
  size_t chars = 0;
  char32_t first = 0;
  char32_t last = 0;
  for (size_t pos = 0; pos < name.size();) {
    auto cp = next_code_point(name, pos);
    if (!cp)
      return "name is not valid UTF-8";
    if (is_control(*cp))
      return "name must not contain control characters";
    if (is_hiding(*cp))
      return "name must not contain invisible or direction-changing characters";
    if (is_unassignable(*cp))
      return "name must not contain private-use characters or noncharacters";
    if (chars++ == 0)
      first = *cp;
    last = *cp;
  }
  if (chars > max_chars)
    return "name must be at most " + std::to_string(max_chars) + " characters";
  if (is_space(first) || is_space(last))
    return "name must not begin or end with a space";
  return std::nullopt;
}

} // namespace

std::optional<std::string> check_display_name(std::string_view name) {
  return check_shown_name(name, max_display_name_bytes, max_display_name_chars);
}

std::optional<std::string> check_group_name(std::string_view name) {
  return check_shown_name(name, max_group_name_bytes, max_group_name_chars);
}

} // namespace kinbox
