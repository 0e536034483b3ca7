#define CAF_SUITE store_actor
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <unistd.h>

#include <filesystem>

#include "persistence/store_actor.hpp"

using namespace kinbox;
using namespace std::chrono_literals;

namespace {

struct fixture {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kinbox-store-" + std::to_string(::getpid()));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  store_actor store;

  fixture() {
    std::filesystem::remove_all(dir);
    auto box = mailbox::open({dir.string(), 1 << 20, 64 << 20});
    CAF_REQUIRE(box);
    // A long commit window, so the test can ack before the batch commits.
    store = spawn_store(sys, std::move(*box), std::chrono::microseconds(300'000));
  }

  ~fixture() {
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    std::filesystem::remove_all(dir);
  }

  static envelope mail(uint8_t tag) {
    envelope e;
    e.recipient = 42;
    e.id.fill(tag);
    e.sender = 7;
    e.expires_at_ms = 1000;
    e.payload.assign(10, tag);
    return e;
  }

  std::vector<envelope> ack(uint8_t tag) {
    std::vector<envelope> removed;
    self->request(store, 5s, ack_atom::value,
                  std::vector<mail_ref>{{42, {mail_kind::message, 7, mail(tag).id}}})
        .receive([&](std::vector<envelope>& r) { removed = std::move(r); },
                 [](caf::error&) { CAF_FAIL("ack failed"); });
    return removed;
  }

  /// Puts the mail of these tags in one request; the reply arrives with `receive`.
  auto put(std::initializer_list<uint8_t> tags) {
    std::vector<envelope> batch;
    for (auto t : tags)
      batch.push_back(mail(t));
    return self->request(store, 5s, put_atom::value, std::move(batch), true);
  }

  std::vector<uint8_t> pending_tags() {
    std::vector<uint8_t> tags;
    self->request(store, 5s, pending_atom::value, account_id{42}, uint64_t{0}, uint64_t{100},
                  uint64_t{1} << 20)
        .receive(
            [&](mail_page& page) {
              for (auto& e : page.mail)
                tags.push_back(e.id[0]);
            },
            [](caf::error&) { CAF_FAIL("pending failed"); });
    return tags;
  }

  template <class Handle>
  static std::vector<bool> stored_flags(Handle& handle) {
    std::vector<bool> flags;
    handle.receive(
        [&](std::vector<put_result>& r) {
          for (auto x : r)
            flags.push_back(x == put_result::stored);
        },
                   [](caf::error&) { CAF_FAIL("put failed"); });
    return flags;
  }

  uint64_t count() {
    uint64_t n = 0;
    self->request(store, 5s, count_atom::value)
        .receive([&](uint64_t x) { n = x; }, [](caf::error&) { CAF_FAIL("count failed"); });
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(store_actor_tests, fixture)

CAF_TEST(mail acked before its batch commits is answered and never written) {
  auto handle = put({1});
  auto removed = ack(1);
  CAF_REQUIRE_EQUAL(removed.size(), 1u);
  CAF_CHECK_EQUAL(removed[0].sender, 7u);
  CAF_CHECK(removed[0].payload.empty());
  CAF_CHECK_EQUAL(stored_flags(handle), std::vector<bool>{true});
  CAF_CHECK_EQUAL(count(), 0u);
}

CAF_TEST(mail not acked in time is committed and acked from disk later) {
  auto handle = put({2});
  CAF_CHECK_EQUAL(stored_flags(handle), std::vector<bool>{true});
  CAF_CHECK_EQUAL(count(), 1u);
  CAF_CHECK_EQUAL(ack(2).size(), 1u);
  CAF_CHECK_EQUAL(count(), 0u);
}

CAF_TEST(a second put of the same mail in one batch is stored once and hears its outcome) {
  // Both wait for the one commit: a retry must not hear "stored" for mail that a full
  // disk or a cap then refuses.
  auto first = put({3});
  auto second = put({3});
  CAF_CHECK_EQUAL(stored_flags(second), std::vector<bool>{true});
  CAF_CHECK_EQUAL(stored_flags(first), std::vector<bool>{true});
  CAF_CHECK_EQUAL(count(), 1u);
}

CAF_TEST(a put of several envelopes commits those not acked meanwhile) {
  auto handle = put({4, 5, 6, 5});
  CAF_CHECK_EQUAL(ack(5).size(), 1u);
  CAF_CHECK_EQUAL(stored_flags(handle), (std::vector<bool>{true, true, true, true}));
  CAF_CHECK_EQUAL(count(), 2u);
  CAF_CHECK_EQUAL(ack(4).size(), 1u);
  CAF_CHECK_EQUAL(ack(6).size(), 1u);
  CAF_CHECK_EQUAL(count(), 0u);
}

CAF_TEST(a page read commits the puts before it and pages them in arrival order) {
  auto first = put({10});
  auto second = put({11, 9});
  // Within the commit window: the page read commits them first (a session's drain).
  CAF_CHECK_EQUAL(pending_tags(), (std::vector<uint8_t>{10, 11, 9}));
  CAF_CHECK_EQUAL(stored_flags(first), std::vector<bool>{true});
  CAF_CHECK_EQUAL(stored_flags(second), (std::vector<bool>{true, true}));
}

CAF_TEST_FIXTURE_SCOPE_END()
