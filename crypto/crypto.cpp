#include "crypto/crypto.hpp"

#include <algorithm>
#include <chrono>

#include <cstring>

#include "protocol/frame.hpp"
#include "protocol/wire.hpp"

namespace kinbox::crypto {

namespace {

constexpr std::string_view login_context = "kinbox-login-v1";

/// Hashes direction label, both kx results and the transcript into one key.
void derive(secret<32>& out, std::string_view label, const uint8_t* static_part,
            const uint8_t* ephemeral_part, const std::array<uint8_t, 32>& transcript) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(label.data()), label.size());
  crypto_generichash_update(&st, static_part, 32);
  crypto_generichash_update(&st, ephemeral_part, 32);
  crypto_generichash_update(&st, transcript.data(), transcript.size());
  crypto_generichash_final(&st, out.data(), 32);
  sodium_memzero(&st, sizeof(st));
}

std::array<uint8_t, 32> transcript_of(const public_key& client_ephemeral,
                                      const public_key& cluster_key,
                                      const public_key& server_ephemeral) {
  std::array<uint8_t, 32> out;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, out.size());
  crypto_generichash_update(&st, client_ephemeral.data(), client_ephemeral.size());
  crypto_generichash_update(&st, cluster_key.data(), cluster_key.size());
  crypto_generichash_update(&st, server_ephemeral.data(), server_ephemeral.size());
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

void counter_nonce(uint8_t* nonce, uint64_t counter) {
  std::fill(nonce, nonce + crypto_aead_chacha20poly1305_ietf_NPUBBYTES, 0);
  for (int i = 0; i < 8; ++i)
    nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
}

} // namespace

bool init() {
  return sodium_init() >= 0;
}

sign_keypair sign_keypair::generate() {
  sign_keypair kp;
  crypto_sign_keypair(kp.pk.data(), kp.sk.data());
  return kp;
}

box_keypair box_keypair::generate() {
  box_keypair kp;
  crypto_box_keypair(kp.pk.data(), kp.sk.data());
  return kp;
}

kx_keypair kx_keypair::generate() {
  kx_keypair kp;
  crypto_kx_keypair(kp.pk.data(), kp.sk.data());
  return kp;
}

void random_fill(std::span<uint8_t> out) {
  struct pool {
    std::array<uint8_t, 4096> bytes;
    size_t used = bytes.size();
  };
  thread_local pool p;
  while (!out.empty()) {
    if (p.used == p.bytes.size()) {
      randombytes_buf(p.bytes.data(), p.bytes.size());
      p.used = 0;
    }
    auto n = std::min(out.size(), p.bytes.size() - p.used);
    std::memcpy(out.data(), p.bytes.data() + p.used, n);
    sodium_memzero(p.bytes.data() + p.used, n);
    p.used += n;
    out = out.subspan(n);
  }
}

message_id new_message_id() {
  using namespace std::chrono;
  auto ms = static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  message_id id;
  for (size_t i = 0; i < 6; ++i)
    id[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  random_fill(std::span<uint8_t>{id}.subspan(6));
  return id;
}

signature sign(std::span<const uint8_t> message, const sign_keypair& key) {
  signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), key.sk.data());
  return sig;
}

bool verify(std::span<const uint8_t> message, const signature& sig, const public_key& signer) {
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), signer.data()) ==
         0;
}

bytes box_seal(std::span<const uint8_t> plain, const public_key& recipient,
               const box_keypair& sender) {
  bytes out(crypto_box_NONCEBYTES + crypto_box_MACBYTES + plain.size());
  random_fill(std::span<uint8_t>{out.data(), crypto_box_NONCEBYTES});
  if (crypto_box_easy(out.data() + crypto_box_NONCEBYTES, plain.data(), plain.size(), out.data(),
                      recipient.data(), sender.sk.data()) != 0)
    return {};
  return out;
}

std::optional<bytes> box_open(std::span<const uint8_t> sealed, const public_key& sender,
                              const box_keypair& recipient) {
  if (sealed.size() < crypto_box_NONCEBYTES + crypto_box_MACBYTES)
    return std::nullopt;
  bytes plain(sealed.size() - crypto_box_NONCEBYTES - crypto_box_MACBYTES);
  if (crypto_box_open_easy(plain.data(), sealed.data() + crypto_box_NONCEBYTES,
                           sealed.size() - crypto_box_NONCEBYTES, sealed.data(), sender.data(),
                           recipient.sk.data()) != 0)
    return std::nullopt;
  return plain;
}

bytes seal_for(std::span<const uint8_t> plain, const public_key& recipient) {
  bytes out(plain.size() + crypto_box_SEALBYTES);
  crypto_box_seal(out.data(), plain.data(), plain.size(), recipient.data());
  return out;
}

std::optional<bytes> open_sealed(std::span<const uint8_t> sealed, const box_keypair& own) {
  if (sealed.size() < crypto_box_SEALBYTES)
    return std::nullopt;
  bytes plain(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(plain.data(), sealed.data(), sealed.size(), own.pk.data(),
                           own.sk.data()) != 0)
    return std::nullopt;
  return plain;
}

