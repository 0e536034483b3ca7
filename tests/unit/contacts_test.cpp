#define CAF_SUITE contacts
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/contacts.hpp"
#include "actors/names.hpp"
#include "crypto/crypto.hpp"
#include "protocol/text.hpp"

using namespace kinbox;

namespace {

constexpr uint64_t t0 = 1'000'000'000;
constexpr uint64_t hour = 3600 * 1000;
const friend_limit_config rules{};

/// A friend request that is not refused.
contact_effect add(contact_list_state& list, account_id other, bool needs_parent = false,
                   uint64_t now = t0) {
  auto effect = list.add(other, now, rules, needs_parent);
  CAF_REQUIRE(effect);
  return *effect;
}

bytes bytes_of(std::string_view text) {
  return bytes(text.begin(), text.end());
}

} // namespace

CAF_TEST(a request becomes a friendship only when the other side accepts) {
  contact_list_state alice, bob;
  CAF_CHECK(add(alice, 2) == contact_effect::notify_request);
  CAF_CHECK(alice.state_of(2) == contact_state::outgoing);
  CAF_CHECK(!alice.are_friends(2));
  CAF_CHECK(bob.receive_request(1, t0) == contact_effect::changed);
  CAF_CHECK(bob.state_of(1) == contact_state::incoming);
  CAF_CHECK(bob.accept(1, t0, false) == contact_effect::notify_accept);
  CAF_CHECK(alice.receive_accept(2, t0) == contact_effect::changed);
  CAF_CHECK(alice.are_friends(2));
  CAF_CHECK(bob.are_friends(1));
}

CAF_TEST(accept or decline without a request is refused) {
  contact_list_state alice;
  CAF_CHECK(!alice.accept(5, t0, false));
  CAF_CHECK(!alice.decline(5));
  add(alice, 5);
  CAF_CHECK(!alice.accept(5, t0, false)); // our own outgoing request cannot be accepted by us
  CAF_CHECK(alice.receive_accept(6, t0) == contact_effect::none);
  CAF_CHECK(!alice.are_friends(6));
}

CAF_TEST(decline removes the request on both sides and starts a cooldown) {
  contact_list_state alice, bob;
  add(alice, 2);
  bob.receive_request(1, t0);
  CAF_CHECK(bob.decline(1) == contact_effect::notify_decline);
  CAF_CHECK(!bob.state_of(1));
  CAF_CHECK(alice.receive_decline(2, t0, rules) == contact_effect::changed);
  CAF_CHECK(!alice.state_of(2));
  auto again = alice.add(2, t0 + hour, rules, false);
  CAF_REQUIRE(!again);
  CAF_CHECK(again.error().code == errc::friend_request_cooldown);
  CAF_CHECK_EQUAL(again.error().retry_after_ms, rules.cooldown_ms - hour);
  // Other accounts may still be asked, and this one once the cooldown is over.
  CAF_CHECK(add(alice, 3) == contact_effect::notify_request);
  CAF_CHECK(add(alice, 2, false, t0 + rules.cooldown_ms) == contact_effect::notify_request);
}

CAF_TEST(pending requests expire and an expired one cools down) {
  contact_list_state alice;
  add(alice, 2);
  alice.receive_request(3, t0);
  add(alice, 4, true);
  CAF_CHECK(!alice.expire(t0 + rules.request_ttl_ms - 1, rules));
  CAF_CHECK(alice.expire(t0 + rules.request_ttl_ms, rules));
  CAF_CHECK(alice.entries().empty());
  auto now = t0 + rules.request_ttl_ms + 1;
  CAF_CHECK(alice.add(2, now, rules, false).error().code == errc::friend_request_cooldown);
  CAF_CHECK(alice.add(4, now, rules, false).error().code == errc::friend_request_cooldown);
  CAF_CHECK(add(alice, 3, false, now) == contact_effect::notify_request); // theirs: no cooldown
  // The cooldown ends, and is forgotten.
  CAF_CHECK(alice.expire(t0 + rules.request_ttl_ms + rules.cooldown_ms, rules));
  CAF_CHECK(add(alice, 2, false, t0 + rules.request_ttl_ms + rules.cooldown_ms) ==
            contact_effect::notify_request);
}

