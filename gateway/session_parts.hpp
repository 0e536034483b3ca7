// The session broker's parts, shared by the files it is written in: its state and the
// functions each file gives the others (session.cpp: the connection, its frames in and
// out, pushes and the behavior; session_login.cpp: registration, login and the attach;
// session_requests.cpp: each client request turned into an entity request). Internal to
// gateway/.
#pragma once

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
#include "config/metrics.hpp"
#include "gateway/client_replies.hpp"
#include "gateway/client_requests.hpp"
#include "protocol/messages.hpp"
#include "protocol/wire.hpp"

namespace kinbox::session_parts {

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

/// What an entity request of the session was for, to answer it when it returns.
struct session_call {
  enum class what : uint8_t {
    request,  ///< a client request: answer the client
    attach,   ///< the login's attach: log in on success
    reattach, ///< attach again after the account moved to another node
  };
  what kind = what::request;
  uint32_t request_id = 0;
  std::optional<message_id> accepts; ///< a send: success is answered `accepted`
  entity_kind entity = 0;            ///< the kind of entity asked, for the request metrics
  int64_t started_ns = 0;            ///< when it was asked (steady clock)
};

/// Counts a connection, and once logged in its session, in the node's metrics for as
/// long as the session's state lives (however the session ends).
struct metered_session {
  bool logged_in = false;
  metered_session() { metrics::get().connections.Increment(); }
  ~metered_session() {
    metrics::get().connections.Decrement();
    if (logged_in)
      metrics::get().sessions.Decrement();
  }
  metered_session(const metered_session&) = delete;
  metered_session& operator=(const metered_session&) = delete;
  void login() {
    logged_in = true;
    metrics::get().sessions.Increment();
  }
};

struct session_state {
  metered_session metered;
  std::shared_ptr<const gateway_context> ctx;
  caf::io::connection_handle hdl;
  uint64_t session_id = 0;
  record_reader reader{default_max_frame_size};
  phase current = phase::hello;
  std::optional<crypto::record_channel> channel;
  std::array<uint8_t, 32> transcript{};
  account_id account = 0;
  account_info info{};
  device_info device;       ///< what the app said of its device at login, for the user actor
  bool attached = false;    ///< the account's user actor has this session as its endpoint
  bool attach_sent = false; ///< an attach left for the account's user actor
  /// Mail pushed while the login's attach was still on its way back (it comes from
  /// another node by another path), written right after login_ok.
  std::vector<mail_push> early;
  bool reattach_after_login = false; ///< the account moved while the login attached
  bool frozen = false;               ///< a child without a parent: its sends are refused here
  bool asleep = false;   ///< a child in its quiet hours: its sends but to its parent are refused
  account_id parent = 0; ///< a child's linked parent (when it attached)
  /// Requests to entities; the frames of one read leave together at its end, one message
  /// per destination. Made on the first request (an idle session pays for no maps).
  std::unique_ptr<entity_client<session_call>> client;
  size_t in_flight = 0;
  uint64_t bytes_queued = 0;  ///< written to the socket's buffer so far
  uint64_t bytes_written = 0; ///< of those, handed to the kernel
  size_t read_chunk = 0;
  bytes plain;           ///< the frame being sealed, reused within a batch
  bytes opened;          ///< the frame just opened; handlers read its body in place
  bool busy = false;     ///< a busy batch went out or came in since the last read ended
  std::string address;   ///< the client's IP address, for the limits per address
  bool admitted = false; ///< counted by the connection limits
  bool logged_in = false;
  token_bucket requests;         ///< of this connection
  token_bucket account_requests; ///< of the account, kept by the limits between its sessions
  static inline const char* name = "kinbox.session";
};

using session_pointer = caf::io::stateful_broker<session_state>*;

inline auto logger() {
  return log::get("gateway");
}

void handle_ready(session_pointer self, const frame_view& f);

void try_register(session_pointer self, uint32_t request_id, account_record record, int attempt);

void check_ban(session_pointer self, std::vector<std::string> keys,
               std::function<void(std::optional<bool>)> then);

void handle_register(session_pointer self, const frame_view& f);

void handle_register_child(session_pointer self, const frame_view& f);

void attach(session_pointer self, session_call::what kind, uint32_t request_id);

void attached(session_pointer self, uint32_t request_id, entity_reply& r);

void handle_login(session_pointer self, const frame_view& f);

void note_batch(session_state& st, size_t records);

void end_of_read(session_state& st, size_t records);

void release_plain(session_state& st);

void queue_plain(session_pointer self);

void queue_frame(session_pointer self, const frame& f);

void flush_out(session_pointer self);

void write_frame(session_pointer self, const frame& f);

endpoint own_endpoint(const session_state& st);

void close(session_pointer self);

void fail(session_pointer self, frame_type type, uint32_t request_id, errc code,
          const std::string& message);

void refuse(session_pointer self, const failure& f);

void reply_error(session_pointer self, uint32_t request_id, const failure& f);

failure rate_limited(std::chrono::milliseconds wait, const std::string& what);

void finish_call(session_pointer self, const session_call& call, entity_reply& r);

void reattach(session_pointer self, const char* why);

void write_pushes(session_pointer self, const std::vector<mail_push>& mail);

void on_reply(session_pointer self, session_call& call, entity_reply& r);

entity_client<session_call>& client_of(session_pointer self);

void send_outbox(session_pointer self);

bool begin_request(session_pointer self, uint32_t request_id);

/// Sends `req` for client request `request_id`, answered with its reply (client_replies.hpp).
void call_entity(session_pointer self, uint32_t request_id, entity_request req,
                 std::optional<message_id> accepts = std::nullopt);

/// Whether a request is within a limit of its address (`wait`: what the limit's bucket
/// said); else it is counted under `limit`, logged as `event` and answered `rate_limited`
/// with `what`.
bool within_address_limit(session_pointer self, uint32_t request_id,
                          std::optional<std::chrono::milliseconds> wait, const char* limit,
                          const char* event, const char* what);

bool within_code_guesses(session_pointer self, uint32_t request_id);

bool within_rate(session_pointer self, const frame_view& f);

void handle_frame(session_pointer self, const frame_view& f);

void handle_hello(session_pointer self, std::span<const uint8_t> payload);

void adapt_read_chunk(session_pointer self, size_t bytes_read);

void handle_data(session_pointer self, const std::vector<char>& data);

void leave(session_pointer self, const std::vector<std::string>& gateways);

/// Queues a frame whose body is encoded straight into the session's plaintext buffer.
template <class Body>
void queue_frame(session_pointer self, frame_type type, uint32_t request_id, const Body& body) {
  auto& plain = self->state.plain;
  plain.clear();
  write_frame_header(plain, type, request_id);
  write_body(plain, body);
  queue_plain(self);
}

template <class Body>
void reply(session_pointer self, frame_type type, uint32_t request_id, const Body& body) {
  queue_frame(self, type, request_id, body);
  flush_out(self);
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

} // namespace kinbox::session_parts
