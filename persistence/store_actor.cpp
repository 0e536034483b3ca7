#include "persistence/store_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstring>
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
    uint64_t head = 0;
    std::memcpy(&head, k.id.data(), sizeof(head));
    return std::hash<uint64_t>{}(head ^ (k.recipient * 0x9e3779b97f4a7c15ull) ^
                                 static_cast<uint64_t>(k.kind));
  }
};

/// One put request: its promise and what became of each of its envelopes so far.
struct put_group {
  caf::typed_response_promise<std::vector<bool>> promise;
  std::vector<bool> stored; ///< per envelope: new (true) or already stored (false)
  size_t open = 0;          ///< envelopes still waiting for the commit
};

/// Where a put of the batch came from, and whether an ack cancelled it.
struct put_slot {
  size_t group;
  size_t index;
  bool cancelled = false;
};

/// One ack request: its promise, the envelopes already removed from the pending batch,
/// and the positions of its refs that still need the database.
struct pending_ack {
  caf::typed_response_promise<std::vector<envelope>> promise;
  std::vector<envelope> removed;
  size_t first_ref = 0; ///< index into batch.acks
  size_t ref_count = 0;
};

struct store_state {
  std::shared_ptr<mailbox> box;
  std::chrono::microseconds commit_window{1000};
  write_batch batch;
  std::vector<put_slot> slots; // aligned with batch.puts
  std::vector<put_group> groups;
  std::unordered_map<pending_key, size_t, pending_key_hash> pending_puts;
  std::vector<pending_ack> acks;
  bool flush_scheduled = false;
  static inline const char* name = "kinbox.store";
};

using store_pointer = store_actor::stateful_pointer<store_state>;

void settle(put_group& group, size_t index, bool stored) {
  group.stored[index] = stored;
  if (--group.open == 0)
    group.promise.deliver(std::move(group.stored));
}

void flush(store_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.batch.empty())
    return;
  write_batch batch;
  batch.acks = std::move(st.batch.acks);
  std::vector<put_slot> slots;
  for (size_t i = 0; i < st.batch.puts.size(); ++i)
    if (!st.slots[i].cancelled) {
      batch.puts.push_back(std::move(st.batch.puts[i]));
      slots.push_back(st.slots[i]);
    }
  auto groups = std::move(st.groups);
  auto acks = std::move(st.acks);
  st.batch = {};
  st.slots.clear();
  st.groups.clear();
  st.pending_puts.clear();
  st.acks.clear();
  auto outcome = batch.empty() ? result<write_outcome>{write_outcome{}} : st.box->write(batch);
  if (!outcome) {
    auto err = make_error(outcome.error());
    log::get("store")->warn("event=batch_failed puts={} acks={} code={}", batch.puts.size(),
                            batch.acks.size(), errc_name(outcome.error().code));
    for (auto& g : groups)
      if (g.open > 0)
        g.promise.deliver(err);
    for (auto& a : acks)
      a.promise.deliver(err);
    return;
  }
  for (size_t i = 0; i < slots.size(); ++i)
    settle(groups[slots[i].group], slots[i].index, outcome->stored[i]);
  for (auto& a : acks) {
    for (size_t r = a.first_ref; r < a.first_ref + a.ref_count; ++r)
      if (outcome->acked[r])
        a.removed.push_back(std::move(*outcome->acked[r]));
    a.promise.deliver(std::move(a.removed));
  }
}

void schedule_flush(store_pointer self) {
  auto& st = self->state;
  if (st.batch.puts.size() + st.batch.acks.size() >= max_batch_size) {
    flush(self);
    return;
  }
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->delayed_send(self, st.commit_window, flush_atom::value);
  }
}

/// An ack for a put still waiting in the batch: the put is answered as done (delivered
/// and acked) and never written.
bool cancel_pending_put(store_pointer self, const mail_ref& ref, std::vector<envelope>& removed) {
  auto& st = self->state;
  auto i = st.pending_puts.find(pending_key{ref.recipient, ref.key.kind, ref.key.id});
  if (i == st.pending_puts.end())
    return false;
  auto index = i->second;
  st.pending_puts.erase(i);
  auto& slot = st.slots[index];
  slot.cancelled = true;
  auto& e = st.batch.puts[index];
  removed.push_back(
      envelope{e.recipient, e.kind, e.id, e.sender, e.stored_at_ms, e.expires_at_ms, {}, e.seq});
  settle(st.groups[slot.group], slot.index, true);
  return true;
}

store_actor::behavior_type store_behavior(store_pointer self, std::shared_ptr<mailbox> box,
                                          std::chrono::microseconds commit_window) {
  self->state.box = std::move(box);
  self->state.commit_window = commit_window;
  return {
      [=](put_atom, std::vector<envelope>& mail) -> caf::result<std::vector<bool>> {
        auto& st = self->state;
        auto g = st.groups.size();
        st.groups.push_back(
            {self->make_response_promise<std::vector<bool>>(), std::vector<bool>(mail.size()), 0});
        auto& group = st.groups.back();
        for (size_t i = 0; i < mail.size(); ++i) {
          pending_key key{mail[i].recipient, mail[i].kind, mail[i].id};
          if (!st.pending_puts.emplace(key, st.batch.puts.size()).second)
            continue; // the same mail waits in this batch already: not new
          st.batch.puts.push_back(std::move(mail[i]));
          st.slots.push_back({g, i});
          ++group.open;
        }
        auto rp = group.promise;
        if (group.open == 0)
          rp.deliver(std::move(group.stored));
        else
          schedule_flush(self);
        return rp;
      },
      [=](ack_atom, std::vector<mail_ref>& refs) -> caf::result<std::vector<envelope>> {
        auto& st = self->state;
        pending_ack a{
            self->make_response_promise<std::vector<envelope>>(), {}, st.batch.acks.size(), 0};
        auto rp = a.promise;
        for (auto& r : refs)
          if (!cancel_pending_put(self, r, a.removed)) {
            st.batch.acks.push_back(r);
            ++a.ref_count;
          }
        if (a.ref_count == 0) {
          rp.deliver(std::move(a.removed)); // all in memory: nothing to commit
          return rp;
        }
        st.acks.push_back(std::move(a));
        schedule_flush(self);
        return rp;
      },
      [=](pending_atom, account_id recipient, uint64_t after_seq, uint64_t max_count,
          uint64_t max_bytes) -> caf::result<mail_page> {
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
        flush(self); // commit what waits first: the answer then covers it
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
                        std::chrono::microseconds commit_window) {
  return sys.spawn<caf::detached>(store_behavior, std::shared_ptr<mailbox>{std::move(box)},
                                  commit_window);
}

} // namespace kinbox