std::optional<box_channel> box_channel::make(const public_key& peer, const box_keypair& own) {
  box_channel out;
  if (crypto_box_beforenm(out.shared_.data(), peer.data(), own.sk.data()) != 0)
    return std::nullopt; // libsodium refuses a shared point of all zeros
  return out;
}

bool is_valid_box_key(const public_key& pk) {
  // Any clamped scalar times a low-order point gives the all-zero point, which
  // crypto_scalarmult refuses.
  static const std::array<uint8_t, 32> scalar = [] {
    std::array<uint8_t, 32> s{};
    s.fill(0x5a);
    return s;
  }();
  std::array<uint8_t, 32> out{};
  return crypto_scalarmult(out.data(), scalar.data(), pk.data()) == 0;
}

bool is_valid_sign_key(const public_key& pk) {
  return crypto_core_ed25519_is_valid_point(pk.data()) == 1;
}

bytes box_channel::seal(std::span<const uint8_t> plain) const {
  bytes out(crypto_box_NONCEBYTES + crypto_box_MACBYTES + plain.size());
  random_fill(std::span<uint8_t>{out.data(), crypto_box_NONCEBYTES});
  crypto_box_easy_afternm(out.data() + crypto_box_NONCEBYTES, plain.data(), plain.size(),
                          out.data(), shared_.data());
  return out;
}

std::optional<bytes> box_channel::open(std::span<const uint8_t> sealed) const {
  if (sealed.size() < crypto_box_NONCEBYTES + crypto_box_MACBYTES)
    return std::nullopt;
  bytes plain(sealed.size() - crypto_box_NONCEBYTES - crypto_box_MACBYTES);
  if (crypto_box_open_easy_afternm(plain.data(), sealed.data() + crypto_box_NONCEBYTES,
                                   sealed.size() - crypto_box_NONCEBYTES, sealed.data(),
                                   shared_.data()) != 0)
    return std::nullopt;
  return plain;
}

content_key new_content_key() {
  content_key key;
  crypto_secretbox_keygen(key.data());
  return key;
}

bytes content_seal(std::span<const uint8_t> plain, const content_key& key) {
  bytes out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size());
  random_fill(std::span<uint8_t>{out.data(), crypto_secretbox_NONCEBYTES});
  crypto_secretbox_easy(out.data() + crypto_secretbox_NONCEBYTES, plain.data(), plain.size(),
                        out.data(), key.data());
  return out;
}

