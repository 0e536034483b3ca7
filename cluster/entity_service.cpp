#include "cluster/entity_service.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <map>
#include <unordered_map>

#include <sodium.h>

#include "cluster/entity_client.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

// -- the service actor ------------------------------------------------------------------
//
// Everything the service actor sends to other nodes waits for the end of its turn: the
// first item buffered sends the actor a `bus_flush_atom`, which comes after every message
// already in its mailbox, and then each destination gets one `requests`, one `answers` and
// one `pushes` batch at most. The requests of several callers share a batch; each caller
// hears its part once all of it is answered, and answers go back as they come, not when
// the whole batch is done. Under load this turns many small bus messages into few; alone,
// a request waits for nothing.

namespace {

/// A batch of ours to another node, waiting for its answers.
struct outgoing {
  enum class what { requests, handoff } type = what::requests;
  /// A caller whose requests are `count` of the batch's, from `first` on.
  struct caller {
    caf::typed_response_promise<std::vector<bus_reply>> rp;
    size_t first = 0;
    size_t count = 0;
    size_t open = 0; ///< of its requests, not answered yet
  };
  std::vector<caller> callers;
  std::vector<bus_reply> replies; ///< by index in the batch
  std::vector<uint8_t> answered;     ///< by index in the batch
  size_t open_callers = 0;
  caf::typed_response_promise<bool> handoff;
  caf::actor_clock::time_point deadline;
};

/// How often requests to other nodes are checked for their timeout (one timer for all,
/// not one per request).
constexpr auto timeout_sweep = std::chrono::milliseconds(250);

/// The requests of this turn to one node, from any number of callers.
struct request_batch {
  std::vector<bus_request> reqs;
  outgoing out;
  size_t bytes = 0;
};

/// Answers or pushes of this turn to one destination.
template <class T>
struct item_batch {
  std::vector<T> items;
  size_t bytes = 0;
};

/// Answers to one node (or to whoever asked, by its reply subject).
using answer_batch = item_batch<entity_answer>;
/// Pushes to endpoints of one node.
using push_batch = item_batch<push_item>;

/// A request batch from another node being served here.
struct incoming_batch {
  std::string answer_to;
  uint64_t corr = 0;
  size_t open = 0;
};

struct serve_token {
  uint64_t batch;
  uint32_t index;
  uint64_t client;
  entity_kind kind;
  uint64_t id;
  uint8_t op; ///< with the kind, what encodes the reply's result for the bus
};

/// An entity this node refused to a client (answered `moved`).
struct refusal {
  uint64_t client;
  entity_kind kind;
  uint64_t id;
  friend bool operator==(const refusal&, const refusal&) = default;
};

struct refusal_hash {
  size_t operator()(const refusal& r) const {
    return std::hash<uint64_t>{}((r.id * 0x9e3779b97f4a7c15ull) ^ r.client ^ r.kind);
  }
};

struct notify_token {
  entity_kind kind;
  uint64_t id;
  uint8_t op;
};

struct service_state {
  std::shared_ptr<entity_service> svc;
  std::string inbox; ///< this node's inbox subject: where its requests are answered
  /// Random at start: answers to a previous run of this node, still on their way to its
  /// inbox, name batches this run never sent.
  uint64_t next_corr = 0;
  std::map<uint64_t, outgoing> waiting; ///< by correlation id, so oldest first
  bool sweep_armed = false;
  std::map<std::string, request_batch> unsent_requests; ///< by node
  std::map<std::string, answer_batch> unsent_answers;   ///< by subject
  std::map<std::string, push_batch> unsent_pushes;      ///< by node
  bool flush_armed = false;
  uint64_t next_batch = 1;
  std::unordered_map<uint64_t, incoming_batch> serving;
  std::unique_ptr<entity_client<serve_token>> serve;
  std::unique_ptr<entity_client<notify_token>> notify;
  std::vector<uint8_t> releasing; ///< per shard, this node is handing it off
  /// Entities refused to clients: their first tries are refused too until a retry comes,
  /// so that no later request overtakes a refused one. Forgotten after a while.
  std::unordered_map<refusal, std::chrono::steady_clock::time_point, refusal_hash> refused;
  membership_update members;      ///< the last one heard
  std::vector<departed_node> departed;
  static inline const char* name = "kinbox.entity_service";
};

using service_pointer = entity_service_actor::stateful_pointer<service_state>;

constexpr size_t max_departed = 256;

auto logger() {
  return log::get("cluster");
}

/// Makes and publishes the view from the membership and the shards being released.
void publish(service_pointer self) {
  auto& st = self->state;
  auto v = std::make_shared<cluster_view>();
  v->me = st.svc->node_id();
  v->incarnation = st.svc->incarnation();
  v->local_shortcut = st.svc->config().local_shortcut;
  v->map = st.members.map;
  v->releasing = st.releasing;
  v->lease_until = st.members.lease_until;
  v->nodes = st.members.nodes;
  v->departed = st.departed;
  st.svc->publish_view(std::move(v));
}

/// Whether a batch of `bytes` may take an item of `more` bytes: batches stay within half
/// of what the bus carries, and within `max_bus_batch` items.
bool has_room(const service_pointer self, size_t bytes, size_t items, size_t more) {
  return items < max_bus_batch && bytes + more <= self->state.svc->bus().max_payload() / 2;
}

void arm_flush(service_pointer self) {
  auto& st = self->state;
  if (!st.flush_armed) {
    st.flush_armed = true;
    self->send(self, bus_flush_atom::value);
  }
}

/// Sends `data` to `node`'s inbox as the batch `corr`; its answers go to `out`.
void send_outgoing(service_pointer self, const std::string& node, uint64_t corr, bytes data,
                   outgoing out);

void send_requests(service_pointer self, const std::string& node, request_batch& b) {
  auto& st = self->state;
  auto corr = st.next_corr++;
  auto data = encode_request_batch(st.svc->view()->epoch(), corr, st.inbox, b.reqs);
  send_outgoing(self, node, corr, std::move(data), std::move(b.out));
}

void send_answers(service_pointer self, const std::string& to, answer_batch& b) {
  if (!self->state.svc->bus().publish(to, encode_answers(b.items)))
    logger()->warn("event=answers_not_sent subject={} count={}", to, b.items.size());
}

void send_pushes(service_pointer self, const std::string& node, push_batch& b) {
  auto& st = self->state;
  if (!st.svc->bus().publish(st.svc->node_subject(node), encode_pushes(b.items)))
    logger()->warn("event=push_not_sent node={} count={}", node, b.items.size());
}

/// Sends everything the turn buffered for other nodes.
void flush(service_pointer self) {
  auto& st = self->state;
  st.flush_armed = false;
  auto requests = std::move(st.unsent_requests);
  auto answers = std::move(st.unsent_answers);
  auto pushes = std::move(st.unsent_pushes);
  st.unsent_requests.clear();
  st.unsent_answers.clear();
  st.unsent_pushes.clear();
  // Pushes first, as an entity that pushes mail and then asks or answers meant them.
  for (auto& [node, b] : pushes)
    send_pushes(self, node, b);
  for (auto& [node, b] : requests)
    send_requests(self, node, b);
  for (auto& [to, b] : answers)
    send_answers(self, to, b);
}

/// Buffers the requests of one caller for `node`; the caller hears their answers in order.
void queue_requests(service_pointer self, const std::string& node,
                    std::vector<bus_request>& reqs,
                    caf::typed_response_promise<std::vector<bus_reply>> rp) {
  auto& st = self->state;
  size_t bytes = 0;
  for (auto& r : reqs)
    bytes += r.arg.size() + bus_item_overhead;
  if (auto i = st.unsent_requests.find(node);
      i != st.unsent_requests.end() &&
      !has_room(self, i->second.bytes, i->second.reqs.size() + reqs.size() - 1, bytes))
    flush(self); // everything buffered goes first, in the flush's order
  auto& b = st.unsent_requests[node];
  b.out.callers.push_back(outgoing::caller{rp, b.reqs.size(), reqs.size(), reqs.size()});
  b.bytes += bytes;
  std::move(reqs.begin(), reqs.end(), std::back_inserter(b.reqs));
  arm_flush(self);
}

/// Appends `x` (`size` bytes on the bus) to the batch for `to`. When that batch has no
/// room for it, everything buffered goes out first, in the flush's order.
template <class T>
void queue_item(service_pointer self, std::map<std::string, item_batch<T>>& batches,
                const std::string& to, T x, size_t size) {
  if (auto i = batches.find(to);
      i != batches.end() && !has_room(self, i->second.bytes, i->second.items.size(), size))
    flush(self);
  auto& b = batches[to];
  b.bytes += size;
  b.items.push_back(std::move(x));
  arm_flush(self);
}

void queue_answer(service_pointer self, const std::string& to, entity_answer a) {
  auto size = a.reply.body.size() + a.reply.message.size() + bus_item_overhead;
  queue_item(self, self->state.unsent_answers, to, std::move(a), size);
}

void queue_push(service_pointer self, const std::string& node, push_item p) {
  auto size = p.body.size() + bus_item_overhead;
  queue_item(self, self->state.unsent_pushes, node, std::move(p), size);
}

/// Serves requests that arrived in this node's inbox: those of shards this node serves go
/// to their entities, the others go back `moved`. Each answer leaves with the next flush.
void serve_requests(service_pointer self, const std::string& reply_to, bus_message& m) {
  auto& st = self->state;
  auto answer_to = m.answer_to.empty() ? reply_to : m.answer_to;
  if (answer_to.empty())
    return;
  auto view = st.svc->view();
  auto id = st.next_batch++;
  incoming_batch b{answer_to, m.corr, 0};
  auto now = std::chrono::steady_clock::now();
  // A requester whose placement is newer knows of a change this node has not seen yet.
  bool behind = m.epoch > view->epoch();
  auto moved = bus_error(errc::moved);
  for (uint32_t i = 0; i < m.requests.size(); ++i) {
    auto& wire = m.requests[i];
    refusal key{wire.client, wire.kind, wire.id};
    if (auto r = st.refused.find(key); r != st.refused.end()) {
      if (wire.attempt == 0) {
        queue_answer(self, answer_to, {m.corr, i, moved}); // a refused one comes first
        continue;
      }
      st.refused.erase(r);
    }
    if (behind || !view->serves_entity(wire.kind, wire.id, now)) {
      st.refused[key] = now;
      queue_answer(self, answer_to, {m.corr, i, moved});
      continue;
    }
    auto op = wire.op;
    auto req = st.svc->decode_request(std::move(wire));
    if (!req) {
      logger()->warn("event=bad_bus_request kind={} op={} reason=\"{}\"", key.kind, op,
                     req.error().message);
      queue_answer(self, answer_to, {m.corr, i, bus_error(errc::invalid_argument, req.error().message)});
      continue;
    }
    ++b.open;
    st.serve->call(std::move(*req), serve_token{id, i, key.client, key.kind, key.id, op});
  }
  if (b.open == 0)
    return;
  st.serving.emplace(id, std::move(b));
  st.serve->flush(self);
}

/// Hands caller `c` its part of the batch.
void deliver_part(outgoing& out, outgoing::caller& c) {
  auto from = out.replies.begin() + static_cast<std::ptrdiff_t>(c.first);
  c.rp.deliver(std::vector<bus_reply>(std::make_move_iterator(from),
                                         std::make_move_iterator(from + static_cast<std::ptrdiff_t>(c.count))));
  c.open = 0;
  --out.open_callers;
}

/// Makes room for the answers of every caller of `out`, none of them answered yet.
void await_answers(outgoing& out) {
  size_t total = 0;
  for (auto& c : out.callers)
    total += c.count;
  out.replies.resize(total);
  out.answered.assign(total, 0);
  out.open_callers = out.callers.size();
}

/// Answers every request of `out` not answered yet with `make(index)`, and each caller
/// still waiting hears its part.
template <class F>
void answer_rest(outgoing& out, F make) {
  for (auto& c : out.callers) {
    if (c.open == 0)
      continue;
    for (size_t i = c.first; i < c.first + c.count; ++i)
      if (out.answered[i] == 0)
        out.replies[i] = make(i);
    deliver_part(out, c);
  }
}

void on_answer(service_pointer self, entity_answer& a) {
  auto& st = self->state;
  auto i = st.waiting.find(a.corr);
  if (i == st.waiting.end() || i->second.type != outgoing::what::requests)
    return; // timed out already
  auto& out = i->second;
  if (a.index >= out.replies.size() || out.answered[a.index] != 0) {
    logger()->warn("event=bad_bus_answer corr={} index={}", a.corr, a.index);
    return;
  }
  out.answered[a.index] = 1;
  out.replies[a.index] = std::move(a.reply);
  auto c = std::upper_bound(out.callers.begin(), out.callers.end(), size_t{a.index},
                            [](size_t index, const outgoing::caller& x) { return index < x.first; });
  --c;
  if (--c->open == 0)
    deliver_part(out, *c);
  if (out.open_callers == 0)
    st.waiting.erase(i);
}

/// Something came to one of this node's reply subjects: the answer to a handoff, or the
/// server's word that nobody reads the inbox a batch went to.
void answer_outgoing(service_pointer self, uint64_t corr, nats_message& msg) {
  auto& st = self->state;
  auto i = st.waiting.find(corr);
  if (i == st.waiting.end())
    return; // answered or timed out already
  auto out = std::move(i->second);
  st.waiting.erase(i);
  if (out.type == outgoing::what::handoff) {
    auto m = msg.no_responders ? std::nullopt : decode_bus_message(msg.data);
    out.handoff.deliver(m && m->type == bus_type::handoff_ok);
    return;
  }
  if (msg.no_responders) {
    // Nobody reads that node's inbox (it died, or is starting): every request moved.
    answer_rest(out, [](size_t) { return bus_error(errc::moved); });
    return;
  }
  logger()->warn("event=bad_bus_reply subject={}", msg.subject);
  answer_rest(out, [](size_t) { return bus_error(errc::internal, "malformed reply from a node"); });
}

void handle_pushes(service_pointer self, bus_message& m) {
  auto& svc = *self->state.svc;
  for (auto& p : m.pushes) {
    if (p.incarnation != svc.incarnation())
      continue; // for a session of this node's previous run
    auto* entry = svc.kind(p.kind);
    if (entry == nullptr)
      continue;
    auto msg = entry->codec.pushes.decode(p.body);
    if (!msg) {
      logger()->warn("event=bad_push kind={}", p.kind);
      continue;
    }
    svc.deliver_to_endpoint(p.endpoint_id, std::move(*msg));
  }
}

void handle_handoff(service_pointer self, const std::string& reply_to, bus_message& m) {
  auto& svc = *self->state.svc;
  auto* entry = svc.kind(m.kind);
  auto answer = [self, reply_to](bool ok) {
    if (reply_to.empty())
      return;
    auto out = ok ? bytes{static_cast<uint8_t>(bus_type::handoff_ok)} : encode_reply_batch({});
    self->state.svc->bus().publish(reply_to, out);
  };
  if (entry == nullptr) {
    answer(false);
    return;
  }
  self->request(entry->host, caf::infinite, handoff_atom::value, m.shard, std::move(m.body))
      .then([=](bool ok) { answer(ok); },
            [=](caf::error& err) {
              logger()->warn("event=handoff_in_failed shard={} code={}", m.shard,
                             errc_name(to_failure(err).code));
              answer(false);
            });
}

void handle_bus(service_pointer self, nats_message& msg) {
  auto& st = self->state;
  auto prefix = st.svc->reply_prefix();
  if (msg.subject.size() > prefix.size() + 1 && msg.subject.compare(0, prefix.size(), prefix) == 0) {
    uint64_t corr = 0;
    try {
      corr = std::stoull(msg.subject.substr(prefix.size() + 1));
    } catch (...) {
      return;
    }
    answer_outgoing(self, corr, msg);
    return;
  }
  auto m = decode_bus_message(msg.data);
  if (!m) {
    logger()->warn("event=bad_bus_message subject={} bytes={}", msg.subject, msg.data.size());
    return;
  }
  switch (m->type) {
  case bus_type::requests:
    return serve_requests(self, msg.reply, *m);
  case bus_type::answers:
    for (auto& a : m->answers)
      on_answer(self, a);
    return;
  case bus_type::pushes:
    return handle_pushes(self, *m);
  case bus_type::handoff:
    return handle_handoff(self, msg.reply, *m);
  case bus_type::admin:
    logger()->info("event=drain_requested");
    st.svc->drain_requested();
    if (!msg.reply.empty())
      st.svc->bus().publish(msg.reply, encode_reply_batch(std::vector<bus_reply>{bus_reply{}}));
    return;
  default:
    logger()->warn("event=unexpected_bus_message subject={} type={}", msg.subject,
                   static_cast<int>(m->type));
  }
}

void send_outgoing(service_pointer self, const std::string& node, uint64_t corr, bytes data,
                   outgoing out) {
  auto& st = self->state;
  if (out.type == outgoing::what::requests)
    await_answers(out);
  auto reply = st.svc->reply_prefix() + "." + std::to_string(corr);
  bool sent = st.svc->bus().publish(st.svc->node_subject(node), data, reply);
  out.deadline = self->clock().now() + st.svc->config().request_timeout;
  st.waiting.emplace(corr, std::move(out));
  if (!sent) {
    nats_message none;
    none.no_responders = true;
    answer_outgoing(self, corr, none);
    return;
  }
  if (!st.sweep_armed) {
    st.sweep_armed = true;
    self->delayed_send(self, timeout_sweep, bus_timeout_atom::value);
  }
}

/// The node stops, and its exit may have come before the turn's `bus_flush_atom`: the
/// pushes and answers of the last turn still leave; callers here whose requests have not
/// been answered hear `shutting_down`, those not yet sent included, so none of them waits
/// for a timeout. Other nodes' requests still being served here time out there (retryable).
void stop(service_pointer self) {
  auto& st = self->state;
  for (auto& [node, b] : st.unsent_pushes)
    send_pushes(self, node, b);
  for (auto& [to, b] : st.unsent_answers)
    send_answers(self, to, b);
  auto closing = [](size_t) { return bus_error(errc::shutting_down); };
  for (auto& [node, b] : st.unsent_requests) {
    await_answers(b.out);
    answer_rest(b.out, closing);
  }
  for (auto& [corr, out] : st.waiting)
    if (out.type == outgoing::what::handoff)
      out.handoff.deliver(false);
    else
      answer_rest(out, closing);
  st.unsent_pushes.clear();
  st.unsent_answers.clear();
  st.unsent_requests.clear();
  st.waiting.clear();
}

/// Fails the requests to other nodes that got no answer in time (all have one timeout,
/// so the expired ones are the oldest).
void sweep_timeouts(service_pointer self) {
  auto& st = self->state;
  st.sweep_armed = false;
  auto now = self->clock().now();
  while (!st.waiting.empty() && st.waiting.begin()->second.deadline <= now) {
    auto out = std::move(st.waiting.begin()->second);
    auto corr = st.waiting.begin()->first;
    st.waiting.erase(st.waiting.begin());
    logger()->warn("event=bus_request_timeout corr={}", corr);
    if (out.type == outgoing::what::handoff) {
      out.handoff.deliver(false);
      continue;
    }
    answer_rest(out, [](size_t) { return bus_error(errc::timeout); });
  }
  if (!st.waiting.empty()) {
    st.sweep_armed = true;
    self->delayed_send(self, timeout_sweep, bus_timeout_atom::value);
  }
}

constexpr auto refusal_memory = std::chrono::seconds(60);

void on_members(service_pointer self, membership_update& update) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  for (auto i = st.refused.begin(); i != st.refused.end();)
    i = now - i->second > refusal_memory ? st.refused.erase(i) : std::next(i);
  bool placement_changed = !st.members.map || !update.map || st.members.map->epoch != update.map->epoch;
  // Shards that left this node without a release of its own (claimed by others while
  // this node was cut off): their entities here must stop.
  std::vector<uint32_t> lost;
  if (placement_changed && st.members.map && update.map)
    lost = st.members.map->lost_by(st.svc->node_id(), *update.map, st.releasing);
  if (!lost.empty())
    logger()->warn("event=shards_lost count={} reason=\"claimed by other nodes\"", lost.size());
  if (update.map && st.releasing.size() != update.map->shards)
    st.releasing.assign(update.map->shards, 0);
  // A shard handed off is released for good once the placement names its new owner.
  if (update.map)
    for (uint32_t s = 0; s < st.releasing.size(); ++s)
      if (st.releasing[s] != 0) {
        auto* owner = update.map->owner(s);
        if (owner == nullptr || *owner != st.svc->node_id())
          st.releasing[s] = 0;
      }
  auto gone = std::move(update.departed);
  st.members = std::move(update);
  for (auto& d : gone) {
    st.departed.push_back(d);
    if (st.departed.size() > max_departed)
      st.departed.erase(st.departed.begin());
  }
  publish(self);
  for (auto& d : gone)
    for (auto& session : st.svc->endpoints_attached_to(d.id, d.incarnation))
      caf::anon_send(session, host_gone_atom::value);
  for (auto& [kind, entry] : st.svc->kinds()) {
    if (!lost.empty())
      caf::anon_send(entry.host, lost_atom::value, lost);
    for (auto& d : gone)
      caf::anon_send(entry.host, node_down_atom::value, d.id, d.incarnation, d.last_heartbeat_ms);
    if (placement_changed)
      caf::anon_send(entry.host, view_atom::value);
  }
}

