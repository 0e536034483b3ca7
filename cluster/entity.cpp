#include "cluster/entity.hpp"

#include "config/caf_error.hpp"
#include "config/metrics.hpp"

#include "protocol/frame.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

constexpr size_t max_node_name = 64;
constexpr size_t max_subject = 256;

void write_reply(wire::writer& w, const bus_reply& x) {
  w.u16(x.status).str(x.message).blob(x.body);
}

void read_reply(wire::reader& r, bus_reply& x) {
  r.u16(x.status);
  r.str(x.message, max_text_length);
  r.blob(x.body, max_max_frame_size);
}

/// Reads the count of a batch; false if it is missing, past `max_bus_batch`, or more than
/// the rest of the input can hold (items of at least `min_item` bytes): a forged count
/// allocates nothing.
bool read_count(wire::reader& r, uint32_t& count, size_t min_item) {
  return r.u32(count) && count <= max_bus_batch && count <= r.remaining() / min_item;
}

// The smallest encoding of each item (its fixed fields and empty blobs).
constexpr size_t min_request = 31;
constexpr size_t min_reply = 10;
constexpr size_t min_answer = 12 + min_reply;
constexpr size_t min_push = 21;

void write_request(wire::writer& w, const bus_request& x) {
  w.u8(x.kind).u64(x.id).u8(x.op).u64(x.caller).u8(x.attempt).u64(x.client).blob(x.arg);
}

void read_request(wire::reader& r, bus_request& x) {
  r.u8(x.kind);
  r.u64(x.id);
  r.u8(x.op);
  r.u64(x.caller);
  r.u8(x.attempt);
  r.u64(x.client);
  r.blob(x.arg, max_max_frame_size);
}

} // namespace

result<bus_request> to_bus(const entity_request& req, const request_codec& codec) {
  auto arg = codec.encode_arg(req.op, req.args);
  if (!arg)
    return arg.error();
  return bus_request{req.kind, req.id, req.op, req.caller, req.attempt, req.client,
                     std::move(*arg)};
}

result<entity_request> from_bus(bus_request&& req, const request_codec& codec) {
  auto args = codec.decode_arg(req.op, req.arg);
  if (!args)
    return args.error();
  return entity_request{req.kind, req.id,      req.op,    req.caller,
                        std::move(*args), req.attempt, req.client};
}

bus_reply to_bus(const entity_reply& r, uint8_t op, const request_codec& codec) {
  bus_reply out{r.status, r.message, {}};
  if (r.ok()) {
    auto value = codec.encode_result(op, r.value);
    if (!value)
      return bus_reply{static_cast<uint16_t>(value.error().code), value.error().message, {}};
    out.body = std::move(*value);
  } else if (r.retry_after_ms > 0) {
    wire::writer{out.body}.u32(r.retry_after_ms);
  }
  return out;
}

entity_reply from_bus(bus_reply&& r, uint8_t op, const request_codec& codec) {
  entity_reply out{r.status, std::move(r.message), 0, {}};
  if (r.status == 0) {
    auto value = codec.decode_result(op, r.body);
    if (!value)
      return error_reply(errc::internal, "a node answered a malformed result");
    out.value = std::move(*value);
  } else if (r.body.size() == 4) {
    wire::reader{r.body}.u32(out.retry_after_ms);
  }
  return out;
}

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

namespace {

/// A batch of `items` requests, answers or pushes is made to leave for another node, as
/// one bus message.
void count_batch(size_t items) {
  auto& m = metrics::get();
  m.bus_messages.Increment(static_cast<double>(items));
  m.bus_batches.Increment();
}

} // namespace

bytes encode_request_batch(uint64_t epoch, uint64_t corr, std::string_view answer_to,
                           std::span<const bus_request> reqs) {
  count_batch(reqs.size());
  bytes out;
  size_t size = 25 + answer_to.size();
  for (auto& r : reqs)
    size += 35 + r.arg.size();
  out.reserve(size);
  wire::writer w{out};
  w.u8(static_cast<uint8_t>(bus_type::requests)).u64(epoch).u64(corr).str(answer_to);
  w.u32(static_cast<uint32_t>(reqs.size()));
  for (auto& r : reqs)
    write_request(w, r);
  return out;
}

entity_reply error_reply(const failure& f) {
  auto r = error_reply(f.code, f.message);
  r.retry_after_ms = f.retry_after_ms;
  return r;
}

std::string node_inbox(std::string_view cluster, std::string_view node) {
  std::string out = "kinbox.";
  out.append(cluster).append(".node.").append(node);
  return out;
}

entity_reply error_reply(const caf::error& err, std::string message) {
  auto f = kinbox::to_failure(err);
  if (!message.empty())
    f.message = std::move(message);
  return error_reply(f);
}

bytes encode_reply_batch(std::span<const bus_reply> replies) {
  bytes out;
  wire::writer w{out};
  w.u8(static_cast<uint8_t>(bus_type::replies)).u32(static_cast<uint32_t>(replies.size()));
  for (auto& r : replies)
    write_reply(w, r);
  return out;
}

bytes encode_answers(std::span<const entity_answer> answers) {
  count_batch(answers.size());
  bytes out;
  size_t size = 5;
  for (auto& a : answers)
    size += 24 + a.reply.message.size() + a.reply.body.size();
  out.reserve(size);
  wire::writer w{out};
  w.u8(static_cast<uint8_t>(bus_type::answers)).u32(static_cast<uint32_t>(answers.size()));
  for (auto& a : answers) {
    w.u64(a.corr).u32(a.index);
    write_reply(w, a.reply);
  }
  return out;
}

bytes encode_pushes(std::span<const push_item> pushes) {
  count_batch(pushes.size());
  bytes out;
  size_t size = 5;
  for (auto& p : pushes)
    size += 21 + p.body.size();
  out.reserve(size);
  wire::writer w{out};
  w.u8(static_cast<uint8_t>(bus_type::pushes)).u32(static_cast<uint32_t>(pushes.size()));
  for (auto& p : pushes)
    w.u64(p.incarnation).u64(p.endpoint_id).u8(p.kind).blob(p.body);
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
    r.u64(m.corr);
    r.str(m.answer_to, max_subject);
    if (!read_count(r, count, min_request))
      return std::nullopt;
    m.requests.resize(count);
    for (auto& x : m.requests)
      read_request(r, x);
    break;
  case bus_type::replies:
    if (!read_count(r, count, min_reply))
      return std::nullopt;
    m.replies.resize(count);
    for (auto& x : m.replies)
      read_reply(r, x);
    break;
  case bus_type::answers:
    if (!read_count(r, count, min_answer))
      return std::nullopt;
    m.answers.resize(count);
    for (auto& x : m.answers) {
      r.u64(x.corr);
      r.u32(x.index);
      read_reply(r, x.reply);
    }
    break;
  case bus_type::pushes:
    if (!read_count(r, count, min_push))
      return std::nullopt;
    m.pushes.resize(count);
    for (auto& x : m.pushes) {
      r.u64(x.incarnation);
      r.u64(x.endpoint_id);
      r.u8(x.kind);
      r.blob(x.body, max_max_frame_size);
    }
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
