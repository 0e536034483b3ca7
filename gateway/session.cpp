#include "gateway/session.hpp"

#include <caf/io/system_messages.hpp>

#include <algorithm>
#include <memory>
#include <optional>

#include <sodium.h>

#include "actors/contacts.hpp"
#include "actors/family_actor.hpp"
#include "actors/profile.hpp"
#include "cluster/entity_client.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "protocol/messages.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

using auth_timeout_atom = caf::atom_constant<caf::atom("auth_tmo")>;
using refuse_atom = caf::atom_constant<caf::atom("refuse")>;

/// A refused connection waits this long before it may try again.
constexpr std::chrono::milliseconds connection_retry_after{1000};

/// Bytes per socket read. CAF keeps a buffer of this size per connection even when it is
/// idle: quiet connections read small chunks (memory per idle session), a connection whose
/// reads fill the chunk switches to large ones (fewer reads and actor turns per frame).
constexpr size_t small_read_chunk = 512;
constexpr size_t large_read_chunk = 16 * 1024;
/// Records in one read or one batch of pushes or replies that make a connection busy:
/// busy connections keep their AES key schedule (1 KiB), quiet ones expand the keys for
/// each record.
constexpr size_t busy_batch = 4;

enum class phase { hello, auth, logging_in, ready, closing_soon, closing };

} // namespace

/// What the client hears when an entity request succeeds: `ok`, `accepted` with the
/// message id, or a result frame of this type carrying the reply's body.
struct on_success {
  frame_type type = frame_type::ok;
  message_id id{}; ///< for `accepted`
};

/// What an entity request of the session was for, to answer it when it returns.
struct session_call {
  enum class what : uint8_t {
    request,  ///< a client request: answer the client
    attach,   ///< the login's attach: log in on success
    reattach, ///< attach again after the account moved to another node
  };
  what kind = what::request;
  uint32_t request_id = 0;
  on_success answer;
};

struct session_state {
  std::shared_ptr<const gateway_context> ctx;
  caf::io::connection_handle hdl;
  uint64_t session_id = 0;
  record_reader reader{default_max_frame_size};
  phase current = phase::hello;
  std::optional<crypto::record_channel> channel;
  std::array<uint8_t, 32> transcript{};
  account_id account = 0;
  account_info info{};
  device_info device; ///< what the app said of its device at login, for the user actor
  bool attached = false; ///< the account's user actor has this session as its endpoint
  bool attach_sent = false; ///< an attach left for the account's user actor
  /// Mail pushed while the login's attach was still on its way back (it comes from
  /// another node by another path), written right after login_ok.
  std::vector<mail_push> early;
  bool reattach_after_login = false; ///< the account moved while the login attached
  bool frozen = false; ///< a child without a parent: its sends are refused here
  /// Requests to entities; the frames of one read leave together at its end, one message
  /// per destination. Made on the first request (an idle session pays for no maps).
  std::unique_ptr<entity_client<session_call>> client;
  size_t in_flight = 0;
  uint64_t bytes_queued = 0;  ///< written to the socket's buffer so far
  uint64_t bytes_written = 0; ///< of those, handed to the kernel
  size_t read_chunk = 0;
  bytes plain;       ///< the frame being sealed, reused within a batch
  bytes opened;      ///< the frame just opened; handlers read its body in place
  bool busy = false; ///< a busy batch went out or came in since the last read ended
  std::string address;   ///< the client's IP address, for the limits per address
  bool admitted = false; ///< counted by the connection limits
  bool logged_in = false;
  token_bucket requests;         ///< of this connection
  token_bucket account_requests; ///< of the account, kept by the limits between its sessions
  static inline const char* name = "kinbox.session";
};

