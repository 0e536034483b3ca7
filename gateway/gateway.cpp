#include "gateway/gateway.hpp"

#include <caf/io/middleman.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/scoped_actor.hpp>

#include <set>

#include "config/log.hpp"

namespace kinbox {

namespace {

using bind_atom = caf::atom_constant<caf::atom("bind")>;

struct acceptor_state {
  std::shared_ptr<const gateway_context> ctx;
  std::set<caf::actor_addr> sessions;
  bool stopping = false;
  static inline const char* name = "kinbox.gateway";
};

caf::behavior acceptor(caf::io::stateful_broker<acceptor_state>* self,
                       std::shared_ptr<const gateway_context> ctx) {
  self->state.ctx = std::move(ctx);
  self->set_down_handler([=](caf::down_msg& msg) {
    self->state.sessions.erase(msg.source);
    if (self->state.stopping && self->state.sessions.empty())
      self->quit();
  });
  return {
      [=](bind_atom, const std::string& host, uint16_t port) -> caf::result<uint16_t> {
        auto res = self->add_tcp_doorman(port, host.c_str(), true);
        if (!res)
          return res.error();
        return res->second;
      },
      [=](const caf::io::new_connection_msg& msg) {
        auto& st = self->state;
        if (st.stopping) {
          self->close(msg.handle);
          return;
        }
        auto child = fork_session(self, msg.handle, st.ctx);
        self->monitor(child);
        st.sessions.insert(child.address());
      },
      [=](const caf::io::acceptor_closed_msg&) {},
      [=](shutdown_atom, const std::vector<std::string>& gateways) {
        auto& st = self->state;
        st.stopping = true;
        self->close_all(); // closes the doorman: no new connections
        log::get("gateway")->info("event=gateway_stopping sessions={} redirect_to={}",
                                  st.sessions.size(), gateways.size());
        for (auto& addr : st.sessions)
          caf::anon_send(caf::actor_cast<caf::actor>(addr), shutdown_atom::value, gateways);
        if (st.sessions.empty())
          self->quit();
      },
  };
}

} // namespace

result<gateway_handle> start_gateway(caf::actor_system& sys, const listen_address& addr,
                                     std::shared_ptr<const gateway_context> ctx) {
  auto broker = sys.middleman().spawn_broker(acceptor, std::move(ctx));
  caf::scoped_actor self{sys};
  result<gateway_handle> out = failure{errc::internal, "gateway did not answer"};
  self->request(broker, std::chrono::seconds(10), bind_atom::value, addr.host, addr.port)
      .receive(
          [&](uint16_t port) {
            out = gateway_handle{broker, port};
          },
          [&](caf::error& err) {
            auto where = "cannot listen on " + addr.host + ":" + std::to_string(addr.port);
            out = err == caf::sec::cannot_open_port
                      ? failure{errc::unavailable,
                                where + ": the port is in use (another kinbox-node?) or the "
                                        "host is not an address of this machine; give "
                                        "another --listen"}
                      : failure{errc::unavailable, where + ": " + sys.render(err)};
          });
  if (!out)
    caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
  return out;
}

} // namespace kinbox
