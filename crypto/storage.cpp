#include "crypto/storage.hpp"

#include <sodium.h>

#include "crypto/crypto.hpp"

namespace kinbox::crypto {

namespace {

constexpr uint8_t record_format = 1;
constexpr std::string_view hash_context = "kinbox-kv-key-hash-v1";
constexpr std::string_view wrap_context = "kinbox-data-key-wrap-v1";
constexpr size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;

bytes seal(std::span<const uint8_t, 32> key, std::string_view ad, std::span<const uint8_t> plain) {
  bytes out(1 + nonce_size + plain.size() + tag_size);
  out[0] = record_format;
  randombytes_buf(out.data() + 1, nonce_size);
  unsigned long long length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + 1 + nonce_size, &length, plain.data(), plain.size(),
      reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), nullptr, out.data() + 1, key.data());
  return out;
}

std::optional<bytes> open(std::span<const uint8_t, 32> key, std::string_view ad,
                          std::span<const uint8_t> sealed) {
  if (sealed.size() < 1 + nonce_size + tag_size || sealed[0] != record_format)
    return std::nullopt;
  bytes plain(sealed.size() - 1 - nonce_size - tag_size);
  unsigned long long length = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), &length, nullptr, sealed.data() + 1 + nonce_size,
          sealed.size() - 1 - nonce_size, reinterpret_cast<const uint8_t*>(ad.data()), ad.size(),
          sealed.data() + 1, key.data()) != 0)
    return std::nullopt;
  return plain;
}

void derive_key(std::array<uint8_t, 32>& out, std::string_view context, const pin_pepper& root) {
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const uint8_t*>(context.data()),
                     context.size(), root.key.data(), root.key.size());
}

} // namespace

data_key::~data_key() {
  sodium_memzero(key.data(), key.size());
}

data_key data_key::generate() {
  data_key k;
  crypto_aead_xchacha20poly1305_ietf_keygen(k.key.data());
  return k;
}

storage_secrets::~storage_secrets() {
  sodium_memzero(key_hash.data(), key_hash.size());
  sodium_memzero(key_wrap.data(), key_wrap.size());
}

storage_secrets storage_secrets::derive(const pin_pepper& root) {
  storage_secrets s;
  derive_key(s.key_hash, hash_context, root);
  derive_key(s.key_wrap, wrap_context, root);
  return s;
}

std::string hashed_key(const storage_secrets& s, std::string_view space, std::string_view key) {
  std::string input{space};
  input += ':';
  input += key;
  std::array<uint8_t, 16> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const uint8_t*>(input.data()),
                     input.size(), s.key_hash.data(), s.key_hash.size());
  return "h" + to_hex(digest);
}

bytes seal_record(const data_key& k, std::string_view ad, std::span<const uint8_t> plain) {
  return seal(k.key, ad, plain);
}

std::optional<bytes> open_record(const data_key& k, std::string_view ad,
                                 std::span<const uint8_t> sealed) {
  return open(k.key, ad, sealed);
}

bytes wrap_data_key(const storage_secrets& s, std::string_view ad, const data_key& k) {
  return seal(s.key_wrap, ad, k.key);
}

std::optional<data_key> unwrap_data_key(const storage_secrets& s, std::string_view ad,
                                        std::span<const uint8_t> wrapped) {
  auto plain = open(s.key_wrap, ad, wrapped);
  if (!plain || plain->size() != data_key_size)
    return std::nullopt;
  data_key k;
  std::copy(plain->begin(), plain->end(), k.key.begin());
  sodium_memzero(plain->data(), plain->size());
  return k;
}

} // namespace kinbox::crypto
