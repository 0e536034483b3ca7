#define CAF_SUITE entity_service
#define FAIL(x) CAF_FAIL(x)
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "cluster/entity_client.hpp"
#include "cluster/entity_interface.hpp"
#include "cluster/entity_service.hpp"
#include "config/caf_error.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

/// The argument of the test kind's one operation: a tag the entity logs.
struct test_tag {
  uint8_t tag = 0;
};

/// Its result: the node that served it, and the tag.
struct test_answer {
  std::string node;
  uint8_t tag = 0;
};

void write_body(bytes& out, const test_tag& x) {
  out.push_back(x.tag);
}

template <>
result<test_tag> decode_body<test_tag>(std::span<const uint8_t> in) {
  if (in.size() != 1)
    return failure{errc::malformed_frame, "a tag is one byte"};
  return test_tag{in[0]};
}

void write_body(bytes& out, const test_answer& x) {
  wire::writer{out}.str(x.node).u8(x.tag);
}

template <>
result<test_answer> decode_body<test_answer>(std::span<const uint8_t> in) {
  wire::reader r{in};
  test_answer x;
  r.str(x.node, 64);
  r.u8(x.tag);
  if (!r.finished())
    return failure{errc::malformed_frame, "not an answer"};
  return x;
}

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::test_tag)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::test_answer)

using namespace kinbox;

namespace {

constexpr entity_kind test_kind = 9;
constexpr uint8_t tag_op = 1;
using test_interface = entity_interface<op<tag_op, test_tag, test_answer>>;

entity_request tag_request(uint64_t id, uint8_t tag, uint8_t attempt = 0, uint64_t client = 0) {
  auto req = make_request<test_interface, tag_op>(test_kind, id, 42, {tag});
  req.attempt = attempt;
  req.client = client;
  return req;
}

/// The answer a reply carries (an empty one if it carries none).
test_answer answer_of(const entity_reply& r) {
  auto* a = result_as<test_answer>(r);
  return a ? *a : test_answer{};
}
constexpr uint32_t shards = 8;

/// NATS as the service uses it, in memory: exact subjects and `prefix.*` wildcards, and the
/// server's "no responders" answer to a request nobody subscribes to.
class memory_bus : public message_bus {
public:
  bool publish(const std::string& subject, std::span<const uint8_t> data,
               const std::string& reply) override {
    ++published[subject];
    auto* handler = find(subject);
    if (handler == nullptr) {
      if (!reply.empty())
        if (auto* back = find(reply))
          (*back)(nats_message{reply, {}, {}, true});
      return true;
    }
    (*handler)(nats_message{subject, reply, bytes(data.begin(), data.end()), false});
    return true;
  }

  result<bool> subscribe(const std::string& subject, nats_handler handler) override {
    subs.emplace_back(subject, std::move(handler));
    return true;
  }

  size_t max_payload() const override { return 1u << 20; }

  void unsubscribe_all(const std::string& prefix) {
    std::erase_if(subs, [&](auto& s) { return s.first.rfind(prefix, 0) == 0; });
  }

  std::map<std::string, size_t> published;

private:
  nats_handler* find(const std::string& subject) {
    for (auto& [pattern, handler] : subs) {
      if (pattern == subject)
        return &handler;
      if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
        auto prefix = pattern.substr(0, pattern.size() - 1);
        if (subject.rfind(prefix, 0) == 0 && subject.find('.', prefix.size()) == std::string::npos)
          return &handler;
      }
    }
    return nullptr;
  }

  std::vector<std::pair<std::string, nats_handler>> subs;
};

/// What the test entities saw: (node, entity id, request tag) in arrival order.
struct served {
  std::string node;
  uint64_t id;
  uint8_t tag;
};

using log_ptr = std::shared_ptr<std::vector<served>>;

/// A test entity: logs every request and answers with its node's name.
caf::behavior test_entity(caf::event_based_actor*, std::string node, uint64_t id, log_ptr log) {
  return {
      [=](std::vector<entity_request>& reqs) {
        std::vector<entity_reply> out;
        for (auto& r : reqs) {
          auto tag = r.args.match_elements<test_tag>() ? r.args.get_as<test_tag>(0).tag : 0;
          log->push_back({node, id, static_cast<uint8_t>(tag)});
          out.push_back(ok_reply(test_answer{node, static_cast<uint8_t>(tag)}));
        }
        return out;
      },
  };
}