CAF_TEST(new requests are limited by a bucket that refills by the hour) {
  contact_list_state alice;
  auto burst = static_cast<account_id>(rules.requests.burst);
  for (account_id i = 1; i <= burst; ++i)
    CAF_CHECK(add(alice, 100 + i) == contact_effect::notify_request);
  auto refused = alice.add(999, t0, rules, false);
  CAF_REQUIRE(!refused);
  CAF_CHECK(refused.error().code == errc::friend_request_limit);
  auto wait = refused.error().retry_after_ms;
  CAF_CHECK(wait > 0 && wait <= hour);
  // Asking again someone asked already costs nothing.
  CAF_CHECK(add(alice, 101) == contact_effect::notify_request);
  CAF_CHECK(!alice.add(999, t0 + wait - 1000, rules, false));
  CAF_CHECK(add(alice, 999, false, t0 + wait) == contact_effect::notify_request);
}

CAF_TEST(two crossing requests make friends) {
  contact_list_state alice;
  add(alice, 2);
  CAF_CHECK(alice.receive_request(2, t0) == contact_effect::notify_accept);
  CAF_CHECK(alice.are_friends(2));
}

CAF_TEST(a request of a child waits for the parent and then goes out) {
  contact_list_state child;
  CAF_CHECK(add(child, 2, true) == contact_effect::ask_parent);
  CAF_CHECK(child.state_of(2) == contact_state::awaiting_parent);
  CAF_CHECK(add(child, 2, true) == contact_effect::ask_parent); // asks again, changes nothing
  CAF_CHECK(child.parent_approved(2, t0) == contact_effect::notify_request);
  CAF_CHECK(child.state_of(2) == contact_state::outgoing);
  CAF_CHECK(child.receive_accept(2, t0) == contact_effect::changed);
  CAF_CHECK(child.are_friends(2));
}

CAF_TEST(an accept of a child waits for the parent and a denial declines) {
  contact_list_state child;
  child.receive_request(2, t0);
  CAF_CHECK(child.accept(2, t0, true) == contact_effect::ask_parent);
  CAF_CHECK(child.state_of(2) == contact_state::awaiting_parent);
  CAF_CHECK(child.accept(2, t0, true) == contact_effect::ask_parent);
  CAF_CHECK(child.parent_approved(2, t0) == contact_effect::notify_accept);
  CAF_CHECK(child.are_friends(2));
  child.receive_request(3, t0);
  child.accept(3, t0, true);
  CAF_CHECK(child.parent_denied(3) == contact_effect::notify_decline);
  CAF_CHECK(!child.state_of(3));
  // A denied request of the child's own tells no one: it never left.
  add(child, 4, true);
  CAF_CHECK(child.parent_denied(4) == contact_effect::changed);
  CAF_CHECK(child.parent_approved(4, t0) == contact_effect::none);
}

CAF_TEST(a request that crosses the waiting request of a child makes friends at the approval) {
  contact_list_state child;
  add(child, 2, true);
  CAF_CHECK(child.receive_request(2, t0) == contact_effect::changed);
  CAF_CHECK(child.state_of(2) == contact_state::awaiting_parent);
  CAF_CHECK(child.parent_approved(2, t0) == contact_effect::notify_accept);
  CAF_CHECK(child.are_friends(2));
}

