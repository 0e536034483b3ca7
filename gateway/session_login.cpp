// Registration (a parent, or a child's device with its setup code), the ban check of
// both keys, login, and the attach of the session to the account's user actor.
#include "gateway/session_parts.hpp"

namespace kinbox::session_parts {

void try_register(session_pointer self, uint32_t request_id, account_record record, int attempt) {
  record.id = random_account_id(); // a clash is retried
  auto& st = self->state;
  self->request(st.ctx->kv, caf::infinite, kv_create_atom::value, kv_space::accounts,
                std::to_string(record.id), encode_account(record))
      .then(
          [=](bool created) {
            if (self->state.current == phase::closing)
              return;
            if (!created && attempt + 1 < max_id_attempts)
              return try_register(self, request_id, record, attempt + 1);
            --self->state.in_flight;
            if (created) {
              logger()->info("event=account_registered account={} session={}", record.id,
                             self->state.session_id);
              reply(self, frame_type::register_ok, request_id, register_reply{record.id});
            } else {
              reply_error(self, request_id, {errc::unavailable, "could not allocate an id"});
            }
          },
          [=](caf::error& err) {
            --self->state.in_flight;
            if (self->state.current != phase::closing)
              reply_error(self, request_id, to_failure(err));
          });
}

/// Looks `keys` up in the bans bucket one after the other, then `then(banned)` (true at
/// the first that is there), or `then(nullopt)` if a lookup failed.
void check_ban(session_pointer self, std::vector<std::string> keys,
               std::function<void(std::optional<bool>)> then) {
  auto& st = self->state;
  if (keys.empty())
    return then(false);
  auto key = std::move(keys.back());
  keys.pop_back();
  self->request(st.ctx->kv, caf::infinite, kv_get_atom::value, kv_space::bans, std::move(key))
      .then(
          [=](kv_lookup& ban) mutable {
            if (self->state.current == phase::closing)
              return;
            if (ban.found)
              return then(true);
            check_ban(self, std::move(keys), std::move(then));
          },
          [=](caf::error& err) {
            if (self->state.current == phase::closing)
              return;
            logger()->warn("event=ban_lookup_failed session={} code={}", self->state.session_id,
                           errc_name(to_failure(err).code));
            then(std::nullopt);
          });
}

/// Counts a registration against the limits of the address and the node; false, and
/// answered, when over them.
bool within_registrations(session_pointer self, uint32_t request_id) {
  return within_address_limit(self, request_id,
                              self->state.ctx->limits->registration(self->state.address),
                              "registrations", "registration_limited", "too many registrations");
}

void handle_register(session_pointer self, const frame_view& f) {
  auto req = decode_body<register_request>(f.body);
  if (!req)
    return fail(self, frame_type::error, f.request_id, errc::malformed_frame, req.error().message);
  auto& st = self->state;
  // A refused form (a typo in the name or the date) costs the address no registration.
  if (auto why = validate_registration(*req, st.ctx->now_ms(), st.ctx->ages))
    return reply_error(self, f.request_id, {errc::invalid_argument, *why});
  if (!within_registrations(self, f.request_id))
    return;
  account_record record;
  record.name = req->name;
  record.birth_date = req->birth_date;
  record.role = req->role;
  record.sign_key = req->sign_key;
  record.box_key = req->box_key;
  record.created_ms = self->state.ctx->now_ms();
  if (!begin_request(self, f.request_id))
    return;
  // The keys of a banned account do not come back under a new id.
  auto request_id = f.request_id;
  check_ban(
      self, {ban_key_of_sign_key(record.sign_key), ban_key_of_box_key(record.box_key)},
      [=, record = std::move(record)](std::optional<bool> banned) mutable {
        if (banned == false)
          return try_register(self, request_id, std::move(record), 0);
        --self->state.in_flight;
        if (!banned)
          return reply_error(self, request_id, {errc::unavailable, "try again later"});
        logger()->info("event=registration_banned session={}", self->state.session_id);
        reply_error(self, request_id, {errc::banned, "these keys belong to a banned account"});
      });
}

/// A child's device registers its keys with the setup code its parent's app got. Codes
/// are guessed against the registration limits of the address and the node, and a wrong
/// one is answered as one for an id that does not exist.
void handle_register_child(session_pointer self, const frame_view& f) {
  auto req = decode_body<register_child_request>(f.body);
  if (!req)
    return fail(self, frame_type::error, f.request_id, errc::malformed_frame, req.error().message);
  if (!within_registrations(self, f.request_id) || !within_code_guesses(self, f.request_id))
    return;
  if (auto why = check_public_keys(req->sign_key, req->box_key))
    return reply_error(self, f.request_id, {errc::invalid_argument, *why});
  if (!begin_request(self, f.request_id))
    return;
  auto request_id = f.request_id;
  auto setup = user_request<user_op::complete_setup>(req->child, req->child, *req);
  check_ban(
      self, {ban_key_of_sign_key(req->sign_key), ban_key_of_box_key(req->box_key)},
      [=, setup = std::move(setup)](std::optional<bool> banned) mutable {
        if (banned == false) {
          auto& client = client_of(self);
          client.call(std::move(setup), session_call{session_call::what::request,
                                                     request_id,
                                                     {},
                                                     user_kind,
                                                     metrics::node_metrics::now_ns()});
          return client.flush(self);
        }
        --self->state.in_flight;
        if (!banned)
          return reply_error(self, request_id, {errc::unavailable, "try again later"});
        reply_error(self, request_id, {errc::banned, "these keys belong to a banned account"});
      });
}

/// Attaches this session to its account's user actor, wherever it lives.
void attach(session_pointer self, session_call::what kind, uint32_t request_id) {
  auto& st = self->state;
  st.ctx->service->add_endpoint(st.session_id, caf::actor_cast<caf::actor>(self));
  st.attach_sent = true;
  auto& client = client_of(self);
  client.call(user_request<user_op::attach>(st.account, st.account, {own_endpoint(st), st.device}),
              session_call{kind, request_id, {}});
  client.flush(self);
}

void attached(session_pointer self, uint32_t request_id, entity_reply& r) {
  auto& st = self->state;
  if (st.current == phase::closing)
    return;
  if (!r.ok()) {
    auto code = static_cast<errc>(r.status);
    metrics::get().logins_refused.Increment();
    return fail(self, frame_type::error, request_id,
                code == errc::not_found ? errc::auth_failed : code, "login failed");
  }
  auto* answer = result_as<attach_reply>(r);
  if (!answer)
    return fail(self, frame_type::error, request_id, errc::internal, "login failed");
  st.ctx->service->endpoint_attached(st.session_id, answer->node, answer->incarnation);
  st.attached = true;
  st.info = answer->account;
  st.frozen = answer->frozen;
  st.asleep = answer->asleep;
  st.parent = answer->parent;
  st.current = phase::ready;
  st.logged_in = true;
  st.metered.login();
  metrics::get().logins_ok.Increment();
  st.ctx->limits->logged_in(st.address);
  st.account_requests = st.ctx->limits->take_account_bucket(st.account);
  logger()->info("event=login account={} session={}", st.account, st.session_id);
  reply(self, frame_type::login_ok, request_id, st.info);
  if (st.asleep) // the app hears of quiet hours that run at its login, as of later ones
    write_pushes(self, {mail_push{mail_kind::quiet, st.account, message_id{}, 0, bytes{1}}});
  if (!st.early.empty()) {
    auto early = std::move(st.early);
    st.early.clear();
    write_pushes(self, early);
  }
  if (st.reattach_after_login) {
    st.reattach_after_login = false;
    reattach(self, "moved during the login");
  }
}

void handle_login(session_pointer self, const frame_view& f) {
  auto req = decode_body<login_request>(f.body);
  if (!req)
    return fail(self, frame_type::error, f.request_id, errc::malformed_frame, req.error().message);
  auto& st = self->state;
  if (auto why = check_device(req->device))
    return reply_error(self, f.request_id, {errc::invalid_argument, *why});
  st.device = req->device;
  st.current = phase::logging_in;
  auto request_id = f.request_id;
  auto id = req->id;
  auto proof = req->proof;
  self->request(st.ctx->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                std::to_string(id))
      .then(
          [=](kv_lookup& acc) {
            auto& st = self->state;
            if (st.current == phase::closing)
              return;
            auto record = acc.found ? decode_account(acc.value) : std::nullopt;
            // Unknown account and bad signature look the same to the client.
            if (!record || !crypto::verify(crypto::login_message(st.transcript, id), proof,
                                           record->sign_key)) {
              metrics::get().logins_refused.Increment();
              return fail(self, frame_type::error, request_id, errc::auth_failed,
                          "login failed for this account");
            }
            check_ban(self, {ban_key_of_account(id)}, [=](std::optional<bool> banned) {
              if (!banned)
                return fail(self, frame_type::error, request_id, errc::unavailable,
                            "account lookup failed");
              if (*banned) {
                logger()->info("event=login_banned account={}", id);
                metrics::get().logins_refused.Increment();
                return fail(self, frame_type::error, request_id, errc::banned,
                            std::string{errc_description(errc::banned)});
              }
              self->state.account = id;
              attach(self, session_call::what::attach, request_id);
            });
          },
          [=](caf::error& err) {
            if (self->state.current != phase::closing)
              fail(self, frame_type::error, request_id, to_failure(err).code,
                   "account lookup failed");
          });
}

} // namespace kinbox::session_parts
