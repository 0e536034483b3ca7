#include "actors/profile.hpp"
#include "protocol/json_fields.hpp"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "actors/names.hpp"

namespace kinbox {

using nlohmann::json;

namespace {

std::string to_base64(std::span<const uint8_t> data) {
  std::string out(sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back(); // the terminating NUL
  return out;
}

std::optional<bytes> from_base64(const std::string& text) {
  bytes out(text.size() / 4 * 3 + 3);
  size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

bool printable_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

} // namespace

bytes encode_profile(const profile_record& p) {
  json j{{"country", p.country},
         {"gender", static_cast<int>(p.gender_of)},
         {"avatar", to_base64(p.avatar)},
         {"device",
          {{"os", p.device.os},
           {"app_version", p.device.app_version},
           {"language", p.device.language},
           {"time_zone", p.device.time_zone}}},
         {"updated_ms", p.updated_ms}};
  auto text = j.dump();
  return bytes(text.begin(), text.end());
}

std::optional<profile_record> decode_profile(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  try {
    profile_record p;
    p.country = j.at("country").get<std::string>();
    auto g = json_uint<uint32_t>(j, "gender");
    if (g > 3)
      return std::nullopt;
    p.gender_of = static_cast<gender>(g);
    auto avatar = from_base64(j.at("avatar").get<std::string>());
    if (!avatar)
      return std::nullopt;
    p.avatar = std::move(*avatar);
    auto& d = j.at("device");
    p.device = {d.at("os").get<std::string>(), d.at("app_version").get<std::string>(),
                d.at("language").get<std::string>(), d.at("time_zone").get<std::string>()};
    p.updated_ms = json_uint<uint64_t>(j, "updated_ms");
    return p;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> check_profile(const profile_set_request& p, size_t avatar_max) {
  if (auto why = check_name(p.name))
    return why;
  if (!p.country.empty() &&
      (p.country.size() != 2 || !std::all_of(p.country.begin(), p.country.end(),
                                             [](char c) { return c >= 'A' && c <= 'Z'; })))
    return "country must be two capital letters (ISO 3166-1 alpha-2) or empty";
  if (static_cast<uint8_t>(p.gender_of) > static_cast<uint8_t>(gender::other))
    return "gender must be 0 (unsaid), 1 (female), 2 (male) or 3 (other)";
  if (p.avatar.size() > avatar_max)
    return "the avatar is larger than " + std::to_string(avatar_max) + " bytes";
  return std::nullopt;
}

std::optional<std::string> check_device(const device_info& d) {
  for (auto* field : {&d.os, &d.app_version, &d.language, &d.time_zone}) {
    if (field->size() > max_device_field)
      return "each device field must be at most " + std::to_string(max_device_field) + " bytes";
    if (!printable_ascii(*field))
      return "device info must be printable ASCII";
  }
  return std::nullopt;
}

} // namespace kinbox
