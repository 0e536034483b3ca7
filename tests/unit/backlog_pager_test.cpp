// The drain of stored mail alone: pages in flight and their acks, the cursor, mail stored
// while pages are read, a failed read, and a page pushed again and acked twice.
#define CAF_SUITE backlog_pager
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/backlog_pager.hpp"

using namespace kinbox;

namespace {

constexpr account_id alice = 1111111111;

mail_key key(uint8_t tag) {
  message_id id;
  id.fill(tag);
  return {mail_kind::message, alice, id};
}

std::vector<mail_key> keys(uint8_t first, uint8_t count) {
  std::vector<mail_key> out;
  for (uint8_t i = 0; i < count; ++i)
    out.push_back(key(static_cast<uint8_t>(first + i)));
  return out;
}

} // namespace

CAF_TEST(pages follow the cursor and at most the allowed number are out unacked) {
  backlog_pager p;
  CAF_REQUIRE(p.may_read(2));
  CAF_CHECK_EQUAL(p.start_read(), 0u);
  CAF_CHECK(!p.may_read(2)); // one read at a time
  CAF_CHECK(p.paging());
  CAF_CHECK(p.page_read(keys(1, 3), 30, true)); // more follows: read on
  CAF_CHECK_EQUAL(p.start_read(), 30u);
  CAF_CHECK(p.page_read(keys(4, 3), 60, true));
  CAF_CHECK(!p.may_read(2)); // two pages out, none acked
  auto first = keys(1, 3);
  p.acked(std::span{first}.first(2));
  CAF_CHECK(!p.may_read(2));
  p.acked(std::span{first}.subspan(2));
  CAF_CHECK(p.may_read(2));
  CAF_CHECK(p.wants_read());
  CAF_CHECK_EQUAL(p.start_read(), 60u);
  CAF_CHECK(!p.page_read({}, 0, false)); // the end of the backlog
  CAF_CHECK(!p.paging());
  CAF_CHECK_EQUAL(p.cursor(), 60u); // an empty page leaves the cursor
}

CAF_TEST(an ack counts once however often it comes and live mail credits no page) {
  backlog_pager p;
  p.start_read();
  CAF_CHECK(p.page_read(keys(1, 2), 20, true));
  p.start_read();
  CAF_CHECK(p.page_read(keys(3, 2), 40, true));
  // The device acks the first page twice (it was pushed again after a stall) and some
  // mail pushed live: the second page is still out, so only one page is free.
  auto twice = keys(1, 2);
  p.acked(twice);
  p.acked(twice);
  auto live = keys(9, 4);
  p.acked(live);
  CAF_CHECK(p.pages_out());
  CAF_CHECK(p.may_read(2));
  CAF_CHECK(!p.may_read(1));
  auto second = keys(3, 2);
  p.acked(second);
  CAF_CHECK(!p.pages_out());
}

CAF_TEST(mail stored while pages were read is looked for once at the end) {
  backlog_pager p;
  p.start_read();
  p.mail_stored_meanwhile();
  CAF_CHECK(p.wants_read());
  CAF_CHECK(p.page_read(keys(1, 1), 10, false)); // last page, but something came meanwhile
  p.start_read();
  CAF_CHECK(!p.page_read({}, 0, false)); // looked once: through
  CAF_CHECK(!p.wants_read());
}

CAF_TEST(a failed read leaves the backlog unfinished and a restart pages from the start) {
  backlog_pager p;
  p.start_read();
  CAF_CHECK(p.page_read(keys(1, 2), 20, true));
  p.start_read();
  p.read_failed();
  CAF_CHECK(!p.reading());
  CAF_CHECK(p.more()); // the redeliver check pages it again
  p.restart();
  CAF_CHECK(!p.more());
  CAF_CHECK(!p.pages_out());
  CAF_CHECK_EQUAL(p.start_read(), 0u);
  p.read_dropped(); // came back for an earlier session
  CAF_CHECK(p.may_read(1));
}
