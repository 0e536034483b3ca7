// The user actor: one per account, activated on its first request and kept while used.
// This file has its activation (load, idle, release), the batches of requests, and the
// behavior; the rest of its jobs are in the files user_parts.hpp lists.
#include "actors/user_actor.hpp"

#include <sodium.h>

#include "actors/user_parts.hpp"

namespace kinbox {

namespace user_parts {

/// Loads account and contacts from KV; every other message waits (await) meanwhile. An
/// id without an account reads both too, so it answers in the time an account takes.
void load(user_pointer self, std::function<void()> then) {
  auto kv = self->state.deps->kv;
  auto key = key_of(self->state.id);
  auto failed = [=](caf::error&) {
    self->state.load_failed = true;
    then();
  };
  self->request(kv, caf::infinite, kv_get_atom::value, kv_space::accounts, key)
      .await(
          [=](kv_lookup& acc) {
            self->request(kv, caf::infinite, kv_get_atom::value, kv_space::contacts, key)
                .await(
                    [=](kv_lookup& list) {
                      auto& st = self->state;
                      st.load_failed = false;
                      st.account.reset();
                      if (!acc.found)
                        return then();
                      st.account = decode_account(acc.value);
                      if (!st.account) {
                        log::get("user")->error("event=bad_account_record id={}", st.id);
                        st.load_failed = true;
                        return then();
                      }
                      if (list.found) {
                        auto decoded = contact_list_state::decode(list.value);
                        if (!decoded)
                          log::get("user")->error("event=bad_contacts_record id={}", st.id);
                        else
                          st.contacts = std::move(*decoded);
                      }
                      then();
                    },
                    failed);
          },
          failed);
}

/// Sends requests to other entities through the entity service (one message per local
/// entity or remote node) and logs what fails: notifications and receipts have no one to
/// answer.
void send_entities(user_pointer self, std::vector<entity_request> reqs) {
  auto& st = self->state;
  if (!st.client)
    st.client = std::make_unique<entity_client<notice>>(
        st.deps->service, [self](notice& n, entity_reply& reply) {
          if (n.then)
            n.then(reply);
          else if (!reply.ok())
            log::get("user")->warn("event=notify_failed account={} op={} code={}",
                                   self->state.id, n.op, errc_name(static_cast<errc>(reply.status)));
          finish_leaving(self);
        });
  for (auto& req : reqs) {
    auto op = req.op;
    st.client->call(std::move(req), notice{op, {}});
  }
  st.client->flush(self);
}

void send_entity(user_pointer self, entity_request req) {
  std::vector<entity_request> reqs;
  reqs.push_back(std::move(req));
  send_entities(self, std::move(reqs));
}

void ask_entity(user_pointer self, entity_request req, std::function<void(entity_reply&)> then) {
  send_entities(self, {});
  auto& st = self->state;
  auto op = req.op;
  st.client->call(std::move(req), notice{op, std::move(then)});
  st.client->flush(self);
}

/// Whether no store or KV write and no request to another entity is unanswered.
bool quiet(const user_state& st) {
  return st.store_calls == 0 && (!st.client || st.client->idle());
}

/// For a read whose answer came after the account's state went (deleted, or dropped while
/// idle): asked again, it is answered from KV.
entity_reply account_changed_reply() {
  return error_reply(errc::unavailable, "the account changed meanwhile; retry");
}

/// A child's messages go from its session straight to the recipients' actors, so the
/// session refuses them while the child is frozen: freezing closes the attached session
/// (the next login's attach says it is frozen), linking it again lets it send.
void tell_session_if_frozen(user_pointer self, bool was_frozen) {
  auto& st = self->state;
  bool now = frozen(st);
  if (now == was_frozen || !st.session)
    return;
  if (!now)
    return st.deps->service->push(*st.session, user_kind,
                                  caf::make_message(thawed_atom::value, st.id));
  st.deps->service->push(*st.session, user_kind,
                         caf::make_message(kick_atom::value, st.id,
                                           static_cast<uint16_t>(errc::account_frozen)));
  detach_session(self, st.deps->now_ms());
}

/// Whether a batch attaches a session (then an account unknown at activation is read
/// again: it may have registered since).
bool attaches(const std::vector<entity_request>& reqs) {
  return std::any_of(reqs.begin(), reqs.end(), [](const entity_request& r) {
    return r.op == static_cast<uint8_t>(user_op::attach);
  });
}

/// Handles requests in order, then stores the mail they delivered in one put. If loading
/// the state failed (KV unreachable), it is loaded once more first.
void handle_all(user_pointer self, std::vector<entity_request> reqs, std::vector<reply_to> replies,
                bool reloaded) {
  auto& st = self->state;
  st.life.touch(st.deps->now_ms());
  if (!st.session)
    st.life.arm_idle(self); // also after a deletion or a kick, which end the session without a detach
  if (!st.life.serving(*st.deps->service->view()))
    return entity_life::bounce(reqs, replies);
  if (st.unloaded) {
    st.unloaded = false;
    load(self, [=]() mutable {
      after_load(self);
      handle_all(self, std::move(reqs), std::move(replies), true);
    });
    return;
  }
  if (!st.load_failed && !st.account && !reloaded && attaches(reqs)) {
    load(self, [=]() mutable { handle_all(self, std::move(reqs), std::move(replies), true); });
    return;
  }
  if (st.load_failed) {
    if (reloaded) {
      for (auto& rp : replies)
        rp.deliver(error_reply(errc::unavailable, "account state could not be loaded"));
      return;
    }
    load(self, [=]() mutable { handle_all(self, std::move(reqs), std::move(replies), true); });
    return;
  }
  if (st.account && st.contacts.expire(st.deps->now_ms(), st.deps->friend_limits))
    st.contacts_expired = true;
  for (size_t i = 0; i < reqs.size(); ++i)
    handle(self, reqs[i], std::move(replies[i]));
  store_incoming(self);
}

void after_load(user_pointer self) {
  if (!self->state.session)
    self->state.life.arm_idle(self);
  if (self->state.account)
    forget_deleted_blocks(self);
}

/// Whether the actor holds nothing that is not in KV or the store (a link code waiting to
/// be redeemed is only here), and waits for nothing.
bool can_stop(const user_state& st, uint64_t now_ms) {
  return quiet(st) && !st.session && st.calls.empty() &&
         st.mail->quiet() && st.incoming.empty() &&
         (!st.code || st.code->expired(now_ms));
}

user_actor::behavior_type user_behavior(user_pointer self, account_id id,
                                        std::shared_ptr<const user_deps> deps, entity_host host) {
  self->state.id = id;
  self->state.deps = std::move(deps);
  self->state.life = entity_life{user_kind, id, std::move(host)};
  auto& d = *self->state.deps;
  self->state.mail.emplace(mail_pipeline_config{d.mail_ttl, d.ack_window, d.max_held_per_user,
                                                d.held, d.drain_pages_in_flight,
                                                d.redeliver_after});
  load(self, [=] { after_load(self); });
  return {
      [=](entity_request& req) -> caf::result<entity_reply> {
        auto rp = self->make_response_promise<entity_reply>();
        std::vector<entity_request> reqs;
        reqs.push_back(std::move(req));
        std::vector<reply_to> replies{reply_to{rp}};
        self->state.life.track(replies);
        handle_all(self, std::move(reqs), std::move(replies));
        return rp;
      },
      [=](std::vector<entity_request>& reqs) -> caf::result<std::vector<entity_reply>> {
        auto [rp, replies] = reply_to::for_batch(self, reqs.size());
        self->state.life.track(replies);
        if (!reqs.empty())
          handle_all(self, std::move(reqs), std::move(replies));
        return rp;
      },
      [=](release_atom) -> caf::result<bool> {
        auto& st = self->state;
        auto rp = self->make_response_promise<bool>();
        st.life.release(rp);
        end_calls(self, call_outcome::ended); // a call's state does not move
        store_held(self, true);
        // The session stays online: it attaches again, to the shard's next owner.
        if (st.session)
          st.deps->service->push(*st.session, user_kind,
                                 caf::make_message(reattach_atom::value, st.id));
        st.session.reset();
        finish_leaving(self);
        return rp;
      },
      [=](node_down_atom, const std::string& node, uint64_t incarnation, uint64_t last_heartbeat) {
        auto& st = self->state;
        if (st.session && st.session->node == node && st.session->incarnation == incarnation)
          detach_session(self, last_heartbeat);
      },
      [=](stored_atom) {
        auto& st = self->state;
        st.mail->stored_elsewhere(); // handed over from another node: page it in
        if (st.session && !st.mail->more())
          drain(self);
      },
      [=](flush_atom) {
        store_held(self, true);
        return true;
      },
      [=](redeliver_atom, uint64_t attachment) {
        auto& st = self->state;
        st.mail->check_fired();
        if (attachment == st.attachment && st.session)
          redeliver(self);
        else
          arm_redeliver(self); // for the session attached since, if any
      },
      [=](ring_atom, uint64_t call) { ring_over(self, call); },
      [=](quiet_atom, uint64_t generation) {
        if (generation == self->state.quiet_timer)
          check_quiet(self);
      },
      [=](held_atom) {
        self->state.mail->held_timer_fired();
        store_held(self, false);
        arm_held_timer(self);
      },
      [=](idle_atom) {
        auto& st = self->state;
        if (st.session)
          return st.life.idle_paused(); // the detach starts it again
        auto now = st.deps->now_ms();
        if (!st.life.idle(self, now))
          return;
        if (!can_stop(st, now))
          return st.life.arm_idle(self);
        if (!st.account)
          return st.life.passivate(self); // what a caller sends meanwhile gets `moved`
        if (st.contacts_expired) {
          // Expired requests are written before the list leaves memory; unloaded next time.
          put_contacts(self).then(store_reply<bool>(self, [](bool) {}),
                                  store_reply<caf::error>(self, [](caf::error&) {}));
          return st.life.arm_idle(self);
        }
        st.unloaded = true;
        st.account.reset();
        st.contacts = contact_list_state{};
        st.device.reset();
        st.code.reset();
        st.client.reset();
        st.gone.clear();
      },
      [=](linger_atom) { self->state.life.linger(self, quiet(self->state)); },
      [=](entity_retry_atom) {
        if (self->state.client)
          self->state.client->retry(self);
      },
  };
}

/// A leaving actor answers its release and stops once nothing it started is open.
void finish_leaving(user_pointer self) {
  if (quiet(self->state))
    self->state.life.left(self);
}

} // namespace user_parts

std::string setup_hash_of(uint64_t secret) {
  std::array<uint8_t, 8> raw{};
  for (size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<uint8_t>(secret >> (56 - 8 * i));
  std::array<uint8_t, 16> hash{};
  crypto_generichash(hash.data(), hash.size(), raw.data(), raw.size(), nullptr, 0);
  return crypto::to_hex(hash);
}

user_actor spawn_user(caf::actor_system& sys, account_id id,
                      std::shared_ptr<const user_deps> deps, entity_host host) {
  return sys.spawn(user_parts::user_behavior, id, std::move(deps), std::move(host));
}

entity_kind_spec user_kind_spec(std::shared_ptr<const user_deps> deps, shard_keeper mail) {
  return {user_kind,
          [deps](caf::actor_system& sys, uint64_t id, entity_host host) {
            return entity_actor{spawn_user(sys, id, deps, std::move(host))};
          },
          std::move(mail),
          caf::duration{std::chrono::seconds(60)}};
}

uint64_t system_now_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

} // namespace kinbox
