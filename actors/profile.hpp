// What an account tells about itself besides its name and birth date (the accounts
// bucket has those): country, gender, avatar, and the device info its app gives at
// login. Kept in the profiles bucket (JSON, key = the account id), written only by the
// account's user actor, read by it to answer `profile_get` by relation: contacts see
// name, id, avatar and online status; only the account and its linked parent see more.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "protocol/messages.hpp"

namespace kinbox {

struct profile_record {
  std::string country;
  gender gender_of = gender::unsaid;
  bytes avatar;
  device_info device;
  uint64_t updated_ms = 0;
};

bytes encode_profile(const profile_record& p);
std::optional<profile_record> decode_profile(std::span<const uint8_t> data);

/// Why a profile change may not be kept, or nullopt: the name as registration checks it,
/// the country empty or two capital letters, a gender of 0..3, an avatar of at most
/// `avatar_max` bytes (what it holds is checked when it is decoded: actors/avatar.hpp).
std::optional<std::string> check_profile(const profile_set_request& p, size_t avatar_max);

/// Why device info may not be kept, or nullopt: printable ASCII only.
std::optional<std::string> check_device(const device_info& d);

} // namespace kinbox
