// Thin libsodium wrappers shared by server and client: key pairs with wiped secrets,
// signatures, end-to-end boxes, and the transport handshake plus its AEAD record channel.
// Call `crypto::init()` once before any thread starts.
#pragma once

#include <sodium.h>

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.hpp"

namespace kinbox::crypto {

/// Initializes libsodium; false if the library cannot be used.
[[nodiscard]] bool init();

/// A fixed-size secret that is wiped when it goes away. Not copyable by accident.
template <size_t N>
class secret {
public:
  secret() { data_.fill(0); }
  secret(const secret& other) : data_(other.data_) {}
  secret& operator=(const secret& other) {
    data_ = other.data_;
    return *this;
  }
  ~secret() { sodium_memzero(data_.data(), N); }

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  static constexpr size_t size() { return N; }

private:
  std::array<uint8_t, N> data_;
};

struct sign_keypair {
  public_key pk;
  secret<crypto_sign_SECRETKEYBYTES> sk;
  static sign_keypair generate();
};

struct box_keypair {
  public_key pk;
  secret<crypto_box_SECRETKEYBYTES> sk;
  static box_keypair generate();
};

struct kx_keypair {
  public_key pk;
  secret<crypto_kx_SECRETKEYBYTES> sk;
  static kx_keypair generate();
};

/// Random bytes for nonces and message ids, never for keys: served from a per-thread pool
/// that the system CSPRNG refills 4 KiB at a time, so a message costs no getrandom call
/// of its own. Nonces and ids are public; they only have to be unique and unpredictable
/// to others. A process must not fork after drawing from the pool (the child would repeat
/// the parent's remaining bytes).
void random_fill(std::span<uint8_t> out);

/// A fresh message id: 48 bits of milliseconds since the epoch (big-endian), then 80
/// random bits. Ids that grow with time keep the node's mailbox index writes local.
message_id new_message_id();

[[nodiscard]] signature sign(std::span<const uint8_t> message, const sign_keypair& key);

[[nodiscard]] bool verify(std::span<const uint8_t> message, const signature& sig,
                          const public_key& signer);

/// Encrypts and authenticates `plain` from `sender` to `recipient` (crypto_box):
/// returns nonce || ciphertext.
[[nodiscard]] bytes box_seal(std::span<const uint8_t> plain, const public_key& recipient,
                             const box_keypair& sender);

/// Opens what `box_seal` made; nullopt if it was not made by `sender` for `recipient`.
[[nodiscard]] std::optional<bytes> box_open(std::span<const uint8_t> sealed,
                                            const public_key& sender, const box_keypair& recipient);

/// Seals `plain` for `recipient` alone, with no sender (crypto_box_seal): what the server
/// writes for an account (a notice) so that its disk holds only ciphertext.
[[nodiscard]] bytes seal_for(std::span<const uint8_t> plain, const public_key& recipient);

/// Opens what `seal_for` made for `own`; nullopt if it was not.
[[nodiscard]] std::optional<bytes> open_sealed(std::span<const uint8_t> sealed,
                                               const box_keypair& own);

/// `box_seal`/`box_open` with the X25519 shared key computed once (crypto_box_beforenm):
/// the same wire format, without a scalar multiplication per message. One per friend.
class box_channel {
public:
  /// The channel to `peer`; nullopt when `peer` is not a usable X25519 key (a low-order
  /// point, whose shared key would be all zeros and known to anyone).
  [[nodiscard]] static std::optional<box_channel> make(const public_key& peer,
                                                       const box_keypair& own);
  [[nodiscard]] bytes seal(std::span<const uint8_t> plain) const;
  [[nodiscard]] std::optional<bytes> open(std::span<const uint8_t> sealed) const;

private:
  box_channel() = default;
  secret<crypto_box_BEFORENMBYTES> shared_;
};

/// The random key a group message's content is encrypted with, once for every member.
using content_key = secret<crypto_secretbox_KEYBYTES>;

/// A fresh content key (from the system CSPRNG).
[[nodiscard]] content_key new_content_key();

/// Encrypts and authenticates `plain` with `key` (crypto_secretbox): nonce || ciphertext.
[[nodiscard]] bytes content_seal(std::span<const uint8_t> plain, const content_key& key);

/// Opens what `content_seal` made with `key`; nullopt if it was not.
[[nodiscard]] std::optional<bytes> content_open(std::span<const uint8_t> sealed,
                                                const content_key& key);

/// Whether `pk` is an X25519 public key that gives a shared secret (not a low-order point).
[[nodiscard]] bool is_valid_box_key(const public_key& pk);

/// Whether `pk` is an Ed25519 public key: a point on the curve, in the main subgroup, not
/// of small order.
[[nodiscard]] bool is_valid_sign_key(const public_key& pk);

/// Symmetric keys of one transport session plus the hash of its handshake transcript,
/// which login signatures cover so that a signature is good for one connection only.
struct session_keys {
  secret<32> rx;
  secret<32> tx;
  std::array<uint8_t, 32> transcript;
};

/// Client side: combines kx with the server's long-term key (authenticates the server)
/// and with its ephemeral key (forward secrecy). nullopt for a malformed peer key.
[[nodiscard]] std::optional<session_keys> client_session(const kx_keypair& client_ephemeral,
                                                         const public_key& cluster_key,
                                                         const public_key& server_ephemeral);

/// Server side of `client_session`.
[[nodiscard]] std::optional<session_keys> server_session(const kx_keypair& cluster,
                                                         const kx_keypair& server_ephemeral,
                                                         const public_key& client_ephemeral);

/// The bytes a login signature covers.
bytes login_message(const std::array<uint8_t, 32>& transcript, account_id id);

/// The record ciphers this machine can run, most preferred first (AES-256-GCM first where
/// the CPU has AES-NI: about 2.5x faster than ChaCha20-Poly1305 on short records).
std::vector<record_cipher> supported_ciphers();

/// The first of `offered` that this machine supports; nullopt if none.
std::optional<record_cipher> pick_cipher(std::span<const record_cipher> offered);

/// Authenticated encryption of records, one key per direction, with ChaCha20-Poly1305 (IETF)
/// or AES-256-GCM (both 12-byte nonces, 16-byte tags). Nonces are implicit per-direction
/// counters, so a dropped, replayed or reordered record fails to open. The length prefix
/// is authenticated data.
class record_channel {
public:
  static constexpr size_t overhead = crypto_aead_chacha20poly1305_ietf_ABYTES;

