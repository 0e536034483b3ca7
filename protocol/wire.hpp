// Big-endian field encoding of frame bodies: fixed-size integers, fixed-size byte arrays,
// and u32-length-prefixed byte strings. The reader never reads past its input.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/types.hpp"

namespace kinbox::wire {

class writer {
public:
  explicit writer(bytes& out) : out_(out) {}

  writer& u8(uint8_t x) {
    out_.push_back(x);
    return *this;
  }
  writer& u16(uint16_t x) { return be(x, 2); }
  writer& u32(uint32_t x) { return be(x, 4); }
  writer& u64(uint64_t x) { return be(x, 8); }

  template <size_t N>
  writer& fixed(const std::array<uint8_t, N>& x) {
    auto old = out_.size();
    out_.resize(old + N);
    std::memcpy(out_.data() + old, x.data(), N);
    return *this;
  }

  writer& blob(std::span<const uint8_t> x) {
    u32(static_cast<uint32_t>(x.size()));
    out_.insert(out_.end(), x.begin(), x.end());
    return *this;
  }

  writer& str(std::string_view x) {
    return blob({reinterpret_cast<const uint8_t*>(x.data()), x.size()});
  }

  /// A list of ids (accounts, groups): a u16 count, then each id as a u64.
  writer& ids(std::span<const uint64_t> x) {
    u16(static_cast<uint16_t>(x.size()));
    for (auto id : x)
      u64(id);
    return *this;
  }

private:
  writer& be(uint64_t x, int width) {
    for (int i = width - 1; i >= 0; --i)
      out_.push_back(static_cast<uint8_t>(x >> (8 * i)));
    return *this;
  }

  bytes& out_;
};

/// Reads fields in order. After the first short read every further read fails too, so a
/// decoder reads all fields and checks `ok()` (or `finished()`) once at the end.
class reader {
public:
  explicit reader(std::span<const uint8_t> in) : in_(in) {}

  bool u8(uint8_t& x) { return be(x, 1); }
  bool u16(uint16_t& x) { return be(x, 2); }
  bool u32(uint32_t& x) { return be(x, 4); }
  bool u64(uint64_t& x) { return be(x, 8); }

  template <size_t N>
  bool fixed(std::array<uint8_t, N>& x) {
    if (!take(N))
      return false;
    std::memcpy(x.data(), in_.data() + pos_ - N, N);
    return true;
  }

  bool blob(bytes& x, size_t max_len) {
    uint32_t len = 0;
    if (!u32(len) || len > max_len || !take(len))
      return fail();
    x.assign(in_.begin() + (pos_ - len), in_.begin() + pos_);
    return true;
  }

  /// Checks a blob of at most `max_len` bytes and steps over it without copying.
  bool skip_blob(size_t max_len) {
    uint32_t len = 0;
    if (!u32(len) || len > max_len || !take(len))
      return fail();
    return true;
  }

  bool str(std::string& x, size_t max_len) {
    uint32_t len = 0;
    if (!u32(len) || len > max_len || !take(len))
      return fail();
    x.assign(reinterpret_cast<const char*>(in_.data()) + pos_ - len, len);
    return true;
  }

  /// What `writer::ids` wrote: at most `max_count` ids.
  bool ids(std::vector<uint64_t>& x, size_t max_count) {
    uint16_t n = 0;
    if (!u16(n) || n > max_count || n * sizeof(uint64_t) > remaining())
      return fail();
    x.resize(n);
    for (auto& id : x)
      u64(id);
    return ok();
  }

  bool ok() const { return ok_; }

  /// Bytes not read yet.
  size_t remaining() const { return in_.size() - pos_; }

  /// All reads succeeded and the input is fully consumed.
  bool finished() const { return ok_ && pos_ == in_.size(); }

private:
  template <class T>
  bool be(T& x, size_t width) {
    if (!take(width))
      return false;
    uint64_t acc = 0;
    for (size_t i = pos_ - width; i < pos_; ++i)
      acc = (acc << 8) | in_[i];
    x = static_cast<T>(acc);
    return true;
  }

  bool take(size_t n) {
    if (!ok_ || in_.size() - pos_ < n)
      return fail();
    pos_ += n;
    return true;
  }

  bool fail() {
    ok_ = false;
    return false;
  }

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

inline void put_u32_be(uint8_t* out, uint32_t x) {
  out[0] = static_cast<uint8_t>(x >> 24);
  out[1] = static_cast<uint8_t>(x >> 16);
  out[2] = static_cast<uint8_t>(x >> 8);
  out[3] = static_cast<uint8_t>(x);
}

inline uint32_t get_u32_be(const uint8_t* in) {
  return (uint32_t{in[0]} << 24) | (uint32_t{in[1]} << 16) | (uint32_t{in[2]} << 8) | in[3];
}

/// A body that is one flag: exactly one byte, 0 or 1; nullopt else.
inline std::optional<bool> read_flag(std::span<const uint8_t> in) {
  if (in.size() != 1 || in[0] > 1)
    return std::nullopt;
  return in[0] == 1;
}

} // namespace kinbox::wire