using open_atom = caf::atom_constant<caf::atom("open")>;

/// An entity that holds its answers until it is opened, then answers `moved` (an actor
/// that started leaving after it took the batch) or, if not `move`, answers them.
caf::behavior gated_entity(caf::event_based_actor* self) {
  auto held = std::make_shared<
      std::vector<std::pair<caf::response_promise, std::vector<entity_request>>>>();
  return {
      [=](std::vector<entity_request>& reqs) {
        held->emplace_back(self->make_response_promise(), std::move(reqs));
        return held->back().first;
      },
      [=](open_atom, bool move) {
        for (auto& [rp, reqs] : *held) {
          std::vector<entity_reply> out;
          for (auto& r : reqs)
            out.push_back(move ? moved_reply(std::move(r.args))
                               : ok_reply(test_answer{"gated", r.args.get_as<test_tag>(0).tag}));
          rp.deliver(std::move(out));
        }
        held->clear();
      },
  };
}

struct host_state {
  std::map<uint64_t, caf::actor> entities;
};

/// The test kind's host on one node: activates entities of the shards the node serves
/// (gated ones, if `gated`).
entity_host::behavior_type test_host(entity_host::stateful_pointer<host_state> self,
                                     std::shared_ptr<entity_service> svc, log_ptr log,
                                     bool gated) {
  return {
      [=](lookup_atom, uint64_t id) -> caf::result<caf::actor> {
        if (!svc->view()->serves_entity(test_kind, id, std::chrono::steady_clock::now()))
          return make_error(errc::moved);
        auto& e = self->state.entities[id];
        if (!e)
          e = gated ? self->spawn(gated_entity) : self->spawn(test_entity, svc->node_id(), id, log);
        return e;
      },
      [=](release_atom, uint32_t shard, std::string&) {
        auto view = svc->view();
        for (auto i = self->state.entities.begin(); i != self->state.entities.end();) {
          if (view->shard_of(test_kind, i->first) == shard) {
            caf::anon_send_exit(i->second, caf::exit_reason::user_shutdown);
            i = self->state.entities.erase(i);
          } else {
            ++i;
          }
        }
        return true;
      },
      [=](handoff_atom, uint32_t, bytes&) { return true; },
      [=](node_down_atom, std::string&, uint64_t, uint64_t) {},
      [=](view_atom) {},
      [=](lost_atom, std::vector<uint32_t>&) {},
      [=](passivate_atom, uint64_t id) {
        auto i = self->state.entities.find(id);
        if (i != self->state.entities.end() && i->second.address() == self->current_sender())
          self->state.entities.erase(i);
      },
      [=](flush_atom) { return true; },
  };
}

using call_atom = caf::atom_constant<caf::atom("call")>;

struct caller_state {
  std::unique_ptr<entity_client<uint8_t>> client;
  std::vector<std::pair<uint8_t, entity_reply>> replies;
};

/// Calls through an entity_client: each (id, tag) becomes one request, all flushed
/// together; replies are kept in the order they came.
caf::behavior caller(caf::stateful_actor<caller_state>* self, std::shared_ptr<entity_service> svc) {
  self->state.client = std::make_unique<entity_client<uint8_t>>(
      svc, [self](uint8_t& tag, entity_reply& r) { self->state.replies.emplace_back(tag, r); });
  return {
      [=](call_atom, std::vector<std::pair<uint64_t, uint8_t>>& calls) {
        for (auto& [id, tag] : calls)
          self->state.client->call(tag_request(id, tag), tag);
        self->state.client->flush(self);
      },
      [=](entity_retry_atom) { self->state.client->retry(self); },
  };
}

struct node {
  std::shared_ptr<entity_service> svc;
  entity_service_actor actor;
  caf::actor host;
};

struct fixture : test_coordinator_fixture<> {
  memory_bus bus;
  log_ptr log = std::make_shared<std::vector<served>>();
  std::map<std::string, node> nodes;

