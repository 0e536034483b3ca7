#include "cluster/entity.hpp"

#include "protocol/frame.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

constexpr size_t max_node_name = 64;

void write_request(wire::writer& w, const entity_request& x) {
  w.u8(x.kind).u64(x.id).u8(x.op).u64(x.caller).u8(x.attempt).u64(x.client).blob(x.body);
}

void read_request(wire::reader& r, entity_request& x) {
  r.u8(x.kind);
  r.u64(x.id);
  r.u8(x.op);
  r.u64(x.caller);
  r.u8(x.attempt);
  r.u64(x.client);
  r.blob(x.body, max_max_frame_size);
}

} // namespace

bytes encode_endpoint(const endpoint& x) {
  bytes out;
  wire::writer{out}.str(x.node).u64(x.incarnation).u64(x.id);
  return out;
}

std::optional<endpoint> decode_endpoint(std::span<const uint8_t> in) {
  wire::reader r{in};
  endpoint x;
  r.str(x.node, max_node_name);
  r.u64(x.incarnation);
  r.u64(x.id);
  if (!r.finished() || x.node.empty())
    return std::nullopt;
  return x;
}

bytes encode_request_batch(uint64_t epoch, std::span<const entity_request> reqs) {
  bytes out;
  size_t size = 13;
  for (auto& r : reqs)
    size += 31 + r.body.size();
  out.reserve(size);
  wire::writer w{out};
  w.u8(static_cast<uint8_t>(bus_type::requests)).u64(epoch).u32(static_cast<uint32_t>(reqs.size()));
  for (auto& r : reqs)
    write_request(w, r);
  return out;
}

entity_reply error_reply(const failure& f) {
  auto r = error_reply(f.code, f.message);
  if (f.retry_after_ms > 0)
    wire::writer{r.body}.u32(f.retry_after_ms);
  return r;
}

failure entity_reply::to_failure() const {
  failure f{static_cast<errc>(status), message, 0};
  wire::reader r{body};
  if (body.size() == 4)
    r.u32(f.retry_after_ms);
  return f;
}

bytes encode_reply_batch(std::span<const entity_reply> replies) {
  bytes out;
  wire::writer w{out};
  w.u8(static_cast<uint8_t>(bus_type::replies)).u32(static_cast<uint32_t>(replies.size()));
  for (auto& r : replies)
    w.u16(r.status).str(r.message).blob(r.body);
  return out;
}

bytes encode_push(uint64_t incarnation, uint64_t endpoint_id, entity_kind kind,
                  std::span<const uint8_t> body) {
  bytes out;
  out.reserve(22 + body.size());
  wire::writer{out}
      .u8(static_cast<uint8_t>(bus_type::push))
      .u64(incarnation)
      .u64(endpoint_id)
      .u8(kind)
      .blob(body);
  return out;
}

bytes encode_handoff(entity_kind kind, uint32_t shard, std::span<const uint8_t> body) {
  bytes out;
  wire::writer{out}.u8(static_cast<uint8_t>(bus_type::handoff)).u8(kind).u32(shard).blob(body);
  return out;
}

bytes encode_admin(admin_op op) {
  bytes out;
  wire::writer{out}.u8(static_cast<uint8_t>(bus_type::admin)).u8(static_cast<uint8_t>(op));
  return out;
}

std::optional<bus_message> decode_bus_message(std::span<const uint8_t> in) {
  wire::reader r{in};
  bus_message m;
  uint8_t type = 0;
  if (!r.u8(type))
    return std::nullopt;
  m.type = static_cast<bus_type>(type);
  uint32_t count = 0;
  switch (m.type) {
  case bus_type::requests:
    r.u64(m.epoch);
    if (!r.u32(count) || count > max_bus_batch)
      return std::nullopt;
    m.requests.resize(count);
    for (auto& x : m.requests)
      read_request(r, x);
    break;
  case bus_type::replies:
    if (!r.u32(count) || count > max_bus_batch)
      return std::nullopt;
    m.replies.resize(count);
    for (auto& x : m.replies) {
      r.u16(x.status);
      r.str(x.message, max_text_length);
      r.blob(x.body, max_max_frame_size);
    }
    break;
  case bus_type::push:
    r.u64(m.incarnation);
    r.u64(m.endpoint_id);
    r.u8(m.kind);
    r.blob(m.body, max_max_frame_size);
    break;
  case bus_type::handoff:
    r.u8(m.kind);
    r.u32(m.shard);
    r.blob(m.body, 64u << 20);
    break;
  case bus_type::handoff_ok:
    break;
  case bus_type::admin: {
    uint8_t op = 0;
    r.u8(op);
    m.op = static_cast<admin_op>(op);
    if (op != static_cast<uint8_t>(admin_op::drain))
      return std::nullopt;
    break;
  }
  default:
    return std::nullopt;
  }
  if (!r.finished())
    return std::nullopt;
  return m;
}

} // namespace kinbox
