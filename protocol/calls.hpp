// Bodies of the call frames and of call pushes and missed-call mail (docs/protocol.md,
// "Calls"). The server routes the signals of a call (offer, answer, ICE candidates...)
// as opaque end-to-end encrypted payloads, pushes them to online sessions only, and
// keeps no call in any store: only a missed call becomes mail.
#pragma once

#include "protocol/groups.hpp"

namespace kinbox {

/// Made by the caller's app: random, unique among its calls.
using call_id = uint64_t;

/// The signals of a call, as the apps send them.
enum class call_signal : uint8_t {
  offer = 1,   ///< the caller starts the call: its session description; the callee rings
  answer = 2,  ///< the callee takes the call: its session description
  ice = 3,     ///< a network candidate, either way, as many as the apps find
  ring = 4,    ///< the callee's device rings (an app's courtesy to the caller)
  decline = 5, ///< the callee refuses the call
  busy = 6,    ///< the callee's app is in another call
  hangup = 7,  ///< either side ends the call
};

inline bool is_call_signal(uint8_t v) {
  return v >= 1 && v <= 7;
}

/// What became of a ring, for the caller; and why the server ended a call (the `reason`
/// of a hangup it makes).
enum class call_outcome : uint8_t {
  ringing = 1,   ///< pushed to the callee's online session
  offline = 2,   ///< no session online (a missed call is stored)
  asleep = 3,    ///< the callee child is in its quiet hours (a missed call is stored)
  busy = 4,      ///< the callee is in another call
  no_answer = 5, ///< the ring ended unanswered (a missed call is stored)
  ended = 6,     ///< the server ended the call: a parent ended it, or a session went
};

inline bool is_call_outcome(uint8_t v) {
  return v >= 1 && v <= 6;
}

std::string_view call_signal_name(call_signal s);
std::string_view call_outcome_name(call_outcome o);

/// Largest payload of one signal (a session description with its candidates).
constexpr size_t max_call_payload = 16 * 1024;

/// Body of `call`: signal `signal` of call `id` to account `to` (0: to every peer of the
/// call); an offer may name a group, whose members ring.
struct call_request {
  uint64_t to = 0;
  call_id id = 0;
  call_signal signal = call_signal::offer;
  bool video = false;
  bytes payload; ///< end-to-end encrypted for the peer; the server does not read it
};

/// One rung account's outcome.
struct call_ring {
  account_id id = 0;
  call_outcome outcome = call_outcome::offline;
};

/// Body of `call_rung`, the answer to an offer: each rung account's outcome.
struct call_ring_result {
  std::vector<call_ring> rung;
};

/// Payload of `call` pushes (the mail's `from` is the peer): a signal of the peer's app
/// (`reason` 0), or a hangup the server made (`reason` says why).
struct call_event {
  call_id id = 0;
  group_id group = 0;
  call_signal signal = call_signal::offer;
  uint8_t reason = 0; ///< 0, or a call_outcome
  bool video = false;
  bytes payload;
};

/// Payload of `missed_call` mail (the mail's `from` is the caller, its time when the call
/// was missed: the offer, or the end of its ring).
struct missed_call_body {
  call_id id = 0;
  group_id group = 0;
  bool video = false;
  call_outcome why = call_outcome::no_answer;
};

void write_body(bytes& out, const call_request& x);
void write_body(bytes& out, const call_ring_result& x);
void write_body(bytes& out, const call_event& x);
void write_body(bytes& out, const missed_call_body& x);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::call_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::call_ring_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::call_event)