  ~fixture() {
    // A service and its actor refer to each other: stop them as a node does.
    for (auto& [id, n] : nodes) {
      caf::anon_send_exit(n.actor, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(n.host, caf::exit_reason::user_shutdown);
    }
    consume_messages();
  }

  node& start(const std::string& id, bool shortcut = true, bool gated = false) {
    entity_service_config cfg;
    cfg.cluster = "t";
    cfg.node_id = id;
    cfg.incarnation = 1;
    cfg.bus = &bus;
    cfg.local_shortcut = shortcut;
    cfg.retry_limit = std::chrono::seconds(2);
    auto svc = std::make_shared<entity_service>(cfg);
    auto host = sys.spawn(test_host, svc, log, gated);
    svc->register_kind(test_kind, host, entity_codec{test_interface::codec(), {}});
    auto actor = spawn_entity_service(sys, svc);
    CAF_REQUIRE(actor);
    nodes[id] = node{svc, *actor, caf::actor_cast<caf::actor>(host)};
    return nodes[id];
  }

  /// Tells `id`'s service the placement (and that every started node is live).
  void show(const std::string& id, const placement& p) {
    membership_update u;
    u.map = std::make_shared<const placement>(p);
    for (auto& [n, _] : nodes)
      u.nodes.push_back(live_node{n, 1, n + ":7420", false});
    u.lease_until = std::chrono::steady_clock::time_point::max();
    caf::anon_send(nodes[id].actor, members_atom::value, std::move(u));
    consume_messages();
  }

  void show_all(const placement& p) {
    for (auto& [n, _] : nodes)
      show(n, p);
  }

  /// An entity id whose shard `p` gives to `owner`, the n-th such.
  uint64_t entity_on(const placement& p, const std::string& owner, int nth = 0) {
    for (uint64_t id = 1;; ++id)
      if (*p.owner(shard_of(shards, test_kind, id)) == owner && nth-- == 0)
        return id;
  }

  caf::actor spawn_caller(const std::string& on) { return sys.spawn(caller, nodes[on].svc); }

  void call(const caf::actor& c, std::vector<std::pair<uint64_t, uint8_t>> calls) {
    caf::anon_send(c, call_atom::value, std::move(calls));
    consume_messages();
  }

  std::vector<std::pair<uint8_t, entity_reply>>& replies(const caf::actor& c) {
    return deref<caf::stateful_actor<caller_state>>(c).state.replies;
  }

  std::vector<uint8_t> tags_at(const std::string& node, uint64_t id) {
    std::vector<uint8_t> out;
    for (auto& s : *log)
      if (s.node == node && s.id == id)
        out.push_back(s.tag);
    return out;
  }

  size_t inbox_messages(const std::string& node) { return bus.published["kinbox.t.node." + node]; }

  /// Registers the test kind on every node with a push codec of one u64.
  void register_u64_pushes() {
    push_codec codec{[](const caf::message& m) {
                       bytes out;
                       wire::writer{out}.u64(m.get_as<uint64_t>(0));
                       return out;
                     },
                     [](std::span<const uint8_t> in) -> std::optional<caf::message> {
                       wire::reader r{in};
                       uint64_t x = 0;
                       if (!r.u64(x) || !r.finished())
                         return std::nullopt;
                       return caf::make_message(x);
                     }};
    for (auto& [n, nd] : nodes)
      nd.svc->register_kind(test_kind, caf::actor_cast<entity_host>(nd.host),
                            entity_codec{test_interface::codec(), codec});
  }

  /// Runs the retry timers of the callers until nothing is due.
  void run_timers(std::chrono::milliseconds total) {
    for (auto t = std::chrono::milliseconds(0); t < total; t += std::chrono::milliseconds(10)) {
      sched.advance_time(std::chrono::milliseconds(10));
      consume_messages();
    }
  }
};

placement two_nodes() {
  return placement::initial(shards, {"a", "b"});
}

} // namespace

