// Calls through real gateways, a real nats-server and real TCP: a call answered, busy,
// declined and hung up with its signals going only between the sessions (no trace in KV
// or in the mailbox), a ring that times out and a callee offline each leaving one missed
// call, and a group ring in which a member whose filter refuses the caller looks offline.
#define CAF_SUITE call
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <algorithm>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

using what = client::received::what;

/// The next call event `u` gets for call `id` within `timeout`.
std::optional<client::received> next_call_event(user& u, call_id id,
                                                std::chrono::milliseconds timeout) {
  std::optional<client::received> out;
  eventually(
      [&] {
        auto items = u->receive(200ms);
        if (items)
          for (auto& r : *items)
            if (!out && r.kind == what::call && r.call && r.call->id == id)
              out = r;
        return out.has_value();
      },
      timeout);
  return out;
}

std::optional<call_outcome> outcome(const result<call_ring_result>& r, account_id who) {
  if (!r)
    return std::nullopt;
  for (auto& ring : r->rung)
    if (ring.id == who)
      return ring.outcome;
  return std::nullopt;
}

/// The missed calls `u` gets within `timeout`.
std::vector<client::received> missed_calls(user& u, std::chrono::milliseconds timeout) {
  std::vector<client::received> out;
  for (auto& r : receive_n(u, 1, timeout))
    if (r.kind == what::missed_call)
      out.push_back(r);
  return out;
}

struct fixture : nats_fixture {
  node n{&nats, {"--ring-timeout", "5s"}};
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(call_tests, fixture)

CAF_TEST(a call goes between the sessions only and leaves nothing on any disk) {
  auto [amy, ben] = make_friends(n, "Amy", "Ben");
  auto cat = make_user(n, "Cat");
  befriend(cat, ben);
  cluster_probe probe{nats};
  std::vector<std::string> kv_before;
  CAF_REQUIRE(eventually([&] {
    auto now = probe.kv_entries();
    std::this_thread::sleep_for(300ms);
    kv_before = probe.kv_entries();
    return now == kv_before;
  }));
  auto rung = amy->call_offer(ben.id, 11, true, "amy's session description");
  CAF_CHECK(outcome(rung, ben.id) == call_outcome::ringing);
  auto offer = next_call_event(ben, 11, 5s);
  CAF_REQUIRE(offer);
  CAF_CHECK(offer->call->signal == call_signal::offer && offer->call->video);
  CAF_CHECK_EQUAL(offer->text, "amy's session description"); // sealed for Ben, opened by him
  // Ben is in a call: Cat hears busy, and no missed call is left for it.
  CAF_CHECK(outcome(cat->call_offer(ben.id, 12, false), ben.id) == call_outcome::busy);
  CAF_REQUIRE(ben->call_signal_to(11, call_signal::answer, amy.id, "ben's description"));
  auto answer = next_call_event(amy, 11, 5s);
  CAF_REQUIRE(answer);
  CAF_CHECK(answer->call->signal == call_signal::answer);
  CAF_CHECK_EQUAL(answer->text, "ben's description");
  CAF_REQUIRE(amy->call_signal_to(11, call_signal::ice, ben.id, "candidate 1"));
  auto ice = next_call_event(ben, 11, 5s);
  CAF_CHECK(ice && ice->call->signal == call_signal::ice);
  CAF_REQUIRE(amy->call_signal_to(11, call_signal::hangup));
  auto hangup = next_call_event(ben, 11, 5s);
  CAF_CHECK(hangup && hangup->call->signal == call_signal::hangup && hangup->call->reason == 0);
  // Over: Cat's next call rings, and Ben declines it.
  CAF_CHECK(outcome(cat->call_offer(ben.id, 13, false), ben.id) == call_outcome::ringing);
  CAF_REQUIRE(next_call_event(ben, 13, 5s));
  CAF_REQUIRE(ben->call_signal_to(13, call_signal::decline));
  auto declined = next_call_event(cat, 13, 5s);
  CAF_CHECK(declined && declined->call->signal == call_signal::decline);
  CAF_CHECK(probe.kv_entries() == kv_before);
  amy.conn.reset();
  ben.conn.reset();
  cat.conn.reset();
  CAF_CHECK_EQUAL(n.stop(), 0);
  for (auto& e : mailbox_contents(n)) {
    CAF_CHECK(e.kind != mail_kind::call);
    CAF_CHECK(e.kind != mail_kind::missed_call); // every call was answered or declined
  }
}

CAF_TEST(an unanswered ring and an offline callee each leave one missed call) {
  auto [amy, ben] = make_friends(n, "Amy", "Ben");
  CAF_CHECK(outcome(amy->call_offer(ben.id, 21, false), ben.id) == call_outcome::ringing);
  CAF_REQUIRE(next_call_event(ben, 21, 5s));
  auto over = next_call_event(amy, 21, 10s); // --ring-timeout 5s
  CAF_REQUIRE(over);
  CAF_CHECK(over->call->signal == call_signal::hangup &&
            over->call->reason == static_cast<uint8_t>(call_outcome::no_answer));
  auto missed = missed_calls(ben, 5s);
  CAF_REQUIRE_EQUAL(missed.size(), 1u);
  CAF_CHECK(missed[0].from == amy.id && missed[0].missed->id == 21 &&
            missed[0].missed->why == call_outcome::no_answer);
  ben.conn.reset();
  CAF_CHECK(eventually([&] {
    return outcome(amy->call_offer(ben.id, 22, false), ben.id) == call_outcome::offline;
  }));
  reconnect(ben, n);
  auto offline = missed_calls(ben, 5s);
  CAF_REQUIRE(!offline.empty());
  CAF_CHECK(offline.back().missed->why == call_outcome::offline);
}

CAF_TEST(a group ring reaches the members whose filter lets the caller through) {
  auto [amy, ben] = make_friends(n, "Amy", "Ben");
  auto dan = make_user(n, "Dan"); // Ben's friend, a stranger to Amy
  befriend(ben, dan);
  auto g = ben->group_create("Book club", {amy.id, dan.id});
  CAF_REQUIRE(g);
  auto rung = amy->call_offer(g->id, 31, false);
  CAF_REQUIRE(rung);
  CAF_CHECK(outcome(rung, ben.id) == call_outcome::ringing);
  // Dan is online, but his filter refuses Amy: to her he looks offline, and he is not rung.
  CAF_CHECK(outcome(rung, dan.id) == call_outcome::offline);
  auto ring = next_call_event(ben, 31, 5s);
  CAF_CHECK(ring && ring->call->group == g->id);
  CAF_CHECK(!next_call_event(dan, 31, 1s));
  CAF_CHECK(missed_calls(dan, 1s).empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
