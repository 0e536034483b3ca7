// A kind's interface and the codec it makes: typed values on one node, bytes only across
// nodes; a value of the wrong type, an unknown operation or bytes that do not decode are
// refused, and a reply keeps its status, retry-after and result across the bus.
#define CAF_SUITE entity_interface
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/family_interface.hpp"
#include "actors/user_interface.hpp"

using namespace kinbox;

namespace {

const request_codec users = user_interface::codec();

uint8_t op_number(user_op op) {
  return static_cast<uint8_t>(op);
}

} // namespace

CAF_TEST(a request made through the interface carries its typed argument) {
  auto req = user_request<user_op::get_key>(7, 8, {9});
  CAF_CHECK_EQUAL(req.kind, user_kind);
  CAF_CHECK_EQUAL(req.id, 7u);
  CAF_CHECK_EQUAL(req.caller, 8u);
  CAF_CHECK_EQUAL(req.op, op_number(user_op::get_key));
  auto* t = arg_of<user_interface, user_op::get_key>(req);
  CAF_REQUIRE(t != nullptr);
  CAF_CHECK_EQUAL(t->id, 9u);
  // An operation without an argument carries an empty message.
  CAF_CHECK(user_request<user_op::get_profile>(7, 8).args.empty());
  // Read as another operation's type, it is not there.
  CAF_CHECK(arg_of<user_interface, user_op::ack>(req) == nullptr);
}

CAF_TEST(an argument crosses nodes as bytes and comes back as the same value) {
  message_id id{};
  id.fill(3);
  auto req = user_request<user_op::deliver>(7, 8, {mail_kind::message, id, bytes{1, 2, 3}});
  auto wire = to_bus(req, users);
  CAF_REQUIRE(wire);
  CAF_CHECK(wire->arg == encode_body(deliver_body{mail_kind::message, id, bytes{1, 2, 3}}));
  auto back = from_bus(std::move(*wire), users);
  CAF_REQUIRE(back);
  auto* d = arg_of<user_interface, user_op::deliver>(*back);
  CAF_REQUIRE(d != nullptr);
  CAF_CHECK(d->id == id);
  CAF_CHECK(d->payload == (bytes{1, 2, 3}));
  CAF_CHECK_EQUAL(back->caller, 8u);
}

CAF_TEST(the wrong type an unknown operation or bad bytes are refused) {
  // A local caller's mistake is caught before the bus.
  CAF_CHECK(!users.encode_arg(op_number(user_op::get_key), caf::make_message(ack_request{})));
  CAF_CHECK(!users.encode_arg(op_number(user_op::get_key), caf::message{}));
  CAF_CHECK(!users.encode_arg(op_number(user_op::get_profile), caf::make_message(target_request{1})));
  CAF_CHECK(!users.encode_arg(99, caf::message{}));
  CAF_CHECK(!users.decode_arg(99, bytes{}));
  CAF_CHECK(!users.decode_arg(op_number(user_op::get_key), bytes{1, 2}));
  CAF_CHECK(!users.decode_arg(op_number(user_op::get_profile), bytes{1}));
  CAF_CHECK(users.decode_arg(op_number(user_op::get_profile), bytes{}));
  auto families = family_interface::codec();
  CAF_CHECK(!families.decode_arg(static_cast<uint8_t>(family_op::erase), bytes{2}));
  CAF_CHECK(families.decode_arg(static_cast<uint8_t>(family_op::erase), bytes{1}));
}

CAF_TEST(a reply keeps its status retry after and result across the bus) {
  auto op = op_number(user_op::get_key);
  auto ok = from_bus(to_bus(ok_reply(key_reply{5, {}, {}}), op, users), op, users);
  CAF_REQUIRE(ok.ok());
  auto* key = result_as<key_reply>(ok);
  CAF_REQUIRE(key != nullptr);
  CAF_CHECK_EQUAL(key->id, 5u);
  auto limited = error_reply(failure{errc::rate_limited, "slow down", 1500});
  auto back = from_bus(to_bus(limited, op, users), op, users);
  CAF_CHECK_EQUAL(back.status, static_cast<uint16_t>(errc::rate_limited));
  CAF_CHECK_EQUAL(back.message, "slow down");
  CAF_CHECK_EQUAL(back.retry_after_ms, 1500u);
  // A moved reply gives a local caller its argument back; over the bus it carries nothing.
  auto moved = moved_reply(caf::make_message(target_request{9}));
  CAF_CHECK(to_bus(moved, op, users).body.empty());
  // A result of the wrong type does not cross: the caller hears an error, not a guess.
  auto wrong = to_bus(ok_reply(status_reply{}), op, users);
  CAF_CHECK_EQUAL(wrong.status, static_cast<uint16_t>(errc::internal));
  // Bytes that are no result of the operation are refused on arrival.
  auto garbled = from_bus(bus_reply{0, {}, bytes{1}}, op, users);
  CAF_CHECK_EQUAL(garbled.status, static_cast<uint16_t>(errc::internal));
}
