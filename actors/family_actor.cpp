#include "actors/family_parts.hpp"

#include <sodium.h>

namespace kinbox {

namespace family_parts {

void run_next(family_pointer self);

void finish(family_pointer self, reply_to rp, entity_reply reply) {
  serial::finish(self, std::move(rp), std::move(reply), &run_next);
}

entity_reply not_found() {
  return error_reply(errc::not_found, "no such family link");
}

void call_user(family_pointer self, entity_request req, on_entity_reply then) {
  auto& c = serial::client_of(self);
  auto user = req.id;
  auto op = req.op;
  c.call(std::move(req),
         [user, op, then = std::move(then)](entity_reply& r) {
           if (!r.ok() && !then)
             logger()->warn("event=family_notify_failed user={} op={} code={}", user,
                            static_cast<int>(op), errc_name(static_cast<errc>(r.status)));
           if (then)
             then(r);
         });
  c.flush(self);
}

void notify_parent(family_pointer self, notice_type type, account_id other, uint64_t value) {
  auto& f = *self->state.family;
  if (!f.linked())
    return;
  message_id id{};
  randombytes_buf(id.data(), id.size());
  auto payload = encode_body(notice_body{type, f.child, other, value});
  call_user(self, user_request<user_op::deliver>(f.parent, f.child,
                                                 {mail_kind::notice, id, std::move(payload)}));
}

void save(family_pointer self, reply_to rp, std::function<void(reply_to)> then,
          std::function<void()> failed) {
  auto& st = self->state;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::families,
                std::to_string(st.child), st.family->encode())
      .then([=](bool) mutable { then(std::move(rp)); },
            [=](caf::error& err) mutable {
              logger()->warn("event=family_save_failed child={} code={}", self->state.child,
                             errc_name(to_failure(err).code));
              if (failed)
                failed();
              finish(self, std::move(rp), error_reply(err));
            });
}

void load(family_pointer self) {
  auto& st = self->state;
  st.loading = true;
  self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::families,
                std::to_string(st.child))
      .then(
          [=](kv_lookup& found) {
            auto& st = self->state;
            st.loading = false;
            family_state fresh;
            fresh.child = st.child;
            if (found.found) {
              auto decoded = family_state::decode(found.value);
              if (!decoded) {
                logger()->error("event=bad_family_record child={}", st.child);
                for (auto& q : st.core.waiting)
                  q.rp.deliver(error_reply(errc::internal, "the family record is damaged"));
                st.core.waiting.clear();
                return;
              }
              fresh = std::move(*decoded);
            }
            st.family = std::move(fresh);
            run_next(self);
          },
          [=](caf::error& err) {
            auto& st = self->state;
            st.loading = false;
            auto f = to_failure(err);
            for (auto& q : st.core.waiting)
              q.rp.deliver(error_reply(errc::unavailable, "the family could not be loaded"));
            st.core.waiting.clear();
            logger()->warn("event=family_load_failed child={} code={}", st.child, errc_name(f.code));
          });
}

void run_next(family_pointer self) {
  auto& st = self->state;
  serial::run(
      self,
      [&] {
        if (!st.family && !st.loading)
          load(self);
        return st.family.has_value();
      },
      [&](queued_request& next) {
        st.core.busy = true;
        handle(self, next.req, std::move(next.rp));
      });
}

/// Whether the unused actor may stop: nothing loads, and no location is fresh enough for
/// the parent's next login.
bool may_stop(family_pointer self, uint64_t now_ms) {
  auto& st = self->state;
  bool fresh_location = st.location && st.location->at_ms + st.deps->location_ttl_ms > now_ms;
  return !st.loading && !fresh_location;
}

family_actor::behavior_type family_behavior(family_pointer self, account_id child,
                                            std::shared_ptr<const family_deps> deps,
                                            entity_host host) {
  self->state.child = child;
  self->state.deps = std::move(deps);
  self->state.core.life = entity_life{family_kind, child, std::move(host)};
  return serial::behavior(self, &run_next, &may_stop);
}


} // namespace family_parts

entity_kind_spec family_kind_spec(family_deps deps) {
  auto shared = std::make_shared<const family_deps>(std::move(deps));
  return {family_kind,
          [shared](caf::actor_system& sys, uint64_t id, entity_host host) {
            return entity_actor{
                sys.spawn(family_parts::family_behavior, id, shared, std::move(host))};
          },
          {}};
}

namespace {

failure malformed() {
  return failure{errc::malformed_frame, "the body does not match its type"};
}

} // namespace

void write_body(bytes& out, const account_flag& x) {
  wire::writer{out}.u64(x.other).u8(x.yes ? 1 : 0);
}

template <>
result<account_flag> decode_body<account_flag>(std::span<const uint8_t> in) {
  wire::reader r{in};
  account_flag x;
  uint8_t yes = 2;
  r.u64(x.other);
  r.u8(yes);
  if (!r.finished() || yes > 1)
    return malformed();
  x.yes = yes == 1;
  return x;
}

void write_body(bytes& out, const approval_answer& x) {
  wire::writer{out}.u8(x.approved ? 1 : 0);
}

template <>
result<approval_answer> decode_body<approval_answer>(std::span<const uint8_t> in) {
  auto flag = wire::read_flag(in);
  return flag ? result<approval_answer>{approval_answer{*flag}} : malformed();
}

void write_body(bytes& out, const location_body& x) {
  wire::writer{out}.u64(x.at_ms).blob(x.payload);
}

template <>
result<location_body> decode_body<location_body>(std::span<const uint8_t> in) {
  wire::reader r{in};
  location_body x;
  r.u64(x.at_ms);
  r.blob(x.payload, max_location_payload);
  if (!r.finished())
    return malformed();
  return x;
}

void write_body(bytes& out, const location_reply& x) {
  if (x.fix)
    write_body(out, *x.fix);
}

template <>
result<location_reply> decode_body<location_reply>(std::span<const uint8_t> in) {
  if (in.empty())
    return location_reply{};
  auto fix = decode_body<location_body>(in);
  if (!fix)
    return fix.error();
  return location_reply{std::move(*fix)};
}

void write_body(bytes& out, const erase_request& x) {
  wire::writer{out}.u8(x.by_child_with_pin ? 1 : 0);
}

template <>
result<erase_request> decode_body<erase_request>(std::span<const uint8_t> in) {
  auto flag = wire::read_flag(in);
  return flag ? result<erase_request>{erase_request{*flag}} : malformed();
}

void write_body(bytes& out, const pin_check& x) {
  wire::writer{out}.str(x.pin);
}

template <>
result<pin_check> decode_body<pin_check>(std::span<const uint8_t> in) {
  wire::reader r{in};
  pin_check x;
  r.str(x.pin, max_pin_field);
  if (!r.finished())
    return malformed();
  return x;
}

entity_codec family_codec() {
  return {family_interface::codec(),
          {[](const caf::message&) { return bytes{}; },
           [](std::span<const uint8_t>) -> std::optional<caf::message> { return std::nullopt; }}};
}

} // namespace kinbox
