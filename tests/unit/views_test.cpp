// What others see of an account, as plain functions: a contact sees name, id, avatar,
// role and online status and nothing else of the profile; the account and its parent see
// all of it. The status is online only while the node holding the session lives.
#define CAF_SUITE views
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/views.hpp"

using namespace kinbox;

namespace {

account_record mia() {
  account_record a;
  a.id = 1111;
  a.name = "Mia";
  a.birth_date = "2016-04-01";
  a.role = account_role::child;
  return a;
}

profile_record profile() {
  profile_record p;
  p.country = "DE";
  p.gender_of = gender::female;
  p.avatar = bytes{1, 2, 3};
  p.device.os = "android 14";
  return p;
}

cluster_view view_with(std::vector<live_node> live, std::vector<departed_node> departed) {
  cluster_view v;
  v.me = "a";
  v.nodes = std::move(live);
  v.departed = std::move(departed);
  return v;
}

} // namespace

CAF_TEST(a contact sees name id avatar role and online and nothing else of the profile) {
  auto seen = profile_view(mia(), profile(), true, profile_sight::contact);
  CAF_CHECK_EQUAL(seen.id, 1111u);
  CAF_CHECK_EQUAL(seen.name, "Mia");
  CAF_CHECK(seen.avatar == (bytes{1, 2, 3}));
  CAF_CHECK(seen.online);
  CAF_CHECK(seen.role == account_role::child);
  CAF_CHECK(!seen.full);
  CAF_CHECK(seen.birth_date.empty());
  CAF_CHECK(seen.country.empty());
  CAF_CHECK(seen.gender_of == gender::unsaid);
  CAF_CHECK(seen.device == device_info{});
}

CAF_TEST(the account and its parent see the whole profile) {
  auto seen = profile_view(mia(), profile(), false, profile_sight::full);
  CAF_CHECK(seen.full);
  CAF_CHECK_EQUAL(seen.birth_date, "2016-04-01");
  CAF_CHECK_EQUAL(seen.country, "DE");
  CAF_CHECK(seen.gender_of == gender::female);
  CAF_CHECK_EQUAL(seen.device.os, "android 14");
  CAF_CHECK(!seen.online);
}

CAF_TEST(online while the node of the session lives and last seen at its last heartbeat after) {
  presence_record on_b{"b", 7, 1000};
  auto live = view_with({live_node{"b", 7, "b:1", false}}, {});
  auto s = status_view(1111, on_b, 500, live);
  CAF_CHECK(s.online);
  CAF_CHECK_EQUAL(s.last_seen_ms, 500u);
  // b went away: offline, last seen at its last heartbeat, or at a later record.
  auto gone = view_with({}, {departed_node{"b", 7, 4000}});
  CAF_CHECK(!status_view(1111, on_b, 500, gone).online);
  CAF_CHECK_EQUAL(status_view(1111, on_b, 500, gone).last_seen_ms, 4000u);
  CAF_CHECK_EQUAL(status_view(1111, on_b, 9000, gone).last_seen_ms, 9000u);
  // A node this one never saw go: last seen at the attach.
  CAF_CHECK_EQUAL(status_view(1111, on_b, 0, view_with({}, {})).last_seen_ms, 1000u);
  // A later incarnation of b does not keep the earlier session online.
  CAF_CHECK(!status_view(1111, on_b, 0, view_with({live_node{"b", 8, "b:1", false}}, {})).online);
  // No session: offline, the record's last seen.
  auto none = status_view(1111, std::nullopt, 700, live);
  CAF_CHECK(!none.online);
  CAF_CHECK_EQUAL(none.last_seen_ms, 700u);
}
