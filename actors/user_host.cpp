#include "actors/user_host.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <unordered_map>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

/// Most recipients one store request lists.
constexpr uint64_t recipients_per_page = 4096;
/// One handoff batch: few enough bytes to fit NATS's default 1 MiB message limit.
constexpr uint64_t handoff_batch_count = 256;
constexpr uint64_t handoff_batch_bytes = 256 * 1024;
/// A stray pass that found owners it could not reach runs again after this.
constexpr auto stray_retry = std::chrono::seconds(10);

/// Moving the mail of one shard (a release) or of strays, recipient by recipient.
struct mail_move {
  std::function<bool(account_id)> wanted; ///< which recipients of a page to move
  std::function<std::pair<std::string, uint32_t>(account_id)> destination; ///< node, shard
  std::function<void(bool)> done;
  account_id after = 0;
  std::vector<account_id> recipients;
  size_t index = 0;
  bool more = false;
  uint64_t moved = 0;
};

struct host_state {
  std::shared_ptr<const user_deps> deps; ///< what every user actor gets (shared)
  std::unordered_map<account_id, user_actor> users;
  bool stray_pass = false;  ///< a pass over the mailbox is running
  bool stray_again = false; ///< the placement changed during it
  static inline const char* name = "kinbox.user_host";
};

using host_pointer = user_host_actor::stateful_pointer<host_state>;

auto logger() {
  return log::get("user");
}

