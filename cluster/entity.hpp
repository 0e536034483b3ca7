// Requests to sharded entities and their replies, in one form for both paths: handed to
// the local entity actor as typed values, or encoded (by the kind's `request_codec`, see
// entity_interface.hpp) in a batch and sent through NATS to the inbox of the node that
// owns the entity's shard. Also the endpoints that entities push to (the sessions of the
// gateways), and the codec of everything that crosses nodes.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/shard_map.hpp"
#include "protocol/types.hpp"

namespace kinbox {

/// The caller of requests an operator sends with kinbox-admin (no account has id 0).
constexpr account_id operator_caller = 0;

struct entity_request {
  entity_kind kind = 0;
  uint64_t id = 0;       ///< the entity addressed
  uint8_t op = 0;        ///< operation, defined by the entity's kind
  account_id caller = 0; ///< the authenticated account on whose behalf the request runs
  caf::message args;     ///< the operation's argument, of the type its kind's interface names
  /// 0 on the first try; counts the tries of a request that came back `moved`. A node that
  /// answered `moved` for an entity keeps refusing the client's first tries for it until a
  /// retry comes: the client's bounced requests then arrive first, and keep their order.
  uint8_t attempt = 0;
  /// The entity_client that sent it (random per client): order is kept per client and
  /// entity, and one account may have several (its session, its user actor).
  uint64_t client = 0;
};

struct entity_reply {
  uint16_t status = 0;         ///< 0 for success, else an errc number
  std::string message;         ///< for errors
  uint32_t retry_after_ms = 0; ///< for errors: when a retry may succeed (0: no hint)
  /// On success the operation's result, of the type its kind's interface names; in a
  /// `moved` reply the request's argument, back to its caller (which keeps no copy).
  caf::message value;

  bool ok() const { return status == 0; }
  /// The entity is not served where the request went: the caller routes it again.
  bool moved() const { return status == static_cast<uint16_t>(errc::moved); }
  /// The error as a client hears it, with its retry-after.
  failure to_failure() const {
    return failure{static_cast<errc>(status), message, retry_after_ms};
  }
};

inline entity_reply ok_reply() {
  return entity_reply{};
}

/// The answer of a node or actor that does not serve the entity (now): the request's
/// argument goes back with it.
inline entity_reply moved_reply(caf::message args) {
  return entity_reply{static_cast<uint16_t>(errc::moved), {}, 0, std::move(args)};
}

inline entity_reply error_reply(errc code, std::string message = {}) {
  if (message.empty())
    message = std::string{errc_description(code)};
  return entity_reply{static_cast<uint16_t>(code), std::move(message), 0, {}};
}

/// An error reply carrying `f`'s retry-after.
entity_reply error_reply(const failure& f);

/// The reply for a failed request to another actor: its code and retry-after, and
/// `message` in place of its text if given. The one way a `caf::error` becomes a reply.
entity_reply error_reply(const caf::error& err, std::string message = {});

/// Where an entity pushes to: a session of a gateway, named by its node, the node's
/// incarnation (a restarted node is another one) and an id unique on that node.
struct endpoint {
  std::string node;
  uint64_t incarnation = 0;
  uint64_t id = 0;
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

bytes encode_endpoint(const endpoint& x);
std::optional<endpoint> decode_endpoint(std::span<const uint8_t> in);

/// How the pushes of one entity kind cross nodes: an entity pushes a caf::message to an
/// endpoint; on another node it travels as bytes. `decode` returns nullopt on bad input.
struct push_codec {
  std::function<bytes(const caf::message&)> encode;
  std::function<std::optional<caf::message>(std::span<const uint8_t>)> decode;
};

/// How the arguments and results of one kind's requests cross nodes: by operation
/// number, from the typed values to bytes and back. Made by the kind's interface
/// (entity_interface.hpp); decoding fails on bad input or an unknown operation.
struct request_codec {
  result<bytes> (*encode_arg)(uint8_t op, const caf::message& arg) = nullptr;
  result<caf::message> (*decode_arg)(uint8_t op, std::span<const uint8_t> in) = nullptr;
  result<bytes> (*encode_result)(uint8_t op, const caf::message& value) = nullptr;
  result<caf::message> (*decode_result)(uint8_t op, std::span<const uint8_t> in) = nullptr;
};

/// Everything of one kind that crosses nodes.
struct entity_codec {
  request_codec requests;
  push_codec pushes;
};

/// A request as it travels on the bus: its argument in bytes.
struct bus_request {
  entity_kind kind = 0;
  uint64_t id = 0;
  uint8_t op = 0;
  account_id caller = 0;
  uint8_t attempt = 0;
  uint64_t client = 0;
  bytes arg;
};

/// A reply as it travels on the bus: the result in bytes on success, the retry-after
/// (u32, if any) on error; nothing when `moved` (the asking node kept the argument).
struct bus_reply {
  uint16_t status = 0;
  std::string message;
  bytes body;

