// The delivery pipeline alone, as decisions: admission by kind, pushed and held or
// stored, senders' answers, acks and their receipts (once, however often the device
// acks), the drain's pages (a page pushed again and acked twice credits no later page),
// mail stored while pages are read, and when unacked mail is pushed again.
#define CAF_SUITE mail_pipeline
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/mail_pipeline.hpp"
#include "reply_slots.hpp"

using namespace kinbox;
using testing::answers;
using namespace std::chrono_literals;

namespace {

constexpr account_id bob = 2222222222; // the account
constexpr account_id alice = 1111111111; // a friend
constexpr account_id mum = 4444444444;   // bob's parent
constexpr account_id kid = 5555555555;   // bob's child (bob as a parent, for notices)
constexpr account_id eve = 6666666666;   // a stranger
const mail_pipeline::time_point t0{};

message_id id_of(uint8_t tag) {
  message_id id;
  id.fill(tag);
  return id;
}

mail_key key(account_id from, uint8_t tag, mail_kind kind = mail_kind::message) {
  return {kind, from, id_of(tag)};
}

envelope stored(account_id from, uint8_t tag, uint64_t seq, uint64_t at_ms = 1000,
                mail_kind kind = mail_kind::message) {
  return envelope{bob, kind, id_of(tag), from, at_ms, at_ms + 5000, bytes{tag}, seq};
}

struct fixture {
  contact_list_state contacts;
  mailbox_owner owner{bob, &contacts, false, {}};
  mail_pipeline_config cfg;
  std::optional<mail_pipeline> pipe;
  answers a{16};

  fixture() {
    contacts.receive_request(alice, 1);
    (void)contacts.accept(alice, 1, false);
    contacts.set_parent(mum);
    contacts.add_child(kid);
    cfg.ack_window = 50ms;
    cfg.max_held_per_user = 4;
    cfg.held = std::make_shared<held_budget>(1000);
    cfg.drain_pages_in_flight = 1;
    cfg.redeliver_after = 10s;
    pipe.emplace(cfg);
  }

  incoming_mail in(account_id from, uint8_t tag, size_t slot, mail_kind kind = mail_kind::message) {
    return incoming_mail{from, deliver_body{kind, id_of(tag), bytes{tag, tag}}, a.slot(slot)};
  }

