// The entity kit under CAF's deterministic test coordinator, with a kind declared the way
// docs/architecture.md shows (a counter: its state holds an entity_life): activation on
// lookup, the ownership check at the host and at the actor, passivation of unused actors
// and the linger that sends late callers on, release and loss of shards (actors first,
// then the kind's shard keeper), handoffs into the keeper, and the host's fan-outs.
#define CAF_SUITE entity_kit
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "cluster/entity_kit.hpp"
#include "config/caf_error.hpp"
#include "fakes.hpp"
#include "protocol/wire.hpp"

using namespace kinbox;

namespace {

constexpr entity_kind counter_kind = 9;
constexpr uint32_t shards = 16;

/// What the counters and the keeper were told, in order, as "id:what" or "keeper:what".
struct journal {
  std::vector<std::string> lines;
  uint64_t now_ms = 1'000'000;
  bool release_ok = true; ///< what the keeper answers to a release
  bool count(const std::string& line) const {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
};

/// Tells a counter to answer the requests it holds.
using answer_atom = caf::atom_constant<caf::atom("answer")>;
/// The operation a counter holds without an answer until told (a read that outlives a
/// release).
constexpr uint8_t held_op = 2;

// A kind in a few lines: state with an entity_life, its requests, the kit's messages.
struct counter_state {
  entity_life life;
  uint64_t count = 0;
  std::vector<reply_to> held;
  static inline const char* name = "test.counter";
};

using counter_actor = entity_actor::extend<caf::reacts_to<linger_atom>, caf::reacts_to<idle_atom>,
                                           caf::reacts_to<answer_atom>>;

counter_actor::behavior_type counter(counter_actor::stateful_pointer<counter_state> self,
                                     uint64_t id, entity_host host,
                                     std::shared_ptr<entity_service> service,
                                     std::shared_ptr<journal> j) {
  self->state.life = entity_life{counter_kind, id, std::move(host)};
  auto note = [=](const std::string& what) { j->lines.push_back(std::to_string(id) + ":" + what); };
  return {
      [=](std::vector<entity_request>& reqs) -> caf::result<std::vector<entity_reply>> {
        auto& st = self->state;
        auto [rp, replies] = reply_to::for_batch(self, reqs.size());
        st.life.track(replies);
        if (!st.life.serving(*service->view())) {
          entity_life::bounce(reqs, replies);
          return rp;
        }
        st.life.touch(j->now_ms);
        st.life.arm_idle(self);
        for (size_t i = 0; i < reqs.size(); ++i)
          if (reqs[i].op == held_op)
            st.held.push_back(replies[i]);
          else
            replies[i].deliver(ok_reply(bytes{static_cast<uint8_t>(++st.count)}));
        return rp;
      },
      [=](release_atom) -> caf::result<bool> {
        note("release");
        auto rp = self->make_response_promise<bool>();
        self->state.life.release(rp);
        self->state.life.left(self); // nothing of its own is open
        return rp;
      },
      [=](flush_atom) {
        note("flush");
        return true;
      },
      [=](node_down_atom, const std::string& node, uint64_t, uint64_t) { note("down " + node); },
      [=](stored_atom) { note("stored"); },
      [=](linger_atom) { self->state.life.linger(self, true); },
      [=](answer_atom) {
        for (auto& r : self->state.held)
          r.deliver(ok_reply());
        self->state.held.clear();
      },
      [=](idle_atom) {
        if (self->state.life.idle(self, j->now_ms))
          self->state.life.passivate(self);
      },
  };
}

/// The kind's shard keeper: handoff bodies are lists of u64 ids.
shard_keeper::behavior_type keeper(shard_keeper::pointer, std::shared_ptr<journal> j) {
  return {
      [=](release_atom, uint32_t shard, std::string& to) {
        j->lines.push_back("keeper:release " + std::to_string(shard) + " " + to);
        return j->release_ok;
      },
      [=](handoff_atom, uint32_t shard, bytes& body) -> caf::result<std::vector<uint64_t>> {
        j->lines.push_back("keeper:handoff " + std::to_string(shard));
        std::vector<uint64_t> ids;
        wire::reader r{body};
        uint64_t id = 0;
        while (!r.finished() && r.u64(id))
          ids.push_back(id);
        if (!r.finished())
          return make_error(errc::invalid_argument);
        return ids;
      },
      [=](view_atom) { j->lines.push_back("keeper:strays"); },
  };
}

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<journal> j = std::make_shared<journal>();
  fakes::no_bus bus;
  std::shared_ptr<entity_service> service;
  entity_host host;
  shard_keeper kept; ///< the kind's keeper, if it has one
  caf::scoped_actor self{sys};

