// Mail pushed to the attached device and held in memory until the device acks it or its
// ack window ends: mail acked in time never reaches the store (docs/architecture.md, "The
// ack window"). A plain class with no actor in it: the user actor hands it what it pushed
// and acts on what it returns (answers given here, puts for the store, receipts), so its
// rules are tested alone (tests/unit/held_window_test.cpp).
#pragma once

#include <caf/actor_clock.hpp>

#include <optional>
#include <unordered_map>
#include <vector>

#include "actors/user_actor.hpp"
#include "cluster/reply_to.hpp"
#include "persistence/mailbox.hpp"

namespace kinbox {

/// Mail for the store, each with the sender's answer that waits for its commit.
struct mail_to_store {
  std::vector<envelope> mail;
  std::vector<reply_to> replies;
  bool empty() const { return mail.empty(); }
};

class held_window {
public:
  using time_point = caf::actor_clock::time_point;

  /// Holds `mail` (answered through `replies`) until `until`. All or nothing: false,
  /// holding nothing and leaving both untouched, when this user would hold more than
  /// `max_envelopes` or the node's `budget` has no room for the payloads. A retry of a
  /// key held already joins it and is answered with it.
  [[nodiscard]] bool hold(std::vector<envelope>& mail, std::vector<reply_to>& replies,
                          time_point until, size_t max_envelopes, held_budget& budget);

  /// The device acked `key`: if it is held, its sender (and retries) hear `accepted` and
  /// it is forgotten; false if it is not held here (it is in the store).
  [[nodiscard]] bool ack(const mail_key& key, held_budget& budget);

  /// What must go to the store now: everything held (`all`: the session went, a backlog
  /// is paged, the node stops), or what waited its whole window by `now`. Each retry of
  /// a key is a put of its own, answered once durable.
  mail_to_store take(bool all, time_point now, held_budget& budget);

  /// Answers every held sender `accepted` and forgets all: the mail reached the device
  /// and nothing more will (the account is being deleted).
  void answer_all(held_budget& budget);

  /// When the oldest held mail's window ends; nullopt if nothing is held.
  std::optional<time_point> next_deadline() const;

  bool empty() const { return at_.empty(); }
  size_t size() const { return at_.size(); }

  /// Calls `f(envelope)` for each held envelope, oldest first.
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = head_; i < held_.size(); ++i)
      if (!held_[i].done)
        f(held_[i].mail);
  }

private:
  struct entry {
    envelope mail;
    reply_to rp;
    std::vector<reply_to> retries; ///< senders' retries of the same key
    time_point until;
    bool done = false; ///< acked or taken; popped from the front
  };

  void release(entry& e, held_budget& budget);
  void pop_done();

  /// Oldest first, from `head_` on. A vector, not a deque: an idle user holds nothing and
  /// must not cost a deque's first chunk.
  std::vector<entry> held_;
  size_t head_ = 0;   ///< entries before it are done
  uint64_t base_ = 0; ///< position of `held_[0]` since the window was made
  std::unordered_map<mail_key, uint64_t, mail_key_hash> at_; ///< position per held key
};

} // namespace kinbox
