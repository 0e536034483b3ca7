#include "crypto/pin.hpp"

#include <sodium.h>

#include "crypto/key_file.hpp"

namespace kinbox::crypto {

namespace {

constexpr std::string_view pepper_header = "kinbox-pin-pepper-v1 ";
constexpr std::string_view pepper_context = "kinbox-pin-pepper-from-cluster-key-v1";
constexpr std::string_view fingerprint_context = "kinbox-pepper-fingerprint-v1";

/// The PIN keyed with the pepper, as hex: what argon2id hashes.
std::string peppered(std::string_view pin, const pin_pepper& pepper) {
  std::array<uint8_t, 32> mac{};
  crypto_generichash(mac.data(), mac.size(), reinterpret_cast<const uint8_t*>(pin.data()),
                     pin.size(), pepper.key.data(), pepper.key.size());
  auto hex = to_hex(mac);
  sodium_memzero(mac.data(), mac.size());
  return hex;
}

} // namespace

pin_pepper::~pin_pepper() {
  sodium_memzero(key.data(), key.size());
}

bool is_valid_pin(std::string_view pin) {
  if (pin.size() != pin_length)
    return false;
  for (char c : pin)
    if (c < '0' || c > '9')
      return false;
  return true;
}

pin_pepper derive_pin_pepper(const kx_keypair& cluster_key) {
  pin_pepper p;
  crypto_generichash(p.key.data(), p.key.size(),
                     reinterpret_cast<const uint8_t*>(pepper_context.data()),
                     pepper_context.size(), cluster_key.sk.data(), cluster_key.sk.size());
  return p;
}

std::string pepper_fingerprint(const pin_pepper& pepper) {
  std::array<uint8_t, 8> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const uint8_t*>(fingerprint_context.data()),
                     fingerprint_context.size(), pepper.key.data(), pepper.key.size());
  return to_hex(digest);
}

result<pin_pepper> read_pin_pepper(const std::string& path) {
  auto text = read_secret_file(path, "PIN pepper file", 1024);
  if (!text)
    return text.error();
  auto line = text->substr(0, text->find('\n'));
  sodium_memzero(text->data(), text->size());
  pin_pepper p;
  bool ok = line.rfind(pepper_header, 0) == 0 &&
            from_hex(std::string_view{line}.substr(pepper_header.size()), {p.key.data(), p.key.size()});
  sodium_memzero(line.data(), line.size());
  if (!ok)
    return failure{errc::invalid_argument, "PIN pepper file " + path + ": expected one line '" +
                                               std::string{pepper_header} + "<64 hex digits>'"};
  return p;
}

result<std::string> hash_pin(std::string_view pin, const pin_pepper& pepper,
                             const pin_hash_params& params) {
  if (!is_valid_pin(pin))
    return failure{errc::invalid_argument, "a PIN is four digits"};
  auto input = peppered(pin, pepper);
  char out[crypto_pwhash_STRBYTES];
  int rc = crypto_pwhash_str(out, input.data(), input.size(), params.ops, params.memory);
  sodium_memzero(input.data(), input.size());
  if (rc != 0)
    return failure{errc::internal, "PIN hashing failed (out of memory)"};
  return std::string{out};
}

bool verify_pin(const std::string& hash, std::string_view pin, const pin_pepper& pepper) {
  if (!is_valid_pin(pin))
    return false;
  auto input = peppered(pin, pepper);
  bool ok = crypto_pwhash_str_verify(hash.c_str(), input.data(), input.size()) == 0;
  sodium_memzero(input.data(), input.size());
  return ok;
}

} // namespace kinbox::crypto