CAF_TEST(bus batches decode to what was encoded and cut or forged ones are refused) {
  std::vector<bus_request> reqs{{test_kind, 5, 1, 42, 1, 77, bytes{1, 2}},
                                {test_kind, 6, 2, 43, 0, 78, bytes{}}};
  auto m = decode_bus_message(encode_request_batch(9, 17, "kinbox.t.node.a", reqs));
  CAF_REQUIRE(m && m->type == bus_type::requests);
  CAF_CHECK(m->epoch == 9 && m->corr == 17 && m->answer_to == "kinbox.t.node.a");
  CAF_REQUIRE_EQUAL(m->requests.size(), 2u);
  CAF_CHECK(m->requests[0].id == 5 && m->requests[0].arg == (bytes{1, 2}) &&
            m->requests[0].attempt == 1 && m->requests[0].client == 77);
  CAF_CHECK(m->requests[1].id == 6 && m->requests[1].caller == 43 && m->requests[1].arg.empty());
  std::vector<entity_answer> answers{{17, 1, bus_reply{0, {}, bytes{3}}},
                                     {18, 0, bus_error(errc::timeout)}};
  m = decode_bus_message(encode_answers(answers));
  CAF_REQUIRE(m && m->type == bus_type::answers && m->answers.size() == 2);
  CAF_CHECK(m->answers[0].corr == 17 && m->answers[0].index == 1 && m->answers[0].reply.body == bytes{3});
  CAF_CHECK(m->answers[1].corr == 18 && m->answers[1].reply.status == static_cast<uint16_t>(errc::timeout));
  std::vector<push_item> pushes{{2, 77, test_kind, bytes{4, 5}}};
  m = decode_bus_message(encode_pushes(pushes));
  CAF_REQUIRE(m && m->type == bus_type::pushes && m->pushes.size() == 1);
  CAF_CHECK(m->pushes[0].incarnation == 2 && m->pushes[0].endpoint_id == 77 &&
            m->pushes[0].kind == test_kind && m->pushes[0].body == (bytes{4, 5}));
  // A count the rest of the input cannot hold, and a batch cut short, are refused.
  for (auto type : {bus_type::answers, bus_type::pushes, bus_type::replies}) {
    bytes forged;
    wire::writer{forged}.u8(static_cast<uint8_t>(type)).u32(60000);
    CAF_CHECK(!decode_bus_message(forged));
  }
  auto cut = encode_answers(answers);
  cut.pop_back();
  CAF_CHECK(!decode_bus_message(cut));
}

CAF_TEST(a failure that passes through a caf error keeps its retry after) {
  auto limited = error_reply(make_error(failure{errc::rate_limited, "too many PIN checks", 1500}));
  auto f = limited.to_failure();
  CAF_CHECK(f.code == errc::rate_limited);
  CAF_CHECK_EQUAL(f.message, "too many PIN checks");
  CAF_CHECK_EQUAL(f.retry_after_ms, 1500u);
  auto renamed = error_reply(make_error(failure{errc::unavailable, "KV", 0}), "the profile stays");
  CAF_CHECK_EQUAL(renamed.to_failure().message, "the profile stays");
  CAF_CHECK_EQUAL(renamed.to_failure().retry_after_ms, 0u);
  CAF_CHECK(error_reply(caf::make_error(caf::sec::request_timeout)).to_failure().code == errc::timeout);
}

CAF_TEST_FIXTURE_SCOPE(entity_service_tests, fixture)

CAF_TEST(a local entity gets its requests straight from the caller and in order) {
  start("a");
  start("b");
  auto p = two_nodes();
  show_all(p);
  auto e = entity_on(p, "a");
  auto c = spawn_caller("a");
  call(c, {{e, 1}, {e, 2}, {e, 3}});
  CAF_CHECK(tags_at("a", e) == (std::vector<uint8_t>{1, 2, 3}));
  CAF_REQUIRE_EQUAL(replies(c).size(), 3u);
  for (auto& [tag, r] : replies(c))
    CAF_CHECK(r.ok() && answer_of(r).node == "a");
  CAF_CHECK_EQUAL(inbox_messages("a") + inbox_messages("b"), 0u);
}

CAF_TEST(an entity actor that stopped once idle is looked up again not met as busy) {
  start("a");
  start("b");
  auto p = two_nodes();
  show_all(p);
  auto e = entity_on(p, "a");
  auto c = spawn_caller("a");
  call(c, {{e, 1}});
  // A minute later the entity's actor stopped unused, as family actors do; the caller
  // still has its handle.
  sched.advance_time(entity_idle_time);
  auto& hosted = deref<entity_host::stateful_base<host_state>>(nodes["a"].host).state.entities;
  caf::anon_send_exit(hosted.at(e), caf::exit_reason::user_shutdown);
  hosted.erase(e);
  consume_messages();
  call(c, {{e, 2}});
  CAF_REQUIRE_EQUAL(replies(c).size(), 2u);
  CAF_CHECK(replies(c)[1].second.ok());
  CAF_CHECK(tags_at("a", e) == (std::vector<uint8_t>{1, 2}));
}