CAF_TEST(blocked contacts stay blocked until removed) {
  auto decoded = contact_list_state::decode(
      bytes{'{', '"', 'c', 'o', 'n', 't', 'a', 'c', 't', 's', '"', ':', '[', '{', '"', 'i', 'd',
            '"', ':', '9', ',', '"', 's', 't', 'a', 't', 'e', '"', ':', '4', '}', ']', '}'});
  CAF_REQUIRE(decoded);
  CAF_CHECK(decoded->state_of(9) == contact_state::blocked);
  CAF_CHECK(decoded->receive_request(9, t0) == contact_effect::none);
  CAF_CHECK(add(*decoded, 9) == contact_effect::none);
  CAF_CHECK(decoded->receive_remove(9) == contact_effect::none);
  CAF_CHECK(decoded->state_of(9) == contact_state::blocked);
  CAF_CHECK(decoded->remove(9) == contact_effect::changed);
  CAF_CHECK(!decoded->state_of(9));
}

CAF_TEST(block and remove tell the other side) {
  contact_list_state alice;
  add(alice, 2);
  alice.receive_accept(2, t0);
  CAF_CHECK(alice.block(2, t0) == contact_effect::notify_remove);
  CAF_CHECK(alice.is_blocked(2));
  CAF_CHECK(alice.block(3, t0) == contact_effect::changed); // a stranger: nothing to tell
  alice.receive_request(4, t0);
  CAF_CHECK(alice.remove(4) == contact_effect::notify_remove);
  CAF_CHECK(alice.remove(4) == contact_effect::none);
  contact_list_state bob;
  add(bob, 1);
  CAF_CHECK(bob.receive_remove(1) == contact_effect::changed);
  CAF_CHECK(!bob.state_of(1));
}

CAF_TEST(one report per target while the block holds and a bucket of them per account) {
  friend_limit_config two_a_day;
  two_a_day.reports = rate_limit{2.0 / 86400, 2};
  contact_list_state list;
  list.block(7, t0);
  CAF_CHECK(*list.may_report(7, t0, two_a_day));
  list.reported(7);
  auto back = contact_list_state::decode(list.encode());
  CAF_REQUIRE(back);
  CAF_CHECK(!*back->may_report(7, t0, two_a_day)); // filed already: no token spent
  back->block(8, t0);
  CAF_CHECK(*back->may_report(8, t0, two_a_day));
  back->block(9, t0);
  auto refused = back->may_report(9, t0, two_a_day);
  CAF_REQUIRE(!refused);
  CAF_CHECK(refused.error().code == errc::rate_limited);
  CAF_CHECK_EQUAL(refused.error().retry_after_ms, 43'200'000u); // half a day for one token
  // Unblocked, the contact may be reported again once blocked anew.
  back->remove(7);
  back->block(7, t0 + 43'200'000);
  CAF_CHECK(*back->may_report(7, t0 + 43'200'000, two_a_day));
}

