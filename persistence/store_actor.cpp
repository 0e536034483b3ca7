#include "persistence/store_actor.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

struct store_state {
  std::shared_ptr<mailbox> box;
  write_batch batch;
  std::vector<caf::typed_response_promise<bool>> put_promises;
  std::vector<caf::typed_response_promise<std::vector<envelope>>> ack_promises;
  std::vector<size_t> ack_counts; // acks per promise, to split the removed envelopes
  bool flush_scheduled = false;
  static inline const char* name = "kinbox.store";
};

using store_pointer = store_actor::stateful_pointer<store_state>;

void flush(store_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.batch.empty())
    return;
  auto batch = std::move(st.batch);
  auto put_promises = std::move(st.put_promises);
  auto ack_promises = std::move(st.ack_promises);
  auto ack_counts = std::move(st.ack_counts);
  st.batch = {};
  st.put_promises.clear();
  st.ack_promises.clear();
  st.ack_counts.clear();
  auto outcome = st.box->write(batch);
  if (!outcome) {
    auto err = make_error(outcome.error());
    log::get("store")->warn("event=batch_failed puts={} acks={} code={}", batch.puts.size(),
                            batch.acks.size(), errc_name(outcome.error().code));
    for (auto& p : put_promises)
      p.deliver(err);
    for (auto& p : ack_promises)
      p.deliver(err);
    return;
  }
  for (size_t i = 0; i < put_promises.size(); ++i)
    put_promises[i].deliver(static_cast<bool>(outcome->stored[i]));
  // Hand each ack request the envelopes that belong to its recipients' refs.
  auto& removed = outcome->acked;
  size_t ref_pos = 0;
  for (size_t i = 0; i < ack_promises.size(); ++i) {
    std::vector<envelope> mine;
    for (size_t j = 0; j < ack_counts[i]; ++j, ++ref_pos) {
      auto& ref = batch.acks[ref_pos];
      for (auto& e : removed)
        if (e.recipient == ref.recipient && e.kind == ref.key.kind && e.id == ref.key.id)
          mine.push_back(e);
    }
    ack_promises[i].deliver(std::move(mine));
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
    // Queued behind every put/ack already in the mailbox: they all join this batch.
    self->send(self, flush_atom::value);
  }
}

store_actor::behavior_type store_behavior(store_pointer self, std::shared_ptr<mailbox> box) {
  self->state.box = std::move(box);
  return {
    [=](put_atom, envelope& e) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      self->state.batch.puts.push_back(std::move(e));
      self->state.put_promises.push_back(rp);
      schedule_flush(self);
      return rp;
    },
    [=](ack_atom, std::vector<mail_ref>& refs) -> caf::result<std::vector<envelope>> {
      auto rp = self->make_response_promise<std::vector<envelope>>();
      self->state.ack_counts.push_back(refs.size());
      for (auto& r : refs)
        self->state.batch.acks.push_back(r);
      self->state.ack_promises.push_back(rp);
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
    [=](expire_atom, uint64_t now_ms) -> caf::result<std::vector<envelope>> {
      auto res = self->state.box->expire(now_ms, max_batch_size);
      if (!res)
        return make_error(res.error());
      if (!res->empty())
        log::get("store")->info("event=mail_expired count={}", res->size());
      return std::move(*res);
    },
    [=](count_atom) -> caf::result<uint64_t> {
      auto res = self->state.box->count();
      if (!res)
        return make_error(res.error());
      return *res;
    },
    [=](flush_atom) { flush(self); },
  };
}

} // namespace

store_actor spawn_store(caf::actor_system& sys, std::unique_ptr<mailbox> box) {
  return sys.spawn<caf::detached>(store_behavior, std::shared_ptr<mailbox>{std::move(box)});
}

} // namespace kinbox
