#include "crypto/pin.hpp"

#include <sodium.h>

#include <algorithm>
#include <iterator>

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

bool is_guessable_pin(std::string_view pin) {
  if (!is_valid_pin(pin))
    return false;
  // The most chosen 4-digit PINs (DataGenetics' count of 3.4 million leaked PINs), years
  // an adult tries for a child, and keypad lines; patterns are tested below.
  static constexpr std::string_view common[] = {
      "1004", "2000", "2001", "6969", "1313", "1010", "2580", "0852", "1470", "0741",
      "3690", "0963", "1590", "0951", "7410", "1379", "1998", "1999", "2002", "2003",
      "2004", "2005", "2010", "2011", "2012", "2013", "2014", "2015", "2016", "2017",
      "2018", "2019", "2020", "1990", "1980", "1985", "0007", "1231", "0101", "0420",
      "1969", "1984", "1357", "2468", "8520", "9630"};
  if (std::find(std::begin(common), std::end(common), pin) != std::end(common))
    return true;
  int d[pin_length];
  for (size_t i = 0; i < pin_length; ++i)
    d[i] = pin[i] - '0';
  bool up = true;
  bool down = true;
  for (size_t i = 1; i < pin_length; ++i) {
    up = up && d[i] == d[i - 1] + 1;
    down = down && d[i] == d[i - 1] - 1;
  }
  bool alternating = d[0] == d[2] && d[1] == d[3];
  bool doubled = d[0] == d[1] && d[2] == d[3];
  return up || down || alternating || doubled;
}

std::optional<std::string> new_pin_problem(std::string_view pin) {
  if (!is_valid_pin(pin))
    return "a PIN is four digits";
  if (is_guessable_pin(pin))
    return "this PIN is among the first anyone would try; choose another";
  return std::nullopt;
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