  bool ok() const { return status == 0; }
  bool moved() const { return status == static_cast<uint16_t>(errc::moved); }
};

/// An error on the bus (a `moved` carries nothing back: the asking node kept the argument).
inline bus_reply bus_error(errc code, std::string message = {}) {
  if (message.empty())
    message = std::string{errc_description(code)};
  return bus_reply{static_cast<uint16_t>(code), std::move(message), {}};
}

/// `req` for the bus, its argument encoded by `codec`.
result<bus_request> to_bus(const entity_request& req, const request_codec& codec);
/// The request `req` from the bus carries, its argument decoded by `codec`.
result<entity_request> from_bus(bus_request&& req, const request_codec& codec);
/// `r`, the reply to operation `op`, for the bus (an error if its result does not encode).
bus_reply to_bus(const entity_reply& r, uint8_t op, const request_codec& codec);
/// The reply to operation `op` that `r` carries (an error if its result does not decode).
entity_reply from_bus(bus_reply&& r, uint8_t op, const request_codec& codec);

// What travels between the nodes' inboxes (kinbox.<cluster>.node.<id>), first byte the
// type. A node sends another one everything of a turn of its service actor at once: one
// `requests` batch, one `answers` batch and one `pushes` batch at most per destination.
enum class bus_type : uint8_t {
  requests = 1, ///< epoch u64, corr u64, answer_to str, n u32, n x (kind u8 id u64 op u8
                ///< caller u64 attempt u8 client u64 arg blob); answered by `answers`
                ///< to `answer_to`, or to the NATS reply subject when it is empty
  replies = 2,  ///< n u32, n x reply: the answer to a handoff that failed, or to `admin`
  pushes = 3,   ///< n u32, n x (incarnation u64, endpoint u64, kind u8, body blob); no answer
  handoff = 4,  ///< kind u8, shard u32, body blob; answered by `handoff_ok` or `replies`
  handoff_ok = 5,
  admin = 6,   ///< op u8; answered by `replies`
  answers = 7, ///< n u32, n x (corr u64, index u32, reply): answers to requests of the
               ///< batches `corr`, as they come, several batches in one
};

/// Operations of `bus_type::admin`.
enum class admin_op : uint8_t {
  drain = 1, ///< hand off every shard, redirect the sessions, and stop
};

/// The answer to request `index` of the request batch `corr`.
struct entity_answer {
  uint64_t corr = 0;
  uint32_t index = 0;
  bus_reply reply;
};

/// A push to an endpoint of the node it goes to.
struct push_item {
  uint64_t incarnation = 0; ///< of the endpoint's node: a push for an earlier run is dropped
  uint64_t endpoint_id = 0;
  entity_kind kind = 0; ///< whose codec decodes `body`
  bytes body;
};

/// `kinbox.<cluster>.node.<node>`: the inbox of a node, where requests, answers, pushes,
/// handoffs and admin requests for it go.
std::string node_inbox(std::string_view cluster, std::string_view node);

bytes encode_request_batch(uint64_t epoch, uint64_t corr, std::string_view answer_to,
                           std::span<const bus_request> reqs);
bytes encode_reply_batch(std::span<const bus_reply> replies);
bytes encode_answers(std::span<const entity_answer> answers);
bytes encode_pushes(std::span<const push_item> pushes);
bytes encode_handoff(entity_kind kind, uint32_t shard, std::span<const uint8_t> body);
bytes encode_admin(admin_op op);

/// One decoded inbox message; which fields are set depends on `type`.
struct bus_message {
  bus_type type = bus_type::requests;
  uint64_t epoch = 0;
  uint64_t corr = 0;
  std::string answer_to;
  std::vector<bus_request> requests;
  std::vector<bus_reply> replies;
  std::vector<entity_answer> answers;
  std::vector<push_item> pushes;
  entity_kind kind = 0;
  uint32_t shard = 0;
  admin_op op = admin_op::drain;
  bytes body;
};

/// Decodes an inbox message; nullopt if it is malformed. Entity bodies are bounded by the
/// largest frame, batches by `max_bus_batch`.
std::optional<bus_message> decode_bus_message(std::span<const uint8_t> in);

/// Most requests, answers or pushes in one batch on the bus.
constexpr size_t max_bus_batch = 65536;

/// After this long without a request an entity's actor may stop (or drop what it
/// loaded); clients look a handle up again well before it could have stopped.
constexpr auto entity_idle_time = std::chrono::seconds(60);

/// Bytes an item adds to a bus batch besides its body (a bound, for splitting batches).
constexpr size_t bus_item_overhead = 48;

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::bytes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::entity_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::entity_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::endpoint)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::push_item)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::entity_request>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::entity_reply>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::bus_request>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<kinbox::bus_reply>)
