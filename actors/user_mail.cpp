#include "actors/user_mail.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <memory>

#include "actors/user_actor.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "config/metrics.hpp"

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

struct mail_state {
  std::shared_ptr<entity_service> service;
  store_actor store;
  bool stray_pass = false;  ///< a pass over the mailbox is running
  bool stray_again = false; ///< the placement changed during it
  static inline const char* name = "kinbox.user_mail";
};

using mail_pointer = shard_keeper::stateful_pointer<mail_state>;

auto logger() {
  return log::get("user");
}

void next_recipients(mail_pointer self, std::shared_ptr<mail_move> job);

/// Ends a move: its callback runs once, and the job no longer refers to itself.
void finish(const std::shared_ptr<mail_move>& job, bool ok) {
  auto done = std::move(job->done);
  job->done = nullptr;
  if (done)
    done(ok);
}

/// Sends the stored mail of the current recipient, a batch at a time, each deleted here
/// once the destination has it durably; then goes on with the next recipient.
void move_next(mail_pointer self, std::shared_ptr<mail_move> job) {
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
  self->request(self->state.store, caf::infinite, pending_atom::value, recipient, uint64_t{0},
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
            auto service = self->state.service->actor();
            self->request(service, caf::infinite, handoff_atom::value, node, user_kind, shard,
                          std::move(body))
                .then(
                    [=](bool ok) {
                      if (!ok) {
                        finish(job, false);
                        return;
                      }
                      self->request(self->state.store, caf::infinite, ack_atom::value,
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

void next_recipients(mail_pointer self, std::shared_ptr<mail_move> job) {
  self->request(self->state.store, caf::infinite, recipients_atom::value, job->after,
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

/// Moves the stored mail of `shard` to `to` (its user actors stopped already).
void release(mail_pointer self, uint32_t shard, std::string to,
             caf::typed_response_promise<bool> rp) {
  auto view = self->state.service->view();
  auto job = std::make_shared<mail_move>();
  auto shards = view->map->shards;
  job->wanted = [=](account_id r) { return shard_of(shards, user_kind, r) == shard; };
  job->destination = [=](account_id) { return std::make_pair(to, shard); };
  job->done = [=](bool ok) mutable {
    metrics::get().handoff_envelopes.Increment(static_cast<double>(job->moved));
    logger()->debug("event=shard_mail_moved shard={} to={} envelopes={} ok={}", shard, to,
                    job->moved, ok);
    rp.deliver(ok);
  };
  next_recipients(self, job);
}

/// Sends mail kept for shards this node does not own to their owners: what a node still
/// holds after a restart, or what arrived while a move went wrong.
void stray_pass(mail_pointer self) {
  auto& st = self->state;
  if (st.stray_pass) {
    st.stray_again = true;
    return;
  }
  auto view = st.service->view();
  if (!view->map)
    return;
  st.stray_pass = true;
  st.stray_again = false;
  std::vector<std::string> targets;
  for (auto& n : view->nodes)
    if (!n.draining)
      targets.push_back(n.id);
  auto target_of =
      std::make_shared<std::vector<uint16_t>>(rendezvous_targets(view->map->shards, targets));
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

shard_keeper spawn_user_mail(caf::actor_system& sys, store_actor store,
                             std::shared_ptr<entity_service> service) {
  auto behavior = [](mail_pointer self, store_actor store,
                     std::shared_ptr<entity_service> service) -> shard_keeper::behavior_type {
    self->state.store = std::move(store);
    self->state.service = std::move(service);
    return {
        [=](release_atom, uint32_t shard, std::string& to) -> caf::result<bool> {
          auto rp = self->make_response_promise<bool>();
          release(self, shard, std::move(to), rp);
          return rp;
        },
        [=](handoff_atom, uint32_t, bytes& body) -> caf::result<std::vector<uint64_t>> {
          auto mail = decode_envelopes(body);
          if (!mail) {
            logger()->warn("event=bad_handoff_batch bytes={}", body.size());
            return make_error(errc::invalid_argument);
          }
          std::vector<uint64_t> recipients;
          for (auto& e : *mail)
            if (recipients.empty() || recipients.back() != e.recipient)
              recipients.push_back(e.recipient);
          auto rp = self->make_response_promise<std::vector<uint64_t>>();
          // Accepted mail moving between nodes: no cap refuses it.
          self->request(self->state.store, caf::infinite, put_atom::value, std::move(*mail), false)
              .then([=](std::vector<put_result>&) mutable { rp.deliver(recipients); },
                    [=](caf::error& err) mutable {
                      logger()->warn("event=handoff_store_failed code={}",
                                     errc_name(to_failure(err).code));
                      rp.deliver(std::move(err));
                    });
          return rp;
        },
        [=](view_atom) { stray_pass(self); },
    };
  };
  return sys.spawn(behavior, std::move(store), std::move(service));
}

} // namespace kinbox
