// When pushed mail is checked for its ack, as a plain class: one check at a time, a wait
// that doubles while nothing is acked (at most 32 times the base), and starts over with
// an ack or a new session.
#define CAF_SUITE redelivery
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/redelivery.hpp"

using namespace kinbox;
using std::chrono::milliseconds;

CAF_TEST(one check at a time after the base wait) {
  redelivery r{milliseconds(10'000)};
  auto wait = r.arm();
  CAF_REQUIRE(wait);
  CAF_CHECK_EQUAL(wait->count(), 10'000);
  CAF_CHECK(!r.arm()); // one on its way already
  r.due();
  CAF_CHECK(r.arm());
}

CAF_TEST(the wait doubles while nothing is acked and stops at 32 times) {
  redelivery r{milliseconds(100)};
  std::vector<int64_t> waits;
  for (int i = 0; i < 8; ++i) {
    waits.push_back(r.arm()->count());
    r.due();
    r.back_off();
  }
  CAF_CHECK_EQUAL(waits, (std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 3200, 3200}));
}

CAF_TEST(an ack or a new session starts the wait over and an ack counts as progress) {
  redelivery r{milliseconds(100)};
  r.back_off();
  r.back_off();
  CAF_CHECK_EQUAL(r.arm()->count(), 400);
  CAF_CHECK(!r.progress());
  r.acked();
  CAF_CHECK(r.progress());
  r.due();
  CAF_CHECK_EQUAL(r.arm()->count(), 100);
  CAF_CHECK(!r.progress()); // counted from this check on
  r.due();
  r.back_off();
  r.attached();
  CAF_CHECK_EQUAL(r.arm()->count(), 100);
}
