#include "persistence/store_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

/// (recipient, kind, id) of a put waiting in the batch.
struct pending_key {
  account_id recipient;
  mail_kind kind;
  message_id id;
  friend bool operator==(const pending_key&, const pending_key&) = default;
};

struct pending_key_hash {
  size_t operator()(const pending_key& k) const {
    uint64_t tail = 0; // the random half of the id (its head is a timestamp)
    std::memcpy(&tail, k.id.data() + 8, sizeof(tail));
    return std::hash<uint64_t>{}(tail ^ (k.recipient * 0x9e3779b97f4a7c15ull) ^
                                 static_cast<uint64_t>(k.kind));
  }
};

/// One put request: its promise and what became of each of its envelopes so far.
struct put_group {
  caf::typed_response_promise<std::vector<bool>> promise;
  std::vector<bool> stored; ///< per envelope: new (true) or already stored (false)
  size_t open = 0;          ///< envelopes still waiting for the commit
};

using clock = std::chrono::steady_clock;

/// A put waiting for the commit, and which request it came from.
struct queued_put {
  envelope mail;
  uint64_t group;
  size_t index;
  clock::time_point held_until; ///< for mail its recipient has: how long to wait for the ack
  bool done = false;            ///< committed or cancelled; popped from the queue front
};

/// Puts in arrival order, addressed by a stable id (ids grow; the front is popped).
class put_queue {
public:
  uint64_t push(queued_put p) {
    items_.push_back(std::move(p));
    return base_ + items_.size() - 1;
  }
  queued_put& at(uint64_t id) { return items_[id - base_]; }
  void pop_done() {
    while (!items_.empty() && items_.front().done) {
      items_.pop_front();
      ++base_;
    }
  }
  std::deque<queued_put>& items() { return items_; }

private:
  std::deque<queued_put> items_;
  uint64_t base_ = 0;
};

/// Where a waiting put is: which queue, and its id there.
struct put_place {
  bool held;
  uint64_t id;
};

/// One ack request: its promise, the envelopes already removed from the pending batch,
/// and the positions of its refs that still need the database.
struct pending_ack {
  caf::typed_response_promise<std::vector<envelope>> promise;
  std::vector<envelope> removed;
  size_t first_ref = 0; ///< index into acks_batch
  size_t ref_count = 0;
};

struct store_state {
  std::shared_ptr<mailbox> box;
  store_options options;
  put_queue due;  ///< committed at the next flush
  put_queue held; ///< mail its recipient has, waiting for the ack (deadlines in order)
  size_t due_count = 0;
  size_t held_count = 0;
  size_t held_bytes = 0; ///< payload bytes of the held puts
  std::unordered_map<account_id, size_t> held_per_recipient;
  std::unordered_map<pending_key, put_place, pending_key_hash> pending_puts;
  std::unordered_map<uint64_t, put_group> groups;
  uint64_t next_group = 0;
  std::vector<mail_ref> acks_batch;
  std::vector<pending_ack> acks;
  std::optional<clock::time_point> flush_at; ///< the earliest flush scheduled
  static inline const char* name = "kinbox.store";
};

using store_pointer = store_actor::stateful_pointer<store_state>;

pending_key key_of(const envelope& e) {
  return {e.recipient, e.kind, e.id};
}

void settle(std::unordered_map<uint64_t, put_group>& groups, uint64_t id, size_t index,
            bool stored) {
  auto g = groups.find(id);
  if (g == groups.end())
    return;
  g->second.stored[index] = stored;
  if (--g->second.open == 0) {
    g->second.promise.deliver(std::move(g->second.stored));
    groups.erase(g);
  }
}

/// Marks a put as leaving the queues (committed now, or cancelled by its ack).
void release(store_state& st, queued_put& p, bool held) {
  p.done = true;
  st.pending_puts.erase(key_of(p.mail));
  if (!held) {
    --st.due_count;
    return;
  }
  --st.held_count;
  st.held_bytes -= p.mail.payload.size();
  auto r = st.held_per_recipient.find(p.mail.recipient);
  if (--r->second == 0)
    st.held_per_recipient.erase(r);
}

