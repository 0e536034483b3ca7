// The server's check of a display name before anyone else reads it: what the shared check
// refuses (protocol/text.hpp), and what takes Unicode's own tables to see, from ICU:
// names that pass for another person's (mixed-script confusables such as a Cyrillic "М"
// in "Mum", compatibility forms such as "Ｍｕｍ" or "𝐌𝐮𝐦"), and names that show nothing
// (no letter or digit, default-ignorable code points such as U+3164 or variation
// selectors, blank symbols, marks stacked on one letter).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kinbox {

/// Most combining marks on one letter (Vietnamese needs two).
constexpr int max_marks_per_letter = 2;

/// Why `name` may not be a display name, or nullopt. Thread-safe.
std::optional<std::string> check_name(std::string_view name);

/// The same checks of a group's name, within the group name's maxima.
std::optional<std::string> check_group_title(std::string_view name);

} // namespace kinbox
