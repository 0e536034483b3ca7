// The family's operations: each request to its end, with the PIN checks (counted before
// they are checked), link codes redeemed with the parent's user entity, approvals.
#include "actors/family_parts.hpp"
#include "config/metrics.hpp"

#include <sodium.h>

namespace kinbox::family_parts {

namespace {

/// Hashes `pin` on a PIN worker (never here), then `then(hash)`; answers `rp` and ends on
/// a full queue or a failure.
void hash_pin(family_pointer self, std::string pin, reply_to rp,
              std::function<void(reply_to, std::string)> then) {
  auto& deps = *self->state.deps;
  if (auto why = crypto::new_pin_problem(pin))
    return finish(self, std::move(rp), error_reply(errc::invalid_argument, *why));
  auto acquired = deps.pins->acquire(self->state.child);
  if (!acquired)
    return finish(self, std::move(rp),
                  error_reply(failure{errc::rate_limited, "too many PIN checks at once", 1000}));
  auto turn = *acquired;
  auto pins = deps.pins;
  self->request(turn.worker, caf::infinite, pin_hash_atom::value, std::move(pin))
      .then(
          [=](std::string& hash) mutable {
            pins->done(turn);
            then(std::move(rp), std::move(hash));
          },
          [=](caf::error& err) mutable {
            pins->done(turn);
            finish(self, std::move(rp), error_reply(err));
          });
}

/// Checks the PIN typed on the child's device: refused while locked; counted (durably)
/// before the hash is checked; `then` runs only for the right PIN. The parent hears of
/// a lockout.
void check_pin(family_pointer self, std::string pin, reply_to rp,
               std::function<void(reply_to)> then) {
  auto& st = self->state;
  auto& f = *st.family;
  auto now = st.deps->now_ms();
  if (f.pin_hash.empty())
    return finish(self, std::move(rp), error_reply(errc::not_found, "no parent PIN is set"));
  if (auto wait = f.pin_wait(now))
    return finish(
        self, std::move(rp),
        error_reply(failure{errc::pin_locked, "too many wrong PINs",
                            static_cast<uint32_t>(std::min<uint64_t>(*wait, UINT32_MAX))}));
  if (!crypto::is_valid_pin(pin))
    return finish(self, std::move(rp), error_reply(errc::invalid_argument, "a PIN is four digits"));
  auto acquired = st.deps->pins->acquire(st.child);
  if (!acquired)
    return finish(self, std::move(rp),
                  error_reply(failure{errc::rate_limited, "too many PIN checks at once", 1000}));
  auto turn = *acquired;
  bool locks = f.count_pin_try(now, st.deps->pin_limits);
  auto hash = f.pin_hash;
  auto pins = st.deps->pins;
  auto give_back = [pins, turn] { pins->done(turn); };
  save(
      self, std::move(rp),
      [=, pin = std::move(pin)](reply_to rp) mutable {
        self->request(turn.worker, caf::infinite, pin_check_atom::value, hash, std::move(pin))
            .then(
                [=](bool right) mutable {
                  pins->done(turn);
                  auto& f = *self->state.family;
                  if (right) {
                    metrics::get().pin_checks_right.Increment();
                    f.pin_right();
                    save(self, std::move(rp), then);
                    return;
                  }
                  logger()->info("event=wrong_pin child={} failures={} locked={}", f.child,
                                 f.pin_failures, locks);
                  metrics::get().pin_checks_wrong.Increment();
                  if (locks) {
                    metrics::get().pin_lockouts.Increment();
                    notify_parent(self, notice_type::pin_locked, 0, f.locked_until_ms);
                  }
                  finish(self, std::move(rp), error_reply(errc::wrong_pin));
                },
                [=](caf::error& err) mutable {
                  pins->done(turn);
                  finish(self, std::move(rp), error_reply(err));
                });
      },
      give_back);
}

/// Tells the child's user actor the parent's answer, once the record no longer holds it.
void decide(family_pointer self, account_id other, bool approve, reply_to rp) {
  auto& f = *self->state.family;
  if (!f.take_approval(other))
    return finish(self, std::move(rp), error_reply(errc::not_found, "nothing waits for approval"));
  save(self, std::move(rp), [=](reply_to rp) mutable {
    auto& st = self->state;
    call_user(self, user_request<user_op::parent_decision>(st.child, st.child, {other, approve}),
              [=](entity_reply& r) mutable {
                if (r.ok())
                  finish(self, std::move(rp), ok_reply());
                else
                  finish(self, std::move(rp), error_reply(r.to_failure()));
              });
  });
}

/// Links the child to `parent` once that parent's code is right. A linked child moves
/// only with its parent's PIN (checked first, counted as any try): the old parent is told.
void redeem(family_pointer self, link_redeem_request req, reply_to rp, bool pin_right = false) {
  auto& st = self->state;
  if (st.family->linked() && !pin_right) {
    if (req.pin.empty())
      return finish(self, std::move(rp), error_reply(errc::already_linked));
    auto pin = std::move(req.pin);
    req.pin.clear();
    return check_pin(self, std::move(pin), std::move(rp), [=](reply_to rp) mutable {
      redeem(self, std::move(req), std::move(rp), true);
    });
  }
  auto no_code = error_reply(errc::not_found, "no such link code");
  if (auto wait = st.family->redeems.take(st.deps->link_redeems, st.deps->now_ms()))
    return save(self, std::move(rp), [=](reply_to rp) {
      finish(self, std::move(rp),
             error_reply(failure{errc::rate_limited, "too many link codes tried", *wait}));
    });
  if (req.parent == 0 || req.parent == st.child)
    return save(self, std::move(rp), [=](reply_to rp) { finish(self, std::move(rp), no_code); });
  auto parent = req.parent;
  call_user(self, user_request<user_op::redeem_link_code>(parent, st.child, {req.secret}),
            [=](entity_reply& r) mutable {
              // Whatever the id is (no account, a child, a parent without a code or with
              // another one), the answer is the same: the id tells nothing.
              if (!r.ok() && !errc_retryable(static_cast<errc>(r.status)))
                return save(self, std::move(rp),
                            [=](reply_to rp) { finish(self, std::move(rp), no_code); });
              if (!r.ok())
                return finish(self, std::move(rp), error_reply(r.to_failure()));
              auto& f = *self->state.family;
              auto old_parent = f.parent; // a move: the child's PIN was right
              if (old_parent == parent)
                return finish(self, std::move(rp), error_reply(errc::already_linked));
              auto before = f;
              if (old_parent != 0)
                f.unlink();
              f.parent = parent;
              f.linked_ms = self->state.deps->now_ms();
              auto* hash = result_as<pin_hash_reply>(r);
              if (hash == nullptr)
                return finish(self, std::move(rp), error_reply(errc::internal, "no PIN hash"));
              f.pin_hash = hash->hash;
              f.pin_right();
              auto restore = [=]() mutable {
                auto& st = self->state;
                auto redeems = st.family->redeems; // tries stay counted
                st.family = std::move(before);
                st.family->redeems = redeems;
                // The failed write may have landed all the same: the old link is written
                // back, so KV does not keep a move nobody was told of.
                caf::anon_send(st.deps->kv, kv_put_atom::value, kv_space::families,
                               std::to_string(st.child), st.family->encode());
              };
              save(
                  self, std::move(rp),
                  [=](reply_to rp) mutable {
                    auto& f = *self->state.family;
                    // The old parent hears of the move once it is recorded, not before.
                    auto child = f.child;
                    if (old_parent != 0) {
                      call_user(self, user_request<user_op::child_unlinked>(
                                          old_parent, child, {unlink_reason::moved}));
                      logger()->info("event=moved child={} from={} to={}", f.child, old_parent,
                                     parent);
                      self->state.location.reset();
                    }
                    call_user(self, user_request<user_op::linked>(child, child, {parent}));
                    call_user(self, user_request<user_op::child_linked>(parent, child));
                    notify_parent(self, notice_type::linked, 0, f.linked_ms);
                    for (auto& a : f.approvals)
                      notify_parent(self, notice_type::approval_needed, a.other, a.ours ? 1 : 0);
                    logger()->info("event=linked child={} parent={}", f.child, parent);
                    finish(self, std::move(rp), ok_reply());
                  },
                  std::move(restore));
            });
}

/// The waiting steps, each with who the other side is (its name, role and parent's name)
/// once it asked the child or answered it: a parent approves people, not ids.
void list_approvals(family_pointer self, reply_to rp) {
  auto& f = *self->state.family;
  auto list = std::make_shared<approval_list>();
  for (auto& a : f.approvals)
    list->entries.push_back({a.other, a.ours, a.since_ms, {}, static_cast<account_role>(0), {}});
  if (list->entries.empty())
    return finish(self, std::move(rp), ok_reply(*list));
  auto remaining = std::make_shared<size_t>(list->entries.size());
  auto child = self->state.child;
  for (size_t i = 0; i < list->entries.size(); ++i)
    call_user(self, user_request<user_op::card>(list->entries[i].other, child, {false}),
              [=](entity_reply& r) mutable {
                if (auto* card = result_as<card_body>(r)) {
                  auto& e = list->entries[i];
                  e.name = card->profile.name;
                  e.role = card->role;
                  e.parent_name = card->parent_name;
                }
                if (--*remaining == 0)
                  finish(self, std::move(rp), ok_reply(*list));
              });
}

link_info info_of(const family_state& f) {
  return link_info{f.child,
                   f.parent,
                   static_cast<uint8_t>(f.policy),
                   f.location_sharing,
                   !f.pin_hash.empty(),
                   f.locked_until_ms};
}

} // namespace

void handle(family_pointer self, entity_request& req, reply_to rp) {
  auto& st = self->state;
  auto& f = *st.family;
  auto now = st.deps->now_ms();
  bool by_child = req.caller == st.child;
  bool by_parent = f.is_parent(req.caller);
  auto bad = [&](const char* why) {
    finish(self, std::move(rp), error_reply(errc::invalid_argument, why));
  };
  if (!by_child && !by_parent)
    return finish(self, std::move(rp), not_found());
  bool expired = f.expire_approvals(now, st.deps->approval_ttl_ms);
  switch (static_cast<family_op>(req.op)) {
  case family_op::redeem: {
    auto* body = arg<family_op::redeem>(req);
    if (!by_child || !body)
      return by_child ? bad("malformed link code") : finish(self, std::move(rp), not_found());
    return redeem(self, *body, std::move(rp));
  }
  case family_op::unlink:
    if (!by_parent)
      return finish(self, std::move(rp), not_found());
    {
      auto parent = f.parent;
      f.unlink();
      st.location.reset();
      return save(self, std::move(rp), [=](reply_to rp) mutable {
        auto child = self->state.child;
        call_user(self, user_request<user_op::unlinked>(child, child));
        call_user(self, user_request<user_op::child_unlinked>(parent, child));
        logger()->info("event=unlinked child={} parent={}", self->state.child, parent);
        finish(self, std::move(rp), ok_reply());
      });
    }
  case family_op::set_pin: {
    auto* body = arg<family_op::set_pin>(req);
    if (!by_parent)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed PIN");
    auto pin = body->pin;
    sodium_memzero(body->pin.data(), body->pin.size());
    return hash_pin(self, std::move(pin), std::move(rp), [=](reply_to rp, std::string hash) {
      auto& f = *self->state.family;
      f.pin_hash = std::move(hash);
      f.pin_right();
      save(self, std::move(rp), [=](reply_to rp) { finish(self, std::move(rp), ok_reply()); });
    });
  }
  case family_op::change_pin: {
    auto* body = arg<family_op::change_pin>(req);
    if (!by_child)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed PIN change");
    if (auto why = crypto::new_pin_problem(body->new_pin))
      return finish(self, std::move(rp), error_reply(errc::invalid_argument, *why));
    auto fresh = body->new_pin;
    sodium_memzero(body->new_pin.data(), body->new_pin.size());
    return check_pin(self, std::move(body->old_pin), std::move(rp), [=](reply_to rp) mutable {
      hash_pin(self, std::move(fresh), std::move(rp), [=](reply_to rp, std::string hash) {
        self->state.family->pin_hash = std::move(hash);
        save(self, std::move(rp), [=](reply_to rp) {
          notify_parent(self, notice_type::pin_changed, 0, self->state.deps->now_ms());
          finish(self, std::move(rp), ok_reply());
        });
      });
    });
  }
  case family_op::approval_needed: {
    auto* body = arg<family_op::approval_needed>(req);
    if (!by_child || !body)
      return by_child ? bad("malformed approval") : finish(self, std::move(rp), not_found());
    auto other = body->other;
    auto ours = body->yes;
    if (!f.needs_approval())
      return finish(self, std::move(rp), ok_reply(approval_answer{true}));
    bool added = f.add_approval(other, ours, now);
    if (!added && !expired)
      return finish(self, std::move(rp), ok_reply(approval_answer{false}));
    return save(self, std::move(rp), [=](reply_to rp) {
      if (added)
        notify_parent(self, notice_type::approval_needed, other, ours);
      finish(self, std::move(rp), ok_reply(approval_answer{false}));
    });
  }
  case family_op::list_approvals:
    return list_approvals(self, std::move(rp));
  case family_op::approval_profile: {
    auto* body = arg<family_op::approval_profile>(req);
    if (!by_parent)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed approval profile");
    auto other = body->id;
    if (std::none_of(f.approvals.begin(), f.approvals.end(),
                     [&](const pending_approval& a) { return a.other == other; }))
      return finish(self, std::move(rp),
                    error_reply(errc::not_found, "nothing waits for approval"));
    return call_user(
        self, user_request<user_op::card>(other, st.child, {true}), [=](entity_reply& r) mutable {
          auto* card = result_as<card_body>(r);
          if (!card)
            return finish(self, std::move(rp),
                          r.ok() || !errc_retryable(static_cast<errc>(r.status))
                              ? error_reply(errc::not_found, "they have not answered the child yet")
                              : error_reply(r.to_failure()));
          finish(self, std::move(rp), ok_reply(card->profile));
        });
  }
  case family_op::decide: {
    auto* body = arg<family_op::decide>(req);
    if (!by_parent)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed decision");
    return decide(self, body->other, body->approve, std::move(rp));
  }
  case family_op::decide_with_pin: {
    auto* body = arg<family_op::decide_with_pin>(req);
    if (!by_child)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed decision");
    auto other = body->other;
    auto approve = body->approve;
    if (std::none_of(f.approvals.begin(), f.approvals.end(),
                     [&](const pending_approval& a) { return a.other == other; }))
      return finish(self, std::move(rp),
                    error_reply(errc::not_found, "nothing waits for approval"));
    return check_pin(self, std::move(body->pin), std::move(rp),
                     [=](reply_to rp) mutable { decide(self, other, approve, std::move(rp)); });
  }
  case family_op::set_policy: {
    auto* body = arg<family_op::set_policy>(req);
    if (!by_parent)
      return finish(self, std::move(rp), not_found());
    auto policy = body != nullptr ? body->policy : 0;
    if (policy != 1 && policy != 2)
      return bad("policy is 1 (parent approves) or 2 (child alone)");
    f.policy = static_cast<friend_policy>(policy);
    return save(self, std::move(rp), [=](reply_to rp) { finish(self, std::move(rp), ok_reply()); });
  }
  case family_op::get_link:
    return finish(self, std::move(rp), ok_reply(info_of(f)));
  case family_op::location_update: {
    auto* body = arg<family_op::location_update>(req);
    if (!by_child)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed location");
    if (!f.linked())
      return finish(self, std::move(rp), error_reply(errc::not_found, "no parent to share with"));
    if (!f.location_sharing)
      return finish(self, std::move(rp), error_reply(errc::location_off));
    st.location = latest_location{now, std::move(body->payload)};
    call_user(self,
              user_request<user_op::location>(f.parent, st.child, {now, st.location->payload}));
    return finish(self, std::move(rp), ok_reply());
  }
  case family_op::erase: {
    auto* body = arg<family_op::erase>(req);
    if (!by_child)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed erase");
    auto parent = f.parent;
    bool with_pin = body->by_child_with_pin;
    st.location.reset();
    return self
        ->request(st.deps->kv, caf::infinite, kv_delete_atom::value, kv_space::families,
                  std::to_string(st.child))
        .then(
            [=](bool) mutable {
              auto& st = self->state;
              if (parent != 0)
                call_user(self, user_request<user_op::child_unlinked>(
                                    parent, st.child,
                                    {with_pin ? unlink_reason::deleted_by_child
                                              : unlink_reason::deleted}));
              logger()->info("event=family_erased child={}", st.child);
              st.family = family_state{};
              st.family->child = st.child;
              finish(self, std::move(rp), ok_reply());
            },
            [=](caf::error& err) mutable {
              finish(self, std::move(rp), error_reply(err, "the family record stays"));
            });
  }
  case family_op::found: {
    auto* body = arg<family_op::found>(req);
    if (!by_child)
      return finish(self, std::move(rp), not_found());
    auto parent = body != nullptr ? body->id : 0;
    if (parent == 0 || parent == st.child)
      return bad("malformed parent");
    if (f.linked())
      return finish(self, std::move(rp), error_reply(errc::already_linked));
    f.parent = parent;
    f.linked_ms = now;
    return save(self, std::move(rp), [=](reply_to rp) mutable {
      call_user(self, user_request<user_op::child_linked>(parent, self->state.child));
      logger()->info("event=linked child={} parent={} by=creation", self->state.child, parent);
      finish(self, std::move(rp), ok_reply());
    });
  }
  case family_op::forget: {
    auto* body = arg<family_op::forget>(req);
    if (!by_child)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed account");
    if (!f.take_approval(body->id))
      return finish(self, std::move(rp), ok_reply());
    return save(self, std::move(rp), [=](reply_to rp) { finish(self, std::move(rp), ok_reply()); });
  }
  case family_op::verify_pin: {
    auto* body = arg<family_op::verify_pin>(req);
    if (!by_child)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed PIN");
    auto pin = body->pin;
    sodium_memzero(body->pin.data(), body->pin.size());
    return check_pin(self, std::move(pin), std::move(rp),
                     [=](reply_to rp) { finish(self, std::move(rp), ok_reply()); });
  }
  case family_op::location_latest: {
    if (!by_parent)
      return finish(self, std::move(rp), not_found());
    auto& loc = st.location;
    if (loc && loc->at_ms + st.deps->location_ttl_ms <= now)
      loc.reset(); // too old to be of use: forgotten
    location_reply out;
    if (loc && f.location_sharing)
      out.fix = location_body{loc->at_ms, loc->payload};
    return finish(self, std::move(rp), ok_reply(std::move(out)));
  }
  case family_op::location_sharing: {
    auto* body = arg<family_op::location_sharing>(req);
    if (!by_parent)
      return finish(self, std::move(rp), not_found());
    if (!body)
      return bad("malformed location sharing");
    f.location_sharing = body->on;
    if (!f.location_sharing)
      st.location.reset();
    logger()->info("event=location_sharing child={} on={}", f.child, f.location_sharing);
    return save(self, std::move(rp), [=](reply_to rp) { finish(self, std::move(rp), ok_reply()); });
  }
  }
  bad("unknown family operation");
}

} // namespace kinbox::family_parts
