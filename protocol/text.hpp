// Checks of the text users give each other to read (display and group names): valid UTF-8 with no
// characters that hide or disguise what is shown. Shared by the server, which refuses
// such text, and the SDK, which refuses it before it is sent.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kinbox {

/// Longest display name, in bytes of UTF-8, and in characters.
constexpr size_t max_display_name_bytes = 64;
constexpr size_t max_display_name_chars = 32;
/// Longest group name, in bytes of UTF-8, and in characters.
constexpr size_t max_group_name_bytes = 256;
constexpr size_t max_group_name_chars = 64;

/// Why `name` may not be shown to other users, or nullopt if it may. Refused: invalid
/// UTF-8 (also overlong forms and surrogates), control characters (C0, DEL, C1, line and
/// paragraph separators), bidirectional overrides, embeddings, isolates and marks,
/// zero-width characters, noncharacters, private-use characters, leading or trailing
/// white space, and names empty or longer than the maxima above.
std::optional<std::string> check_display_name(std::string_view name);
/// The same checks for a group's name, within the group name's maxima.
std::optional<std::string> check_group_name(std::string_view name);

} // namespace kinbox
