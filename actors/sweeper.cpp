#include "actors/sweeper.hpp"

#include <caf/typed_event_based_actor.hpp>

#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

sweeper_actor spawn_sweeper(caf::actor_system& sys, user_deps deps,
                            std::chrono::milliseconds interval) {
  auto behavior = [](sweeper_actor::pointer self, user_deps deps,
                     std::chrono::milliseconds interval) -> sweeper_actor::behavior_type {
    self->send(self, sweep_atom::value);
    return {
        [=](sweep_atom) {
          self->request(deps.store, caf::infinite, expire_atom::value, deps.now_ms())
              .then(
                  [=](expired_mail& expired) {
                    for (auto& e : expired.mail) {
                      if (e.kind != mail_kind::message)
                        continue;
                      entity_request req{entity_kind::user, e.sender,
                                         static_cast<uint8_t>(user_op::deliver), e.recipient,
                                         encode_deliver({mail_kind::expired, e.id, {}})};
                      self->request(deps.router, caf::infinite, std::move(req))
                          .then([](entity_reply&) {},
                                [](caf::error&) {
                                  log::get("sweeper")->warn("event=expired_receipt_failed");
                                });
                    }
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
    };
  };
  return sys.spawn(behavior, std::move(deps), interval);
}

} // namespace kinbox
