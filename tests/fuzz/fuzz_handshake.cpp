// libFuzzer target: both sides of the transport handshake on arbitrary hello bodies, then
// records opened under the keys that came out of it. Nothing may crash, and a record
// made of fuzz bytes must never open.
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/crypto.hpp"
#include "protocol/messages.hpp"

namespace {

struct keys {
  kinbox::crypto::kx_keypair cluster = kinbox::crypto::kx_keypair::generate();
  kinbox::crypto::kx_keypair ephemeral = kinbox::crypto::kx_keypair::generate();
};

const keys& fixed() {
  static bool ready = kinbox::crypto::init();
  static keys k;
  (void)ready;
  return k;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kinbox;
  auto& k = fixed();
  std::span<const uint8_t> in{data, size};
  if (auto hello = decode_body<client_hello>(in)) {
    auto cipher = crypto::pick_cipher(hello->ciphers);
    auto session = crypto::server_session(k.cluster, k.ephemeral, hello->ephemeral_key);
    if (cipher && session) {
      crypto::record_channel channel{*session, *cipher};
      bytes plain;
      uint8_t prefix[4] = {0, 0, 0, 0};
      if (channel.open(prefix, in, plain))
        __builtin_trap(); // forged: fuzz bytes never authenticate
    }
  }
  if (auto hello = decode_body<server_hello>(in))
    (void)crypto::client_session(k.ephemeral, hello->cluster_key, hello->ephemeral_key);
  return 0;
}