CAF_TEST(requests for entities on another node go in one bus message and come back in order) {
  start("a");
  start("b");
  auto p = two_nodes();
  show_all(p);
  auto e1 = entity_on(p, "b", 0);
  auto e2 = entity_on(p, "b", 1);
  auto local = entity_on(p, "a");
  auto c = spawn_caller("a");
  call(c, {{e1, 1}, {e2, 2}, {e1, 3}, {local, 4}, {e2, 5}});
  CAF_CHECK_EQUAL(inbox_messages("b"), 1u); // one batch for node b
  CAF_CHECK_EQUAL(inbox_messages("a"), 1u); // its answers in one batch back
  CAF_CHECK(tags_at("b", e1) == (std::vector<uint8_t>{1, 3}));
  CAF_CHECK(tags_at("b", e2) == (std::vector<uint8_t>{2, 5}));
  CAF_CHECK(tags_at("a", local) == (std::vector<uint8_t>{4}));
  CAF_REQUIRE_EQUAL(replies(c).size(), 5u);
  for (auto& [tag, r] : replies(c))
    CAF_CHECK(r.ok() && answer_of(r).node == (tag == 4 ? "a" : "b"));
}

CAF_TEST(without the local shortcut the same requests take the node inbox) {
  start("a", false);
  start("b");
  auto p = two_nodes();
  show_all(p);
  auto e = entity_on(p, "a");
  auto c = spawn_caller("a");
  call(c, {{e, 1}, {e, 2}});
  CAF_CHECK_EQUAL(inbox_messages("a"), 2u); // the batch, and its answers
  CAF_CHECK(tags_at("a", e) == (std::vector<uint8_t>{1, 2}));
  CAF_CHECK_EQUAL(replies(c).size(), 2u);
}

CAF_TEST(callers of one turn share a bus message and each hears its answers when they are done) {
  start("a");
  start("b", true, true); // b's entities hold their answers until opened
  auto p = two_nodes();
  show_all(p);
  auto e1 = entity_on(p, "b", 0);
  auto e2 = entity_on(p, "b", 1);
  auto c1 = spawn_caller("a");
  auto c2 = spawn_caller("a");
  caf::anon_send(c1, call_atom::value, std::vector<std::pair<uint64_t, uint8_t>>{{e1, 1}, {e1, 2}});
  caf::anon_send(c2, call_atom::value, std::vector<std::pair<uint64_t, uint8_t>>{{e2, 3}});
  consume_messages();
  CAF_CHECK_EQUAL(inbox_messages("b"), 1u); // both callers' requests in one bus message
  auto& entities = deref<entity_host::stateful_base<host_state>>(nodes["b"].host).state.entities;
  caf::anon_send(entities[e2], open_atom::value, false);
  consume_messages();
  CAF_REQUIRE_EQUAL(replies(c2).size(), 1u); // c2 does not wait for e1
  CAF_CHECK(replies(c2)[0].second.ok() && answer_of(replies(c2)[0].second).tag == 3);
  CAF_CHECK(replies(c1).empty());
  caf::anon_send(entities[e1], open_atom::value, false);
  consume_messages();
  CAF_REQUIRE_EQUAL(replies(c1).size(), 2u);
  CAF_CHECK(replies(c1)[0].first == 1 && replies(c1)[1].first == 2);
  CAF_CHECK_EQUAL(inbox_messages("a"), 2u); // answers went back as they came
}

CAF_TEST(a request that meets a move is retried at the new owner after the earlier ones) {
  start("a");
  start("b");
  auto p = two_nodes();
  show_all(p);
  auto e = entity_on(p, "a");
  auto shard = shard_of(shards, test_kind, e);
  auto c = spawn_caller("a");
  call(c, {{e, 1}});
  // Node a hands the shard off: from now on it does not serve it.
  auto released = self->request(nodes["a"].actor, caf::infinite, release_atom::value, shard,
                                std::string{"b"});
  consume_messages();
  released.receive([](bool ok) { CAF_CHECK(ok); },
                   [](caf::error&) { CAF_FAIL("release failed"); });
  call(c, {{e, 2}, {e, 3}}); // meets the move: nobody serves the shard yet
  CAF_CHECK_EQUAL(replies(c).size(), 1u);
  run_timers(std::chrono::milliseconds(50));
  CAF_CHECK_EQUAL(replies(c).size(), 1u); // still waiting, not failed
  auto moved = p.with_owners({{shard, "b"}});
  show_all(moved);
  run_timers(std::chrono::milliseconds(300));
  CAF_CHECK(tags_at("a", e) == (std::vector<uint8_t>{1}));
  CAF_CHECK(tags_at("b", e) == (std::vector<uint8_t>{2, 3}));
  CAF_REQUIRE_EQUAL(replies(c).size(), 3u);
  CAF_CHECK_EQUAL(replies(c)[1].first, 2);
  CAF_CHECK(replies(c)[2].second.ok() && answer_of(replies(c)[2].second).node == "b");
}

