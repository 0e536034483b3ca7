// The ack window alone: what is held, what its ack answers, what goes to the store and
// when, retries of a held key, and the bounds per user and per node.
#define CAF_SUITE held_window
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/held_window.hpp"
#include "reply_slots.hpp"

using namespace kinbox;
using testing::answers;
using namespace std::chrono_literals;

namespace {

constexpr account_id bob = 2222222222;
constexpr account_id alice = 1111111111;
constexpr account_id carol = 3333333333;
const held_window::time_point t0{};

message_id id_of(uint8_t tag) {
  message_id id;
  id.fill(tag);
  return id;
}

envelope mail(account_id from, uint8_t tag, size_t size = 10) {
  return envelope{bob, mail_kind::message, id_of(tag), from, 1, 2, bytes(size, tag), 0};
}

mail_key key(account_id from, uint8_t tag) {
  return {mail_kind::message, from, id_of(tag)};
}

struct fixture {
  held_window window;
  held_budget budget{1000};

  bool hold(std::vector<envelope> batch, const answers& a, size_t first,
            held_window::time_point until, size_t max = 100) {
    std::vector<reply_to> replies;
    for (size_t i = 0; i < batch.size(); ++i)
      replies.push_back(a.slot(first + i));
    return window.hold(batch, replies, until, max, budget);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(held_window_tests, fixture)

CAF_TEST(mail acked in time answers its sender and never reaches the store) {
  answers a{2};
  CAF_REQUIRE(hold({mail(alice, 1), mail(alice, 2)}, a, 0, t0 + 50ms));
  CAF_CHECK_EQUAL(budget.used(), 20u);
  CAF_CHECK(window.ack(key(alice, 1), budget));
  CAF_CHECK(a.accepted(0));
  CAF_CHECK(!a.accepted(1));
  CAF_CHECK(!window.ack(key(alice, 1), budget)); // acked already: the store's business
  CAF_CHECK(!window.ack(key(carol, 2), budget)); // another sender's id 2 is not held
  auto due = window.take(true, t0, budget);
  CAF_REQUIRE_EQUAL(due.mail.size(), 1u);
  CAF_CHECK(due.mail[0].id == id_of(2));
  CAF_CHECK(window.empty());
  CAF_CHECK_EQUAL(budget.used(), 0u);
}

CAF_TEST(a retry of a held key joins it and is answered with it or stored with it) {
  answers a{4};
  CAF_REQUIRE(hold({mail(alice, 1)}, a, 0, t0 + 50ms));
  CAF_REQUIRE(hold({mail(alice, 1)}, a, 1, t0 + 60ms)); // the sender's retry
  CAF_CHECK_EQUAL(window.size(), 1u);
  CAF_CHECK_EQUAL(budget.used(), 10u); // held once
  CAF_CHECK(window.ack(key(alice, 1), budget));
  CAF_CHECK(a.accepted(0) && a.accepted(1));
  // Unacked, a retry is a put of its own, answered when durable.
  CAF_REQUIRE(hold({mail(carol, 1)}, a, 2, t0 + 50ms));
  CAF_REQUIRE(hold({mail(carol, 1)}, a, 3, t0 + 50ms));
  auto due = window.take(true, t0, budget);
  CAF_CHECK_EQUAL(due.mail.size(), 2u);
  CAF_CHECK_EQUAL(due.replies.size(), 2u);
  CAF_CHECK(!a.accepted(2) && !a.accepted(3));
}

CAF_TEST(only mail that waited its whole window is taken and oldest first) {
  answers a{3};
  CAF_REQUIRE(hold({mail(alice, 1)}, a, 0, t0 + 50ms));
  CAF_REQUIRE(hold({mail(alice, 2)}, a, 1, t0 + 70ms));
  CAF_REQUIRE(hold({mail(alice, 3)}, a, 2, t0 + 90ms));
  CAF_CHECK(window.next_deadline() == t0 + 50ms);
  CAF_CHECK(window.take(false, t0 + 49ms, budget).empty());
  auto due = window.take(false, t0 + 75ms, budget);
  CAF_REQUIRE_EQUAL(due.mail.size(), 2u);
  CAF_CHECK(due.mail[0].id == id_of(1));
  CAF_CHECK(due.mail[1].id == id_of(2));
  CAF_CHECK(window.next_deadline() == t0 + 90ms);
  CAF_CHECK(window.ack(key(alice, 3), budget));
  CAF_CHECK(!window.next_deadline());
}

CAF_TEST(holding is all or nothing within the user bound and the node budget) {
  answers a{4};
  std::vector<envelope> batch{mail(alice, 1), mail(alice, 2), mail(alice, 3)};
  std::vector<reply_to> replies{a.slot(0), a.slot(1), a.slot(2)};
  CAF_CHECK(!window.hold(batch, replies, t0 + 50ms, 2, budget)); // more than 2 a user
  CAF_CHECK_EQUAL(batch.size(), 3u);                            // left for the store
  CAF_CHECK_EQUAL(replies.size(), 3u);
  CAF_CHECK(window.empty());
  held_budget small{25};
  CAF_CHECK(!window.hold(batch, replies, t0 + 50ms, 100, small)); // 30 bytes > 25
  CAF_CHECK_EQUAL(small.used(), 0u);
  CAF_CHECK(window.hold(batch, replies, t0 + 50ms, 100, budget));
  CAF_CHECK(batch.empty() && replies.empty());
  CAF_CHECK_EQUAL(window.size(), 3u);
}

CAF_TEST(a deletion answers every held sender and gives the budget back) {
  answers a{2};
  CAF_REQUIRE(hold({mail(alice, 1), mail(carol, 1)}, a, 0, t0 + 50ms));
  size_t seen = 0;
  window.for_each([&](const envelope&) { ++seen; });
  CAF_CHECK_EQUAL(seen, 2u);
  window.answer_all(budget);
  CAF_CHECK(a.accepted(0) && a.accepted(1));
  CAF_CHECK(window.empty());
  CAF_CHECK_EQUAL(budget.used(), 0u);
  CAF_CHECK(window.take(true, t0, budget).empty());
}

CAF_TEST(a long run of holds and acks keeps its positions right) {
  answers a{3000};
  size_t held = 0, acked = 0, answered = 0;
  for (size_t i = 0; i < 3000; ++i) {
    std::vector<envelope> one{mail(static_cast<account_id>(i + 1), 1, 0)};
    std::vector<reply_to> slot{a.slot(i)};
    held += window.hold(one, slot, t0 + 50ms, 4096, budget) ? 1 : 0;
  }
  // Acked out of order, past the point where the front is dropped.
  for (size_t i = 2999; i >= 1; --i)
    if (i % 2 == 1)
      acked += window.ack(key(static_cast<account_id>(i + 1), 1), budget) ? 1 : 0;
  for (size_t i = 0; i < 3000; i += 2)
    acked += window.ack(key(static_cast<account_id>(i + 1), 1), budget) ? 1 : 0;
  for (size_t i = 0; i < 3000; ++i)
    answered += a.accepted(i) ? 1 : 0;
  CAF_CHECK_EQUAL(held, 3000u);
  CAF_CHECK_EQUAL(acked, 3000u);
  CAF_CHECK_EQUAL(answered, 3000u);
  CAF_CHECK(window.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
