#include "protocol/calls.hpp"

#include "protocol/wire.hpp"

namespace kinbox {

namespace {

bool read_body(std::span<const uint8_t> in, call_request& x) {
  wire::reader r{in};
  uint8_t signal = 0;
  uint8_t video = 2;
  r.u64(x.to);
  r.u64(x.id);
  r.u8(signal);
  r.u8(video);
  r.blob(x.payload, max_call_payload);
  x.signal = static_cast<call_signal>(signal);
  x.video = video == 1;
  return r.finished() && is_call_signal(signal) && video <= 1;
}

bool read_body(std::span<const uint8_t> in, call_ring_result& x) {
  wire::reader r{in};
  uint16_t count = 0;
  if (!r.u16(count) || count > max_group_members_wire)
    return false;
  x.rung.resize(count);
  for (auto& ring : x.rung) {
    uint8_t outcome = 0;
    r.u64(ring.id);
    r.u8(outcome);
    if (!is_call_outcome(outcome))
      return false;
    ring.outcome = static_cast<call_outcome>(outcome);
  }
  return r.finished();
}

bool read_body(std::span<const uint8_t> in, call_event& x) {
  wire::reader r{in};
  uint8_t signal = 0;
  uint8_t video = 2;
  r.u64(x.id);
  r.u64(x.group);
  r.u8(signal);
  r.u8(x.reason);
  r.u8(video);
  r.blob(x.payload, max_call_payload);
  x.signal = static_cast<call_signal>(signal);
  x.video = video == 1;
  return r.finished() && is_call_signal(signal) && video <= 1 &&
         (x.reason == 0 || is_call_outcome(x.reason));
}

bool read_body(std::span<const uint8_t> in, missed_call_body& x) {
  wire::reader r{in};
  uint8_t video = 2;
  uint8_t why = 0;
  r.u64(x.id);
  r.u64(x.group);
  r.u8(video);
  r.u8(why);
  x.video = video == 1;
  x.why = static_cast<call_outcome>(why);
  return r.finished() && video <= 1 && is_call_outcome(why);
}

} // namespace

std::string_view call_signal_name(call_signal s) {
  switch (s) {
  case call_signal::offer: return "offer";
  case call_signal::answer: return "answer";
  case call_signal::ice: return "ice";
  case call_signal::ring: return "ring";
  case call_signal::decline: return "decline";
  case call_signal::busy: return "busy";
  case call_signal::hangup: return "hangup";
  }
  return "unknown";
}

std::string_view call_outcome_name(call_outcome o) {
  switch (o) {
  case call_outcome::ringing: return "ringing";
  case call_outcome::offline: return "offline";
  case call_outcome::asleep: return "asleep";
  case call_outcome::busy: return "busy";
  case call_outcome::no_answer: return "no_answer";
  case call_outcome::ended: return "ended";
  }
  return "unknown";
}

void write_body(bytes& out, const call_request& x) {
  wire::writer{out}
      .u64(x.to)
      .u64(x.id)
      .u8(static_cast<uint8_t>(x.signal))
      .u8(x.video ? 1 : 0)
      .blob(x.payload);
}

void write_body(bytes& out, const call_ring_result& x) {
  wire::writer w{out};
  w.u16(static_cast<uint16_t>(x.rung.size()));
  for (auto& ring : x.rung)
    w.u64(ring.id).u8(static_cast<uint8_t>(ring.outcome));
}

void write_body(bytes& out, const call_event& x) {
  wire::writer{out}
      .u64(x.id)
      .u64(x.group)
      .u8(static_cast<uint8_t>(x.signal))
      .u8(x.reason)
      .u8(x.video ? 1 : 0)
      .blob(x.payload);
}

void write_body(bytes& out, const missed_call_body& x) {
  wire::writer{out}.u64(x.id).u64(x.group).u8(x.video ? 1 : 0).u8(static_cast<uint8_t>(x.why));
}

template <class T>
result<T> decode_body(std::span<const uint8_t> in) {
  T x{};
  if (!read_body(in, x))
    return failure{errc::malformed_frame, "the frame body does not match its type"};
  return x;
}

template result<call_request> decode_body<call_request>(std::span<const uint8_t>);
template result<call_ring_result> decode_body<call_ring_result>(std::span<const uint8_t>);
template result<call_event> decode_body<call_event>(std::span<const uint8_t>);
template result<missed_call_body> decode_body<missed_call_body>(std::span<const uint8_t>);

} // namespace kinbox