std::optional<bytes> content_open(std::span<const uint8_t> sealed, const content_key& key) {
  if (sealed.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
    return std::nullopt;
  bytes plain(sealed.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(plain.data(), sealed.data() + crypto_secretbox_NONCEBYTES,
                                 sealed.size() - crypto_secretbox_NONCEBYTES, sealed.data(),
                                 key.data()) != 0)
    return std::nullopt;
  return plain;
}

std::optional<session_keys> client_session(const kx_keypair& client_ephemeral,
                                           const public_key& cluster_key,
                                           const public_key& server_ephemeral) {
  secret<32> rx_static, tx_static, rx_eph, tx_eph;
  if (crypto_kx_client_session_keys(rx_static.data(), tx_static.data(), client_ephemeral.pk.data(),
                                    client_ephemeral.sk.data(), cluster_key.data()) != 0 ||
      crypto_kx_client_session_keys(rx_eph.data(), tx_eph.data(), client_ephemeral.pk.data(),
                                    client_ephemeral.sk.data(), server_ephemeral.data()) != 0)
    return std::nullopt;
  session_keys keys;
  keys.transcript = transcript_of(client_ephemeral.pk, cluster_key, server_ephemeral);
  derive(keys.rx, "s2c", rx_static.data(), rx_eph.data(), keys.transcript);
  derive(keys.tx, "c2s", tx_static.data(), tx_eph.data(), keys.transcript);
  return keys;
}

std::optional<session_keys> server_session(const kx_keypair& cluster,
                                           const kx_keypair& server_ephemeral,
                                           const public_key& client_ephemeral) {
  secret<32> rx_static, tx_static, rx_eph, tx_eph;
  if (crypto_kx_server_session_keys(rx_static.data(), tx_static.data(), cluster.pk.data(),
                                    cluster.sk.data(), client_ephemeral.data()) != 0 ||
      crypto_kx_server_session_keys(rx_eph.data(), tx_eph.data(), server_ephemeral.pk.data(),
                                    server_ephemeral.sk.data(), client_ephemeral.data()) != 0)
    return std::nullopt;
  session_keys keys;
  keys.transcript = transcript_of(client_ephemeral, cluster.pk, server_ephemeral.pk);
  derive(keys.rx, "c2s", rx_static.data(), rx_eph.data(), keys.transcript);
  derive(keys.tx, "s2c", tx_static.data(), tx_eph.data(), keys.transcript);
  return keys;
}

bytes login_message(const std::array<uint8_t, 32>& transcript, account_id id) {
  bytes out(login_context.size());
  std::memcpy(out.data(), login_context.data(), login_context.size());
  wire::writer{out}.fixed(transcript).u64(id);
  return out;
}

static_assert(record_channel::sealed_size(0) == length_prefix_size + record_channel::overhead);
static_assert(crypto_aead_aes256gcm_ABYTES == record_channel::overhead);
static_assert(crypto_aead_aes256gcm_NPUBBYTES == crypto_aead_chacha20poly1305_ietf_NPUBBYTES);

std::vector<record_cipher> supported_ciphers() {
  if (crypto_aead_aes256gcm_is_available() != 0)
    return {record_cipher::aes256_gcm, record_cipher::chacha20_poly1305};
  return {record_cipher::chacha20_poly1305};
}

std::optional<record_cipher> pick_cipher(std::span<const record_cipher> offered) {
  auto ours = supported_ciphers();
  for (auto c : offered)
    if (std::find(ours.begin(), ours.end(), c) != ours.end())
      return c;
  return std::nullopt;
}

struct record_channel::aes_keys {
  crypto_aead_aes256gcm_state rx;
  crypto_aead_aes256gcm_state tx;
  ~aes_keys() { sodium_memzero(this, sizeof(*this)); }
};

record_channel::record_channel(const session_keys& keys, record_cipher cipher)
    : cipher_(cipher), rx_(keys.rx), tx_(keys.tx) {}

record_channel::~record_channel() = default;
record_channel::record_channel(record_channel&&) noexcept = default;
record_channel& record_channel::operator=(record_channel&&) noexcept = default;

void record_channel::keep_keys_expanded(bool on) {
  if (cipher_ != record_cipher::aes256_gcm || on == static_cast<bool>(expanded_))
    return;
  if (!on) {
    expanded_.reset();
    return;
  }
  expanded_ = std::make_unique<aes_keys>();
  crypto_aead_aes256gcm_beforenm(&expanded_->rx, rx_.data());
  crypto_aead_aes256gcm_beforenm(&expanded_->tx, tx_.data());
}

void record_channel::seal(std::span<uint8_t> out, std::span<const uint8_t> plain) {
  wire::put_u32_be(out.data(), static_cast<uint32_t>(plain.size() + overhead));
  uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  counter_nonce(nonce, tx_counter_++);
  unsigned long long written = 0;
  auto* sealed = out.data() + length_prefix_size;
  if (expanded_)
    crypto_aead_aes256gcm_encrypt_afternm(sealed, &written, plain.data(), plain.size(), out.data(),
                                          length_prefix_size, nullptr, nonce, &expanded_->tx);
  else if (cipher_ == record_cipher::aes256_gcm)
    crypto_aead_aes256gcm_encrypt(sealed, &written, plain.data(), plain.size(), out.data(),
                                  length_prefix_size, nullptr, nonce, tx_.data());
  else
    crypto_aead_chacha20poly1305_ietf_encrypt(sealed, &written, plain.data(), plain.size(),
                                              out.data(), length_prefix_size, nullptr, nonce,
                                              tx_.data());
}

void record_channel::seal(bytes& out, std::span<const uint8_t> plain) {
  auto start = out.size();
  out.resize(start + sealed_size(plain.size()));
  seal(std::span<uint8_t>{out}.subspan(start), plain);
}

bool record_channel::open(std::span<const uint8_t> prefix, std::span<const uint8_t> sealed,
                          bytes& plain) {
  if (sealed.size() < overhead)
    return false;
  plain.resize(sealed.size() - overhead);
  uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  counter_nonce(nonce, rx_counter_);
  unsigned long long written = 0;
  auto rc =
      expanded_ ? crypto_aead_aes256gcm_decrypt_afternm(plain.data(), &written, nullptr,
                                                        sealed.data(), sealed.size(), prefix.data(),
                                                        prefix.size(), nonce, &expanded_->rx)
      : cipher_ == record_cipher::aes256_gcm
          ? crypto_aead_aes256gcm_decrypt(plain.data(), &written, nullptr, sealed.data(),
                                          sealed.size(), prefix.data(), prefix.size(), nonce,
                                          rx_.data())
          : crypto_aead_chacha20poly1305_ietf_decrypt(plain.data(), &written, nullptr,
                                                      sealed.data(), sealed.size(), prefix.data(),
                                                      prefix.size(), nonce, rx_.data());
  if (rc != 0)
    return false;
  ++rx_counter_;
  return true;
}

std::optional<bytes> record_channel::open(std::span<const uint8_t> prefix,
                                          std::span<const uint8_t> sealed) {
  bytes plain;
  if (!open(prefix, sealed, plain))
    return std::nullopt;
  return plain;
}

std::string to_hex(std::span<const uint8_t> data) {
  std::string out(data.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data.data(), data.size());
  out.pop_back();
  return out;
}

bool from_hex(std::string_view hex, std::span<uint8_t> out) {
  size_t len = 0;
  const char* end = nullptr;
  return hex.size() == out.size() * 2 &&
         sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, &end) == 0 &&
         len == out.size() && end == hex.data() + hex.size();
}

std::string fingerprint(const public_key& key) {
  std::array<uint8_t, 8> digest;
  crypto_generichash(digest.data(), digest.size(), key.data(), key.size(), nullptr, 0);
  return to_hex(digest);
}

} // namespace kinbox::crypto
