// The access table of the user entity as a plain function: which operations each relation
// may make, what an id without an account answers, and what a frozen child may still do.
// Enumerating every operation number, a new operation opened to strangers or to a
// child's parent fails here until this test names it.
#define CAF_SUITE user_access
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <set>

#include "actors/user_access.hpp"

using namespace kinbox;

namespace {

std::set<user_op> running_for(relation r, bool known = true, bool frozen = false) {
  std::set<user_op> out;
  for (int op = 0; op < 256; ++op)
    if (check_access(static_cast<uint8_t>(op), r, known, frozen) == access::run)
      out.insert(static_cast<user_op>(op));
  return out;
}

/// What any account may tell another: mail, friend steps, what a family tells, reads
/// that project by relation, what a group's chat actor asks and tells, typing (pushed
/// only if approved), call signals and reactions to posts (each checked against the
/// account's contacts), and the steps before an account exists.
const std::set<user_op> from_anyone{user_op::deliver,         user_op::friend_request,
                                    user_op::friend_accepted, user_op::friend_declined,
                                    user_op::friend_removed,  user_op::account_gone,
                                    user_op::child_linked,    user_op::child_unlinked,
                                    user_op::get_profile,     user_op::card,
                                    user_op::friend_renamed,  user_op::found_account,
                                    user_op::complete_setup,  user_op::redeem_link_code,
                                    user_op::relations,       user_op::group_joined,
                                    user_op::group_left,      user_op::typing,
                                    user_op::call_in,         user_op::moment_reaction};

std::set<user_op> with(std::set<user_op> base, std::initializer_list<user_op> more) {
  base.insert(more);
  return base;
}

} // namespace

CAF_TEST(a stranger reaches only what any account may tell another) {
  CAF_CHECK(running_for(relation::other) == from_anyone);
}

CAF_TEST(a linked parent oversees contacts data quiet hours calls and posts and nothing else) {
  CAF_CHECK(
      running_for(relation::parent) ==
      with(from_anyone, {user_op::list_contacts, user_op::block_contact, user_op::remove_contact,
                         user_op::export_account, user_op::delete_account, user_op::new_setup_code,
                         user_op::list_groups, user_op::set_quiet, user_op::get_quiet,
                         user_op::end_calls, user_op::delete_moment}));
}

CAF_TEST(a child sends its parent locations and the operator bans and looks) {
  CAF_CHECK(running_for(relation::child) == with(from_anyone, {user_op::location}));
  CAF_CHECK(running_for(relation::operator_) ==
            with(from_anyone, {user_op::ban, user_op::summary}));
  CAF_CHECK(running_for(relation::self).count(user_op::location) == 0);
  CAF_CHECK(running_for(relation::self).count(user_op::ban) == 0);
  CAF_CHECK(running_for(relation::self).count(user_op::summary) == 0);
  CAF_CHECK(running_for(relation::parent).count(user_op::summary) == 0);
}

CAF_TEST(the account makes its own requests but not its own setup code) {
  auto own = running_for(relation::self);
  for (auto op : {user_op::attach, user_op::add_friend, user_op::report, user_op::set_profile,
                  user_op::create_child, user_op::make_link_code, user_op::delete_account})
    CAF_CHECK(own.count(op) == 1);
  CAF_CHECK(own.count(user_op::new_setup_code) == 0);
}

CAF_TEST(an id without an account answers like any other and only setup steps run) {
  auto code = [](user_op op) {
    return check_access(static_cast<uint8_t>(op), relation::other, false, false);
  };
  CAF_CHECK(code(user_op::friend_request) == access::silent_ok);
  CAF_CHECK(code(user_op::friend_removed) == access::silent_ok);
  CAF_CHECK(code(user_op::deliver) == access::not_found);
  CAF_CHECK(code(user_op::get_profile) == access::not_found);
  CAF_CHECK(code(user_op::complete_setup) == access::run);
  CAF_CHECK(code(user_op::found_account) == access::run);
  CAF_CHECK(check_access(static_cast<uint8_t>(user_op::attach), relation::self, false, false) ==
            access::not_found);
}

CAF_TEST(a frozen child may log in ack export list its groups and quiet hours end calls and hear of a link and nothing else of its own) {
  std::set<user_op> own_frozen;
  for (int op = 0; op < 256; ++op)
    if (check_access(static_cast<uint8_t>(op), relation::self, true, true) == access::frozen)
      own_frozen.insert(static_cast<user_op>(op));
  auto own = running_for(relation::self, true, true);
  CAF_CHECK(own ==
            with(from_anyone, {user_op::attach, user_op::detach, user_op::ack,
                               user_op::export_account, user_op::linked, user_op::unlinked,
                               user_op::list_groups, user_op::get_quiet, user_op::call_out}));
  CAF_CHECK(own_frozen.count(user_op::add_friend) == 1);
  CAF_CHECK(own_frozen.count(user_op::set_profile) == 1);
  // What others tell it still arrives.
  CAF_CHECK(running_for(relation::other, true, true) == from_anyone);
}

CAF_TEST(a number that is no operation is refused as such) {
  CAF_CHECK(check_access(0, relation::self, true, false) == access::unknown_op);
  CAF_CHECK(check_access(200, relation::other, true, false) == access::unknown_op);
  CAF_CHECK(check_access(7, relation::self, true, false) == access::unknown_op);
  CAF_CHECK(check_access(static_cast<uint8_t>(user_op::deliver), relation::self, true, false) ==
            access::run);
}
