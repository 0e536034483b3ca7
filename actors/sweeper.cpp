#include "actors/sweeper.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>

#include "cluster/entity_client.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"
#include "config/metrics.hpp"

namespace kinbox {

namespace {

struct receipt {};

struct sweeper_state {
  std::unique_ptr<entity_client<receipt>> client;
  static inline const char* name = "kinbox.sweeper";
};

using sweeper_pointer = sweeper_actor::stateful_pointer<sweeper_state>;

} // namespace

sweeper_actor spawn_sweeper(caf::actor_system& sys, user_deps deps,
                            std::chrono::milliseconds interval) {
  auto behavior = [](sweeper_pointer self, user_deps deps,
                     std::chrono::milliseconds interval) -> sweeper_actor::behavior_type {
    self->state.client =
        std::make_unique<entity_client<receipt>>(deps.service, [](receipt&, entity_reply& reply) {
          if (!reply.ok())
            log::get("sweeper")->warn("event=expired_receipt_failed code={}",
                                      errc_name(static_cast<errc>(reply.status)));
        });
    self->send(self, sweep_atom::value);
    return {
        [=](sweep_atom) {
          self->request(deps.store, caf::infinite, expire_atom::value, deps.now_ms())
              .then(
                  [=](expired_mail& expired) {
                    metrics::get().mail_expired.Increment(static_cast<double>(expired.mail.size()));
                    auto& client = *self->state.client;
                    for (auto& e : expired.mail)
                      if (e.kind == mail_kind::message)
                        client.call(user_request<user_op::deliver>(e.sender, e.recipient,
                                                                   {mail_kind::expired, e.id, {}}),
                                    receipt{});
                    client.flush(self);
                    // The pass goes on at once, one bounded step per store message.
                    if (expired.more)
                      self->send(self, sweep_atom::value);
                    else
                      self->delayed_send(self, interval, sweep_atom::value);
                  },
                  [=](caf::error& err) {
                    log::get("sweeper")->warn("event=sweep_failed code={}",
                                              errc_name(to_failure(err).code));
                    self->delayed_send(self, interval, sweep_atom::value);
                  });
        },
        [=](entity_retry_atom) { self->state.client->retry(self); },
    };
  };
  return sys.spawn(behavior, std::move(deps), interval);
}

} // namespace kinbox
