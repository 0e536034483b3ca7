// The sweeper under CAF's deterministic test coordinator: every pass asks the store to
// expire mail, tells the sender of each expired message (not of notices or receipts) with
// an `expired` receipt from the recipient, goes on at once while the store has more, and
// waits an interval after a finished or failed pass.
#define CAF_SUITE sweeper
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <deque>

#include "actors/sweeper.hpp"
#include "config/caf_error.hpp"
#include "fakes.hpp"

using namespace kinbox;

namespace {

constexpr auto interval = std::chrono::seconds(60);

struct world {
  std::deque<expired_mail> pages; ///< what the store's next expire calls answer
  bool store_fails = false;
  size_t expire_calls = 0;
  std::vector<entity_request> receipts; ///< what reached user entities
};

envelope expired(account_id recipient, account_id sender, uint8_t tag, mail_kind kind) {
  envelope e;
  e.recipient = recipient;
  e.sender = sender;
  e.kind = kind;
  e.id.fill(tag);
  return e;
}

store_actor::behavior_type fake_store(store_actor::pointer, std::shared_ptr<world> w) {
  return {
      [=](put_atom, std::vector<envelope>&, bool) { return std::vector<put_result>{}; },
      [=](ack_atom, std::vector<mail_ref>&) { return std::vector<envelope>{}; },
      [=](pending_atom, account_id, uint64_t, uint64_t, uint64_t) { return mail_page{}; },
      [=](expire_atom, uint64_t) -> caf::result<expired_mail> {
        ++w->expire_calls;
        if (w->store_fails)
          return make_error(errc::unavailable, "disk gone");
        if (w->pages.empty())
          return expired_mail{};
        auto page = std::move(w->pages.front());
        w->pages.pop_front();
        return page;
      },
      [=](count_atom) { return uint64_t{0}; },
      [=](usage_atom, account_id) -> caf::result<uint64_t, uint64_t> {
        return {0, 0};
      },
      [=](recipients_atom, account_id, uint64_t) { return std::vector<account_id>{}; },
      [=](flush_atom) {},
      [=](compact_atom) {},
      [=](compact_now_atom, bool) {},
      [=](gauges_atom) {},
  };
}

caf::behavior user_entity(caf::event_based_actor*, std::shared_ptr<world> w) {
  return {
      [=](std::vector<entity_request>& reqs) {
        w->receipts.insert(w->receipts.end(), reqs.begin(), reqs.end());
        return std::vector<entity_reply>(reqs.size(), ok_reply());
      },
  };
}

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<world> w = std::make_shared<world>();
  fakes::no_bus bus;
  std::shared_ptr<entity_service> service;
  user_deps deps;
  sweeper_actor sweeper;

  fixture() {
    service = fakes::lone_node_service(bus);
    service->register_kind(user_kind, sys.spawn(fakes::host, sys.spawn(user_entity, w)),
                           user_codec());
    deps.store = sys.spawn(fake_store, w);
    deps.service = service;
    deps.now_ms = [] { return uint64_t{5'000'000}; };
  }

  ~fixture() {
    caf::anon_send_exit(sweeper, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  void start() {
    sweeper = spawn_sweeper(sys, deps, interval);
    consume_messages();
  }

  void pass(std::chrono::seconds t) {
    sched.advance_time(t);
    consume_messages();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(sweeper_tests, fixture)

CAF_TEST(expired messages are told to their senders and the pass goes on while there is more) {
  w->pages.push_back(
      {{expired(1, 2, 7, mail_kind::message), expired(1, 3, 8, mail_kind::notice)}, true});
  w->pages.push_back(
      {{expired(4, 5, 9, mail_kind::message), expired(4, 6, 10, mail_kind::delivered)}, false});
  start();
  CAF_CHECK_EQUAL(w->expire_calls, 2u);
  CAF_REQUIRE_EQUAL(w->receipts.size(), 2u); // no receipt for a notice or a receipt
  auto first = w->receipts[0];
  CAF_CHECK_EQUAL(first.id, 2u);     // to the sender
  CAF_CHECK_EQUAL(first.caller, 1u); // from the recipient that never got it
  CAF_CHECK_EQUAL(first.op, static_cast<uint8_t>(user_op::deliver));
  CAF_REQUIRE(first.args.match_elements<deliver_body>());
  auto* body = &first.args.get_as<deliver_body>(0);
  CAF_CHECK(body->kind == mail_kind::expired);
  CAF_CHECK(body->id == expired(1, 2, 7, mail_kind::message).id);
  CAF_CHECK(body->payload.empty()); // the content is never in a receipt
  CAF_CHECK_EQUAL(w->receipts[1].id, 5u);
  // The next pass waits the interval.
  pass(interval - std::chrono::seconds(1));
  CAF_CHECK_EQUAL(w->expire_calls, 2u);
  pass(std::chrono::seconds(1));
  CAF_CHECK_EQUAL(w->expire_calls, 3u);
}

CAF_TEST(a failed pass is tried again after the interval and not at once) {
  w->store_fails = true;
  start();
  CAF_CHECK_EQUAL(w->expire_calls, 1u);
  pass(std::chrono::seconds(30));
  CAF_CHECK_EQUAL(w->expire_calls, 1u);
  w->store_fails = false;
  w->pages.push_back({{expired(1, 2, 7, mail_kind::message)}, false});
  pass(std::chrono::seconds(30));
  CAF_CHECK_EQUAL(w->expire_calls, 2u);
  CAF_CHECK_EQUAL(w->receipts.size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