CAF_TEST(requests that come back moved out of order are sent again in the order they were made) {
  start("a");
  start("b", true, true); // b's entities hold their answers, then answer moved
  auto p = two_nodes();
  show_all(p);
  auto e = entity_on(p, "b");
  auto shard = shard_of(shards, test_kind, e);
  auto c = spawn_caller("a");
  call(c, {{e, 1}}); // taken by the entity on b, answered later
  auto gone = p.with_owners({{shard, "a"}});
  show("b", gone);  // b gave the shard away; a does not know yet
  call(c, {{e, 2}}); // refused by b at once: comes back first
  auto& gate = deref<entity_host::stateful_base<host_state>>(nodes["b"].host).state.entities[e];
  caf::anon_send(gate, open_atom::value, true); // now the first one comes back
  consume_messages();
  show("a", gone);
  run_timers(std::chrono::milliseconds(300));
  CAF_CHECK(tags_at("a", e) == (std::vector<uint8_t>{1, 2}));
  CAF_CHECK_EQUAL(replies(c).size(), 2u);
}

CAF_TEST(a node whose placement is older than the callers answers moved until it catches up) {
  start("a");
  start("b");
  auto p = two_nodes();
  auto e = entity_on(p, "a");
  auto shard = shard_of(shards, test_kind, e);
  auto newer = p.with_owners({{shard, "b"}});
  show("a", newer); // a knows the shard went to b
  show("b", p);     // b does not know yet: it must not serve on its old view
  auto c = spawn_caller("a");
  call(c, {{e, 1}});
  CAF_CHECK(tags_at("b", e).empty());
  CAF_CHECK(replies(c).empty());
  show("b", newer);
  run_timers(std::chrono::milliseconds(300));
  CAF_CHECK(tags_at("b", e) == (std::vector<uint8_t>{1}));
  CAF_REQUIRE_EQUAL(replies(c).size(), 1u);
  CAF_CHECK(replies(c)[0].second.ok());
}

CAF_TEST(a request stamped with an old epoch is answered moved by the node that gave the shard away) {
  start("a");
  start("b");
  auto p = two_nodes();
  auto e = entity_on(p, "b");
  auto shard = shard_of(shards, test_kind, e);
  show("a", p);                              // a still thinks b owns it
  show("b", p.with_owners({{shard, "a"}})); // b gave it to a
  auto c = spawn_caller("a");
  call(c, {{e, 1}});
  CAF_CHECK(tags_at("b", e).empty()); // refused by b, not served on a stale stamp
  show("a", p.with_owners({{shard, "a"}}));
  run_timers(std::chrono::milliseconds(300));
  CAF_CHECK(tags_at("a", e) == (std::vector<uint8_t>{1}));
  CAF_REQUIRE_EQUAL(replies(c).size(), 1u);
  CAF_CHECK(replies(c)[0].second.ok());
}

