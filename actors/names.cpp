#include "actors/names.hpp"

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/uset.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <memory>
#include <vector>

#include "protocol/text.hpp"

namespace kinbox {

namespace {

/// ICU's spoof checker at the moderately restrictive level (Unicode TR 39 §5.2): a name
/// is one script, or Latin with one other script that is not Cyrillic or Greek (the two
/// whose letters pass for Latin ones), or Han with Hiragana and Katakana, with Bopomofo,
/// or with Hangul. "Мum" (Cyrillic М, Latin um) fails; "Мама", "Zoë", "李小龙",
/// "さくら Sakura" and "Ali علي" pass. Highly restrictive would refuse a Latin name with an
/// Arabic or Devanagari one beside it, which families write; single-script would refuse
/// "さくら Sakura". Two rules of kinbox's own close what that level lets through (below).
/// Also refused: one mark repeated on a letter (invisible), digits of several systems.
/// Set up once; checks on it are thread-safe.
struct spoof_checker {
  USpoofChecker* checker = nullptr;
  const UNormalizer2* nfc = nullptr;
  const UNormalizer2* nfkc = nullptr;
  /// Letters and digits in common use today (TR 39's recommended and inclusion sets):
  /// not phonetic letters and small capitals (ɱ, ᴜ) nor historic or limited-use scripts
  /// (Lisu ꓟ, Canadian syllabics ᗰ), which pass for Latin letters.
  USet* letters = nullptr;
  spoof_checker() {
    UErrorCode err = U_ZERO_ERROR;
    checker = uspoof_open(&err);
    uspoof_setRestrictionLevel(checker, USPOOF_MODERATELY_RESTRICTIVE);
    uspoof_setChecks(checker, USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE | USPOOF_MIXED_NUMBERS,
                     &err);
    nfc = unorm2_getNFCInstance(&err);
    nfkc = unorm2_getNFKCInstance(&err);
    if (U_SUCCESS(err)) {
      letters = uset_cloneAsThawed(uspoof_getRecommendedSet(&err));
      uset_addAll(letters, uspoof_getInclusionSet(&err));
      uset_freeze(letters);
    }
    if (U_FAILURE(err)) {
      uspoof_close(checker);
      checker = nullptr;
    }
  }
  ~spoof_checker() {
    uspoof_close(checker);
    if (letters != nullptr)
      uset_close(letters);
  }
  spoof_checker(const spoof_checker&) = delete;
  spoof_checker& operator=(const spoof_checker&) = delete;
};

const spoof_checker& checker() {
  static const spoof_checker instance;
  return instance;
}

/// A symbol that is neither default-ignorable nor a space, yet shows nothing (the Hangul
/// fillers are default-ignorable in Unicode's tables already).
bool is_blank_symbol(UChar32 c) {
  return c == 0x2800; // braille pattern blank
}

/// What takes ICU's tables to see, for a name that passed the shared check.
std::optional<std::string> check_shown_text(std::string_view name) {
  auto& icu = checker();
  if (icu.checker == nullptr)
    return "names cannot be checked now"; // ICU without its data: refuse, never pass
  bool visible = false;
  int marks = 0;
  // Per word: whether it has Latin letters, and letters or digits of another script. A
  // word mixing the two passes for a Latin word ("Mսm" with Armenian ս, "Mum١" with an
  // Arabic-Indic one) and no one writes a name that way; words of two scripts side by
  // side ("Ali علي") are fine.
  bool word_latin = false;
  bool word_other = false;
  auto length = static_cast<int32_t>(name.size());
  for (int32_t i = 0; i < length;) {
    UChar32 c = 0;
    U8_NEXT(name.data(), i, length, c);
    if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) || is_blank_symbol(c))
      return "name must not contain invisible or blank characters";
    if (c == ' ') {
      word_latin = word_other = false;
      continue;
    }
    auto category = U_GET_GC_MASK(c);
    if ((category & U_GC_M_MASK) != 0) {
      if (++marks > max_marks_per_letter)
        return "name must not stack more than " + std::to_string(max_marks_per_letter) +
               " marks on one letter";
      continue;
    }
    marks = 0;
    if ((category & (U_GC_L_MASK | U_GC_N_MASK)) == 0)
      continue;
    visible = true;
    if (!uset_contains(icu.letters, c))
      return "name must be written in letters in common use (no phonetic, small capital or "
             "historic forms)";
    UErrorCode err = U_ZERO_ERROR;
    auto script = uscript_getScript(c, &err);
    if (script == USCRIPT_LATIN)
      word_latin = true;
    else if (script != USCRIPT_COMMON && script != USCRIPT_INHERITED)
      word_other = true;
    if (word_latin && word_other)
      return "a word of the name mixes Latin letters with another script's";
  }
  if (!visible)
    return "name must hold a letter or a digit";
  std::vector<UChar> text(name.size() + 1);
  int32_t units = 0;
  UErrorCode err = U_ZERO_ERROR;
  u_strFromUTF8(text.data(), static_cast<int32_t>(text.size()), &units, name.data(), length, &err);
  if (U_FAILURE(err) || !unorm2_isNormalized(icu.nfc, text.data(), units, &err) || U_FAILURE(err))
    return "name must be in composed form (Unicode NFC), as keyboards write it";
  if (!unorm2_isNormalized(icu.nfkc, text.data(), units, &err) || U_FAILURE(err))
    return "name must be written in plain letters (no full-width, styled or compatibility forms)";
  err = U_ZERO_ERROR;
  auto flags = uspoof_check2(icu.checker, text.data(), units, nullptr, &err);
  if (U_FAILURE(err))
    return "names cannot be checked now";
  if ((flags & USPOOF_RESTRICTION_LEVEL) != 0)
    return "name mixes scripts in a way that can pass for another name";
  if ((flags & USPOOF_MIXED_NUMBERS) != 0)
    return "name mixes digits of several number systems";
  if (flags != 0)
    return "name must not repeat a mark on a letter";
  return std::nullopt;
}

} // namespace

std::optional<std::string> check_name(std::string_view name) {
  if (auto why = check_display_name(name))
    return why;
  return check_shown_text(name);
}

std::optional<std::string> check_group_title(std::string_view name) {
  if (auto why = check_group_name(name))
    return why;
  return check_shown_text(name);
}

} // namespace kinbox
