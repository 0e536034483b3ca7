// What an entity kind accepts and answers: the list of its operations, each with its
// number, the type of its argument and the type of its result. The list is the kind's
// documentation and its contract: requests are made through it (`make_request`), so an
// argument of the wrong type does not compile; the actor reads each argument as its type
// (`arg_of`); and the list makes the kind's `request_codec`, the only place the values
// become bytes, when a request or its reply crosses nodes. On one node a request reaches
// its actor as a typed caf::message and is never encoded.
//
// A value's bytes are its `write_body` and `decode_body<T>` (protocol/messages.hpp): the
// client bodies as they are, and each kind's internal types next to them.
#pragma once

#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <array>
#include <span>
#include <type_traits>

#include "cluster/entity.hpp"
#include "protocol/messages.hpp"

namespace kinbox {

/// The argument of an operation that takes none, or the result of one that answers only
/// ok: an empty caf::message, and no bytes.
struct nothing {};

/// Operation `Op` of an entity kind: it takes an `Arg` and answers a `Result`.
template <auto Op, class Arg = nothing, class Result = nothing>
struct op {
  static constexpr uint8_t number = static_cast<uint8_t>(Op);
  using arg = Arg;
  using result = Result;
};

namespace detail {

template <uint8_t N, class... Ops>
struct find_op;

template <uint8_t N, class First, class... Rest>
struct find_op<N, First, Rest...>
    : std::conditional_t<First::number == N, std::type_identity<First>, find_op<N, Rest...>> {};

template <class T>
result<bytes> encode_value(const caf::message& m) {
  if constexpr (std::is_same_v<T, nothing>) {
    if (!m.empty())
      return failure{errc::internal, "a value where the operation takes none"};
    return bytes{};
  } else {
    if (!m.match_elements<T>())
      return failure{errc::internal, "a value of another type than the operation's"};
    return encode_body(m.get_as<T>(0));
  }
}

template <class T>
result<caf::message> decode_value(std::span<const uint8_t> in) {
  if constexpr (std::is_same_v<T, nothing>) {
    if (!in.empty())
      return failure{errc::malformed_frame, "a value where the operation takes none"};
    return caf::message{};
  } else {
    auto x = decode_body<T>(in);
    if (!x)
      return x.error();
    return caf::make_message(std::move(*x));
  }
}

inline failure unknown_op(uint8_t op) {
  return failure{errc::invalid_argument, "unknown operation " + std::to_string(op)};
}

} // namespace detail

/// The operations of an entity kind.
template <class... Ops>
struct entity_interface {
  template <auto Op>
  using op_of = typename detail::find_op<static_cast<uint8_t>(Op), Ops...>::type;
  template <auto Op>
  using arg_of = typename op_of<Op>::arg;
  template <auto Op>
  using result_of = typename op_of<Op>::result;

  /// The kind's codec, made from the list.
  static request_codec codec() {
    return {&encode_arg, &decode_arg, &encode_result, &decode_result};
  }

private:
  using encoder = result<bytes> (*)(const caf::message&);
  using decoder = result<caf::message> (*)(std::span<const uint8_t>);

  /// Per operation number, the codec of its argument or result type (null: no such op).
  template <class Fn, class Pick>
  static constexpr std::array<Fn, 256> table(Pick pick) {
    std::array<Fn, 256> t{};
    ((t[Ops::number] = pick(std::type_identity<Ops>{})), ...);
    return t;
  }

  static constexpr auto arg_encoders = table<encoder>(
      []<class O>(std::type_identity<O>) -> encoder { return &detail::encode_value<typename O::arg>; });
  static constexpr auto arg_decoders = table<decoder>(
      []<class O>(std::type_identity<O>) -> decoder { return &detail::decode_value<typename O::arg>; });
  static constexpr auto result_encoders = table<encoder>(
      []<class O>(std::type_identity<O>) -> encoder {
        return &detail::encode_value<typename O::result>;
      });
  static constexpr auto result_decoders = table<decoder>(
      []<class O>(std::type_identity<O>) -> decoder {
        return &detail::decode_value<typename O::result>;
      });

  /// Runs operation `op`'s entry of `table` on `in`; unknown operations are refused.
  template <class Fn, class In>
  static auto run(const std::array<Fn, 256>& table, uint8_t op, const In& in) {
    using out = decltype(table[0](in));
    auto f = table[op];
    return f != nullptr ? f(in) : out{detail::unknown_op(op)};
  }

  static result<bytes> encode_arg(uint8_t op, const caf::message& m) {
    return run(arg_encoders, op, m);
  }
  static result<caf::message> decode_arg(uint8_t op, std::span<const uint8_t> in) {
    return run(arg_decoders, op, in);
  }
  static result<bytes> encode_result(uint8_t op, const caf::message& m) {
    return run(result_encoders, op, m);
  }
  static result<caf::message> decode_result(uint8_t op, std::span<const uint8_t> in) {
    return run(result_decoders, op, in);
  }
};

/// A request for operation `Op` of `Interface` to entity (`kind`, `id`) on behalf of
/// `caller`.
template <class Interface, auto Op>
entity_request make_request(entity_kind kind, uint64_t id, account_id caller,
                            typename Interface::template arg_of<Op> arg = {}) {
  entity_request req{kind, id, static_cast<uint8_t>(Op), caller, {}};
  if constexpr (!std::is_same_v<decltype(arg), nothing>)
    req.args = caf::make_message(std::move(arg));
  return req;
}

/// The argument of `req`, a request for operation `Op` of `Interface`; nullptr if it
/// carries something else (a local caller's mistake: the codec checks what crosses nodes).
template <class Interface, auto Op>
typename Interface::template arg_of<Op>* arg_of(entity_request& req) {
  using T = typename Interface::template arg_of<Op>;
  if (!req.args.match_elements<T>())
    return nullptr;
  return &req.args.get_mutable_as<T>(0);
}

/// A successful reply carrying `x`.
template <class T>
entity_reply ok_reply(T x) {
  return entity_reply{0, {}, 0, caf::make_message(std::move(x))};
}

/// The result `r` carries, if it is a T.
template <class T>
const T* result_as(const entity_reply& r) {
  if (!r.ok() || !r.value.match_elements<T>())
    return nullptr;
  return &r.value.get_as<T>(0);
}

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::nothing)
