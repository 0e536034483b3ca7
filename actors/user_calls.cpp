// The calls of an account, in its user actor: the signals of its own app go to the peers
// of a call (an offer to a friend, or through a group's chat actor to its members), and
// the signals of peers are pushed to the attached session. Nothing of a call is stored:
// its state (ringing or answered, and its peers) lives in this actor's memory and ends
// with the call. A ring lasts `ring_timeout`; an offer to an account that is offline or
// in its quiet hours, a ring that ends unanswered and a caller that hangs up first leave
// the callee one `missed_call` mail, ordinary undelivered mail with the mail TTL.
#include <sodium.h>

#include "actors/chat_interface.hpp"
#include "actors/user_parts.hpp"

namespace kinbox::user_parts {

namespace {

std::vector<call_state>::iterator find_call(user_state& st, call_id id) {
  return std::find_if(st.calls.begin(), st.calls.end(),
                      [&](const call_state& c) { return c.id == id; });
}

bool has_peer(const call_state& c, account_id peer) {
  return std::find(c.peers.begin(), c.peers.end(), peer) != c.peers.end();
}

void drop_peer(call_state& c, account_id peer) {
  std::erase(c.peers, peer);
}

entity_reply no_call() {
  return error_reply(errc::not_found, "no such call");
}

/// Pushes a call event from `peer` to the attached session (dropped without one).
void push_event(user_pointer self, account_id peer, call_event ev) {
  auto& st = self->state;
  push(self, {mail_push{mail_kind::call, peer, message_id{}, st.deps->now_ms(), encode_body(ev)}});
}

/// Sends a signal to a peer. Its answer does not matter: a peer that ended the call
/// meanwhile answers `not_found`, and a peer out of reach has its own ring timer.
void signal_peer(user_pointer self, account_id peer, call_event ev) {
  ask_entity(self, user_request<user_op::call_in>(peer, self->state.id, std::move(ev)),
             [](entity_reply&) {});
}

/// Tells `peer` the server ended call `c` for this account, and why.
void hang_up_for(user_pointer self, const call_state& c, account_id peer, call_outcome why) {
  signal_peer(self, peer,
              call_event{c.id, c.group, call_signal::hangup, static_cast<uint8_t>(why), c.video, {}});
}

/// Leaves a missed call from `caller` in the account's mail, as if `caller` sent it.
void store_missed_call(user_pointer self, account_id caller, call_id id, group_id group,
                       bool video, call_outcome why) {
  auto& st = self->state;
  message_id mail_id;
  randombytes_buf(mail_id.data(), mail_id.size());
  auto payload = encode_body(missed_call_body{id, group, video, why});
  st.incoming.push_back(incoming_mail{caller,
                                      deliver_body{mail_kind::missed_call, mail_id, std::move(payload)},
                                      reply_to{caf::typed_response_promise<entity_reply>{}}});
  store_incoming(self);
  log::get("user")->debug("event=missed_call account={} why={}", st.id, call_outcome_name(why));
}

/// An offer from this account: recorded before the callee is asked (its answer may
/// overtake the reply), kept only if someone rings.
void place_call(user_pointer self, call_request& req, reply_to rp) {
  auto& st = self->state;
  if (req.to == 0 || req.to == st.id)
    return rp.deliver(error_reply(errc::invalid_argument, "an offer needs a friend or a group"));
  if (find_call(st, req.id) != st.calls.end())
    return rp.deliver(error_reply(errc::invalid_argument, "that call id is in use"));
  if (st.calls.size() >= max_calls_per_account)
    return rp.deliver(error_reply(errc::invalid_argument, "too many calls at once"));
  if (frozen(st))
    return rp.deliver(error_reply(errc::account_frozen));
  bool group = is_group_id(req.to);
  if (!group && !st.contacts.approves(req.to))
    return rp.deliver(error_reply(errc::not_found));
  auto id = req.id;
  st.calls.push_back(call_state{id, group ? req.to : 0, req.video, true, false,
                                group ? std::vector<account_id>{} : std::vector<account_id>{req.to}});
  auto settle = [=](entity_reply& r) mutable {
    auto& st = self->state;
    auto call = find_call(st, id);
    auto* rung = result_as<call_ring_result>(r);
    if (!r.ok() || rung == nullptr) {
      if (call != st.calls.end())
        st.calls.erase(call);
      return rp.deliver(r.ok() ? error_reply(errc::internal, "no ring result") : std::move(r));
    }
    if (call != st.calls.end()) {
      call->peers.clear();
      for (auto& ring : rung->rung)
        if (ring.outcome == call_outcome::ringing)
          call->peers.push_back(ring.id);
      if (call->peers.empty())
        st.calls.erase(call);
    }
    rp.deliver(ok_reply(std::move(*rung)));
  };
  if (group)
    return ask_entity(self, chat_request<chat_op::ring>(req.to, st.id, std::move(req)), settle);
  call_event offer{id, 0, call_signal::offer, 0, req.video, std::move(req.payload)};
  ask_entity(self, user_request<user_op::call_in>(req.to, st.id, std::move(offer)), settle);
}

/// An offer to this account from `from` (a friend, or a member of group `ev.group`).
void ring(user_pointer self, account_id from, call_event& ev, reply_to rp) {
  auto& st = self->state;
  auto answer = [&](call_outcome o) {
    rp.deliver(ok_reply(call_ring_result{{call_ring{st.id, o}}}));
  };
  if (st.banned || frozen(st) || !st.contacts.approves(from))
    return rp.deliver(error_reply(errc::not_found));
  if (find_call(st, ev.id) != st.calls.end())
    return answer(call_outcome::ringing); // the same offer again
  if (!st.calls.empty())
    return answer(call_outcome::busy);
  auto missed = [&](call_outcome why) {
    store_missed_call(self, from, ev.id, ev.group, ev.video, why);
    answer(why);
  };
  if (resting_now(st))
    return missed(call_outcome::asleep);
  if (!st.session)
    return missed(call_outcome::offline);
  st.calls.push_back(call_state{ev.id, ev.group, ev.video, false, false, {from}});
  self->delayed_send(self, st.deps->ring_timeout, ring_atom::value, ev.id);
  auto id = ev.id;
  push_event(self, from, std::move(ev));
  log::get("user")->debug("event=call_ringing account={} call={}", st.id, id);
  answer(call_outcome::ringing);
}

} // namespace

void call_out(user_pointer self, call_request& req, reply_to rp) {
  auto& st = self->state;
  if (req.signal == call_signal::offer)
    return place_call(self, req, std::move(rp));
  auto call = find_call(st, req.id);
  if (call == st.calls.end() || (req.to != 0 && !has_peer(*call, req.to)))
    return rp.deliver(no_call());
  if (req.signal == call_signal::answer) {
    if (call->placed || call->answered)
      return rp.deliver(error_reply(errc::invalid_argument, "only a ringing callee answers"));
    call->answered = true;
  }
  auto targets = req.to != 0 ? std::vector<account_id>{req.to} : call->peers;
  for (auto peer : targets)
    signal_peer(self, peer, call_event{call->id, call->group, req.signal, 0, call->video, req.payload});
  bool ends = req.signal == call_signal::decline || req.signal == call_signal::busy ||
              req.signal == call_signal::hangup;
  if (ends) {
    for (auto peer : targets)
      drop_peer(*call, peer);
    if (call->peers.empty())
      st.calls.erase(call);
  }
  rp.deliver(ok_reply());
}

void call_in(user_pointer self, account_id from, call_event& ev, reply_to rp) {
  auto& st = self->state;
  if (ev.signal == call_signal::offer)
    return ring(self, from, ev, std::move(rp));
  auto call = find_call(st, ev.id);
  if (call == st.calls.end() || !has_peer(*call, from))
    return rp.deliver(no_call());
  if (ev.signal == call_signal::answer && call->placed)
    call->answered = true;
  bool ends = ev.signal == call_signal::decline || ev.signal == call_signal::busy ||
              ev.signal == call_signal::hangup;
  if (ends) {
    // A caller that gives up before the callee answered leaves it a missed call.
    if (!call->placed && !call->answered && ev.signal == call_signal::hangup)
      store_missed_call(self, from, call->id, call->group, call->video, call_outcome::ended);
    drop_peer(*call, from);
    if (call->peers.empty())
      st.calls.erase(call);
  }
  push_event(self, from, std::move(ev));
  rp.deliver(ok_reply());
}

void ring_over(user_pointer self, call_id id) {
  auto& st = self->state;
  auto call = find_call(st, id);
  if (call == st.calls.end() || call->placed || call->answered)
    return;
  auto c = std::move(*call);
  st.calls.erase(call);
  for (auto peer : c.peers) {
    hang_up_for(self, c, peer, call_outcome::no_answer);
    push_event(self, peer, call_event{c.id, c.group, call_signal::hangup,
                                      static_cast<uint8_t>(call_outcome::no_answer), c.video, {}});
    store_missed_call(self, peer, c.id, c.group, c.video, call_outcome::no_answer);
  }
}

void end_calls_with(user_pointer self, account_id other) {
  auto& st = self->state;
  for (auto call = st.calls.begin(); call != st.calls.end();) {
    if (!has_peer(*call, other)) {
      ++call;
      continue;
    }
    hang_up_for(self, *call, other, call_outcome::ended);
    push_event(self, other, call_event{call->id, call->group, call_signal::hangup,
                                       static_cast<uint8_t>(call_outcome::ended), call->video, {}});
    drop_peer(*call, other);
    call = call->peers.empty() ? st.calls.erase(call) : call + 1;
  }
}

void end_calls(user_pointer self, call_outcome why, bool all) {
  auto& st = self->state;
  std::vector<call_state> ended;
  std::erase_if(st.calls, [&](call_state& c) {
    if (!all && !c.placed && !c.answered)
      return false;
    ended.push_back(std::move(c));
    return true;
  });
  for (auto& c : ended)
    for (auto peer : c.peers) {
      hang_up_for(self, c, peer, why);
      push_event(self, peer, call_event{c.id, c.group, call_signal::hangup,
                                        static_cast<uint8_t>(why), c.video, {}});
    }
  if (!ended.empty())
    log::get("user")->info("event=calls_ended account={} count={} why={}", st.id, ended.size(),
                           call_outcome_name(why));
}

} // namespace kinbox::user_parts