entity_service_actor::behavior_type service_behavior(service_pointer self,
                                                     std::shared_ptr<entity_service> svc) {
  auto& st = self->state;
  st.svc = svc;
  st.inbox = svc->node_subject(svc->node_id());
  randombytes_buf(&st.next_corr, sizeof(st.next_corr));
  st.serve = std::make_unique<entity_client<serve_token>>(
      svc,
      [self](serve_token& t, entity_reply& r) {
        auto& st = self->state;
        if (r.moved())
          st.refused[refusal{t.client, t.kind, t.id}] = std::chrono::steady_clock::now();
        auto i = st.serving.find(t.batch);
        if (i == st.serving.end())
          return;
        queue_answer(self, i->second.answer_to,
                     {i->second.corr, t.index, st.svc->encode_reply(r, t.kind, t.op)});
        if (--i->second.open == 0)
          st.serving.erase(i);
      },
      entity_client<serve_token>::mode::serve);
  st.notify = std::make_unique<entity_client<notify_token>>(
      svc, [](notify_token& t, entity_reply& r) {
        if (!r.ok())
          logger()->warn("event=notify_failed kind={} id={} op={} code={}", t.kind, t.id, t.op,
                         errc_name(static_cast<errc>(r.status)));
      });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    stop(self);
    self->quit(msg.reason);
  });
  return {
      [=](remote_atom, const std::string& node,
          std::vector<bus_request>& reqs) -> caf::result<std::vector<bus_reply>> {
        auto rp = self->make_response_promise<std::vector<bus_reply>>();
        if (reqs.empty())
          rp.deliver(std::vector<bus_reply>{});
        else
          queue_requests(self, node, reqs, rp);
        return rp;
      },
      [=](bus_push_atom, const std::string& node, push_item& p) { queue_push(self, node, std::move(p)); },
      [=](bus_flush_atom) { flush(self); },
      [=](notify_atom, entity_request& req) {
        auto& st = self->state;
        notify_token t{req.kind, req.id, req.op};
        st.notify->call(std::move(req), t);
        st.notify->flush(self);
      },
      [=](handoff_atom, const std::string& node, entity_kind kind, uint32_t shard,
          bytes& body) -> caf::result<bool> {
        outgoing out;
        out.type = outgoing::what::handoff;
        out.handoff = self->make_response_promise<bool>();
        auto rp = out.handoff;
        auto corr = self->state.next_corr++;
        send_outgoing(self, node, corr, encode_handoff(kind, shard, body), std::move(out));
        return rp;
      },
      [=](release_atom, uint32_t shard, const std::string& to) -> caf::result<bool> {
        auto& st = self->state;
        auto rp = self->make_response_promise<bool>();
        if (shard >= st.releasing.size()) {
          rp.deliver(false);
          return rp;
        }
        st.releasing[shard] = 1;
        publish(self);
        auto kinds = st.svc->kinds();
        auto open = std::make_shared<size_t>(kinds.size());
        auto all_ok = std::make_shared<bool>(true);
        auto done = [=](bool ok) mutable {
          *all_ok = *all_ok && ok;
          if (--*open > 0)
            return;
          if (!*all_ok) {
            self->state.releasing[shard] = 0;
            publish(self);
          }
          rp.deliver(*all_ok);
        };
        if (kinds.empty())
          rp.deliver(true);
        for (auto& [kind, entry] : kinds)
          self->request(entry.host, caf::infinite, release_atom::value, shard, to)
              .then([=](bool ok) mutable { done(ok); },
                    [=](caf::error& err) mutable {
                      logger()->warn("event=release_failed shard={} code={}", shard,
                                     errc_name(to_failure(err).code));
                      done(false);
                    });
        return rp;
      },
      [=](resume_atom, uint32_t shard) {
        auto& st = self->state;
        if (shard < st.releasing.size() && st.releasing[shard] != 0) {
          st.releasing[shard] = 0;
          publish(self);
        }
      },
      [=](members_atom, membership_update& update) { on_members(self, update); },
      [=](bus_in_atom, nats_message& msg) { handle_bus(self, msg); },
      [=](bus_timeout_atom) { sweep_timeouts(self); },
      [=](entity_retry_atom) {
        self->state.serve->retry(self);
        self->state.notify->retry(self);
      },
  };
}

} // namespace

result<entity_service_actor> spawn_entity_service(caf::actor_system& sys,
                                                  std::shared_ptr<entity_service> svc) {
  auto actor = sys.spawn(service_behavior, svc);
  svc->set_actor(actor);
  auto forward = [actor](nats_message&& m) {
    caf::anon_send(actor, bus_in_atom::value, std::move(m));
  };
  auto& bus = svc->bus();
  if (auto sub = bus.subscribe(svc->node_subject(svc->node_id()), forward); !sub)
    return sub.error();
  if (auto sub = bus.subscribe(svc->reply_prefix() + ".*", forward); !sub)
    return sub.error();
  return actor;
}

} // namespace kinbox
