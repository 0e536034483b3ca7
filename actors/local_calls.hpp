// Direct calls to user actors of this node: the same entity requests and replies as
// through the router, without the router and host hops. The handle of a user actor is
// looked up once from the node's user directory and cached; calls for an account whose
// lookup is still on its way wait behind it, so requests reach the actor in the order
// they were made. A cached actor that stopped (passivated) is looked up again.
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include "actors/user_actor.hpp"
#include "config/caf_error.hpp"

namespace kinbox {

class local_calls {
public:
  using done_fn = std::function<void(entity_reply&)>;

  /// Sends `req` to the user actor of `req.id` on behalf of `self`; `done` runs in `self`
  /// with the reply (errors of the call itself become error replies).
  template <class Self>
  void call(Self* self, const user_directory& directory, entity_request req, done_fn done) {
    call(self, directory, pending{std::move(req), std::move(done)}, false);
  }

private:
  static constexpr size_t max_cached = 64;

  struct pending {
    entity_request req;
    done_fn done;
  };

  static void fail(pending& p, const caf::error& err) {
    auto f = to_failure(err);
    auto reply = error_reply(f.code, f.message);
    p.done(reply);
  }

  template <class Self>
  void call(Self* self, const user_directory& directory, pending p, bool fresh) {
    auto id = p.req.id;
    auto cached = users_.find(id);
    if (cached == users_.end() || fresh || waiting_.count(id) != 0) {
      lookup(self, directory, std::move(p));
      return;
    }
    auto req = p.req;
    self->request(cached->second, caf::infinite, std::move(req))
        .then([p](entity_reply& r) mutable { p.done(r); },
              [=, this](caf::error& err) mutable {
                if (err == caf::sec::request_receiver_down && !fresh) {
                  users_.erase(id);
                  call(self, directory, std::move(p), true);
                  return;
                }
                fail(p, err);
              });
  }

  template <class Self>
  void lookup(Self* self, const user_directory& directory, pending p) {
    auto id = p.req.id;
    auto [waiting, first] = waiting_.try_emplace(id);
    waiting->second.push_back(std::move(p));
    if (!first)
      return;
    self->request(directory, caf::infinite, lookup_atom::value, id)
        .then(
            [=, this](user_actor& user) {
              if (users_.size() >= max_cached)
                users_.clear();
              users_[id] = user;
              auto calls = std::move(waiting_[id]);
              waiting_.erase(id);
              for (auto& c : calls)
                call(self, directory, std::move(c), false);
            },
            [=, this](caf::error& err) {
              auto calls = std::move(waiting_[id]);
              waiting_.erase(id);
              for (auto& c : calls)
                fail(c, err);
            });
  }

  std::unordered_map<account_id, user_actor> users_;
  std::unordered_map<account_id, std::vector<pending>> waiting_;
};

} // namespace kinbox