CAF_TEST(a first try cannot overtake a request the node refused to the same client) {
  start("b");
  auto p = placement::initial(shards, {"b"});
  auto e = entity_on(p, "b");
  auto newer = p.with_owners({}); // epoch 2, the same owners
  show("b", p);
  // Requests straight into b's inbox, as node a's service would send them; the answers
  // come back to a subject of the test.
  std::vector<std::vector<bus_reply>> answers; // by batch, in request order
  CAF_REQUIRE(bus.subscribe("test.replies", [&](nats_message&& m) {
    auto decoded = decode_bus_message(m.data);
    CAF_REQUIRE(decoded && decoded->type == bus_type::answers);
    for (auto& a : decoded->answers) {
      CAF_REQUIRE(a.corr >= 1 && a.corr <= answers.size());
      auto& batch = answers[a.corr - 1];
      if (batch.size() <= a.index)
        batch.resize(a.index + 1);
      batch[a.index] = a.reply;
    }
  }));
  auto send = [&](uint64_t epoch, std::vector<bus_request> reqs) {
    answers.emplace_back();
    auto corr = answers.size();
    bus.publish("kinbox.t.node.b", encode_request_batch(epoch, corr, {}, reqs), "test.replies");
    consume_messages();
  };
  auto req = [&](uint64_t client, uint8_t tag, uint8_t attempt) {
    return bus_request{test_kind, e, tag_op, 42, attempt, client, bytes{tag}};
  };
  send(newer.epoch, {req(42, 1, 0)}); // b is behind the caller: refused
  CAF_REQUIRE_EQUAL(answers.size(), 1u);
  CAF_CHECK(answers[0][0].moved());
  show("b", newer);
  send(newer.epoch, {req(42, 2, 0)}); // a later first try, sent before the refusal came back
  CAF_REQUIRE_EQUAL(answers.size(), 2u);
  CAF_CHECK(answers[1][0].moved());
  CAF_CHECK(answers[1][0].body.empty()); // the asking node kept the argument for the retry
  send(newer.epoch, {req(7, 9, 0)}); // another client (of the same account) is not held up
  CAF_CHECK(answers[2][0].ok());
  send(newer.epoch, {req(42, 1, 1), req(42, 2, 1)}); // the retries, in order
  CAF_CHECK(answers[3][0].ok() && answers[3][1].ok());
  CAF_CHECK(tags_at("b", e) == (std::vector<uint8_t>{9, 1, 2}));
}

CAF_TEST(an owner nobody answers for gives a retryable error within the retry limit) {
  start("a");
  auto p = placement::initial(shards, {"a", "gone"});
  show("a", p);
  auto e = entity_on(p, "gone");
  auto c = spawn_caller("a");
  call(c, {{e, 1}});
  CAF_CHECK(replies(c).empty());
  run_timers(std::chrono::milliseconds(2500));
  CAF_REQUIRE_EQUAL(replies(c).size(), 1u);
  CAF_CHECK_EQUAL(replies(c)[0].second.status, static_cast<uint16_t>(errc::unavailable));
}

CAF_TEST(pushes reach an endpoint on another node through its codec) {
  start("a");
  start("b");
  show_all(two_nodes());
  auto got = std::make_shared<std::vector<uint64_t>>();
  auto session = sys.spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](uint64_t x) { got->push_back(x); }};
  });
  nodes["b"].svc->add_endpoint(77, session);
  register_u64_pushes();
  nodes["a"].svc->push(endpoint{"b", 1, 77}, test_kind, caf::make_message(uint64_t{5}));
  nodes["b"].svc->push(endpoint{"b", 1, 77}, test_kind, caf::make_message(uint64_t{6}));
  nodes["a"].svc->push(endpoint{"b", 0, 77}, test_kind, caf::make_message(uint64_t{7})); // old run
  consume_messages();
  std::sort(got->begin(), got->end()); // two senders: no order between them
  CAF_CHECK(*got == (std::vector<uint64_t>{5, 6})); // the one for b's previous run is dropped
  CAF_CHECK_EQUAL(inbox_messages("b"), 1u); // a's two pushes in one message, b's own in none
}

CAF_TEST(a stopping service still sends the pushes of its last turn and fails its open calls) {
  start("a");
  start("b", true, true);
  auto p = two_nodes();
  show_all(p);
  auto got = std::make_shared<std::vector<uint64_t>>();
  auto session = sys.spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](uint64_t x) { got->push_back(x); }};
  });
  nodes["b"].svc->add_endpoint(77, session);
  register_u64_pushes();
  auto c = spawn_caller("a");
  auto e = entity_on(p, "b");
  call(c, {{e, 1}}); // held by b's gated entity
  CAF_REQUIRE(replies(c).empty());
  // The exit comes before the flush the push arms.
  nodes["a"].svc->push(endpoint{"b", 1, 77}, test_kind, caf::make_message(uint64_t{5}));
  caf::anon_send_exit(nodes["a"].actor, caf::exit_reason::user_shutdown);
  consume_messages();
  CAF_CHECK(*got == (std::vector<uint64_t>{5}));
  CAF_REQUIRE_EQUAL(replies(c).size(), 1u);
  CAF_CHECK_EQUAL(replies(c)[0].second.status, static_cast<uint16_t>(errc::shutting_down));
  auto& entities = deref<entity_host::stateful_base<host_state>>(nodes["b"].host).state.entities;
  caf::anon_send(entities[e], open_atom::value, false); // its answer goes nowhere now
  consume_messages();
  CAF_CHECK_EQUAL(replies(c).size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
