#define CAF_SUITE contacts
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/contacts.hpp"
#include "crypto/crypto.hpp"

using namespace kinbox;

CAF_TEST(a request becomes a friendship only when the other side accepts) {
  contact_list_state alice, bob;
  CAF_CHECK(alice.add(2) == contact_effect::notify_request);
  CAF_CHECK(alice.state_of(2) == contact_state::outgoing);
  CAF_CHECK(!alice.are_friends(2));
  CAF_CHECK(bob.receive_request(1) == contact_effect::changed);
  CAF_CHECK(bob.state_of(1) == contact_state::incoming);
  CAF_CHECK(bob.accept(1) == contact_effect::notify_accept);
  CAF_CHECK(alice.receive_accept(2) == contact_effect::changed);
  CAF_CHECK(alice.are_friends(2));
  CAF_CHECK(bob.are_friends(1));
}

CAF_TEST(accept or decline without a request is refused) {
  contact_list_state alice;
  CAF_CHECK(!alice.accept(5));
  CAF_CHECK(!alice.decline(5));
  alice.add(5);
  CAF_CHECK(!alice.accept(5)); // our own outgoing request cannot be accepted by us
  CAF_CHECK(alice.receive_accept(6) == contact_effect::none);
  CAF_CHECK(!alice.are_friends(6));
}

CAF_TEST(decline removes the request on both sides) {
  contact_list_state alice, bob;
  alice.add(2);
  bob.receive_request(1);
  CAF_CHECK(bob.decline(1) == contact_effect::notify_decline);
  CAF_CHECK(!bob.state_of(1));
  CAF_CHECK(alice.receive_decline(2) == contact_effect::changed);
  CAF_CHECK(!alice.state_of(2));
}

CAF_TEST(two crossing requests make friends) {
  contact_list_state alice;
  alice.add(2);
  CAF_CHECK(alice.receive_request(2) == contact_effect::notify_accept);
  CAF_CHECK(alice.are_friends(2));
}

CAF_TEST(blocked contacts stay blocked) {
  auto decoded = contact_list_state::decode(
      bytes{'{', '"', 'c', 'o', 'n', 't', 'a', 'c', 't', 's', '"', ':', '[', '{', '"', 'i', 'd',
            '"', ':', '9', ',', '"', 's', 't', 'a', 't', 'e', '"', ':', '4', '}', ']', '}'});
  CAF_REQUIRE(decoded);
  CAF_CHECK(decoded->state_of(9) == contact_state::blocked);
  CAF_CHECK(decoded->receive_request(9) == contact_effect::none);
  CAF_CHECK(decoded->add(9) == contact_effect::none);
  CAF_CHECK(decoded->state_of(9) == contact_state::blocked);
}

CAF_TEST(contact lists and accounts round trip through their KV encoding) {
  contact_list_state list;
  list.add(3);
  list.receive_request(4);
  auto back = contact_list_state::decode(list.encode());
  CAF_REQUIRE(back);
  CAF_CHECK(back->entries() == list.entries());
  CAF_CHECK(!contact_list_state::decode(bytes{'x'}));
  account_record a;
  a.id = 1234567890;
  a.name = "Zoë";
  a.birth_date = "2016-02-29";
  a.role = account_role::parent;
  a.sign_key.fill(1);
  a.box_key.fill(2);
  auto decoded = decode_account(encode_account(a));
  CAF_REQUIRE(decoded);
  CAF_CHECK_EQUAL(decoded->name, "Zoë");
  CAF_CHECK(decoded->role == account_role::parent);
  CAF_CHECK(decoded->box_key == a.box_key);
}

CAF_TEST(registrations are validated) {
  auto sign = crypto::sign_keypair::generate().pk;
  auto box = crypto::box_keypair::generate().pk;
  auto req = [&](std::string name, std::string date) {
    return register_request{std::move(name), std::move(date), account_role::child, sign, box};
  };
  CAF_CHECK(!validate_registration(req("Alice", "2016-02-29")));
  CAF_CHECK(validate_registration(req("", "2016-02-29")));
  CAF_CHECK(validate_registration(req("A\nB", "2016-02-29")));
  CAF_CHECK(validate_registration(req("Alice", "2015-02-29")));
  CAF_CHECK(validate_registration(req("Alice", "2016/02/29")));
  CAF_CHECK(validate_registration(req("Alice", "2999-01-01")));
  CAF_CHECK(validate_registration(req("Alice", "1800-01-01")));
  // Keys that are not usable points: the all-zero X25519 key and the Ed25519 identity.
  auto with_keys = [&](public_key s, public_key b) {
    return register_request{"Alice", "2016-02-29", account_role::child, s, b};
  };
  public_key zero{}, identity{};
  identity[0] = 1;
  CAF_CHECK(validate_registration(with_keys(sign, zero)));
  CAF_CHECK(validate_registration(with_keys(identity, box)));
}