  mail_pipeline::delivery deliver(std::vector<incoming_mail> mail, bool attached = true) {
    return pipe->deliver(std::move(mail), owner, attached, 1000, t0);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(mail_pipeline_tests, fixture)

CAF_TEST(admission is by kind and sender) {
  CAF_CHECK(admits(owner, alice, mail_kind::message));
  CAF_CHECK(admits(owner, mum, mail_kind::message));
  CAF_CHECK(admits(owner, kid, mail_kind::message));
  CAF_CHECK(!admits(owner, eve, mail_kind::message));
  // Notices only from a child's family (which sends as the child) or from itself.
  CAF_CHECK(admits(owner, kid, mail_kind::notice));
  CAF_CHECK(admits(owner, bob, mail_kind::notice));
  CAF_CHECK(!admits(owner, alice, mail_kind::notice));
  // Receipts are made by servers; locations never go through the mailbox.
  CAF_CHECK(admits(owner, eve, mail_kind::delivered));
  CAF_CHECK(admits(owner, eve, mail_kind::expired));
  CAF_CHECK(!admits(owner, kid, mail_kind::location));
  // A group's copy passes the filter a message does; typing never goes through the
  // mailbox; a read receipt comes from an approved account only.
  CAF_CHECK(admits(owner, alice, mail_kind::group));
  CAF_CHECK(!admits(owner, eve, mail_kind::group));
  CAF_CHECK(!admits(owner, alice, mail_kind::typing));
  CAF_CHECK(admits(owner, alice, mail_kind::read));
  CAF_CHECK(!admits(owner, eve, mail_kind::read));
  // A frozen child gets no message, and its stored ones stay stored.
  mailbox_owner frozen{bob, &contacts, true, {}};
  CAF_CHECK(!admits(frozen, alice, mail_kind::message));
  CAF_CHECK(!admits(frozen, alice, mail_kind::group));
  CAF_CHECK(held_back(frozen, stored(alice, 1, 1, 1000, mail_kind::group)));
  CAF_CHECK(held_back(frozen, stored(alice, 1, 1)));
  CAF_CHECK(!held_back(owner, stored(alice, 1, 1)));
}

CAF_TEST(a stranger is refused as an unknown account and nothing of it is kept) {
  std::vector<incoming_mail> mail;
  mail.push_back(in(eve, 1, 0));
  auto plan = deliver(std::move(mail));
  CAF_CHECK(plan.push.empty());
  CAF_CHECK(plan.put.empty());
  CAF_CHECK_EQUAL(a.at(0).status, static_cast<uint16_t>(errc::not_found));
  CAF_CHECK(pipe->held().empty());
}

CAF_TEST(mail for an attached session is pushed and held and its ack answers the sender) {
  std::vector<incoming_mail> mail;
  mail.push_back(in(alice, 1, 0));
  mail.push_back(in(alice, 2, 1));
  auto plan = deliver(std::move(mail));
  CAF_CHECK_EQUAL(plan.push.size(), 2u);
  CAF_CHECK(plan.put.empty()); // held, not stored
  CAF_CHECK(plan.arm_held_timer);
  CAF_CHECK(a.unanswered(0));
  auto acked = pipe->ack(bob, std::vector<mail_key>{key(alice, 1)});
  CAF_CHECK(a.at(0).ok());
  CAF_CHECK(a.unanswered(1));
  CAF_REQUIRE_EQUAL(acked.receipts.size(), 1u);
  CAF_CHECK_EQUAL(acked.receipts[0].id, alice); // the receipt goes to the sender
  CAF_CHECK(acked.delete_stored.empty());
  // Acked again (the device saw it twice): no second receipt; the store is asked, and
  // finds nothing, so none comes from there either.
  auto again = pipe->ack(bob, std::vector<mail_key>{key(alice, 1)});
  CAF_CHECK(again.receipts.empty());
  CAF_CHECK_EQUAL(again.delete_stored.size(), 1u);
  CAF_CHECK(mail_pipeline::receipts_for(bob, {}).empty());
  // What the window did not see acked goes to the store when its time is up.
  auto due = pipe->take_held(false, t0 + 60ms);
  CAF_CHECK_EQUAL(due.mail.size(), 1u);
  CAF_CHECK(due.mail[0].id == id_of(2));
}

CAF_TEST(receipts of one ack are one mail per sender naming all its messages) {
  auto removed = std::vector<envelope>{stored(alice, 1, 1), stored(mum, 2, 2),
                                       stored(alice, 3, 3, 1000, mail_kind::group),
                                       stored(alice, 4, 4)};
  auto receipts = mail_pipeline::receipts_for(bob, removed);
  CAF_REQUIRE_EQUAL(receipts.size(), 2u);
  for (auto& r : receipts) {
    auto& body = r.args.get_as<deliver_body>(0);
    CAF_CHECK(body.kind == mail_kind::delivered);
    auto more = decode_body<receipt_ids>(body.payload);
    CAF_REQUIRE(more);
    if (r.id == alice) {
      CAF_CHECK(body.id == id_of(1));
      CAF_CHECK((more->more == std::vector<message_id>{id_of(3), id_of(4)}));
    } else {
      CAF_CHECK_EQUAL(r.id, mum);
      CAF_CHECK(more->more.empty()); // one message: an empty payload, as before
      CAF_CHECK(body.payload.empty());
    }
  }
  // Past 1 + max_receipt_ids messages, a sender gets more than one receipt mail.
  std::vector<message_id> many(max_receipt_ids + 2, id_of(9));
  CAF_CHECK_EQUAL(receipt_mail(mail_kind::read, many).size(), 2u);
}

CAF_TEST(only receipts of messages are made) {
  auto removed = std::vector<envelope>{stored(alice, 1, 1), stored(kid, 2, 2, 1000, mail_kind::notice),
                                       stored(alice, 3, 3, 1000, mail_kind::delivered)};
  auto receipts = mail_pipeline::receipts_for(bob, removed);
  CAF_REQUIRE_EQUAL(receipts.size(), 1u);
  CAF_CHECK_EQUAL(receipts[0].id, alice);
  CAF_CHECK_EQUAL(receipts[0].caller, bob);
}

CAF_TEST(with the window off or full mail is stored and held mail goes first) {
  std::vector<incoming_mail> first;
  for (uint8_t i = 0; i < 3; ++i)
    first.push_back(in(alice, i, i));
  CAF_CHECK(deliver(std::move(first)).put.empty());
  std::vector<incoming_mail> second;
  for (uint8_t i = 3; i < 5; ++i)
    second.push_back(in(alice, i, i));
  auto plan = deliver(std::move(second)); // 5 > 4 held per user: stored, after the 3 held
  CAF_CHECK_EQUAL(plan.push.size(), 2u);
  CAF_CHECK_EQUAL(plan.flush.mail.size(), 3u);
  CAF_CHECK_EQUAL(plan.put.mail.size(), 2u);
  CAF_CHECK(plan.put_pushed);
  CAF_CHECK(pipe->held().empty());
  cfg.ack_window = 0ms;
  pipe.emplace(cfg);
  std::vector<incoming_mail> mail;
  mail.push_back(in(alice, 9, 9));
  plan = deliver(std::move(mail));
  CAF_CHECK_EQUAL(plan.put.mail.size(), 1u);
  CAF_CHECK(plan.put_pushed);
  CAF_CHECK(mail_pipeline::put_answer(put_result::over_cap).status ==
            static_cast<uint16_t>(errc::mailbox_cap));
}

CAF_TEST(without a session mail is stored and pushed by no one until a page brings it) {
  std::vector<incoming_mail> mail;
  mail.push_back(in(alice, 1, 0));
  auto plan = deliver(std::move(mail), false);
  CAF_CHECK(plan.push.empty());
  CAF_CHECK(!plan.put_pushed);
  CAF_CHECK_EQUAL(pipe->deferred(), 1u);
  CAF_CHECK(pipe->committed(plan.put.mail, {put_result::stored}, false).empty());
  CAF_CHECK_EQUAL(pipe->deferred(), 0u);
  CAF_CHECK(pipe->quiet());
}

CAF_TEST(notices are sealed before they are stored or pushed) {
  std::vector<incoming_mail> mail;
  mail.push_back(in(kid, 7, 0, mail_kind::notice));
  auto plan = deliver(std::move(mail));
  CAF_REQUIRE_EQUAL(plan.push.size(), 1u);
  CAF_CHECK(plan.push[0].payload != (bytes{7, 7}));
  CAF_CHECK_GREATER(plan.push[0].payload.size(), 2u);
}

CAF_TEST(mail that comes while pages are read waits for its commit and a page) {
  auto start = pipe->start_page(t0);
  CAF_REQUIRE(start);
  CAF_CHECK_EQUAL(start->after, 0u);
  std::vector<incoming_mail> mail;
  mail.push_back(in(alice, 1, 0));
  auto plan = deliver(std::move(mail));
  CAF_CHECK(plan.push.empty()); // older mail is on its way: order first
  CAF_CHECK(!plan.put_pushed);
  // Committed while the read is out: the page may not hold it, so one more page is read.
  CAF_CHECK(pipe->committed(plan.put.mail, {put_result::stored}, true).empty());
  auto page = pipe->page_read(mail_page{{stored(alice, 5, 1)}, false}, owner);
  CAF_CHECK_EQUAL(page.push.size(), 1u);
  CAF_CHECK(page.again); // the mail stored meanwhile may be missing from it: read once more
  CAF_CHECK(!pipe->paging());
  // With no page being read or left, new mail is pushed at once again.
  std::vector<incoming_mail> later;
  later.push_back(in(alice, 2, 1));
  CAF_CHECK_EQUAL(deliver(std::move(later)).push.size(), 1u);
}

CAF_TEST(a page pushes what is admitted and deletes strays without a receipt) {
  auto start = pipe->start_page(t0);
  CAF_REQUIRE(start);
  auto page = pipe->page_read(
      mail_page{{stored(alice, 1, 1), stored(eve, 2, 2), stored(mum, 3, 3)}, true}, owner);
  CAF_CHECK_EQUAL(page.push.size(), 2u);
  CAF_REQUIRE_EQUAL(page.strays.size(), 1u);
  CAF_CHECK_EQUAL(page.strays[0].key.sender, eve);
  CAF_CHECK(page.again);             // more follows...
  CAF_CHECK(!pipe->start_page(t0)); // ...once the page in flight is acked
  mailbox_owner frozen{bob, &contacts, true, {}};
  pipe->attached();
  CAF_REQUIRE(pipe->start_page(t0));
  auto held = pipe->page_read(mail_page{{stored(alice, 1, 1)}, false}, frozen);
  CAF_CHECK(held.push.empty());
  CAF_CHECK(held.strays.empty()); // kept for when a parent links it
}

CAF_TEST(a page pushed again and acked twice credits no later page early) {
  CAF_REQUIRE(pipe->start_page(t0));
  auto first = pipe->page_read(mail_page{{stored(alice, 1, 1), stored(alice, 2, 2)}, true}, owner);
  CAF_CHECK_EQUAL(first.push.size(), 2u);
  CAF_CHECK(!pipe->start_page(t0)); // one page in flight
  // No ack for a whole wait: the check pages again from the start.
  CAF_CHECK(pipe->arm_check());
  pipe->check_fired();
  CAF_CHECK(pipe->check_due() == mail_pipeline::check::page_again);
  CAF_REQUIRE(pipe->start_page(t0));
  auto again = pipe->page_read(mail_page{{stored(alice, 1, 1), stored(alice, 2, 2)}, true}, owner);
  CAF_CHECK_EQUAL(again.push.size(), 2u);
  // The device acks the first key of both copies: the page is not through.
  auto acked = pipe->ack(bob, std::vector<mail_key>{key(alice, 1), key(alice, 1)});
  CAF_CHECK(!pipe->start_page(t0));
  CAF_CHECK(acked.read_page == pipe->more());
  pipe->ack(bob, std::vector<mail_key>{key(alice, 2)});
  CAF_CHECK(pipe->start_page(t0));
}

CAF_TEST(a due check waits while acks come and pushes again only what is old enough) {
  CAF_REQUIRE(pipe->start_page(t0));
  CAF_CHECK(pipe->check_due() == mail_pipeline::check::wait); // a read is out
  (void)pipe->page_read(mail_page{{stored(alice, 1, 1)}, true}, owner);
  CAF_CHECK(pipe->arm_check());
  CAF_CHECK(!pipe->arm_check()); // one at a time
  pipe->ack(bob, std::vector<mail_key>{key(alice, 1)});
  pipe->check_fired();
  CAF_CHECK(pipe->check_due() == mail_pipeline::check::wait); // an ack came: progress
  // Through the backlog: the stored mail is read for what was pushed and not acked.
  pipe->attached();
  CAF_REQUIRE(pipe->start_page(t0));
  (void)pipe->page_read(mail_page{{}, false}, owner);
  CAF_CHECK(pipe->check_due() == mail_pipeline::check::read_all);
  auto plan = pipe->recheck(
      mail_page{{stored(alice, 2, 2, 1000), stored(alice, 3, 3, 15000), stored(eve, 4, 4)}, false},
      owner, 20000);
  CAF_REQUIRE_EQUAL(plan.again.size(), 1u); // stored 19 s ago; the other only 5 s
  CAF_CHECK(plan.again[0].id == id_of(2));
  CAF_CHECK_EQUAL(plan.strays.size(), 1u);
  CAF_CHECK(plan.arm); // what is not due yet is looked at again
  CAF_CHECK(!pipe->recheck(mail_page{{}, false}, owner, 20000).arm);
}

CAF_TEST(a session that goes stores what it held and the held timer runs once at a time) {
  std::vector<incoming_mail> mail;
  mail.push_back(in(alice, 1, 0));
  CAF_CHECK(deliver(std::move(mail)).arm_held_timer);
  CAF_CHECK(pipe->held_timer_due());
  CAF_CHECK(!pipe->held_timer_due());
  CAF_CHECK(!pipe->quiet());
  auto held = pipe->detached(t0);
  CAF_CHECK_EQUAL(held.mail.size(), 1u);
  pipe->held_timer_fired();
  CAF_CHECK(!pipe->held_timer_due()); // nothing held: no timer
  CAF_CHECK(pipe->quiet());
}

CAF_TEST_FIXTURE_SCOPE_END()