CAF_TEST(contact lists and accounts round trip through their KV encoding) {
  contact_list_state list;
  CAF_CHECK(list.add(3, t0, rules, false));
  list.receive_request(4, t0);
  CAF_CHECK(list.add(5, t0, rules, true));
  list.receive_request(5, t0 + 1);
  CAF_CHECK(list.add(6, t0, rules, false));
  list.receive_decline(6, t0, rules);
  auto back = contact_list_state::decode(list.encode());
  CAF_REQUIRE(back);
  CAF_CHECK(back->entries() == list.entries());
  // The cooldown and the spent tokens come back too.
  CAF_CHECK(back->add(6, t0 + 1, rules, false).error().code == errc::friend_request_cooldown);
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

CAF_TEST(a stored number that is not an unsigned integer in range refuses the record) {
  account_record a;
  a.id = 42;
  a.name = "Ada";
  a.birth_date = "2015-01-01";
  auto encoded = encode_account(a);
  auto text = std::string(encoded.begin(), encoded.end());
  auto with_id = [&](const std::string& id) {
    auto s = text;
    s.replace(s.find("\"id\":42"), 7, "\"id\":" + id);
    return decode_account(bytes_of(s));
  };
  CAF_CHECK(with_id("42"));
  CAF_CHECK(!with_id("42.5"));
  CAF_CHECK(!with_id("-42"));
  CAF_CHECK(!with_id("4444444444444444444444444444444444444444444444444444"));
  CAF_CHECK(!contact_list_state::decode(bytes_of(R"({"contacts":[{"id":1e30,"state":3}]})")));
  CAF_CHECK(!contact_list_state::decode(bytes_of(R"({"contacts":[],"children":[1.5]})")));
}

/// 2026-12-06 12:00 UTC in ms: the day the age rules are checked on.
constexpr uint64_t today_ms = 1'796'558'400'000ull;

CAF_TEST(registrations are of parents old enough with usable keys) {
  auto sign = crypto::sign_keypair::generate().pk;
  auto box = crypto::box_keypair::generate().pk;
  age_rules ages;
  auto check = [&](std::string name, std::string date, account_role role = account_role::parent) {
    return validate_registration({std::move(name), std::move(date), role, sign, box}, today_ms, ages);
  };
  CAF_CHECK(!check("Alice", "1980-02-29"));
  CAF_CHECK(!check("Alice", "2008-12-06")); // 18 today
  CAF_CHECK(check("Alice", "2008-12-07"));  // 18 tomorrow
  CAF_CHECK(check("Alice", "2016-02-29"));  // a child's birth date
  CAF_CHECK(check("Alice", "2026-12-05"));  // yesterday
  CAF_CHECK(check("Alice", "1980-01-01", account_role::child)); // children are made by parents
  CAF_CHECK(check("Alice", "1980-01-01", static_cast<account_role>(3)));
  CAF_CHECK(check("", "1980-02-29"));
  CAF_CHECK(check("A\nB", "1980-02-29"));
  CAF_CHECK(check("Alice", "1981-02-29"));
  CAF_CHECK(check("Alice", "1980/02/29"));
  CAF_CHECK(check("Alice", "2999-01-01"));
  CAF_CHECK(check("Alice", "1800-01-01"));
  // Keys that are not usable points: the all-zero X25519 key and the Ed25519 identity.
  public_key zero{}, identity{};
  identity[0] = 1;
  CAF_CHECK(validate_registration({"Alice", "1980-02-29", account_role::parent, sign, zero},
                                  today_ms, ages));
  CAF_CHECK(validate_registration({"Alice", "1980-02-29", account_role::parent, identity, box},
                                  today_ms, ages));
  // Another operator's rules.
  CAF_CHECK(!validate_registration({"Alice", "2005-01-01", account_role::parent, sign, box},
                                   today_ms, age_rules{21, 13}));
  CAF_CHECK(validate_registration({"Alice", "2006-01-01", account_role::parent, sign, box},
                                  today_ms, age_rules{21, 13}));
}

CAF_TEST(a child account is for a child younger than the limit) {
  age_rules ages;
  auto check = [&](std::string date) {
    return validate_child({"Mia", std::move(date)}, today_ms, ages);
  };
  CAF_CHECK(!check("2015-04-12"));
  CAF_CHECK(!check("2026-12-06"));     // born today
  CAF_CHECK(!check("2013-12-07"));     // 13 tomorrow
  CAF_CHECK(check("2013-12-06"));      // 13 today
  CAF_CHECK(check("1970-01-01"));
  CAF_CHECK(check("2026-12-07"));      // not born yet
  CAF_CHECK(validate_child({"", "2015-04-12"}, today_ms, ages));
  CAF_CHECK(!validate_child({"Mia", "2009-01-01"}, today_ms, age_rules{18, 18}));
}

CAF_TEST(a name that shows nothing or passes for another is refused) {
  for (auto* good : {"Mum", "Мама", "Zoë", "李小龙", "Ana María", "O'Brien", "Émile-2", "😀 Sam",
                     "Ali علي", "Sara سارا", "さくら Sakura", "Nguyễn", "Mia ❤", "7", "Արամ",
                     "राम Ram", "Anne-Marie"})
    CAF_CHECK_EQUAL(std::string{good} + (check_name(good) ? ": " + *check_name(good) : ""),
                    std::string{good});
  const char* bad[] = {
      "\xd0\x9c" "um",                       // Cyrillic М, Latin um
      "\xef\xbc\xad\xef\xbd\x95\xef\xbd\x8d", // Ｍｕｍ, full-width
      "\xf0\x9d\x90\x8c\xf0\x9d\x90\xae\xf0\x9d\x90\xa6", // 𝐌𝐮𝐦, mathematical bold
      "\xe3\x85\xa4",                        // U+3164 Hangul filler
      "\xe1\x85\x9f",                        // U+115F Hangul choseong filler
      "\xe2\xa0\x80",                        // U+2800 braille blank
      "A\xe2\xa0\x80" "B",                   // ... between letters
      "\xf3\xa0\x80\x81\xf3\xa0\x81\xa1",    // tag characters
      "\xef\xb8\x8f",                        // a variation selector alone
      "Mia \xe2\x9d\xa4\xef\xb8\x8f",        // ... or after an emoji
      "a\xcc\x81\xcc\x80\xcc\x82",           // three marks on one letter
      "a\xcc\x81\xcc\x81",                   // one mark twice
      "...",                                 // no letter or digit
      "\xf0\x9f\x98\x80",                    // an emoji alone
      "1\xd9\xa3",                           // digits of two systems
      "\xea\x93\x9f" "um",                   // Lisu ꓟ, Latin um
      "M\xd5\xbd" "m",                       // Armenian ս between Latin letters
      "\xe1\x97\xb0" "um",                   // Canadian syllabics ᗰ
      "M\xe1\xb4\x9c" "m",                   // small capital ᴜ
      "\xc9\xb1" "um",                       // ɱ, a phonetic letter
      "Mum\xd9\xa1",                         // an Arabic-Indic digit after Latin letters
      "Mu\xcc\x88m",                         // u and a combining diaeresis, not ü
  };
  for (auto* name : bad)
    CAF_CHECK_EQUAL(std::string{name} + (check_name(name) ? " refused" : " taken"),
                    std::string{name} + " refused");
  // Everything the shared check refuses, this refuses too.
  CAF_CHECK(check_name("A\xe2\x80\xae" "B"));
}

CAF_TEST(display names are UTF-8 with nothing that hides or disguises text) {
  for (auto* good : {"Alice", "Zoë", "李小龙", "Ana María", "O'Brien", "Émile-2", "😀 Sam"})
    CAF_CHECK(!check_display_name(good));
  const char* bad[] = {
      "",                                // empty
      " Alice",                          // leading space
      "Alice ",                          // trailing space
      "\xff\xfe",                        // not UTF-8
      "\xc0\xaf",                        // overlong '/'
      "\xed\xa0\x80",                    // a surrogate
      "\xf4\x90\x80\x80",                // above U+10FFFF
      "A\nB",                            // control
      "A\x7f",                           // DEL
      "A\xc2\x85",                       // C1 (NEL)
      "A\xe2\x80\xa8",                   // line separator
      "evil\xe2\x80\xae" "gnp.exe",         // right-to-left override
      "A\xe2\x81\xa6" "B",                  // left-to-right isolate
      "A\xe2\x80\x8b" "B",                  // zero-width space
      "A\xe2\x80\x8d" "B",                  // zero-width joiner
      "A\xef\xbb\xbf",                   // BOM
      "A\xc2\xad",                       // soft hyphen
      "A\xee\x80\x80",                   // private use
      "A\xef\xbf\xbe",                   // noncharacter
  };
  for (auto* name : bad)
    CAF_CHECK(check_display_name(name));
  CAF_CHECK(!check_display_name(std::string(32, 'a')));
  CAF_CHECK(check_display_name(std::string(33, 'a')));
  std::string long_utf8;
  for (int i = 0; i < 22; ++i)
    long_utf8 += "李"; // 22 characters, 66 bytes
  CAF_CHECK(check_display_name(long_utf8));
}
