// The user actor's family work: a parent's link code, child accounts made by their parent
// and their setup codes, a child's own deletion with its parent's PIN, and the keys of a
// banned account.
#include "actors/user_parts.hpp"

namespace kinbox::user_parts {

/// A parent makes a link code (one at a time; a new one replaces the last) with the PIN
/// the link will have, hashed off the scheduler before the code is answered.
void make_link_code(user_pointer self, link_create_request req, reply_to rp) {
  auto& st = self->state;
  auto body = &req;
  if (st.account->role != account_role::parent)
    return rp.deliver(error_reply(errc::invalid_argument, "only a parent account makes link codes"));
  if (auto why = crypto::new_pin_problem(body->pin))
    return rp.deliver(error_reply(errc::invalid_argument, *why));
  auto acquired = st.deps->pins->acquire(st.id);
  if (!acquired)
    return rp.deliver(error_reply(failure{errc::rate_limited, "too many PIN hashes at once", 1000}));
  auto turn = *acquired;
  auto pins = st.deps->pins;
  self->request(turn.worker, caf::infinite, pin_hash_atom::value, std::move(body->pin))
      .then(
          [=](std::string& hash) mutable {
            pins->done(turn);
            auto& st = self->state;
            uint64_t random = 0;
            randombytes_buf(&random, sizeof(random));
            st.code.emplace(random, st.deps->now_ms(), st.deps->link_code_ttl, std::move(hash));
            auto reply = link_code_reply{st.code->secret(),
                                         static_cast<uint32_t>(st.deps->link_code_ttl.count())};
            rp.deliver(ok_reply(reply));
          },
          [=](caf::error& err) mutable {
            pins->done(turn);
            rp.deliver(error_reply(err));
          });
}

/// A child's family redeems this parent's link code: right once, before it expires. Wrong
/// secrets do not void it (a stranger could void any parent's code so): guessing is
/// bounded per guessing child and per address instead, and the parent is told when
/// `link_code::attack_tries` wrong secrets met its code. Every refusal is the same, also
/// from an id without an account.
void redeem_link_code(user_pointer self, account_id caller, uint64_t secret, reply_to rp) {
  auto& st = self->state;
  auto refused = error_reply(errc::not_found, "no such link code");
  if (!st.account || st.account->role != account_role::parent || !st.code)
    return rp.deliver(refused);
  switch (st.code->attempt(secret, st.deps->now_ms())) {
  case link_code::outcome::right: {
    pin_hash_reply hash{st.code->pin_hash()};
    st.code.reset();
    return rp.deliver(ok_reply(std::move(hash)));
  }
  case link_code::outcome::expired:
    st.code.reset();
    break;
  case link_code::outcome::attacked:
    log::get("user")->warn("event=link_code_attacked account={} by={}", st.id, caller);
    notify_self(self, notice_type::link_code_attacked, 0, caller, link_code::attack_tries);
    break;
  case link_code::outcome::wrong:
    break;
  }
  rp.deliver(refused);
}

/// Bans (or lets again) the account's two public keys, so that neither registers again:
/// only the account's actor reads its keys (its record is sealed), so the operator's
/// tool asks it, and hears once both are written.
void ban_keys(user_pointer self, bool on, bytes record, reply_to rp) {
  auto& st = self->state;
  auto open = std::make_shared<size_t>(2);
  auto failed = std::make_shared<bool>(false);
  auto one_done = [=]() mutable {
    if (--*open == 0)
      rp.deliver(*failed ? error_reply(errc::unavailable, "the ban could not be written; ban again")
                         : ok_reply());
  };
  for (auto key : {ban_key_of_sign_key(st.account->sign_key), ban_key_of_box_key(st.account->box_key)}) {
    auto handlers = [=](auto request) mutable {
      ++self->state.store_calls;
      request.then(store_reply<bool>(self, [=](bool) mutable { one_done(); }),
                   store_reply<caf::error>(self, [=](caf::error&) mutable {
                     *failed = true;
                     one_done();
                   }));
    };
    if (on)
      handlers(self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::bans, key,
                             record));
    else
      handlers(self->request(st.deps->kv, caf::infinite, kv_delete_atom::value, kv_space::bans, key));
  }
}

/// A fresh setup secret for a child's device: 64 random bits (never 0), so guessing one
/// within its hour at the registration limits is hopeless.
uint64_t random_setup_secret() {
  uint64_t secret = 0;
  while (secret == 0)
    randombytes_buf(&secret, sizeof(secret));
  return secret;
}

child_setup_reply setup_reply(const user_deps& deps, account_id child, uint64_t secret) {
  return {child, secret, static_cast<uint32_t>(deps.setup_code_ttl.count())};
}

/// A parent makes its child's account: the child's own user actor (of a random id no
/// account has) makes the record and links its family to this parent, and the parent's
/// app gets the one-time code the child's device registers with.
void create_child(user_pointer self, child_create_request req, reply_to rp, int attempt) {
  auto& st = self->state;
  auto child = random_account_id();
  auto secret = random_setup_secret();
  found_body body{req.name, req.birth_date, setup_hash_of(secret),
                  st.deps->now_ms() + static_cast<uint64_t>(st.deps->setup_code_ttl.count())};
  send_entities(self, {});
  st.client->call(user_request<user_op::found_account>(child, st.id, std::move(body)),
                  notice{static_cast<uint8_t>(user_op::found_account),
                         [=](entity_reply& r) mutable {
                           if (!r.ok())
                             return rp.deliver(error_reply(r.to_failure()));
                           auto* found = result_as<found_reply>(r);
                           if (found != nullptr && found->made) {
                             log::get("user")->info("event=child_created parent={} child={}",
                                                    self->state.id, child);
                             return rp.deliver(
                                 ok_reply(setup_reply(*self->state.deps, child, secret)));
                           }
                           if (attempt + 1 < max_id_attempts)
                             return create_child(self, std::move(req), std::move(rp), attempt + 1);
                           rp.deliver(error_reply(errc::unavailable, "could not allocate an id"));
                         }});
  st.client->flush(self);
}

