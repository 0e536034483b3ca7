#include "cluster/entity.hpp"

#include "protocol/frame.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

bytes encode_entity_request(const entity_request& x) {
  bytes out;
  wire::writer{out}.u8(static_cast<uint8_t>(x.kind)).u64(x.id).u8(x.op).u64(x.caller).blob(x.body);
  return out;
}

bool decode_entity_request(std::span<const uint8_t> in, entity_request& x) {
  wire::reader r{in};
  uint8_t kind = 0;
  r.u8(kind);
  r.u64(x.id);
  r.u8(x.op);
  r.u64(x.caller);
  r.blob(x.body, max_max_frame_size);
  x.kind = static_cast<entity_kind>(kind);
  return r.finished() && kind == static_cast<uint8_t>(entity_kind::user);
}

bytes encode_entity_reply(const entity_reply& x) {
  bytes out;
  wire::writer{out}.u16(x.status).str(x.message).blob(x.body);
  return out;
}

bool decode_entity_reply(std::span<const uint8_t> in, entity_reply& x) {
  wire::reader r{in};
  r.u16(x.status);
  r.str(x.message, max_text_length);
  r.blob(x.body, max_max_frame_size);
  return r.finished();
}

} // namespace kinbox