  fixture() {
    entity_service_config cfg;
    cfg.cluster = "test";
    cfg.node_id = "a";
    cfg.incarnation = 1;
    cfg.bus = &bus;
    service = std::make_shared<entity_service>(cfg);
    show(placement::initial(shards, {"a"}));
  }

  ~fixture() {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  void start(bool with_keeper) {
    if (with_keeper)
      kept = sys.spawn(keeper, j);
    entity_kind_spec spec{counter_kind,
                          [svc = service, j = j](caf::actor_system& sys, uint64_t id,
                                                 entity_host h) {
                            return entity_actor{sys.spawn(counter, id, std::move(h), svc, j)};
                          },
                          kept};
    host = host_kind(sys, service, std::move(spec), entity_codec{});
    consume_messages();
  }

  /// Publishes a view of placement `p`, with `releasing` shards being handed off.
  void show(const placement& p, std::vector<uint32_t> releasing = {}) {
    auto view = std::make_shared<cluster_view>();
    view->me = "a";
    view->incarnation = 1;
    view->map = std::make_shared<const placement>(p);
    view->releasing.assign(shards, 0);
    for (auto s : releasing)
      view->releasing[s] = 1;
    view->lease_until = std::chrono::steady_clock::time_point::max();
    view->nodes = {live_node{"a", 1, "a:1", false}, live_node{"b", 1, "b:1", false}};
    service->publish_view(view);
  }

  /// The placement with `shard` given to node b.
  placement without(uint32_t shard) {
    return placement::initial(shards, {"a"}).with_owners({{shard, "b"}});
  }

  uint32_t shard(uint64_t id) { return shard_of(shards, counter_kind, id); }

  /// An id on another shard than `id`'s.
  uint64_t elsewhere(uint64_t id) {
    for (uint64_t other = id + 1;; ++other)
      if (shard(other) != shard(id))
        return other;
  }

  std::optional<caf::actor> lookup(uint64_t id, errc* refused = nullptr) {
    auto pending = self->request(host, caf::infinite, lookup_atom::value, id);
    consume_messages();
    std::optional<caf::actor> out;
    pending.receive([&](caf::actor& a) { out = a; },
                    [&](caf::error& err) {
                      if (refused)
                        *refused = to_failure(err).code;
                    });
    return out;
  }

  /// One request to `actor`: its reply, or the CAF error's text if the actor is gone.
  std::variant<entity_reply, std::string> call(const caf::actor& actor, uint64_t id) {
    std::vector<entity_request> reqs{
        entity_request{counter_kind, id, 1, 7, caf::make_message(uint8_t{42})}};
    auto pending = self->request(actor, caf::infinite, std::move(reqs));
    consume_messages();
    std::variant<entity_reply, std::string> out = std::string{"no answer"};
    pending.receive([&](std::vector<entity_reply>& r) { out = std::move(r.at(0)); },
                    [&](caf::error& err) { out = to_failure(err).message; });
    return out;
  }

  bool moved(const caf::actor& actor, uint64_t id) {
    auto r = call(actor, id);
    auto* reply = std::get_if<entity_reply>(&r);
    // A moved reply gives the argument back, for the retry.
    return reply != nullptr && reply->moved() && reply->value.match_elements<uint8_t>() &&
           reply->value.get_as<uint8_t>(0) == 42;
  }

  bool serves(const caf::actor& actor, uint64_t id) {
    auto r = call(actor, id);
    auto* reply = std::get_if<entity_reply>(&r);
    return reply != nullptr && reply->ok();
  }

  bool gone(const caf::actor& actor, uint64_t id) {
    return std::holds_alternative<std::string>(call(actor, id));
  }

  void pass(std::chrono::milliseconds t) {
    j->now_ms += static_cast<uint64_t>(t.count());
    sched.advance_time(t);
    consume_messages();
  }

  bool release(uint32_t s) {
    auto pending = self->request(host, caf::infinite, release_atom::value, s, std::string{"b"});
    consume_messages();
    bool out = false;
    pending.receive([&](bool ok) { out = ok; }, [&](caf::error&) { out = false; });
    return out;
  }

  bool handoff(uint32_t s, std::vector<uint64_t> ids) {
    bytes body;
    wire::writer w{body};
    for (auto id : ids)
      w.u64(id);
    auto pending = self->request(host, caf::infinite, handoff_atom::value, s, std::move(body));
    consume_messages();
    bool out = false;
    pending.receive([&](bool ok) { out = ok; }, [&](caf::error&) { out = false; });
    return out;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(entity_kit_tests, fixture)

CAF_TEST(a lookup activates one actor per id and finds it again) {
  start(false);
  auto one = lookup(1);
  auto again = lookup(1);
  auto two = lookup(2);
  CAF_REQUIRE(one && again && two);
  CAF_CHECK(*one == *again);
  CAF_CHECK(*one != *two);
  CAF_CHECK(serves(*one, 1));
}

CAF_TEST(the host and the actor refuse an entity whose shard this node does not serve) {
  start(false);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  show(without(shard(1)));
  errc refused = errc::internal;
  CAF_CHECK(!lookup(1, &refused));
  CAF_CHECK(refused == errc::moved);
  // A caller that kept the handle is sent on, with its body.
  CAF_CHECK(moved(*one, 1));
  // An entity of a served shard is not concerned.
  auto other = lookup(elsewhere(1));
  CAF_REQUIRE(other);
  CAF_CHECK(serves(*other, elsewhere(1)));
  // Nor is one of a shard this node is handing off.
  show(placement::initial(shards, {"a"}), {shard(1)});
  CAF_CHECK(!lookup(1, &refused));
}

CAF_TEST(an unused actor passivates and sends late callers on until its linger ends) {
  start(false);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  CAF_CHECK(serves(*one, 1));
  pass(entity_idle_time / 2);
  CAF_CHECK(serves(*one, 1)); // used: its idle time starts again
  pass(entity_idle_time / 2 + std::chrono::seconds(1));
  CAF_CHECK(serves(*one, 1));
  pass(entity_idle_time + std::chrono::seconds(1));
  // The host forgot it: a lookup makes a new actor, and the old one answers `moved`.
  CAF_CHECK(moved(*one, 1));
  auto fresh = lookup(1);
  CAF_REQUIRE(fresh);
  CAF_CHECK(*fresh != *one);
  CAF_CHECK(serves(*fresh, 1));
  pass(moved_linger);
  CAF_CHECK(gone(*one, 1));
}

CAF_TEST(a passivation that a newer actor overtook leaves the newer one in place) {
  start(false);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  // The host forgets `one` (its shard is released), and a lookup makes a newer actor.
  CAF_CHECK(release(shard(1)));
  auto fresh = lookup(1);
  CAF_REQUIRE(fresh && *fresh != *one);
  // A late passivate from the old actor does not take the newer one out.
  caf::anon_send(host, passivate_atom::value, uint64_t{1});
  consume_messages();
  auto again = lookup(1);
  CAF_REQUIRE(again);
  CAF_CHECK(*again == *fresh);
}

CAF_TEST(a release stops the shard actors and then hands the rest to the keeper) {
  start(true);
  auto one = lookup(1);
  auto other = lookup(elsewhere(1));
  CAF_REQUIRE(one && other);
  CAF_CHECK(release(shard(1)));
  auto& lines = j->lines;
  auto released = std::find(lines.begin(), lines.end(), "1:release");
  auto kept = std::find(lines.begin(), lines.end(),
                        "keeper:release " + std::to_string(shard(1)) + " b");
  CAF_REQUIRE(released != lines.end() && kept != lines.end());
  CAF_CHECK(released < kept);
  CAF_CHECK(!j->count(std::to_string(elsewhere(1)) + ":release"));
  CAF_CHECK(moved(*one, 1));
  CAF_CHECK(serves(*other, elsewhere(1)));
  // The keeper's answer is the release's: a failed move keeps the shard here.
  j->release_ok = false;
  CAF_CHECK(!release(shard(1)));
}

CAF_TEST(a kind without a keeper is released once its actors stopped) {
  start(false);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  CAF_CHECK(release(shard(1)));
  CAF_CHECK(j->count("1:release"));
  CAF_CHECK(handoff(shard(1), {1})); // nothing to store
}

CAF_TEST(a handoff goes to the keeper and the active actors it names hear of it) {
  start(true);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  CAF_CHECK(handoff(shard(1), {1, 2}));
  CAF_CHECK(j->count("keeper:handoff " + std::to_string(shard(1))));
  CAF_CHECK(j->count("1:stored"));
  CAF_CHECK(!j->count("2:stored")); // not active: it reads the store when activated
  // A batch the keeper cannot take is refused, and so is one for a shard this node is
  // handing off itself (it would leave with the state it moves).
  bytes bad{1, 2, 3};
  auto pending = self->request(host, caf::infinite, handoff_atom::value, shard(1), bad);
  consume_messages();
  pending.receive([](bool ok) { CAF_CHECK(!ok); }, [](caf::error&) { CAF_FAIL("no answer"); });
  show(placement::initial(shards, {"a"}), {shard(1)});
  j->lines.clear();
  CAF_CHECK(!handoff(shard(1), {1}));
  CAF_CHECK(j->lines.empty());
}

CAF_TEST(node_down and flush reach every active actor and a flush waits for them) {
  start(false);
  CAF_REQUIRE(lookup(1) && lookup(2));
  caf::anon_send(host, node_down_atom::value, std::string{"b"}, uint64_t{1}, uint64_t{5});
  consume_messages();
  CAF_CHECK(j->count("1:down b") && j->count("2:down b"));
  auto pending = self->request(host, caf::infinite, flush_atom::value);
  consume_messages();
  pending.receive([](bool ok) { CAF_CHECK(ok); }, [](caf::error&) { CAF_FAIL("no flush"); });
  CAF_CHECK(j->count("1:flush") && j->count("2:flush"));
}

CAF_TEST(a lost shard stops its actors and sends its state on as strays) {
  start(true);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  show(without(shard(1)));
  caf::anon_send(host, lost_atom::value, std::vector<uint32_t>{shard(1)});
  consume_messages();
  auto& lines = j->lines;
  auto released = std::find(lines.begin(), lines.end(), "1:release");
  auto strays = std::find(lines.begin(), lines.end(), "keeper:strays");
  CAF_REQUIRE(released != lines.end() && strays != lines.end());
  CAF_CHECK(released < strays);
  pass(moved_linger);
  CAF_CHECK(gone(*one, 1));
}

CAF_TEST(a released actor lingers until the replies it still owes are sent) {
  start(false);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  std::vector<entity_request> reqs{entity_request{counter_kind, 1, held_op, 7, {}}};
  auto pending = self->request(*one, caf::infinite, std::move(reqs));
  consume_messages();
  CAF_CHECK(release(shard(1))); // its state is safe: the release is answered
  pass(moved_linger * 3);
  CAF_CHECK(moved(*one, 1)); // still there: a reply is owed
  caf::anon_send(caf::actor_cast<counter_actor>(*one), answer_atom::value);
  consume_messages();
  bool answered = false;
  pending.receive([&](std::vector<entity_reply>& r) { answered = r.at(0).ok(); },
                  [](caf::error&) {});
  CAF_CHECK(answered);
  pass(moved_linger);
  CAF_CHECK(gone(*one, 1));
}

CAF_TEST(an actor that passivated answers a release at once) {
  start(false);
  auto one = lookup(1);
  CAF_REQUIRE(one);
  CAF_CHECK(serves(*one, 1));
  pass(entity_idle_time + std::chrono::seconds(1));
  CAF_CHECK(moved(*one, 1)); // passivated, lingering
  auto pending = self->request(caf::actor_cast<counter_actor>(*one), caf::infinite,
                               release_atom::value);
  consume_messages();
  bool answered = false;
  pending.receive([&](bool ok) { answered = ok; }, [](caf::error&) {});
  CAF_CHECK(answered);
}

CAF_TEST(a kind whose shard keeper fails stops visibly) {
  start(true);
  CAF_REQUIRE(lookup(1));
  caf::anon_send_exit(kept, caf::exit_reason::unhandled_exception);
  consume_messages();
  CAF_CHECK(!lookup(1)); // the host is gone, and with it the kind's actors
}

CAF_TEST_FIXTURE_SCOPE_END()
