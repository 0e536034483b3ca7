#define CAF_SUITE local_calls
#define FAIL(x) CAF_FAIL(x)
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <memory>

#include "actors/local_calls.hpp"

using namespace kinbox;

namespace {

/// A user actor that answers every request of a batch with its own tag in the body.
user_actor::behavior_type tagged_user(user_actor::pointer, uint8_t tag) {
  return {
      [=](entity_request&) { return ok_reply({tag}); },
      [=](std::vector<entity_request>& reqs) {
        return std::vector<entity_reply>(reqs.size(), ok_reply({tag}));
      },
      [=](attach_atom, caf::actor, uint64_t) -> caf::result<account_info> {
        return make_error(errc::not_found);
      },
      [=](detach_atom, uint64_t) {},
      [=](flush_atom) { return true; },
      [=](tick_atom) {},
      [=](held_atom) {},
      [=](idle_atom) {},
  };
}

struct directory_state {
  std::vector<user_actor> spawned;
};

/// Spawns a fresh user actor on every lookup, tagged 1, 2, ...
user_directory::behavior_type directory(user_directory::stateful_pointer<directory_state> self) {
  return {
      [=](lookup_atom, account_id) {
        auto& spawned = self->state.spawned;
        spawned.push_back(self->spawn(tagged_user, static_cast<uint8_t>(spawned.size() + 1)));
        return spawned.back();
      },
  };
}

/// Calls through local_calls on `call_atom` and keeps the replies it got.
using call_atom = caf::atom_constant<caf::atom("call")>;

struct caller_state {
  local_calls calls;
  std::vector<entity_reply> replies;
};

caf::behavior caller(caf::stateful_actor<caller_state>* self, user_directory dir) {
  return {
      [=](call_atom, size_t count) {
        std::vector<entity_request> reqs(count, entity_request{entity_kind::user, 42, 1, 7, {}});
        self->state.calls.call(self, dir, 42, std::move(reqs),
                               [=](std::vector<entity_reply>& replies) {
                                 for (auto& r : replies)
                                   self->state.replies.push_back(r);
                               });
      },
  };
}

struct fixture : test_coordinator_fixture<> {
  user_directory dir = sys.spawn(directory);
  caf::actor c = sys.spawn(caller, dir);

  std::vector<entity_reply>& replies() {
    return deref<caf::stateful_actor<caller_state>>(c).state.replies;
  }

  std::vector<user_actor>& spawned() {
    return deref<user_directory::stateful_base<directory_state>>(dir).state.spawned;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(local_calls_tests, fixture)

CAF_TEST(calls look an actor up once and answer every request of a batch in order) {
  caf::anon_send(c, call_atom::value, size_t{3});
  caf::anon_send(c, call_atom::value, size_t{2});
  run();
  CAF_REQUIRE_EQUAL(replies().size(), 5u);
  for (auto& r : replies())
    CAF_CHECK(r.ok() && r.body == bytes{1});
  CAF_CHECK_EQUAL(spawned().size(), 1u);
}

CAF_TEST(a stopped actor fails the call as retryable and the next call finds a fresh one) {
  caf::anon_send(c, call_atom::value, size_t{1});
  run();
  CAF_REQUIRE_EQUAL(spawned().size(), 1u);
  caf::anon_send_exit(spawned()[0], caf::exit_reason::user_shutdown); // as a passivated user
  run();
  caf::anon_send(c, call_atom::value, size_t{2});
  run();
  CAF_REQUIRE_EQUAL(replies().size(), 3u);
  CAF_CHECK_EQUAL(replies()[1].status, static_cast<uint16_t>(errc::unavailable));
  CAF_CHECK_EQUAL(replies()[2].status, static_cast<uint16_t>(errc::unavailable));
  caf::anon_send(c, call_atom::value, size_t{1});
  run();
  CAF_REQUIRE_EQUAL(replies().size(), 4u);
  CAF_CHECK(replies()[3].ok() && replies()[3].body == bytes{2});
  CAF_CHECK_EQUAL(spawned().size(), 2u);
}

CAF_TEST_FIXTURE_SCOPE_END()