/// Commits the acks and the puts that are due: puts of mail its recipient has wait in
/// `held` until the ack comes or their time is up, unless `everything`, or unless they
/// are for `recipient` (non-zero).
void flush(store_pointer self, bool everything = false, account_id recipient = 0) {
  auto& st = self->state;
  auto now = clock::now();
  write_batch batch;
  batch.acks = std::move(st.acks_batch);
  st.acks_batch.clear();
  std::vector<std::pair<uint64_t, size_t>> origin; // (group, index) per put of `batch`
  auto take = [&](queued_put& p, bool held) {
    release(st, p, held);
    origin.emplace_back(p.group, p.index);
    batch.puts.push_back(std::move(p.mail));
  };
  for (auto& p : st.due.items())
    if (!p.done)
      take(p, false);
  st.due.pop_done();
  auto& held = st.held.items();
  for (auto& p : held) {
    if (p.done)
      continue;
    if (!everything && p.held_until > now)
      break; // deadlines grow along the queue
    take(p, true);
  }
  if (recipient != 0 && st.held_per_recipient.count(recipient) != 0)
    for (auto& p : held)
      if (!p.done && p.mail.recipient == recipient)
        take(p, true);
  st.held.pop_done();
  auto acks = std::move(st.acks);
  st.acks.clear();
  if (!batch.empty()) {
    auto outcome = st.box->write(batch);
    if (!outcome) {
      auto err = make_error(outcome.error());
      log::get("store")->warn("event=batch_failed puts={} acks={} code={}", batch.puts.size(),
                              batch.acks.size(), errc_name(outcome.error().code));
      for (auto& [group, index] : origin)
        if (auto g = st.groups.find(group); g != st.groups.end()) {
          g->second.promise.deliver(err);
          st.groups.erase(g);
        }
      for (auto& a : acks)
        a.promise.deliver(err);
    } else {
      for (size_t i = 0; i < origin.size(); ++i)
        settle(st.groups, origin[i].first, origin[i].second, outcome->stored[i]);
      for (auto& a : acks) {
        for (size_t r = a.first_ref; r < a.first_ref + a.ref_count; ++r)
          if (outcome->acked[r])
            a.removed.push_back(std::move(*outcome->acked[r]));
        a.promise.deliver(std::move(a.removed));
      }
    }
  }
  // What still waits for its ack gets a flush when the first of it is due.
  st.flush_at.reset();
  if (st.held_count > 0) {
    auto next = st.held.items().front().held_until;
    st.flush_at = next;
    self->delayed_send(self, std::max(clock::duration::zero(), next - now), flush_atom::value);
  }
}

/// Asks for a flush within `delay`, or at once when the batch is full.
void schedule_flush(store_pointer self, clock::duration delay) {
  auto& st = self->state;
  if (st.held_count >= max_held || st.held_bytes >= st.options.max_held_bytes) {
    flush(self, true);
    return;
  }
  if (st.due_count + st.acks_batch.size() >= max_batch_size) {
    flush(self);
    return;
  }
  auto at = clock::now() + delay;
  if (st.flush_at && *st.flush_at <= at)
    return;
  st.flush_at = at;
  self->delayed_send(self, delay, flush_atom::value);
}

/// An ack for a put still waiting: the put is answered as done (delivered and acked) and
/// never written.
bool cancel_pending_put(store_pointer self, const mail_ref& ref, std::vector<envelope>& removed) {
  auto& st = self->state;
  auto i = st.pending_puts.find(pending_key{ref.recipient, ref.key.kind, ref.key.id});
  if (i == st.pending_puts.end())
    return false;
  auto place = i->second;
  auto& p = (place.held ? st.held : st.due).at(place.id);
  auto& e = p.mail;
  removed.push_back(
      envelope{e.recipient, e.kind, e.id, e.sender, e.stored_at_ms, e.expires_at_ms, {}, e.seq});
  release(st, p, place.held);
  settle(st.groups, p.group, p.index, true);
  if (place.held)
    st.held.pop_done();
  return true;
}

