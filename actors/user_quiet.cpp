// A child's quiet hours in its user actor: the schedule is part of the account record
// (KV), set by the linked parent; while a session is attached the actor keeps `asleep`
// and a timer for the next start or end of a period (actors/quiet_hours.hpp has the
// calendar). Asleep, the session gets no pushes: mail waits in the store and is drained
// when the period ends, as after a login.
#include "actors/quiet_hours.hpp"
#include "actors/user_parts.hpp"
#include "cluster/shard_map.hpp"

namespace kinbox::user_parts {

namespace {

/// The timer never waits longer than this: a changed tz database or a clock that jumped
/// is seen within it.
constexpr uint64_t max_quiet_wait_ms = 6 * 3600 * 1000;

const quiet_schedule* schedule_of(const user_state& st) {
  if (!st.account || st.account->role != account_role::child || !st.account->quiet)
    return nullptr;
  return &*st.account->quiet;
}

/// How much later than the minutes set this child's periods begin and end: a fixed share
/// of the release spread, from its id.
uint64_t shift_ms(const user_state& st) {
  auto spread = static_cast<uint64_t>(st.deps->quiet_release_spread.count());
  return spread == 0 ? 0 : mix64(st.id) % (spread + 1);
}

/// The child's quiet hours at `now`, and when that changes next, on its shifted clock.
bool resting_at(const user_state& st, const quiet_schedule& s, uint64_t now) {
  return quiet_at(s, now - shift_ms(st));
}
uint64_t next_change(const user_state& st, const quiet_schedule& s, uint64_t now) {
  auto shift = shift_ms(st);
  return next_quiet_change(s, now - shift) + shift;
}

void arm_quiet_timer(user_pointer self) {
  auto& st = self->state;
  auto* s = schedule_of(st);
  ++st.quiet_timer; // an earlier timer fires for nothing
  if (s == nullptr || !st.session)
    return;
  auto now = st.deps->now_ms();
  auto wait = std::min(next_change(st, *s, now) - now, max_quiet_wait_ms);
  self->delayed_send(self, std::chrono::milliseconds(wait), quiet_atom::value, st.quiet_timer);
}

/// The period began: what waits for an ack is stored, page reads out are for nothing.
void fall_asleep(user_pointer self) {
  auto& st = self->state;
  ++st.attachment;
  auto held = st.mail->detached(self->clock().now());
  if (!held.empty())
    put_mail(self, std::move(held), true);
}

/// The period ended: the session is drained as after an attach.
void wake_up(user_pointer self) {
  auto& st = self->state;
  ++st.attachment;
  st.mail->attached();
  drain(self);
}

} // namespace

bool resting_now(const user_state& st) {
  auto* s = schedule_of(st);
  return s != nullptr && resting_at(st, *s, st.deps->now_ms());
}

void check_quiet(user_pointer self) {
  auto& st = self->state;
  bool now = st.session && resting_now(st);
  arm_quiet_timer(self);
  if (now == st.asleep)
    return;
  if (now)
    end_calls(self, call_outcome::asleep); // while the session still hears it
  st.asleep = now;
  log::get("user")->info("event={} account={}", now ? "quiet_began" : "quiet_ended", st.id);
  if (st.session)
    st.deps->service->push(*st.session, user_kind,
                           caf::make_message(asleep_atom::value, st.id, now));
  if (now)
    fall_asleep(self);
  else if (st.session)
    wake_up(self);
}

void clear_quiet(user_pointer self) {
  auto& st = self->state;
  if (!st.account || !st.account->quiet)
    return;
  st.account->quiet.reset();
  caf::anon_send(st.deps->kv, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                 encode_account(*st.account));
  check_quiet(self);
}

quiet_reply quiet_state(const user_state& st) {
  quiet_reply out;
  if (auto* s = schedule_of(st)) {
    auto now = st.deps->now_ms();
    out.schedule = *s;
    out.asleep = resting_at(st, *s, now);
    out.next_change_ms = next_change(st, *s, now);
  }
  return out;
}

void set_quiet(user_pointer self, const quiet_set_request& req, reply_to rp) {
  auto& st = self->state;
  if (st.account->role != account_role::child)
    return rp.deliver(error_reply(errc::invalid_argument, "only a child account has quiet hours"));
  if (req.schedule)
    if (auto problem = schedule_problem(*req.schedule))
      return rp.deliver(error_reply(errc::invalid_argument, *problem));
  auto before = std::exchange(st.account->quiet, req.schedule);
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                encode_account(*st.account))
      .then(store_reply<bool>(self,
                              [=](bool) mutable {
                                if (!self->state.account)
                                  return rp.deliver(account_changed_reply());
                                rp.deliver(ok_reply(quiet_state(self->state)));
                              }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              if (self->state.account) { // not kept: the schedule stays what KV has
                self->state.account->quiet = before;
                check_quiet(self);
              }
              rp.deliver(error_reply(err));
            }));
  log::get("user")->info("event=quiet_set account={} on={}", st.id, req.schedule.has_value());
  check_quiet(self);
}

} // namespace kinbox::user_parts
