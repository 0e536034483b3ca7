#include "actors/user_host.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <unordered_map>

#include "config/caf_error.hpp"

namespace kinbox {

namespace {

struct host_state {
  std::shared_ptr<const user_deps> deps; ///< what every user actor gets (shared)
  std::unordered_map<account_id, user_actor> users;
  static inline const char* name = "kinbox.user_host";
};

using host_pointer = user_host_actor::stateful_pointer<host_state>;

user_actor activate(host_pointer self, account_id id) {
  auto& users = self->state.users;
  if (auto i = users.find(id); i != users.end())
    return i->second;
  auto user = spawn_user(self->system(), id, self->state.deps);
  // Linked: when the host stops (node shutdown) its users stop with it.
  self->link_to(user);
  users.emplace(id, user);
  return user;
}

void forward(host_pointer self, entity_request req, caf::typed_response_promise<entity_reply> rp,
             bool may_retry) {
  auto user = activate(self, req.id);
  self->request(user, caf::infinite, req)
      .then([rp](entity_reply& reply) mutable { rp.deliver(std::move(reply)); },
            [=](caf::error& err) mutable {
              if (may_retry && err == caf::sec::request_receiver_down) {
                self->state.users.erase(req.id);
                forward(self, req, rp, false);
                return;
              }
              auto f = to_failure(err);
              rp.deliver(error_reply(f.code, f.message));
            });
}

} // namespace

user_host_actor spawn_user_host(caf::actor_system& sys, user_deps deps) {
  auto behavior = [](host_pointer self, user_deps deps) -> user_host_actor::behavior_type {
    deps.directory = caf::actor_cast<user_directory>(self);
    self->state.deps = std::make_shared<const user_deps>(std::move(deps));
    self->set_exit_handler([=](caf::exit_msg& msg) {
      auto& users = self->state.users;
      for (auto i = users.begin(); i != users.end(); ++i)
        if (i->second.address() == msg.source) {
          users.erase(i); // a user stopped (idle or failed): reactivate on next request
          return;
        }
      self->quit(msg.reason);
    });
    return {
        [=](entity_request& req) -> caf::result<entity_reply> {
          auto rp = self->make_response_promise<entity_reply>();
          forward(self, std::move(req), rp, true);
          return rp;
        },
        [=](lookup_atom, account_id id) -> user_actor { return activate(self, id); },
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