store_actor::behavior_type store_behavior(store_pointer self, std::shared_ptr<mailbox> box,
                                          store_options options) {
  self->state.box = std::move(box);
  self->state.options = options;
  return {
      [=](put_atom, std::vector<envelope>& mail, bool delivered) -> caf::result<std::vector<bool>> {
        auto& st = self->state;
        auto id = st.next_group++;
        auto& group = st.groups[id];
        group.promise = self->make_response_promise<std::vector<bool>>();
        group.stored.resize(mail.size());
        bool hold = delivered && st.options.ack_window > st.options.commit_window;
        auto held_until = clock::now() + st.options.ack_window;
        for (size_t i = 0; i < mail.size(); ++i) {
          auto key = key_of(mail[i]);
          if (st.pending_puts.count(key) != 0)
            continue;                          // the same mail waits already: not new
          mail[i].seq = st.box->reserve_seq(); // arrival order, whenever it commits
          queued_put p{std::move(mail[i]), id, i, held_until};
          if (hold) {
            ++st.held_count;
            st.held_bytes += p.mail.payload.size();
            ++st.held_per_recipient[key.recipient];
            st.pending_puts.emplace(key, put_place{true, st.held.push(std::move(p))});
          } else {
            ++st.due_count;
            st.pending_puts.emplace(key, put_place{false, st.due.push(std::move(p))});
          }
          ++group.open;
        }
        auto rp = group.promise;
        if (group.open == 0) {
          rp.deliver(std::move(group.stored));
          st.groups.erase(id);
        } else {
          schedule_flush(self, hold ? st.options.ack_window : st.options.commit_window);
        }
        return rp;
      },
      [=](ack_atom, std::vector<mail_ref>& refs) -> caf::result<std::vector<envelope>> {
        auto& st = self->state;
        pending_ack a{
            self->make_response_promise<std::vector<envelope>>(), {}, st.acks_batch.size(), 0};
        auto rp = a.promise;
        for (auto& r : refs)
          if (!cancel_pending_put(self, r, a.removed)) {
            st.acks_batch.push_back(r);
            ++a.ref_count;
          }
        if (a.ref_count == 0) {
          rp.deliver(std::move(a.removed)); // all in memory: nothing to commit
          return rp;
        }
        st.acks.push_back(std::move(a));
        schedule_flush(self, st.options.commit_window);
        return rp;
      },
      [=](pending_atom, account_id recipient, uint64_t after_seq, uint64_t max_count,
          uint64_t max_bytes) -> caf::result<mail_page> {
        // Mail pushed to an earlier session and still waiting for its ack belongs in the
        // pages of the next one: commit it first.
        if (self->state.held_per_recipient.count(recipient) != 0)
          flush(self, false, recipient);
        auto res = self->state.box->pending(recipient, after_seq, max_count, max_bytes);
        if (!res)
          return make_error(res.error());
        return std::move(*res);
      },
      [=](expire_atom, uint64_t now_ms) -> caf::result<expired_mail> {
        auto res = self->state.box->expire(now_ms, max_batch_size);
        if (!res)
          return make_error(res.error());
        if (!res->mail.empty())
          log::get("store")->info("event=mail_expired count={}", res->mail.size());
        return std::move(*res);
      },
      [=](count_atom) -> caf::result<uint64_t> {
        flush(self, true); // commit what waits first: the answer then covers it
        auto res = self->state.box->count();
        if (!res)
          return make_error(res.error());
        return *res;
      },
      [=](flush_atom) { flush(self); },
  };
}

} // namespace

store_actor spawn_store(caf::actor_system& sys, std::unique_ptr<mailbox> box,
                        store_options options) {
  return sys.spawn<caf::detached>(store_behavior, std::shared_ptr<mailbox>{std::move(box)},
                                  options);
}

} // namespace kinbox