/// Takes the user actors of `shards` out of the directory (a lookup makes a fresh one if
/// the shard comes back) and returns them: they stop on their own after a release.
std::vector<user_actor> forget_shard(host_pointer self, const cluster_view& view,
                                     const std::set<uint32_t>& shards) {
  std::vector<user_actor> out;
  auto& users = self->state.users;
  for (auto i = users.begin(); i != users.end();) {
    if (shards.count(view.shard_of(user_kind, i->first)) != 0) {
      self->unlink_from(i->second);
      out.push_back(i->second);
      i = users.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

user_actor activate(host_pointer self, account_id id) {
  auto& users = self->state.users;
  if (auto i = users.find(id); i != users.end())
    return i->second;
  auto user = spawn_user(self->system(), id, self->state.deps, caf::actor_cast<entity_host>(self));
  // Linked: when the host stops (node shutdown) its users stop with it.
  self->link_to(user);
  users.emplace(id, user);
  return user;
}

void next_recipients(host_pointer self, std::shared_ptr<mail_move> job);

/// Ends a move: its callback runs once, and the job no longer refers to itself.
void finish(const std::shared_ptr<mail_move>& job, bool ok) {
  auto done = std::move(job->done);
  job->done = nullptr;
  if (done)
    done(ok);
}

/// Sends the stored mail of the current recipient, a batch at a time, each deleted here
/// once the destination has it durably; then goes on with the next recipient.
void move_next(host_pointer self, std::shared_ptr<mail_move> job) {
  auto& deps = *self->state.deps;
  if (job->index >= job->recipients.size()) {
    if (job->more)
      next_recipients(self, job);
    else
      finish(job, true);
    return;
  }
  auto recipient = job->recipients[job->index];
  auto fail = [job](caf::error& err) {
    logger()->warn("event=mail_move_failed code={}", errc_name(to_failure(err).code));
    finish(job, false);
  };
  self->request(deps.store, caf::infinite, pending_atom::value, recipient, uint64_t{0},
                handoff_batch_count, handoff_batch_bytes)
      .then(
          [=](mail_page& page) {
            if (page.mail.empty()) {
              ++job->index;
              move_next(self, job);
              return;
            }
            auto [node, shard] = job->destination(recipient);
            auto body = encode_envelopes(page.mail);
            std::vector<mail_ref> refs;
            refs.reserve(page.mail.size());
            for (auto& e : page.mail)
              refs.push_back(mail_ref{e.recipient, mail_key{e.kind, e.sender, e.id}});
            auto count = page.mail.size();
            auto service = self->state.deps->service->actor();
            self->request(service, caf::infinite, handoff_atom::value, node, user_kind, shard,
                          std::move(body))
                .then(
                    [=](bool ok) {
                      if (!ok) {
                        finish(job, false);
                        return;
                      }
                      self->request(self->state.deps->store, caf::infinite, ack_atom::value,
                                    std::move(refs))
                          .then(
                              [=](std::vector<envelope>&) {
                                job->moved += count;
                                move_next(self, job);
                              },
                              fail);
                    },
                    fail);
          },
          fail);
}

void next_recipients(host_pointer self, std::shared_ptr<mail_move> job) {
  self->request(self->state.deps->store, caf::infinite, recipients_atom::value, job->after,
                recipients_per_page)
      .then(
          [=](std::vector<account_id>& list) {
            job->more = list.size() == recipients_per_page;
            if (!list.empty())
              job->after = list.back();
            job->recipients.clear();
            for (auto r : list)
              if (job->wanted(r))
                job->recipients.push_back(r);
            job->index = 0;
            move_next(self, job);
          },
          [=](caf::error& err) {
            logger()->warn("event=mail_scan_failed code={}", errc_name(to_failure(err).code));
            finish(job, false);
          });
}

/// Stops the shard's user actors, then moves its stored mail to `to`.
void release(host_pointer self, uint32_t shard, std::string to,
             caf::typed_response_promise<bool> rp) {
  auto& st = self->state;
  auto view = st.deps->service->view();
  auto leaving = forget_shard(self, *view, {shard});
  auto open = std::make_shared<size_t>(leaving.size());
  auto move_mail = [=]() mutable {
    auto job = std::make_shared<mail_move>();
    auto shards = view->map->shards;
    job->wanted = [=](account_id r) { return shard_of(shards, user_kind, r) == shard; };
    job->destination = [=](account_id) { return std::make_pair(to, shard); };
    job->done = [=](bool ok) mutable {
      logger()->info("event=shard_mail_moved shard={} to={} envelopes={} ok={}", shard, to,
                     job->moved, ok);
      rp.deliver(ok);
    };
    next_recipients(self, job);
  };
  if (leaving.empty()) {
    move_mail();
    return;
  }
  for (auto& user : leaving)
    self->request(user, std::chrono::seconds(60), release_atom::value)
        .then(
            [=](bool) mutable {
              if (--*open == 0)
                move_mail();
            },
            [=](caf::error&) mutable {
              // Stopped already (idle or failed): its puts reached the store before.
              if (--*open == 0)
                move_mail();
            });
}

/// Sends mail kept for shards this node does not own to their owners: what a node still
/// holds after a restart, or what arrived while a move went wrong.
void stray_pass(host_pointer self) {
  auto& st = self->state;
  if (st.stray_pass) {
    st.stray_again = true;
    return;
  }
  auto view = st.deps->service->view();
  if (!view->map)
    return;
  st.stray_pass = true;
  st.stray_again = false;
  std::vector<std::string> targets;
  for (auto& n : view->nodes)
    if (!n.draining)
      targets.push_back(n.id);
  auto target_of = std::make_shared<std::vector<uint16_t>>(
      rendezvous_targets(view->map->shards, targets));
  auto unreachable = std::make_shared<bool>(false);
  auto job = std::make_shared<mail_move>();
  job->wanted = [=](account_id r) {
    auto shard = view->shard_of(user_kind, r);
    auto* owner = view->owner(shard);
    if (owner == nullptr || *owner == view->me)
      return false;
    if (!target_of->empty() && targets[(*target_of)[shard]] == view->me)
      return false; // on its way here: keep it
    if (view->node(*owner) == nullptr) {
      *unreachable = true;
      return false;
    }
    return true;
  };
  job->destination = [=](account_id r) {
    auto shard = view->shard_of(user_kind, r);
    return std::make_pair(*view->owner(shard), shard);
  };
  job->done = [=](bool ok) {
    auto& st = self->state;
    st.stray_pass = false;
    if (job->moved > 0 || !ok)
      logger()->info("event=stray_mail_moved envelopes={} ok={}", job->moved, ok);
    if (st.stray_again)
      stray_pass(self);
    else if (!ok || *unreachable)
      self->delayed_send(self, stray_retry, view_atom::value);
  };
  next_recipients(self, job);
}

} // namespace

user_host_actor spawn_user_host(caf::actor_system& sys, user_deps deps) {
  auto behavior = [](host_pointer self, user_deps deps) -> user_host_actor::behavior_type {
    self->state.deps = std::make_shared<const user_deps>(std::move(deps));
    self->set_exit_handler([=](caf::exit_msg& msg) {
      auto& users = self->state.users;
      for (auto i = users.begin(); i != users.end(); ++i)
        if (i->second.address() == msg.source) {
          users.erase(i); // a user stopped (moved, idle or failed): reactivate on next lookup
          return;
        }
      // The node's own stop (an exit addressed to the host) ends the host; the exit of a
      // user actor it already forgot (it moved and was unlinked) does not.
      if (msg.source == self->address() || msg.reason == caf::exit_reason::user_shutdown ||
          msg.reason == caf::exit_reason::kill)
        self->quit(msg.reason);
    });
    return {
        [=](lookup_atom, uint64_t id) -> caf::result<caf::actor> {
          auto view = self->state.deps->service->view();
          if (!view->serves(view->shard_of(user_kind, id), std::chrono::steady_clock::now()))
            return make_error(errc::moved);
          return caf::actor_cast<caf::actor>(activate(self, id));
        },
        [=](release_atom, uint32_t shard, std::string& to) -> caf::result<bool> {
          auto rp = self->make_response_promise<bool>();
          release(self, shard, std::move(to), rp);
          return rp;
        },
        [=](handoff_atom, uint32_t shard, bytes& body) -> caf::result<bool> {
          // Not while this node hands the same shard off itself: the batch would be
          // deleted with the mail it moves (the sender keeps it and tries again).
          auto view = self->state.deps->service->view();
          if (shard < view->releasing.size() && view->releasing[shard] != 0)
            return false;
          auto mail = decode_envelopes(body);
          if (!mail) {
            logger()->warn("event=bad_handoff_batch bytes={}", body.size());
            return false;
          }
          std::vector<account_id> recipients;
          for (auto& e : *mail)
            if (recipients.empty() || recipients.back() != e.recipient)
              recipients.push_back(e.recipient);
          auto rp = self->make_response_promise<bool>();
          // Accepted mail moving between nodes: no cap refuses it.
          self->request(self->state.deps->store, caf::infinite, put_atom::value,
                        std::move(*mail), false)
              .then(
                  [=](std::vector<put_result>&) mutable {
                    for (auto r : recipients)
                      if (auto i = self->state.users.find(r); i != self->state.users.end())
                        caf::anon_send(i->second, stored_atom::value);
                    rp.deliver(true);
                  },
                  [=](caf::error& err) mutable {
                    logger()->warn("event=handoff_store_failed code={}",
                                   errc_name(to_failure(err).code));
                    rp.deliver(false);
                  });
          return rp;
        },
        [=](node_down_atom, const std::string& node, uint64_t incarnation, uint64_t last_seen) {
          for (auto& [id, user] : self->state.users)
            caf::anon_send(user, node_down_atom::value, node, incarnation, last_seen);
        },
        [=](view_atom) { stray_pass(self); },
        [=](passivate_atom, uint64_t id) {
          auto& users = self->state.users;
          auto i = users.find(id);
          if (i == users.end() || i->second.address() != self->current_sender())
            return; // a newer actor serves it already
          self->unlink_from(i->second);
          users.erase(i);
        },
        [=](lost_atom, const std::vector<uint32_t>& shards) {
          // Claimed by others while this node was cut off: the actors stop as in a
          // release (held mail stored, sessions sent on), and what they stored moves
          // to the new owners as strays.
          auto view = self->state.deps->service->view();
          auto leaving =
              forget_shard(self, *view, std::set<uint32_t>(shards.begin(), shards.end()));
          auto open = std::make_shared<size_t>(leaving.size());
          for (auto& user : leaving)
            self->request(user, std::chrono::seconds(60), release_atom::value)
                .then(
                    [=](bool) {
                      if (--*open == 0)
                        stray_pass(self);
                    },
                    [=](caf::error&) {
                      if (--*open == 0)
                        stray_pass(self);
                    });
        },
        [=](flush_atom) -> caf::result<bool> {
          auto rp = self->make_response_promise<bool>();
          auto& users = self->state.users;
          auto open = std::make_shared<size_t>(users.size());
          if (users.empty())
            rp.deliver(true);
          auto done = [=]() mutable {
            if (--*open == 0)
              rp.deliver(true);
          };
          for (auto& [id, user] : users)
            self->request(user, std::chrono::seconds(10), flush_atom::value)
                .then([=](bool) mutable { done(); }, [=](caf::error&) mutable { done(); });
          return rp;
        },
    };
  };
  return sys.spawn(behavior, std::move(deps));
}

} // namespace kinbox
