// The session broker: one per connection. This file has the connection (the handshake,
// records in and out, batching, flow control), pushes, the rate limits, the phases and the
// behavior; the rest is in the files session_parts.hpp lists.
#include "gateway/session_parts.hpp"

#include "actors/chat_interface.hpp"
#include "actors/family_interface.hpp"
#include "actors/user_interface.hpp"

namespace kinbox {

namespace session_parts {

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

void queue_frame(session_pointer self, const frame& f) {
  if (auto* sent = metrics::get().frames_out[static_cast<uint8_t>(f.type)])
    sent->Increment();
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
    logger()->warn("event=slow_consumer session={} account={} unsent={}", st.session_id, st.account,
                   unsent);
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
                     user_request<user_op::detach>(st.account, st.account, own_endpoint(st)));
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
  queue_frame(self,
              make_frame(frame_type::error, 0, error_body{f.code, f.message, f.retry_after_ms}));
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

/// Answers the client once an entity request came back.
/// The request-latency histogram of entity kind `kind`.
prometheus::Histogram& request_histogram(entity_kind kind) {
  static auto& user = metrics::get().requests_of("user");
  static auto& family = metrics::get().requests_of("family");
  static auto& chat = metrics::get().requests_of("chat");
  static auto& other = metrics::get().requests_of("other");
  switch (kind) {
  case user_kind:
    return user;
  case family_kind:
    return family;
  case chat_kind:
    return chat;
  default:
    return other;
  }
}

void finish_call(session_pointer self, const session_call& call, entity_reply& r) {
  request_histogram(call.entity).Observe(metrics::node_metrics::seconds_since(call.started_ns));
  --self->state.in_flight;
  if (self->state.current == phase::closing)
    return;
  write_frame(self, client_reply(call.request_id, r, call.accepts));
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
  logger()->debug("event=reattach session={} account={} reason={}", st.session_id, st.account, why);
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
    return finish_call(self, call, r);
  case session_call::what::attach:
    return attached(self, call.request_id, r);
  case session_call::what::reattach:
    if (self->state.current != phase::ready)
      return;
    if (auto* reply = result_as<attach_reply>(r)) {
      self->state.ctx->service->endpoint_attached(self->state.session_id, reply->node,
                                                  reply->incarnation);
      self->state.frozen = reply->frozen;
      self->state.asleep = reply->asleep;
      self->state.parent = reply->parent;
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

void call_entity(session_pointer self, uint32_t request_id, entity_request req,
                 std::optional<message_id> accepts) {
  if (!begin_request(self, request_id))
    return;
  auto kind = req.kind;
  client_of(self).call(std::move(req),
                       session_call{session_call::what::request, request_id, accepts, kind,
                                    metrics::node_metrics::now_ns()});
}

bool within_address_limit(session_pointer self, uint32_t request_id,
                          std::optional<std::chrono::milliseconds> wait, const char* limit,
                          const char* event, const char* what) {
  if (!wait)
    return true;
  auto& st = self->state;
  metrics::get().limited(limit);
  logger()->info("event={} session={} address={}", event, st.session_id, st.address);
  reply_error(self, request_id, rate_limited(*wait, what));
  return false;
}

/// Link and setup codes are guessed at most as fast as the address's bucket allows.
bool within_code_guesses(session_pointer self, uint32_t request_id) {
  return within_address_limit(
      self, request_id, self->state.ctx->limits->code_guess(self->state.address), "code_guesses",
      "code_guesses_limited", "too many codes tried from this address");
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
  metrics::get().limited("requests");
  logger()->debug("event=request_limited session={} account={}", st.session_id, st.account);
  reply_error(self, f.request_id, rate_limited(*wait, "too many requests"));
  return false;
}

void handle_frame(session_pointer self, const frame_view& f) {
  auto& st = self->state;
  if (auto* read = metrics::get().frames_in[static_cast<uint8_t>(f.type)])
    read->Increment();
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
    metrics::get().limited("handshakes");
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
    metrics::get().limited("connections");
    logger()->info("event=connection_limited address={} reason={}", st.address,
                   admitted == admission::too_many_total          ? "total"
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
      [=](asleep_atom, account_id account, bool asleep) {
        if (account != self->state.account || self->state.asleep == asleep)
          return;
        self->state.asleep = asleep;
        if (self->state.current == phase::ready)
          write_pushes(self, {mail_push{mail_kind::quiet, account, message_id{}, 0,
                                        bytes{static_cast<uint8_t>(asleep ? 1 : 0)}}});
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

} // namespace session_parts

caf::actor fork_session(caf::io::broker* acceptor, caf::io::connection_handle hdl,
                        std::shared_ptr<const gateway_context> ctx) {
  return acceptor->fork(session_parts::session, hdl, std::move(ctx));
}

} // namespace kinbox