/// This (new) id becomes the child account a parent makes: the record is created only if
/// no account has the id, then the family links it to the parent before anything else.
void found_account(user_pointer self, account_id parent, const found_body& body, reply_to rp) {
  auto& st = self->state;
  if (st.account)
    return rp.deliver(ok_reply(found_reply{false}));
  account_record record;
  record.id = st.id;
  record.name = body.name;
  record.birth_date = body.birth_date;
  record.role = account_role::child;
  record.created_ms = st.deps->now_ms();
  record.setup_hash = body.setup_hash;
  record.setup_expires_ms = body.setup_expires_ms;
  auto failed = [=](reply_to& rp) {
    rp.deliver(error_reply(errc::unavailable, "the child account could not be made; try again"));
  };
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_create_atom::value, kv_space::accounts,
                key_of(st.id), encode_account(record))
      .then(
          store_reply<bool>(self,
                            [=](bool created) mutable {
                              if (!created)
                                return rp.deliver(ok_reply(found_reply{false}));
                              auto id = self->state.id;
                              ask_entity(self, family_request<family_op::found>(id, id, {parent}),
                                         [=](entity_reply& r) mutable {
                                           auto& st = self->state;
                                           if (!r.ok()) {
                                             caf::anon_send(st.deps->kv, kv_delete_atom::value,
                                                            kv_space::accounts, key_of(st.id));
                                             return failed(rp);
                                           }
                                           st.account = record;
                                           st.load_failed = false;
                                           st.contacts = contact_list_state{};
                                           st.contacts.set_parent(parent);
                                           apply_contact_effect(self, contact_effect::changed,
                                                                parent, std::move(rp),
                                                                [](reply_to rp) {
                                                                  rp.deliver(ok_reply(found_reply{true}));
                                                                });
                                         });
                            }),
          store_reply<caf::error>(self, [=](caf::error&) mutable { failed(rp); }));
}

/// The child's device registers its keys with the setup code its parent's app got: once,
/// before the code expires. A device that registers again (a new phone, with a new code)
/// replaces the keys and ends the old device's session. The parent is told.
void complete_setup(user_pointer self, const register_child_request& req, reply_to rp) {
  auto& st = self->state;
  auto secret = req.secret;
  auto sign_key = req.sign_key;
  auto box_key = req.box_key;
  auto refused = error_reply(errc::not_found, "no such setup code");
  if (!st.account || st.account->setup_hash.empty() ||
      st.account->setup_expires_ms <= st.deps->now_ms())
    return rp.deliver(refused);
  auto given = setup_hash_of(secret);
  auto& kept = st.account->setup_hash;
  if (given.size() != kept.size() || sodium_memcmp(given.data(), kept.data(), kept.size()) != 0)
    return rp.deliver(refused);
  // Used at once: a second device with the same code meets an empty hash.
  auto before = *st.account;
  st.account->sign_key = sign_key;
  st.account->box_key = box_key;
  st.account->setup_hash.clear();
  st.account->setup_expires_ms = 0;
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                encode_account(*st.account))
      .then(store_reply<bool>(self,
                              [=](bool) mutable {
                                auto& st = self->state;
                                log::get("user")->info("event=child_registered account={}", st.id);
                                if (st.session) {
                                  st.deps->service->push(
                                      *st.session, user_kind,
                                      caf::make_message(kick_atom::value, st.id,
                                                        static_cast<uint16_t>(errc::session_replaced)));
                                  detach_session(self, st.deps->now_ms());
                                }
                                notify_parent(self, notice_type::registered, 0, st.deps->now_ms());
                                rp.deliver(ok_reply(register_reply{st.id}));
                              }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              if (self->state.account)
                self->state.account = before; // the code stays good: the device tries again
              rp.deliver(error_reply(err, "the keys could not be saved; try again"));
            }));
}

/// The linked parent makes a new setup code for its child (the first expired, or the
/// child has a new device): it replaces any code before it.
void new_setup_code(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto secret = random_setup_secret();
  st.account->setup_hash = setup_hash_of(secret);
  st.account->setup_expires_ms =
      st.deps->now_ms() + static_cast<uint64_t>(st.deps->setup_code_ttl.count());
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                encode_account(*st.account))
      .then(store_reply<bool>(self,
                              [=](bool) mutable {
                                rp.deliver(ok_reply(
                                    setup_reply(*self->state.deps, self->state.id, secret)));
                              }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              rp.deliver(error_reply(err, "the setup code could not be saved"));
            }));
}

/// A linked child deletes itself only with its parent's PIN, checked (and counted) by its
/// family as any PIN try.
void delete_self_with_pin(user_pointer self, std::string pin, reply_to rp) {
  if (pin.empty())
    return rp.deliver(error_reply(errc::parent_required,
                                  "a linked child's account is deleted by its parent, or with the "
                                  "parent's PIN on the child's device"));
  auto id = self->state.id;
  pin_check check{pin};
  sodium_memzero(pin.data(), pin.size());
  ask_entity(self, family_request<family_op::verify_pin>(id, id, std::move(check)),
             [=](entity_reply& r) mutable {
    if (!r.ok())
      return rp.deliver(error_reply(r.to_failure()));
    if (!self->state.account)
      return rp.deliver(account_changed_reply());
    delete_account(self, id, std::move(rp));
  });
}

} // namespace kinbox::user_parts
