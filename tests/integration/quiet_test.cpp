// Quiet hours through a real node, a real nats-server and real TCP, on the wall clock: a
// period that crosses midnight begins and ends inside the test, and the node is stopped
// before midnight and started again after it. The node runs under libfaketime, shifted
// by less than an hour so that its local time (in a whole-hour zone) is 23:58:30 when
// the test begins; the test's own clock and the nats-server's are not shifted.
#define CAF_SUITE quiet
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <filesystem>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

using what = client::received::what;
using std::chrono::system_clock;

constexpr const char* faketime_lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

uint64_t real_now_s() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch())
          .count());
}

/// The node's clock: `offset_s` ahead of the real one, and a tz database zone of whole
/// hours in which the node's time is 23:58:30 when this is made.
struct shifted_clock {
  uint64_t offset_s;
  uint64_t start_s; ///< the node's time at 23:58:30 local
  std::string zone;

  shifted_clock() {
    auto now = real_now_s();
    offset_s = (58 * 60 + 30 + 3600 - now % 3600) % 3600;
    start_s = now + offset_s;
    int hour = static_cast<int>(start_s / 3600 % 24);
    int ahead = (23 - hour + 24) % 24; // local = UTC + ahead hours, or ahead - 24
    if (ahead > 14)
      ahead -= 24;
    // The Etc zones count the other way round: Etc/GMT-3 is three hours ahead of UTC.
    zone = ahead == 0 ? "UTC"
                      : "Etc/GMT" + std::string{ahead > 0 ? "-" : "+"} +
                            std::to_string(ahead > 0 ? ahead : -ahead);
  }

  /// The node's time `s` seconds after 23:58:30 local, in ms.
  uint64_t at_ms(uint64_t s) const { return (start_s + s) * 1000; }

  /// Sleeps until the node's clock reads 23:58:30 local plus `s` seconds.
  void sleep_until(uint64_t s) const {
    std::this_thread::sleep_until(
        system_clock::time_point{std::chrono::seconds(start_s + s - offset_s)});
  }

  std::vector<std::string> env() const {
    return {"LD_PRELOAD=" + std::string{faketime_lib},
            "FAKETIME=+" + std::to_string(offset_s) + "s", "FAKETIME_DONT_FAKE_MONOTONIC=1"};
  }
};

/// Everything `u` receives within `wait`.
std::vector<client::received> receive_for(user& u, std::chrono::milliseconds wait) {
  std::vector<client::received> out;
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    auto items = u->receive(200ms);
    if (items)
      out.insert(out.end(), items->begin(), items->end());
  }
  return out;
}

size_t count_of(const std::vector<client::received>& items, what kind) {
  size_t n = 0;
  for (auto& r : items)
    n += r.kind == kind;
  return n;
}

std::vector<std::string> texts_of(const std::vector<client::received>& items) {
  std::vector<std::string> out;
  for (auto& r : items)
    if (r.kind == what::text)
      out.push_back(r.text);
  return out;
}

struct fixture : nats_fixture {
  shifted_clock clock;
  node n{&nats, {"--quiet-release-spread", "0s"}, "node1", clock.env()};
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(quiet_tests, fixture)

CAF_TEST(quiet hours cross midnight on the wall clock and survive a node restart) {
  if (!std::filesystem::exists(faketime_lib))
    CAF_FAIL("libfaketime is not installed (scripts/common.sh installs it)");
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  CAF_REQUIRE(mum->policy_set(mia.id, client::friend_policy_choice::child_alone));
  auto fay = make_user(n, "Fay");
  befriend(fay, mia);
  // Quiet from 23:59 to 00:01: it begins 30 s after the start, midnight is at 90 s.
  quiet_schedule night{0x7f, 23 * 60 + 59, 1, clock.zone};
  auto set = mum->quiet_set(mia.id, night);
  CAF_REQUIRE(set);
  CAF_CHECK(!set->asleep);
  CAF_CHECK_EQUAL(set->next_change_ms, clock.at_ms(30)); // the node keeps the shifted time
  CAF_REQUIRE(fay->send_text(mia.id, "before bedtime"));
  auto evening = receive_for(mia, 2s);
  CAF_CHECK(texts_of(evening) == std::vector<std::string>{"before bedtime"});

  clock.sleep_until(31); // 23:59:01
  auto dusk = receive_for(mia, 3s);
  CAF_CHECK_EQUAL(count_of(dusk, what::quiet_began), 1u);
  auto asleep = mum->quiet_get(mia.id);
  CAF_REQUIRE(asleep);
  CAF_CHECK(asleep->asleep);
  CAF_CHECK_EQUAL(asleep->next_change_ms, clock.at_ms(150));
  CAF_REQUIRE(fay->send_text(mia.id, "good night"));
  auto ring = fay->call_offer(mia.id, 31, false);
  CAF_REQUIRE(ring && ring->rung.size() == 1);
  CAF_CHECK(ring->rung[0].outcome == call_outcome::asleep);
  auto refused = mia->send_text(fay.id, "still awake");
  CAF_REQUIRE(!refused);
  CAF_CHECK(refused.error().code == errc::asleep);
  CAF_CHECK(mia->send_text(mum.id, "I can't sleep")); // the linked parent is the exception
  auto night_items = receive_for(mia, 2s);
  CAF_CHECK(texts_of(night_items).empty());
  CAF_CHECK_EQUAL(count_of(night_items, what::missed_call), 0u);

  // The node stops before midnight and starts again after it.
  mia.conn.reset();
  fay.conn.reset();
  mum.conn.reset();
  CAF_CHECK_EQUAL(n.stop(), 0);
  clock.sleep_until(93); // 00:00:03
  n.start();
  reconnect(mia, n);
  reconnect(fay, n);
  reconnect(mum, n);
  auto after_midnight = receive_for(mia, 3s);
  CAF_CHECK_EQUAL(count_of(after_midnight, what::quiet_began), 1u); // told again at login
  CAF_CHECK(texts_of(after_midnight).empty());
  auto still = mum->quiet_get(mia.id);
  CAF_REQUIRE(still);
  CAF_CHECK(still->asleep);
  CAF_CHECK_EQUAL(still->next_change_ms, clock.at_ms(150));
  CAF_REQUIRE(fay->send_text(mia.id, "sweet dreams"));

  clock.sleep_until(151); // 00:01:01
  auto morning = receive_for(mia, 4s);
  CAF_CHECK_EQUAL(count_of(morning, what::quiet_ended), 1u);
  CAF_CHECK(texts_of(morning) == (std::vector<std::string>{"good night", "sweet dreams"}));
  CAF_CHECK_EQUAL(count_of(morning, what::missed_call), 1u); // the call that met the night
  CAF_CHECK(mia->send_text(fay.id, "good morning"));
  auto awake = mum->quiet_get(mia.id);
  CAF_REQUIRE(awake);
  CAF_CHECK(!awake->asleep);
}

CAF_TEST_FIXTURE_SCOPE_END()
