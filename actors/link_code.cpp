#include "actors/link_code.hpp"

#include <sodium.h>

namespace kinbox {

link_code::link_code(uint64_t random, uint64_t now_ms, std::chrono::milliseconds ttl,
                     std::string pin_hash)
    : secret_(1 + random % (secret_span - 1)),
      expires_ms_(now_ms + static_cast<uint64_t>(ttl.count())),
      pin_hash_(std::move(pin_hash)) {}

link_code::outcome link_code::attempt(uint64_t secret, uint64_t now_ms) {
  if (expired(now_ms))
    return outcome::expired;
  if (sodium_memcmp(&secret_, &secret, sizeof(secret)) == 0)
    return outcome::right;
  return ++wrong_tries_ == attack_tries ? outcome::attacked : outcome::wrong;
}

} // namespace kinbox
