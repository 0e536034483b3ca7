// The family story through real gateways, with the parents, the children and their
// friend on different nodes of one cluster: link codes, the PIN, a friend request that
// both parents approve (one from the parent's app, one by PIN on the child's device), the
// chat that follows, and what strangers are told.
#define CAF_SUITE family_story
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

std::optional<contact_state> state_in(user& owner, account_id other) {
  auto list = owner->friends();
  if (!list)
    return std::nullopt;
  for (auto& e : list->entries)
    if (e.id == other)
      return e.state;
  return std::nullopt;
}

/// Waits for a notice of `type` in `parent`'s mail.
bool got_notice(user& parent, notice_type type, account_id child) {
  return eventually([&] {
    auto items = parent->receive(200ms);
    if (!items)
      return false;
    for (auto& r : *items)
      if (r.kind == client::received::what::notice && r.notice && r.notice->type == type &&
          r.notice->child == child)
        return true;
    return false;
  });
}

} // namespace

CAF_TEST(two children on two nodes become friends with both parents approval and chat) {
  CAF_REQUIRE(crypto::init());
  nats_cluster nats;
  node n1{nats, "node1"};
  node n2{nats, "node2"};
  auto mum = make_user(n1, "Mum", account_role::parent);
  auto mia = make_user(n1, "Mia", account_role::child);
  auto dad = make_user(n2, "Dad", account_role::parent);
  auto leo = make_user(n2, "Leo", account_role::child);
  auto eve = make_user(n2, "Eve", account_role::parent);

  // Only a parent makes codes, only a child redeems them, each code once.
  CAF_CHECK(!mia->link_create("1111"));
  auto code = mum->link_create("2468");
  CAF_REQUIRE(code);
  CAF_CHECK(!mia->link_redeem(mum.id, code->secret + 1));
  CAF_REQUIRE(mia->link_redeem(mum.id, code->secret));
  auto twice = mia->link_redeem(mum.id, code->secret);
  CAF_REQUIRE(!twice);
  CAF_CHECK(twice.error().code == errc::already_linked);
  auto dad_code = dad->link_create("1357");
  CAF_REQUIRE(dad_code);
  CAF_CHECK(!dad->link_redeem(mum.id, code->secret)); // a parent redeems nothing
  CAF_REQUIRE(leo->link_redeem(dad.id, dad_code->secret));
  auto info = mum->link_get(mia.id);
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->parent, mum.id);
  CAF_CHECK(info->pin_set);
  CAF_CHECK(got_notice(mum, notice_type::linked, mia.id));

  // Mia asks Leo: nothing reaches Leo until her mum approves.
  CAF_REQUIRE(mia->friend_add(leo.id));
  CAF_CHECK(state_in(mia, leo.id) == contact_state::awaiting_parent);
  CAF_CHECK(got_notice(mum, notice_type::approval_needed, mia.id));
  CAF_CHECK(!state_in(leo, mia.id));
  auto waiting = mum->approvals(mia.id);
  CAF_REQUIRE(waiting && waiting->entries.size() == 1);
  CAF_CHECK_EQUAL(waiting->entries[0].other, leo.id);
  CAF_REQUIRE(mum->approval_decide(mia.id, leo.id, true));
  CAF_CHECK(eventually([&] { return state_in(leo, mia.id) == contact_state::incoming; }));
  CAF_CHECK(state_in(mia, leo.id) == contact_state::outgoing);

  // Leo accepts; it waits for his dad, approved by the PIN typed on Leo's device.
  CAF_REQUIRE(leo->friend_accept(mia.id));
  CAF_CHECK(state_in(leo, mia.id) == contact_state::awaiting_parent);
  CAF_CHECK(!mia->send_text(leo.id, "too early"));
  auto wrong = leo->approval_by_pin(mia.id, true, "0000");
  CAF_REQUIRE(!wrong);
  CAF_CHECK(wrong.error().code == errc::wrong_pin);
  CAF_REQUIRE(leo->approval_by_pin(mia.id, true, "1357"));
  CAF_CHECK(eventually([&] { return state_in(mia, leo.id) == contact_state::friends; }));
  CAF_CHECK(state_in(leo, mia.id) == contact_state::friends);

  CAF_REQUIRE(mia->send_text(leo.id, "hi Leo"));
  bool got = eventually([&] {
    auto items = leo->receive(200ms);
    return items && !items->empty() && (*items)[0].text == "hi Leo";
  });
  CAF_CHECK(got);

  // A stranger, and the other child's parent, learn nothing of Mia's family.
  for (auto* other : {&eve, &dad}) {
    auto link = (*other)->link_get(mia.id);
    CAF_REQUIRE(!link);
    CAF_CHECK(link.error().code == errc::not_found);
    auto approvals = (*other)->approvals(mia.id);
    CAF_REQUIRE(!approvals);
    CAF_CHECK(approvals.error().code == errc::not_found);
    CAF_CHECK((*other)->approval_decide(mia.id, leo.id, true).error().code == errc::not_found);
  }
}