namespace {

using session_pointer = caf::io::stateful_broker<session_state>*;

auto logger() {
  return log::get("gateway");
}

/// Counts a batch of `records` sealed or opened: a busy one keeps the key schedule.
void note_batch(session_state& st, size_t records) {
  if (records >= busy_batch && st.channel) {
    st.busy = true;
    st.channel->keep_keys_expanded(true);
  }
}

/// At the end of a read: a connection with no busy batch since the last read goes quiet.
void end_of_read(session_state& st, size_t records) {
  note_batch(st, records);
  if (!st.busy && st.channel)
    st.channel->keep_keys_expanded(false);
  st.busy = false;
}

/// Frees the plaintext buffers: an idle session keeps none (it is cheap to make again for
/// the next read or push batch), and one big frame must not cost memory for the rest of
/// the connection.
void release_plain(session_state& st) {
  bytes{}.swap(st.plain);
  bytes{}.swap(st.opened);
}

/// Seals the frame built in `plain` into the socket's write buffer; `flush` hands it to
/// the multiplexer.
void queue_plain(session_pointer self) {
  auto& st = self->state;
  auto& buf = self->wr_buf(st.hdl);
  auto start = buf.size();
  if (st.channel) {
    auto size = crypto::record_channel::sealed_size(st.plain.size());
    buf.resize(start + size);
    st.channel->seal({reinterpret_cast<uint8_t*>(buf.data()) + start, size}, st.plain);
  } else {
    bytes prefix;
    append_length_prefix(prefix, st.plain.size());
    buf.insert(buf.end(), prefix.begin(), prefix.end());
    buf.insert(buf.end(), st.plain.begin(), st.plain.end());
  }
  st.bytes_queued += buf.size() - start;
}

/// Queues a frame whose body is encoded straight into the session's plaintext buffer.
template <class Body>
void queue_frame(session_pointer self, frame_type type, uint32_t request_id, const Body& body) {
  auto& plain = self->state.plain;
  plain.clear();
  write_frame_header(plain, type, request_id);
  write_body(plain, body);
  queue_plain(self);
}

void queue_frame(session_pointer self, const frame& f) {
  auto& plain = self->state.plain;
  plain.clear();
  write_frame_header(plain, f.type, f.request_id);
  plain.insert(plain.end(), f.body.begin(), f.body.end());
  queue_plain(self);
}

void fail(session_pointer self, frame_type type, uint32_t request_id, errc code,
          const std::string& message);

/// Hands what was queued to the multiplexer. Every byte the node writes counts against
/// the outbound limit (replies and errors as well as pushes): a client that does not read
/// what it asked for is cut, and its stored mail stays stored.
void flush_out(session_pointer self) {
  auto& st = self->state;
  self->flush(st.hdl);
  auto unsent = st.bytes_queued - st.bytes_written;
  if (unsent > st.ctx->max_outbound_bytes && st.current != phase::closing) {
    logger()->warn("event=slow_consumer session={} account={} unsent={}", st.session_id,
                   st.account, unsent);
    fail(self, frame_type::bye, 0, errc::slow_consumer, "unsent data passed the limit");
  }
}

void write_frame(session_pointer self, const frame& f) {
  queue_frame(self, f);
  flush_out(self);
}

endpoint own_endpoint(const session_state& st) {
  return endpoint{st.ctx->service->node_id(), st.ctx->service->incarnation(), st.session_id};
}

void close(session_pointer self) {
  auto& st = self->state;
  if (st.current == phase::closing)
    return;
  st.current = phase::closing;
  if (st.admitted)
    st.ctx->limits->closed(st.address, st.logged_in);
  if (st.logged_in)
    st.ctx->limits->return_account_bucket(st.account, st.account_requests);
  if (st.account != 0) {
    st.ctx->service->remove_endpoint(st.session_id);
    // The service delivers the detach even if the account moves meanwhile: this session
    // is gone before the answer comes. Also when the attach is still on its way.
    if (st.attach_sent)
      caf::anon_send(st.ctx->service->actor(), notify_atom::value,
                     entity_request{user_kind, st.account, static_cast<uint8_t>(user_op::detach),
                                    st.account, encode_endpoint(own_endpoint(st))});
  }
  self->close(st.hdl);
  self->quit();
}

/// Sends an error (or bye) frame and closes the connection.
void fail(session_pointer self, frame_type type, uint32_t request_id, errc code,
          const std::string& message) {
  logger()->info("event=session_closed session={} account={} code={} reason=\"{}\"",
                 self->state.session_id, self->state.account, errc_name(code), message);
  queue_frame(self, make_frame(type, request_id, error_body{code, message}));
  self->flush(self->state.hdl);
  close(self);
}

/// Closes with an error frame that says when to come back (a limit was met).
void refuse(session_pointer self, const failure& f) {
  logger()->info("event=session_closed session={} account={} code={} reason=\"{}\"",
                 self->state.session_id, self->state.account, errc_name(f.code), f.message);
  queue_frame(self, make_frame(frame_type::error, 0,
                               error_body{f.code, f.message, f.retry_after_ms}));
  self->flush(self->state.hdl);
  close(self);
}

void reply_error(session_pointer self, uint32_t request_id, const failure& f) {
  write_frame(self, make_frame(frame_type::error, request_id,
                               error_body{f.code, f.message, f.retry_after_ms}));
}

failure rate_limited(std::chrono::milliseconds wait, const std::string& what) {
  return failure{errc::rate_limited, what, static_cast<uint32_t>(wait.count())};
}

template <class Body>
void reply(session_pointer self, frame_type type, uint32_t request_id, const Body& body) {
  queue_frame(self, type, request_id, body);
  flush_out(self);
}

void reply_ok(session_pointer self, uint32_t request_id) {
  write_frame(self, frame{frame_type::ok, request_id, {}});
}

/// Answers the client once an entity request came back.
void finish_call(session_pointer self, uint32_t request_id, entity_reply& r,
                 const on_success& answer) {
  --self->state.in_flight;
  if (self->state.current == phase::closing)
    return;
  if (!r.ok())
    return reply_error(self, request_id, r.to_failure());
  switch (answer.type) {
  case frame_type::ok:
    return reply_ok(self, request_id);
  case frame_type::accepted:
    return reply(self, frame_type::accepted, request_id, accepted_reply{answer.id});
  default:
    write_frame(self, frame{answer.type, request_id, std::move(r.body)});
  }
}

void attached(session_pointer self, uint32_t request_id, entity_reply& r);
void attach(session_pointer self, session_call::what kind, uint32_t request_id);

/// Attaches again: the account's user actor moved, or its node went away. One that comes
/// while the login's own attach is on its way waits for it.
void reattach(session_pointer self, const char* why) {
  auto& st = self->state;
  if (st.current == phase::logging_in) {
    st.reattach_after_login = true;
    return;
  }
  if (st.current != phase::ready)
    return;
  logger()->debug("event=reattach session={} account={} reason={}", st.session_id, st.account,
                  why);
  attach(self, session_call::what::reattach, 0);
}

/// Writes pushed mail to the device. Pushes are the one output the client does not pace
/// with requests: a connection that stopped reading is cut; its mail stays stored for the
/// next login.
void write_pushes(session_pointer self, const std::vector<mail_push>& mail) {
  auto& st = self->state;
  note_batch(st, mail.size());
  for (auto& m : mail)
    queue_frame(self, frame_type::mail, 0, m);
  release_plain(st);
  flush_out(self);
}

/// What came back for an entity request of this session.
void on_reply(session_pointer self, session_call& call, entity_reply& r) {
  switch (call.kind) {
  case session_call::what::request:
    return finish_call(self, call.request_id, r, call.answer);
  case session_call::what::attach:
    return attached(self, call.request_id, r);
  case session_call::what::reattach:
    if (self->state.current != phase::ready)
      return;
    if (auto reply = r.ok() ? decode_attach_reply(r.body) : std::nullopt) {
      self->state.ctx->service->endpoint_attached(self->state.session_id, reply->node,
                                                  reply->incarnation);
      self->state.frozen = reply->frozen;
    } else
      fail(self, frame_type::bye, 0, r.ok() ? errc::internal : static_cast<errc>(r.status),
           "the account could not be attached again; reconnect");
    return;
  }
}

entity_client<session_call>& client_of(session_pointer self) {
  auto& st = self->state;
  if (!st.client)
    st.client = std::make_unique<entity_client<session_call>>(
        st.ctx->service, [self](session_call& c, entity_reply& r) {
          note_batch(self->state, 1);
          on_reply(self, c, r);
        });
  return *st.client;
}

/// Sends the requests of the read that just ended: one message per destination entity
/// (or node) with its requests in the order they came.
void send_outbox(session_pointer self) {
  auto& st = self->state;
  if (st.client && st.current != phase::closing)
    st.client->flush(self);
}

/// Queues an entity request; it leaves at the end of the read, and the client hears the
/// answer when it returns.
/// Counts a request that is answered later against the in-flight limit; false (and the
/// client told) when the connection has too many open.
bool begin_request(session_pointer self, uint32_t request_id) {
  auto& st = self->state;
  if (st.in_flight >= st.ctx->max_in_flight) {
    reply_error(self, request_id, {errc::unavailable, "too many requests in flight"});
    return false;
  }
  ++st.in_flight;
  return true;
}

void call_kind(session_pointer self, uint32_t request_id, entity_kind kind, uint64_t target,
               uint8_t op, bytes body, on_success answer = {}) {
  auto& st = self->state;
  if (!begin_request(self, request_id))
    return;
  client_of(self).call(entity_request{kind, target, op, st.account, std::move(body)},
                       session_call{session_call::what::request, request_id, answer});
}

void call_entity(session_pointer self, uint32_t request_id, account_id target, user_op op,
                 bytes body, on_success answer = {}) {
  call_kind(self, request_id, user_kind, target, static_cast<uint8_t>(op), std::move(body),
            answer);
}

void call_family(session_pointer self, uint32_t request_id, account_id child, family_op op,
                 bytes body, on_success answer = {}) {
  call_kind(self, request_id, family_kind, child, static_cast<uint8_t>(op), std::move(body),
            answer);
}

/// Decodes the body of `f` as T; a malformed one gets an error frame and a close.
template <class T>
std::optional<T> body_of(session_pointer self, const frame_view& f) {
  auto body = decode_body<T>(f.body);
  if (!body) {
    fail(self, frame_type::error, f.request_id, errc::malformed_frame, body.error().message);
    return std::nullopt;
  }
  return std::move(*body);
}

/// Link and setup codes are guessed at most as fast as the address's bucket allows.
bool within_code_guesses(session_pointer self, uint32_t request_id) {
  auto& st = self->state;
  auto wait = st.ctx->limits->code_guess(st.address);
  if (!wait)
    return true;
  logger()->info("event=code_guesses_limited session={} address={}", st.session_id, st.address);
  reply_error(self, request_id, rate_limited(*wait, "too many codes tried from this address"));
  return false;
}

/// The family requests of the parent and child apps, each to the child's family entity.
void handle_family(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  auto rid = f.request_id;
  auto own = st.account;
  bool parent = st.info.role == account_role::parent;
  auto raw = bytes(f.body.begin(), f.body.end());
  auto for_role = [&](bool wanted, const char* who) {
    if (!wanted)
      reply_error(self, rid, {errc::invalid_argument, std::string{"only "} + who + " may do this"});
    return wanted;
  };
  switch (f.type) {
  case frame_type::link_create:
    if (body_of<link_create_request>(self, f) && for_role(parent, "a parent account"))
      call_entity(self, rid, own, user_op::make_link_code, std::move(raw), {frame_type::link_code});
    return;
  case frame_type::link_redeem:
    if (body_of<link_redeem_request>(self, f) && for_role(!parent, "a child account") &&
        within_code_guesses(self, rid))
      call_family(self, rid, own, family_op::redeem, std::move(raw));
    return;
  case frame_type::child_create:
    if (body_of<child_create_request>(self, f) && for_role(parent, "a parent account"))
      call_entity(self, rid, own, user_op::create_child, std::move(raw), {frame_type::child_setup});
    return;
  case frame_type::child_setup_code:
    if (auto t = body_of<target_request>(self, f); t && for_role(parent, "a parent account"))
      call_entity(self, rid, t->id, user_op::new_setup_code, {}, {frame_type::child_setup});
    return;
  case frame_type::link_remove:
    if (auto t = body_of<target_request>(self, f))
      call_family(self, rid, t->id, family_op::unlink, {});
    return;
  case frame_type::link_get:
    if (auto t = body_of<target_request>(self, f))
      call_family(self, rid, t->id, family_op::get_link, {}, {frame_type::link_info});
    return;
  case frame_type::pin_set:
    if (auto b = body_of<pin_set_request>(self, f)) {
      bytes pin;
      wire::writer{pin}.str(b->pin);
      sodium_memzero(b->pin.data(), b->pin.size());
      call_family(self, rid, b->child, family_op::set_pin, std::move(pin));
    }
    return;
  case frame_type::pin_change:
    if (body_of<pin_change_request>(self, f))
      call_family(self, rid, own, family_op::change_pin, std::move(raw));
    return;
  case frame_type::approvals_get:
    if (auto t = body_of<target_request>(self, f))
      call_family(self, rid, t->id, family_op::list_approvals, {}, {frame_type::approval_list});
    return;
  case frame_type::approval_decide:
    if (auto b = body_of<approval_decision>(self, f))
      call_family(self, rid, b->child, family_op::decide,
                  encode_account_flag({b->other, b->approve}));
    return;
  case frame_type::approval_pin:
    if (body_of<approval_by_pin>(self, f))
      call_family(self, rid, own, family_op::decide_with_pin, std::move(raw));
    return;
  case frame_type::policy_set:
    if (auto b = body_of<policy_request>(self, f))
      call_family(self, rid, b->child, family_op::set_policy, bytes{b->policy});
    return;
  case frame_type::location_send:
    if (body_of<location_update>(self, f) && for_role(!parent, "a child account"))
      call_family(self, rid, own, family_op::location_update, std::move(raw));
    return;
  case frame_type::location_sharing:
    if (auto b = body_of<location_sharing_request>(self, f))
      call_family(self, rid, b->child, family_op::location_sharing, bytes{uint8_t(b->on ? 1 : 0)});
    return;
  default:
    return fail(self, frame_type::error, rid, errc::unexpected_frame,
                std::string{frame_type_name(f.type)} + " is not a client request");
  }
}

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

void handle_register(session_pointer self, const frame_view& f) {
  auto req = decode_body<register_request>(f.body);
  if (!req)
    return fail(self, frame_type::error, f.request_id, errc::malformed_frame, req.error().message);
  auto& st = self->state;
  if (auto wait = st.ctx->limits->registration(st.address)) {
    logger()->info("event=registration_limited session={} address={}", st.session_id,
                   st.address);
    return reply_error(self, f.request_id, rate_limited(*wait, "too many registrations"));
  }
  if (auto why = validate_registration(*req, st.ctx->now_ms(), st.ctx->ages))
    return reply_error(self, f.request_id, {errc::invalid_argument, *why});
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
  check_ban(self, {ban_key_of_sign_key(record.sign_key), ban_key_of_box_key(record.box_key)},
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
  auto& st = self->state;
  if (auto wait = st.ctx->limits->registration(st.address)) {
    logger()->info("event=registration_limited session={} address={}", st.session_id,
                   st.address);
    return reply_error(self, f.request_id, rate_limited(*wait, "too many registrations"));
  }
  if (!within_code_guesses(self, f.request_id))
    return;
  if (auto why = check_public_keys(req->sign_key, req->box_key))
    return reply_error(self, f.request_id, {errc::invalid_argument, *why});
  if (!begin_request(self, f.request_id))
    return;
  auto request_id = f.request_id;
  auto child = req->child;
  bytes body;
  wire::writer{body}.u64(req->secret).fixed(req->sign_key).fixed(req->box_key);
  check_ban(self, {ban_key_of_sign_key(req->sign_key), ban_key_of_box_key(req->box_key)},
            [=, body = std::move(body)](std::optional<bool> banned) mutable {
              if (banned == false) {
                auto& client = client_of(self);
                client.call(entity_request{user_kind, child,
                                           static_cast<uint8_t>(user_op::complete_setup), child,
                                           std::move(body)},
                            session_call{session_call::what::request, request_id,
                                         {frame_type::register_ok}});
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
  client.call(entity_request{user_kind, st.account, static_cast<uint8_t>(user_op::attach),
                             st.account, encode_attach({own_endpoint(st), st.device})},
              session_call{kind, request_id, {}});
  client.flush(self);
}

void attached(session_pointer self, uint32_t request_id, entity_reply& r) {
  auto& st = self->state;
  if (st.current == phase::closing)
    return;
  if (!r.ok()) {
    auto code = static_cast<errc>(r.status);
    return fail(self, frame_type::error, request_id,
                code == errc::not_found ? errc::auth_failed : code, "login failed");
  }
  auto answer = decode_attach_reply(r.body);
  if (!answer)
    return fail(self, frame_type::error, request_id, errc::internal, "login failed");
  st.ctx->service->endpoint_attached(st.session_id, answer->node, answer->incarnation);
  st.attached = true;
  st.info = answer->account;
  st.frozen = answer->frozen;
  st.current = phase::ready;
  st.logged_in = true;
  st.ctx->limits->logged_in(st.address);
  st.account_requests = st.ctx->limits->take_account_bucket(st.account);
  logger()->info("event=login account={} session={}", st.account, st.session_id);
  reply(self, frame_type::login_ok, request_id, st.info);
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
            if (!record ||
                !crypto::verify(crypto::login_message(st.transcript, id), proof, record->sign_key))
              return fail(self, frame_type::error, request_id, errc::auth_failed,
                          "login failed for this account");
            check_ban(self, {ban_key_of_account(id)}, [=](std::optional<bool> banned) {
              if (!banned)
                return fail(self, frame_type::error, request_id, errc::unavailable,
                            "account lookup failed");
              if (*banned) {
                logger()->info("event=login_banned account={}", id);
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

std::optional<account_id> target_of(session_pointer self, const frame_view& f) {
  auto t = decode_body<target_request>(f.body);
  if (!t) {
    fail(self, frame_type::error, f.request_id, errc::malformed_frame, t.error().message);
    return std::nullopt;
  }
  return t->id;
}

failure frozen_failure() {
  return {errc::account_frozen, std::string{errc_description(errc::account_frozen)}};
}

void handle_ready(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  auto rid = f.request_id;
  auto own = st.account;
  switch (f.type) {
  case frame_type::whoami:
    return reply(self, frame_type::login_ok, rid, st.info);
  case frame_type::profile_set:
    if (!body_of<profile_set_request>(self, f))
      return;
    return call_entity(self, rid, own, user_op::set_profile, bytes(f.body.begin(), f.body.end()));
  case frame_type::account_export: {
    auto t = target_of(self, f);
    if (!t)
      return;
    return call_entity(self, rid, *t, user_op::export_account, {}, {frame_type::account_data});
  }
  case frame_type::account_delete: {
    auto req = body_of<account_delete_request>(self, f);
    if (!req)
      return;
    bytes pin;
    if (!req->pin.empty()) {
      wire::writer{pin}.str(req->pin);
      sodium_memzero(req->pin.data(), req->pin.size());
    }
    return call_entity(self, rid, req->id, user_op::delete_account, std::move(pin));
  }
  case frame_type::profile_get: {
    auto req = body_of<profile_request>(self, f);
    if (!req)
      return;
    // Another account's profile is read at its actor, which cannot know the asker is a
    // frozen child: refused here, as its sends are.
    if (st.frozen && req->id != own)
      return reply_error(self, rid, frozen_failure());
    if (req->child == 0)
      return call_entity(self, rid, req->id, user_op::get_profile, {}, {frame_type::profile});
    // A parent looking at who its child's friend step is with.
    bytes other;
    wire::writer{other}.u64(req->id);
    return call_family(self, rid, req->child, family_op::approval_profile, std::move(other),
                       {frame_type::profile});
  }
  case frame_type::friend_add:
  case frame_type::friend_accept:
  case frame_type::friend_decline: {
    auto t = target_of(self, f);
    if (!t)
      return;
    auto op = f.type == frame_type::friend_add      ? user_op::add_friend
              : f.type == frame_type::friend_accept ? user_op::accept_friend
                                                    : user_op::decline_friend;
    return call_entity(self, rid, own, op, encode_body(target_request{*t}));
  }
  case frame_type::friend_list:
    return call_entity(self, rid, own, user_op::list_contacts, {},
                       {frame_type::friend_list_result});
  case frame_type::contacts_get: {
    auto t = target_of(self, f);
    if (!t)
      return;
    return call_entity(self, rid, *t, user_op::list_contacts, {},
                       {frame_type::friend_list_result});
  }
  case frame_type::report: {
    if (!body_of<report_request>(self, f))
      return;
    return call_entity(self, rid, own, user_op::report, bytes(f.body.begin(), f.body.end()));
  }
  case frame_type::contact_block:
  case frame_type::contact_remove: {
    auto b = body_of<contact_action>(self, f);
    if (!b)
      return;
    auto op = f.type == frame_type::contact_block ? user_op::block_contact : user_op::remove_contact;
    return call_entity(self, rid, b->owner, op, encode_body(target_request{b->other}));
  }
  case frame_type::key_get:
  case frame_type::status_get: {
    auto t = target_of(self, f);
    if (!t)
      return;
    bool key = f.type == frame_type::key_get;
    return call_entity(self, rid, own, key ? user_op::get_key : user_op::get_status,
                       encode_body(target_request{*t}),
                       {key ? frame_type::key_result : frame_type::status_result});
  }
  case frame_type::send: {
    account_id to = 0;
    message_id id{};
    auto body = deliver_from_send(f.body, to, id);
    if (!body)
      return fail(self, frame_type::error, rid, errc::malformed_frame,
                  "the frame body does not match its type");
    if (to == own)
      return reply_error(self, rid, {errc::invalid_argument, "cannot send to yourself"});
    // A send goes to the recipient's actor, which cannot know the sender is frozen.
    if (st.frozen)
      return reply_error(self, rid, frozen_failure());
    return call_entity(self, rid, to, user_op::deliver, std::move(*body),
                       {frame_type::accepted, id});
  }
  case frame_type::ack: {
    auto req = decode_body<ack_request>(f.body);
    if (!req)
      return fail(self, frame_type::error, rid, errc::malformed_frame, req.error().message);
    return call_entity(self, rid, own, user_op::ack, bytes(f.body.begin(), f.body.end()));
  }
  default:
    return handle_family(self, f);
  }
}

/// Every request counts against the connection's rate and, once logged in, the account's.
bool within_rate(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  auto& cfg = st.ctx->limits->config();
  auto now = limit_clock::now();
  auto wait = st.requests.take(cfg.requests_per_connection, now);
  if (!wait && st.logged_in)
    wait = st.account_requests.take(cfg.requests_per_account, now);
  if (!wait)
    return true;
  logger()->debug("event=request_limited session={} account={}", st.session_id, st.account);
  reply_error(self, f.request_id, rate_limited(*wait, "too many requests"));
  return false;
}

void handle_frame(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  if ((st.current == phase::auth || st.current == phase::ready) && !within_rate(self, f))
    return;
  switch (st.current) {
  case phase::auth:
    if (f.type == frame_type::register_account)
      return handle_register(self, f);
    if (f.type == frame_type::register_child)
      return handle_register_child(self, f);
    if (f.type == frame_type::login)
      return handle_login(self, f);
    return fail(self, frame_type::error, f.request_id, errc::unexpected_frame,
                std::string{frame_type_name(f.type)} + " before login");
  case phase::logging_in:
    return fail(self, frame_type::error, f.request_id, errc::unexpected_frame,
                "request while the login is in progress");
  case phase::ready:
    if (f.type == frame_type::register_account || f.type == frame_type::register_child ||
        f.type == frame_type::login)
      return fail(self, frame_type::error, f.request_id, errc::unexpected_frame,
                  "already logged in");
    return handle_ready(self, f);
  default:
    return;
  }
}

void handle_hello(session_pointer self, std::span<const uint8_t> payload) {
  auto& st = self->state;
  auto f = decode_frame(payload);
  if (!f)
    return fail(self, frame_type::error, 0, f.error().code, f.error().message);
  if (f->type != frame_type::client_hello)
    return fail(self, frame_type::error, f->request_id, errc::unexpected_frame,
                "the first frame must be client_hello");
  auto hello = decode_body<client_hello>(f->body);
  if (!hello)
    return fail(self, frame_type::error, f->request_id, errc::malformed_frame,
                hello.error().message);
  if (auto wait = st.ctx->limits->handshake(st.address)) {
    logger()->info("event=handshake_limited session={} address={}", st.session_id, st.address);
    return refuse(self, rate_limited(*wait, "too many handshakes from this address"));
  }
  auto cipher = crypto::pick_cipher(hello->ciphers);
  if (!cipher)
    return fail(self, frame_type::error, f->request_id, errc::unsupported_version,
                "none of the offered record ciphers is supported");
  auto ephemeral = crypto::kx_keypair::generate();
  auto keys = crypto::server_session(st.ctx->cluster_key, ephemeral, hello->ephemeral_key);
  if (!keys)
    return fail(self, frame_type::error, f->request_id, errc::malformed_frame,
                "invalid ephemeral key");
  write_frame(self,
              make_frame(frame_type::server_hello, f->request_id,
                         server_hello{st.ctx->cluster_key.pk, ephemeral.pk,
                                      static_cast<uint32_t>(st.ctx->max_frame_size), *cipher}));
  if (st.current == phase::closing)
    return; // cut while writing the hello
  st.channel.emplace(*keys, *cipher);
  st.transcript = keys->transcript;
  st.current = phase::auth;
}

void adapt_read_chunk(session_pointer self, size_t bytes_read) {
  auto& st = self->state;
  auto wanted = st.read_chunk;
  if (bytes_read == st.read_chunk)
    wanted = large_read_chunk;
  else if (bytes_read < small_read_chunk / 4)
    wanted = small_read_chunk;
  if (wanted != st.read_chunk) {
    st.read_chunk = wanted;
    self->configure_read(st.hdl, caf::io::receive_policy::at_most(wanted));
  }
}

void handle_data(session_pointer self, const std::vector<char>& data) {
  auto& st = self->state;
  if (st.current == phase::closing_soon)
    return; // refused: nothing of it is read
  adapt_read_chunk(self, data.size());
  st.reader.append({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  size_t records = 0;
  while (st.current != phase::closing) {
    auto next = st.reader.next();
    if (!next)
      return fail(self, frame_type::error, 0, next.error().code, next.error().message);
    if (!*next) {
      st.reader.release_if_idle();
      release_plain(st);
      end_of_read(st, records);
      return send_outbox(self);
    }
    ++records;
    auto rec = **next;
    if (st.current == phase::hello) {
      handle_hello(self, rec.payload);
      continue;
    }
    if (!st.channel->open(rec.prefix, rec.payload, st.opened))
      return fail(self, frame_type::error, 0, errc::decrypt_failed, "record failed authentication");
    auto f = decode_frame_view(st.opened);
    if (!f)
      return fail(self, frame_type::error, 0, f.error().code, f.error().message);
    handle_frame(self, *f);
  }
}

/// Sends `redirect` with other gateways, or `bye` when there are none, and closes.
void leave(session_pointer self, const std::vector<std::string>& gateways) {
  if (self->state.current == phase::closing)
    return;
  if (gateways.empty() || self->state.current != phase::ready)
    return fail(self, frame_type::bye, 0, errc::shutting_down, "the node is shutting down");
  logger()->info("event=session_redirected session={} account={} gateways={}",
                 self->state.session_id, self->state.account, gateways.size());
  write_frame(self, make_frame(frame_type::redirect, 0,
                               redirect_body{errc::shutting_down,
                                             "the node is leaving; reconnect to another gateway",
                                             gateways}));
  close(self);
}

caf::behavior session(session_pointer self, caf::io::connection_handle hdl,
                      std::shared_ptr<const gateway_context> ctx) {
  auto& st = self->state;
  st.hdl = hdl;
  // An endpoint id that no other session of this node, in any of its runs, has had.
  randombytes_buf(&st.session_id, sizeof(st.session_id));
  st.reader = record_reader{ctx->max_frame_size};
  st.ctx = std::move(ctx);
  st.read_chunk = small_read_chunk;
  self->configure_read(hdl, caf::io::receive_policy::at_most(small_read_chunk));
  self->ack_writes(hdl, true);
  self->delayed_send(self, st.ctx->auth_timeout, auth_timeout_atom::value);
  st.address = self->remote_addr(hdl);
  auto admitted = st.ctx->limits->open(st.address);
  st.admitted = admitted == admission::admitted;
  if (!st.admitted) {
    logger()->info("event=connection_limited address={} reason={}", st.address,
                   admitted == admission::too_many_total      ? "total"
                   : admitted == admission::too_many_from_address ? "address"
                                                                  : "unauthenticated");
    st.current = phase::closing_soon;
    self->send(self, refuse_atom::value);
  }
  logger()->debug("event=session_opened session={}", st.session_id);
  return {
      [=](const caf::io::new_data_msg& msg) { handle_data(self, msg.buf); },
      [=](const caf::io::data_transferred_msg& msg) { self->state.bytes_written += msg.written; },
      [=](const caf::io::connection_closed_msg&) {
        logger()->debug("event=connection_closed session={}", self->state.session_id);
        close(self);
      },
      [=](push_atom, account_id account, std::vector<mail_push>& mail) {
        auto& st = self->state;
        if (account != st.account)
          return;
        if (st.current == phase::logging_in) {
          // From a user actor on another node, a push may overtake the attach's answer:
          // it waits for login_ok.
          st.early.insert(st.early.end(), std::make_move_iterator(mail.begin()),
                          std::make_move_iterator(mail.end()));
          return;
        }
        if (st.current == phase::ready)
          write_pushes(self, mail);
      },
      [=](kick_atom, account_id account, uint16_t code) {
        if (account != self->state.account)
          return;
        self->state.attached = false; // replaced: the user actor has another endpoint
        fail(self, frame_type::bye, 0, static_cast<errc>(code),
             std::string{errc_description(static_cast<errc>(code))});
      },
      [=](thawed_atom, account_id account) {
        if (account == self->state.account)
          self->state.frozen = false;
      },
      [=](reattach_atom, account_id account) {
        if (account == self->state.account)
          reattach(self, "moved");
      },
      [=](host_gone_atom) { reattach(self, "host_gone"); },
      [=](entity_retry_atom) {
        if (self->state.client)
          self->state.client->retry(self);
      },
      [=](refuse_atom) {
        self->state.current = phase::hello;
        refuse(self, failure{errc::rate_limited, "too many connections; try again later",
                             static_cast<uint32_t>(connection_retry_after.count())});
      },
      [=](auth_timeout_atom) {
        auto current = self->state.current;
        if (current != phase::ready && current != phase::closing)
          fail(self, frame_type::error, 0, errc::timeout, "no login in time");
      },
      [=](shutdown_atom, const std::vector<std::string>& gateways) { leave(self, gateways); },
  };
}

} // namespace

caf::actor fork_session(caf::io::broker* acceptor, caf::io::connection_handle hdl,
                        std::shared_ptr<const gateway_context> ctx) {
  return acceptor->fork(session, hdl, std::move(ctx));
}

} // namespace kinbox