  /// `cipher` must be one of `supported_ciphers()`.
  record_channel(const session_keys& keys, record_cipher cipher);
  ~record_channel();
  record_channel(record_channel&&) noexcept;
  record_channel& operator=(record_channel&&) noexcept;

  /// Keeps the AES key schedule (1 KiB) while `on`, instead of expanding the keys for
  /// every record (~0.1 us each): for busy connections; idle ones should not pay for it.
  void keep_keys_expanded(bool on);

  /// Bytes of the sealed record (length prefix included) that carries `plain_size` bytes.
  static constexpr size_t sealed_size(size_t plain_size) { return 4 + plain_size + overhead; }

  /// Writes one sealed record carrying `plain` to `out`, which has `sealed_size` bytes.
  void seal(std::span<uint8_t> out, std::span<const uint8_t> plain);

  /// Appends one sealed record (length prefix included) carrying `plain` to `out`.
  void seal(bytes& out, std::span<const uint8_t> plain);

  /// Opens one received record into `plain` (resized to fit); false if it does not
  /// authenticate.
  [[nodiscard]] bool open(std::span<const uint8_t> prefix, std::span<const uint8_t> sealed,
                          bytes& plain);

  /// Opens one received record; nullopt if it does not authenticate.
  [[nodiscard]] std::optional<bytes> open(std::span<const uint8_t> prefix,
                                          std::span<const uint8_t> sealed);

private:
  struct aes_keys; // expanded AES keys, wiped when dropped

  record_cipher cipher_;
  secret<32> rx_;
  secret<32> tx_;
  std::unique_ptr<aes_keys> expanded_;
  uint64_t rx_counter_ = 0;
  uint64_t tx_counter_ = 0;
};

std::string to_hex(std::span<const uint8_t> data);

/// Decodes exactly `out.size()` bytes of hex; false on any other input.
[[nodiscard]] bool from_hex(std::string_view hex, std::span<uint8_t> out);

/// Short human-checkable fingerprint of a public key (first 8 bytes of its hash, hex).
std::string fingerprint(const public_key& key);

} // namespace kinbox::crypto
