// Direct calls to user actors of this node: the same entity requests and replies as
// through the router, without the router and host hops, and many requests per actor
// message. The handle of a user actor is looked up once from the node's user directory
// and cached; calls for an account whose lookup is still on its way wait behind it, so
// requests reach the actor in the order they were made. A call that finds its cached
// actor stopped (passivated) fails with the retryable `unavailable` and drops the actor
// from the cache, so the next call looks up a fresh one. (Keeping a copy of every batch
// to resend it would cost an allocation per request for a rare event: only actors of
// unknown accounts passivate.)
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include "actors/user_actor.hpp"
#include "config/caf_error.hpp"

namespace kinbox {

class local_calls {
public:
  using done_fn = std::function<void(std::vector<entity_reply>&)>;

  /// Sends `reqs`, all addressed to the user actor of account `to`, in one message on
  /// behalf of `self`; `done` runs in `self` with one reply per request, in order (an
  /// error of the call itself becomes an error reply for each).
  template <class Self>
  void call(Self* self, const user_directory& directory, account_id to,
            std::vector<entity_request> reqs, done_fn done) {
    call(self, directory, to, pending{std::move(reqs), std::move(done)});
  }

private:
  static constexpr size_t max_cached = 64;

  struct pending {
    std::vector<entity_request> reqs;
    done_fn done;
  };

  /// Answers each of `count` requests with the same error.
  static void fail(size_t count, const done_fn& done, const failure& f) {
    std::vector<entity_reply> replies(count, error_reply(f.code, f.message));
    done(replies);
  }

  template <class Self>
  void call(Self* self, const user_directory& directory, account_id to, pending p) {
    auto cached = users_.find(to);
    if (cached == users_.end() || waiting_.count(to) != 0) {
      lookup(self, directory, to, std::move(p));
      return;
    }
    auto count = p.reqs.size();
    auto done = std::move(p.done);
    self->request(cached->second, caf::infinite, std::move(p.reqs))
        .then([done](std::vector<entity_reply>& r) { done(r); },
              [=, this](caf::error& err) {
                if (err == caf::sec::request_receiver_down) {
                  users_.erase(to);
                  fail(count, done, {errc::unavailable, "the account was busy; retry"});
                  return;
                }
                fail(count, done, to_failure(err));
              });
  }

  template <class Self>
  void lookup(Self* self, const user_directory& directory, account_id to, pending p) {
    auto [waiting, first] = waiting_.try_emplace(to);
    waiting->second.push_back(std::move(p));
    if (!first)
      return;
    self->request(directory, caf::infinite, lookup_atom::value, to)
        .then(
            [=, this](user_actor& user) {
              if (users_.size() >= max_cached)
                users_.clear();
              users_[to] = user;
              auto calls = std::move(waiting_[to]);
              waiting_.erase(to);
              for (auto& c : calls)
                call(self, directory, to, std::move(c));
            },
            [=, this](caf::error& err) {
              auto calls = std::move(waiting_[to]);
              waiting_.erase(to);
              for (auto& c : calls)
                fail(c.reqs.size(), c.done, to_failure(err));
            });
  }

  std::unordered_map<account_id, user_actor> users_;
  std::unordered_map<account_id, std::vector<pending>> waiting_;
};

} // namespace kinbox
