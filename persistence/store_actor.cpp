#include "persistence/store_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <unordered_map>

#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "config/metrics.hpp"

namespace kinbox {

namespace {

/// (recipient, kind, sender, id) of a put waiting in the batch.
struct pending_key {
  account_id recipient;
  mail_key key;
  friend bool operator==(const pending_key&, const pending_key&) = default;
};

struct pending_key_hash {
  size_t operator()(const pending_key& k) const {
    return mail_key_hash{}(k.key) ^ (k.recipient * 0xc2b2ae3d27d4eb4full);
  }
};

/// One put request: its promise and what became of each of its envelopes so far.
struct put_group {
  caf::typed_response_promise<std::vector<put_result>> promise;
  std::vector<put_result> stored; ///< per envelope
  size_t open = 0;                ///< envelopes still waiting for the commit
};

/// A put waiting for the commit, and which request it came from.
/// A put request's envelope: (group, index) in it.
using put_origin = std::pair<uint64_t, size_t>;

struct queued_put {
  envelope mail;
  bool capped = false;
  /// Who waits for it: the put that queued it, then any that sent the same mail before
  /// the commit (all hear the same outcome).
  std::vector<put_origin> waiting;
  bool done = false; ///< cancelled by its ack; skipped at the commit
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
  std::chrono::microseconds commit_window{1000};
  std::vector<queued_put> puts; ///< committed at the next flush, in arrival order
  /// The puts not cancelled, by key: their index in `puts`.
  std::unordered_map<pending_key, size_t, pending_key_hash> pending_puts;
  std::unordered_map<uint64_t, put_group> groups;
  uint64_t next_group = 0;
  std::vector<mail_ref> acks_batch;
  std::vector<pending_ack> acks;
  bool flush_scheduled = false;
  bool compaction_scheduled = false;     ///< a compaction after a purge is on its way
  bool removed_since_compaction = false; ///< mail was acked or expired since the last one
  /// How long the last compaction kept the store: the next one after a purge waits ten
  /// times as long at least, so compactions take a tenth of the store's time at most.
  std::chrono::steady_clock::duration last_compaction{};
  static inline const char* name = "kinbox.store";
};

using store_pointer = store_actor::stateful_pointer<store_state>;

/// How often the mailbox gauges are read (it walks the recipients).
constexpr auto gauges_every = std::chrono::seconds(5);

void refresh_gauges(store_state& st) {
  auto totals = st.box->totals();
  if (!totals) {
    log::get("store")->error("event=totals_failed code={} msg=\"{}\"",
                             errc_name(totals.error().code), totals.error().message);
    return;
  }
  auto& m = metrics::get();
  m.store_answered_ns = metrics::node_metrics::now_ns();
  m.mailbox_envelopes.Set(static_cast<double>(totals->envelopes));
  m.mailbox_bytes.Set(static_cast<double>(totals->bytes));
  m.lmdb_map_used_bytes.Set(static_cast<double>(totals->used_bytes));
  m.lmdb_map_size_bytes.Set(static_cast<double>(totals->map_size));
}

pending_key key_of(const envelope& e) {
  return {e.recipient, {e.kind, e.sender, e.id}};
}

void settle(std::unordered_map<uint64_t, put_group>& groups, uint64_t id, size_t index,
            put_result stored) {
  auto g = groups.find(id);
  if (g == groups.end())
    return;
  g->second.stored[index] = stored;
  if (--g->second.open == 0) {
    g->second.promise.deliver(std::move(g->second.stored));
    groups.erase(g);
  }
}

/// Commits the puts and acks collected so far in one transaction.
void flush(store_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  write_batch batch;
  batch.acks = std::move(st.acks_batch);
  st.acks_batch.clear();
  std::vector<std::vector<put_origin>> origin; // who waits, per put of `batch`
  for (auto& p : st.puts) {
    if (p.done)
      continue;
    origin.push_back(std::move(p.waiting));
    batch.puts.push_back(std::move(p.mail));
    batch.capped.push_back(p.capped);
  }
  st.puts.clear();
  st.pending_puts.clear();
  auto acks = std::move(st.acks);
  st.acks.clear();
  if (batch.empty())
    return;
  st.removed_since_compaction = st.removed_since_compaction || !batch.acks.empty();
  auto& m = metrics::get();
  m.commit_batch.Observe(static_cast<double>(batch.puts.size() + batch.acks.size()));
  auto started = metrics::node_metrics::now_ns();
  auto outcome = st.box->write(batch);
  m.commit_seconds.Observe(metrics::node_metrics::seconds_since(started));
  auto fail_puts = [&](const failure& f) {
    auto err = make_error(f);
    for (auto& waiting : origin)
      for (auto& [group, index] : waiting)
        if (auto g = st.groups.find(group); g != st.groups.end()) {
          g->second.promise.deliver(err);
          st.groups.erase(g);
        }
  };
  if (!outcome) {
    log::get("store")->warn("event=batch_failed puts={} acks={} code={}", batch.puts.size(),
                            batch.acks.size(), errc_name(outcome.error().code));
    fail_puts(outcome.error());
    auto err = make_error(outcome.error());
    for (auto& a : acks)
      a.promise.deliver(err);
    return;
  }
  if (outcome->puts_failed)
    fail_puts(*outcome->puts_failed);
  for (size_t i = 0; i < outcome->stored.size(); ++i)
    for (auto& [group, index] : origin[i])
      settle(st.groups, group, index, outcome->stored[i]);
  for (auto& a : acks) {
    for (size_t r = a.first_ref; r < a.first_ref + a.ref_count; ++r)
      if (outcome->acked[r])
        a.removed.push_back(std::move(*outcome->acked[r]));
    a.promise.deliver(std::move(a.removed));
  }
}

/// Commits within the commit window, or at once when the batch is full.
void schedule_flush(store_pointer self) {
  auto& st = self->state;
  if (st.pending_puts.size() + st.acks_batch.size() >= max_batch_size) {
    flush(self);
    return;
  }
  if (st.flush_scheduled)
    return;
  st.flush_scheduled = true;
  self->delayed_send(self, st.commit_window, flush_atom::value);
}

/// An ack for a put still waiting: the put is answered as done (delivered and acked) and
/// never written.
bool cancel_pending_put(store_pointer self, const mail_ref& ref, std::vector<envelope>& removed) {
  auto& st = self->state;
  auto i = st.pending_puts.find(pending_key{ref.recipient, ref.key});
  if (i == st.pending_puts.end())
    return false;
  auto& p = st.puts[i->second];
  st.pending_puts.erase(i);
  auto& e = p.mail;
  removed.push_back(
      envelope{e.recipient, e.kind, e.id, e.sender, e.stored_at_ms, e.expires_at_ms, {}, e.seq});
  p.done = true;
  for (auto& [group, index] : p.waiting)
    settle(st.groups, group, index, put_result::stored);
  return true;
}

/// Rewrites the mailbox without its freed pages, after committing what waits.
void compact(store_pointer self) {
  auto& st = self->state;
  flush(self);
  st.removed_since_compaction = false;
  auto before = st.box->map_size();
  auto started = std::chrono::steady_clock::now();
  auto size = st.box->compact();
  st.last_compaction = std::chrono::steady_clock::now() - started;
  if (!size)
    log::get("store")->error("event=compaction_failed code={} msg=\"{}\"",
                             errc_name(size.error().code), size.error().message);
  else
    log::get("store")->info("event=mailbox_compacted bytes={} map_size={}", *size, before);
}

store_actor::behavior_type store_behavior(store_pointer self, std::shared_ptr<mailbox> box,
                                          std::chrono::microseconds commit_window,
                                          compaction_config compaction) {
  self->state.box = std::move(box);
  self->state.commit_window = commit_window;
  self->send(self, gauges_atom::value);
  if (compaction.every.count() > 0)
    self->delayed_send(self, compaction.every, compact_now_atom::value, true);
  return {
      [=](put_atom, std::vector<envelope>& mail,
          bool capped) -> caf::result<std::vector<put_result>> {
        auto& st = self->state;
        auto id = st.next_group++;
        auto& group = st.groups[id];
        group.promise = self->make_response_promise<std::vector<put_result>>();
        group.stored.resize(mail.size(), put_result::duplicate);
        for (size_t i = 0; i < mail.size(); ++i) {
          auto key = key_of(mail[i]);
          auto [at, fresh] = st.pending_puts.emplace(key, st.puts.size());
          ++group.open;
          if (!fresh) { // the same mail waits already: this put hears what becomes of it
            auto& p = st.puts[at->second];
            p.capped = p.capped && capped; // mail accepted already is never refused
            p.waiting.emplace_back(id, i);
            continue;
          }
          st.puts.push_back(queued_put{std::move(mail[i]), capped, {{id, i}}});
        }
        auto rp = group.promise;
        if (group.open == 0) {
          rp.deliver(std::move(group.stored));
          st.groups.erase(id);
        } else {
          schedule_flush(self);
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
        schedule_flush(self);
        return rp;
      },
      [=](pending_atom, account_id recipient, uint64_t after_seq, uint64_t max_count,
          uint64_t max_bytes) -> caf::result<mail_page> {
        // A page holds every put that came before it: commit what waits first.
        if (!self->state.pending_puts.empty())
          flush(self);
        auto res = self->state.box->pending(recipient, after_seq, max_count, max_bytes);
        if (!res)
          return make_error(res.error());
        return std::move(*res);
      },
      [=](expire_atom, uint64_t now_ms) -> caf::result<expired_mail> {
        auto res = self->state.box->expire(now_ms, max_batch_size);
        if (!res)
          return make_error(res.error());
        if (!res->mail.empty()) {
          self->state.removed_since_compaction = true;
          log::get("store")->info("event=mail_expired count={}", res->mail.size());
        }
        return std::move(*res);
      },
      [=](usage_atom, account_id recipient) -> caf::result<uint64_t, uint64_t> {
        auto res = self->state.box->usage(recipient);
        if (!res)
          return make_error(res.error());
        return {res->count, res->bytes};
      },
      [=](count_atom) -> caf::result<uint64_t> {
        flush(self); // commit what waits first: the answer then covers it
        auto res = self->state.box->count();
        if (!res)
          return make_error(res.error());
        return *res;
      },
      [=](recipients_atom, account_id after,
          uint64_t max_count) -> caf::result<std::vector<account_id>> {
        if (!self->state.pending_puts.empty())
          flush(self);
        auto res = self->state.box->recipients(after, max_count);
        if (!res)
          return make_error(res.error());
        return std::move(*res);
      },
      [=](flush_atom) { flush(self); },
      [=](compact_atom) {
        auto& st = self->state;
        if (st.compaction_scheduled)
          return;
        st.compaction_scheduled = true;
        auto spacing =
            std::chrono::duration_cast<std::chrono::milliseconds>(10 * st.last_compaction);
        self->delayed_send(self, std::max(compaction.after_purge, spacing), compact_now_atom::value,
                           false);
      },
      [=](gauges_atom) {
        refresh_gauges(self->state);
        self->delayed_send(self, gauges_every, gauges_atom::value);
      },
      [=](compact_now_atom, bool periodic) {
        auto& st = self->state;
        if (periodic) {
          self->delayed_send(self, compaction.every, compact_now_atom::value, true);
          if (!st.removed_since_compaction)
            return;
        } else {
          st.compaction_scheduled = false;
        }
        compact(self);
      },
  };
}

} // namespace

store_actor spawn_store(caf::actor_system& sys, std::unique_ptr<mailbox> box,
                        std::chrono::microseconds commit_window, compaction_config compaction) {
  return sys.spawn<caf::detached>(store_behavior, std::shared_ptr<mailbox>{std::move(box)},
                                  commit_window, compaction);
}

} // namespace kinbox
