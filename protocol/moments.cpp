#include "protocol/moments.hpp"

#include "protocol/wire.hpp"

namespace kinbox {

namespace {

bool read_body(std::span<const uint8_t> in, moment_post& x) {
  wire::reader r{in};
  r.u64(x.id);
  r.blob(x.content, max_payload_size);
  return read_wrapped_keys(r, x.keys, max_moment_keys) && r.finished();
}

bool read_body(std::span<const uint8_t> in, moment_reaction& x) {
  wire::reader r{in};
  uint8_t kind = 0;
  r.u64(x.poster);
  r.u64(x.post);
  r.u8(kind);
  r.fixed(x.id);
  r.blob(x.content, max_payload_size);
  if (!read_wrapped_keys(r, x.keys, max_moment_keys) || !r.finished())
    return false;
  x.kind = static_cast<reaction_kind>(kind);
  if (x.kind == reaction_kind::like)
    return x.content.empty() && x.keys.empty();
  return x.kind == reaction_kind::comment;
}

bool read_body(std::span<const uint8_t> in, moment_delete& x) {
  wire::reader r{in};
  r.u64(x.owner);
  r.u64(x.post);
  return r.finished();
}

bool read_body(std::span<const uint8_t> in, moment_mail& x) {
  wire::reader r{in};
  r.u64(x.post);
  r.blob(x.key, max_wrapped_key);
  r.blob(x.content, max_payload_size);
  return r.finished();
}

bool read_body(std::span<const uint8_t> in, reaction_mail& x) {
  wire::reader r{in};
  uint8_t kind = 0;
  r.u64(x.poster);
  r.u64(x.post);
  r.u8(kind);
  r.blob(x.key, max_wrapped_key);
  r.blob(x.content, max_payload_size);
  x.kind = static_cast<reaction_kind>(kind);
  return r.finished() && (kind == 1 || kind == 2);
}

bool read_body(std::span<const uint8_t> in, retraction_mail& x) {
  wire::reader r{in};
  r.u64(x.post);
  return r.finished();
}

} // namespace

message_id post_mail_id(post_id id) {
  message_id out{};
  for (size_t i = 0; i < 8; ++i)
    out[i] = static_cast<uint8_t>(id >> (56 - 8 * i));
  return out;
}

void write_body(bytes& out, const moment_post& x) {
  wire::writer w{out};
  w.u64(x.id).blob(x.content);
  write_wrapped_keys(w, x.keys);
}

void write_body(bytes& out, const moment_reaction& x) {
  wire::writer w{out};
  w.u64(x.poster).u64(x.post).u8(static_cast<uint8_t>(x.kind)).fixed(x.id).blob(x.content);
  write_wrapped_keys(w, x.keys);
}

void write_body(bytes& out, const moment_delete& x) {
  wire::writer{out}.u64(x.owner).u64(x.post);
}

void write_body(bytes& out, const moment_mail& x) {
  wire::writer{out}.u64(x.post).blob(x.key).blob(x.content);
}

void write_body(bytes& out, const reaction_mail& x) {
  wire::writer{out}
      .u64(x.poster)
      .u64(x.post)
      .u8(static_cast<uint8_t>(x.kind))
      .blob(x.key)
      .blob(x.content);
}

void write_body(bytes& out, const retraction_mail& x) {
  wire::writer{out}.u64(x.post);
}

template <class T>
result<T> decode_body(std::span<const uint8_t> in) {
  T x{};
  if (!read_body(in, x))
    return failure{errc::malformed_frame, "the frame body does not match its type"};
  return x;
}

template result<moment_post> decode_body<moment_post>(std::span<const uint8_t>);
template result<moment_reaction> decode_body<moment_reaction>(std::span<const uint8_t>);
template result<moment_delete> decode_body<moment_delete>(std::span<const uint8_t>);
template result<moment_mail> decode_body<moment_mail>(std::span<const uint8_t>);
template result<reaction_mail> decode_body<reaction_mail>(std::span<const uint8_t>);
template result<retraction_mail> decode_body<retraction_mail>(std::span<const uint8_t>);

} // namespace kinbox
