// The chat actor: its queue, loading and saving the record, the membership changes with
// their checks, and the fan-out of sends and typing (chat_actor.hpp).
#include "actors/chat_actor.hpp"

#include <map>

#include "actors/user_interface.hpp"
#include "cluster/serial_entity.hpp"
#include "config/caf_error.hpp"
#include "config/log.hpp"

namespace kinbox {

namespace {

using chat_actor = serial_entity_actor;

struct chat_actor_state {
  group_id id = 0;
  std::shared_ptr<const chat_deps> deps;
  /// Membership changes run one at a time, in order; sends, typing and shows between them.
  serial_entity core;
  bool loaded = false;
  bool loading = false;
  std::optional<chat_record> chat; ///< none: the group does not exist (yet, or any more)
  static inline const char* name = "kinbox.chat";
};

using chat_pointer = chat_actor::stateful_pointer<chat_actor_state>;

auto logger() {
  return log::get("chat");
}

template <chat_op Op>
chat_interface::arg_of<Op>* arg(entity_request& req) {
  return arg_of<chat_interface, Op>(req);
}

entity_reply no_group() {
  return error_reply(errc::not_found, "no such group");
}

entity_reply not_allowed() {
  return error_reply(errc::not_allowed);
}

void run_next(chat_pointer self);

/// Ends the running membership change: its answer goes out and the next request starts.
void finish(chat_pointer self, reply_to rp, entity_reply reply) {
  serial::finish(self, std::move(rp), std::move(reply), &run_next);
}

/// Sends `reqs` to user entities; `then` gets their answers, in order, once all came.
void ask_all(chat_pointer self, std::vector<entity_request> reqs,
             std::function<void(std::vector<entity_reply>&)> then) {
  auto answers = std::make_shared<std::vector<entity_reply>>(reqs.size());
  auto open = std::make_shared<size_t>(reqs.size());
  if (reqs.empty())
    return then(*answers);
  auto& c = serial::client_of(self);
  for (size_t i = 0; i < reqs.size(); ++i)
    c.call(std::move(reqs[i]), [=](entity_reply& r) {
      (*answers)[i] = std::move(r);
      if (--*open == 0)
        then(*answers);
    });
  c.flush(self);
}

/// Tells user entities something; a failure is logged.
void tell_all(chat_pointer self, std::vector<entity_request> reqs) {
  auto& c = serial::client_of(self);
  auto group = self->state.id;
  for (auto& req : reqs) {
    auto user = req.id;
    auto op = req.op;
    c.call(std::move(req), [=](entity_reply& r) {
      if (!r.ok())
        logger()->warn("event=group_notify_failed group={} user={} op={} code={}", group, user,
                       static_cast<int>(op), errc_name(static_cast<errc>(r.status)));
    });
  }
  c.flush(self);
}

/// Tells each of `joined` it is a member of `group` as it is now. A member that refuses
/// (a child whose relation with another member ended meanwhile, an account in as many
/// groups as allowed, or gone) is taken out again, as a leave of its own, queued.
void tell_joined(chat_pointer self, const group_info& group, account_id by,
                 const std::vector<account_id>& joined) {
  std::vector<entity_request> reqs;
  for (auto m : joined)
    reqs.push_back(user_request<user_op::group_joined>(m, by, group));
  ask_all(self, std::move(reqs), [self, joined](std::vector<entity_reply>& replies) {
    auto& c = serial::client_of(self);
    for (size_t i = 0; i < replies.size(); ++i) {
      auto code = static_cast<errc>(replies[i].status);
      if (replies[i].ok() || (code != errc::not_allowed && code != errc::not_found))
        continue;
      logger()->info("event=group_join_undone group={}", self->state.id);
      c.call(chat_request<chat_op::leave>(self->state.id, joined[i]), {});
    }
    c.flush(self);
  });
}

/// Asks each of `members` how it stands to the others, then `then(answers)`: an account
/// that does not answer (no such account) has no entry.
void ask_relations(chat_pointer self, std::vector<account_id> members,
                   std::function<void(std::map<account_id, relation_answer>)> then) {
  std::vector<entity_request> reqs;
  for (auto m : members) {
    relation_query q;
    for (auto o : members)
      if (o != m)
        q.ids.push_back(o);
    reqs.push_back(user_request<user_op::relations>(m, self->state.id, std::move(q)));
  }
  ask_all(self, std::move(reqs), [=](std::vector<entity_reply>& replies) {
    std::map<account_id, relation_answer> answers;
    for (size_t i = 0; i < replies.size(); ++i)
      if (auto* a = result_as<relation_answer>(replies[i]))
        answers[members[i]] = *a;
    then(std::move(answers));
  });
}

/// Writes `next` as the group's record (or deletes it when no member is left), then
/// makes it the actor's and runs `then(rp)`; a KV failure answers `rp` and ends.
void save(chat_pointer self, chat_record next, reply_to rp, std::function<void(reply_to)> then) {
  auto& st = self->state;
  auto done = [=](bool) mutable {
    auto& st = self->state;
    st.chat = next.members.empty() ? std::nullopt : std::optional<chat_record>{next};
    then(std::move(rp));
  };
  auto failed = [=](caf::error& err) mutable {
    logger()->warn("event=group_save_failed group={} code={}", self->state.id,
                   errc_name(to_failure(err).code));
    finish(self, std::move(rp), error_reply(err));
  };
  if (next.members.empty())
    self->request(st.deps->kv, caf::infinite, kv_delete_atom::value, kv_space::chats,
                  chat_key(st.id))
        .then(done, failed);
  else
    self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::chats,
                  chat_key(st.id), next.encode())
        .then(done, failed);
}

/// Takes `member` out; it is told; `rp` hears `reply` (the group, or ok).
void take_out(chat_pointer self, account_id member, account_id by, reply_to rp, bool with_info) {
  auto next = *self->state.chat;
  next.remove(member);
  save(self, next, std::move(rp), [=](reply_to rp) {
    auto& st = self->state;
    logger()->info("event=group_member_left group={} by={} version={}", st.id,
                   by == member ? "self" : "other", next.version);
    tell_all(self, {user_request<user_op::group_left>(member, by, {st.id})});
    finish(self, std::move(rp), with_info ? ok_reply(next.info()) : ok_reply());
  });
}

void create(chat_pointer self, account_id caller, group_create_request& req, reply_to rp) {
  auto& st = self->state;
  if (st.chat)
    return finish(self, std::move(rp),
                  error_reply(errc::unavailable, "the group id is taken; create it again"));
  auto members = check_create(caller, req, st.deps->max_members);
  if (!members)
    return finish(self, std::move(rp), error_reply(members.error()));
  chat_record next{st.id, std::move(req.name), caller, 1, *members};
  ask_relations(self, *members, [=](std::map<account_id, relation_answer> answers) mutable {
    auto& st = self->state;
    auto creator = answers.find(caller);
    std::vector<account_id> others(next.members.begin() + 1, next.members.end());
    if (creator == answers.end() || !approves_all(creator->second, others) ||
        !pairwise_approved(next.members, next.members, answers)) {
      logger()->info("event=group_refused group={} op=create", st.id);
      return finish(self, std::move(rp), not_allowed());
    }
    self->request(st.deps->kv, caf::infinite, kv_create_atom::value, kv_space::chats,
                  chat_key(st.id), next.encode())
        .then(
            [=](bool made) mutable {
              auto& st = self->state;
              if (!made)
                return finish(self, std::move(rp),
                              error_reply(errc::unavailable, "the group id is taken; create it again"));
              st.chat = next;
              logger()->info("event=group_created group={} members={}", st.id, next.members.size());
              tell_joined(self, next.info(), caller, next.members);
              finish(self, std::move(rp), ok_reply(next.info()));
            },
            [=](caf::error& err) mutable { finish(self, std::move(rp), error_reply(err)); });
  });
}

void add(chat_pointer self, account_id caller, account_id target, reply_to rp) {
  auto& st = self->state;
  auto& chat = *st.chat;
  if (target == 0 || target == caller)
    return finish(self, std::move(rp), error_reply(errc::invalid_argument, "add another account"));
  if (chat.has(target))
    return finish(self, std::move(rp), ok_reply(chat.info()));
  if (chat.members.size() >= st.deps->max_members)
    return finish(self, std::move(rp),
                  error_reply(errc::invalid_argument,
                              "a group has at most " + std::to_string(st.deps->max_members) +
                                  " members"));
  auto members = chat.members;
  members.push_back(target);
  ask_relations(self, members, [=](std::map<account_id, relation_answer> answers) mutable {
    auto& st = self->state;
    auto adder = answers.find(caller);
    std::vector<account_id> joining{target};
    if (adder == answers.end() || !approves_all(adder->second, joining) ||
        !pairwise_approved(members, joining, answers)) {
      logger()->info("event=group_refused group={} op=add", st.id);
      return finish(self, std::move(rp), not_allowed());
    }
    auto next = *st.chat;
    next.add(target);
    save(self, next, std::move(rp), [=](reply_to rp) {
      auto& st = self->state;
      logger()->info("event=group_member_added group={} version={}", st.id, next.version);
      tell_joined(self, next.info(), caller, {target});
      finish(self, std::move(rp), ok_reply(next.info()));
    });
  });
}

void remove(chat_pointer self, account_id caller, account_id target, reply_to rp) {
  auto& st = self->state;
  auto& chat = *st.chat;
  bool member = chat.has(caller);
  if (!chat.has(target))
    return finish(self, std::move(rp), member ? error_reply(errc::not_found, "not a member")
                                              : no_group());
  if (caller == target || (member && caller == chat.creator))
    return take_out(self, target, caller, std::move(rp), member);
  // The linked parent of a child member takes it out, from outside the group too.
  ask_all(self, {user_request<user_op::relations>(target, st.id, {})},
          [=](std::vector<entity_reply>& r) mutable {
            auto* a = result_as<relation_answer>(r[0]);
            // A parent outside the group hears `ok`, not who else is in it.
            if (a != nullptr && a->child && a->parent == caller && self->state.chat &&
                self->state.chat->has(target))
              return take_out(self, target, caller, std::move(rp), member);
            finish(self, std::move(rp), member ? not_allowed() : no_group());
          });
}

/// A membership change, run alone to its end (`finish`).
void change(chat_pointer self, entity_request& req, reply_to rp) {
  auto& st = self->state;
  auto caller = req.caller;
  auto op = static_cast<chat_op>(req.op);
  if (op == chat_op::create) {
    auto* body = arg<chat_op::create>(req);
    if (!body)
      return finish(self, std::move(rp), error_reply(errc::invalid_argument, "malformed group"));
    return create(self, caller, *body, std::move(rp));
  }
  if (!st.chat)
    return finish(self, std::move(rp),
                  op == chat_op::leave || op == chat_op::relation_ended ? ok_reply() : no_group());
  switch (op) {
  case chat_op::add:
    if (!st.chat->has(caller))
      return finish(self, std::move(rp), no_group());
    if (auto* t = arg<chat_op::add>(req))
      return add(self, caller, t->id, std::move(rp));
    break;
  case chat_op::remove:
    if (auto* t = arg<chat_op::remove>(req))
      return remove(self, caller, t->id, std::move(rp));
    break;
  case chat_op::leave:
    if (!st.chat->has(caller))
      return finish(self, std::move(rp), ok_reply());
    return take_out(self, caller, caller, std::move(rp), false);
  case chat_op::relation_ended:
    if (auto* e = arg<chat_op::relation_ended>(req)) {
      if (st.chat->has(caller) && st.chat->has(e->other))
        return take_out(self, caller, caller, std::move(rp), false);
      return finish(self, std::move(rp), ok_reply());
    }
    break;
  default:
    break;
  }
  finish(self, std::move(rp), error_reply(errc::invalid_argument, "malformed group request"));
}

/// One upload, a copy per member with a key; answered once every copy is.
void send(chat_pointer self, account_id sender, group_send_request& up, reply_to rp) {
  auto& st = self->state;
  auto& chat = *st.chat;
  if (up.version != chat.version)
    return rp.deliver(ok_reply(group_send_result{true, chat.info()}));
  if (auto bad = check_keys(chat, sender, up.keys))
    return rp.deliver(error_reply(*bad));
  auto counters = st.deps->counters;
  std::vector<entity_request> copies;
  for (auto& k : up.keys) {
    auto payload = encode_body(group_mail{st.id, std::move(k.key), up.content});
    copies.push_back(user_request<user_op::deliver>(k.member, sender,
                                                    {mail_kind::group, up.id, std::move(payload)}));
  }
  counters->copies += copies.size();
  auto group = st.id;
  ask_all(self, std::move(copies), [=](std::vector<entity_reply>& replies) mutable {
    std::optional<entity_reply> failed;
    for (auto& r : replies) {
      if (r.ok())
        continue;
      auto code = static_cast<errc>(r.status);
      if (code == errc::not_found || code == errc::mailbox_cap)
        ++counters->dropped; // the member's filter, or its full mailbox: not the sender's to know
      else if (!failed)
        failed = std::move(r);
    }
    if (failed) {
      logger()->warn("event=group_copy_failed group={} code={}", group,
                     errc_name(static_cast<errc>(failed->status)));
      return rp.deliver(error_reply(errc::unavailable, "not every member could be reached; send again"));
    }
    rp.deliver(ok_reply(group_send_result{}));
  });
}

void typing(chat_pointer self, account_id sender, reply_to rp) {
  auto& st = self->state;
  std::vector<entity_request> pushes;
  for (auto m : st.chat->members)
    if (m != sender)
      pushes.push_back(user_request<user_op::typing>(m, sender, {st.id}));
  auto& c = serial::client_of(self);
  for (auto& p : pushes)
    c.call(std::move(p), {}); // ephemeral: whoever is offline simply misses it
  c.flush(self);
  rp.deliver(ok_reply());
}

/// An offer to the group: up to `max_ring` other members ring, each through its own
/// actor's filter; the caller hears each one's outcome. A member whose filter refuses the
/// caller is told apart from an offline one by no one: both are `offline`.
void ring(chat_pointer self, account_id caller, call_request& req, reply_to rp) {
  auto& st = self->state;
  std::vector<account_id> rung;
  std::vector<entity_request> offers;
  for (auto m : st.chat->members) {
    if (m == caller || rung.size() == st.deps->max_ring)
      continue;
    rung.push_back(m);
    offers.push_back(user_request<user_op::call_in>(
        m, caller, call_event{req.id, st.id, call_signal::offer, 0, req.video, req.payload}));
  }
  ask_all(self, std::move(offers), [=](std::vector<entity_reply>& replies) mutable {
    call_ring_result out;
    for (size_t i = 0; i < rung.size(); ++i) {
      auto* r = result_as<call_ring_result>(replies[i]);
      auto outcome = r != nullptr && r->rung.size() == 1 ? r->rung[0].outcome : call_outcome::offline;
      out.rung.push_back({rung[i], outcome});
    }
    rp.deliver(ok_reply(std::move(out)));
  });
}

/// Reads and sends, which run between membership changes, at once.
void read_or_send(chat_pointer self, entity_request& req, reply_to rp) {
  auto& st = self->state;
  if (!st.chat || !st.chat->has(req.caller))
    return rp.deliver(no_group());
  switch (static_cast<chat_op>(req.op)) {
  case chat_op::show:
    return rp.deliver(ok_reply(st.chat->info()));
  case chat_op::send:
    if (auto* up = arg<chat_op::send>(req))
      return send(self, req.caller, *up, std::move(rp));
    break;
  case chat_op::typing:
    return typing(self, req.caller, std::move(rp));
  case chat_op::ring:
    if (auto* offer = arg<chat_op::ring>(req))
      return ring(self, req.caller, *offer, std::move(rp));
    break;
  default:
    break;
  }
  rp.deliver(error_reply(errc::invalid_argument, "malformed group request"));
}

bool is_change(uint8_t op) {
  switch (static_cast<chat_op>(op)) {
  case chat_op::show:
  case chat_op::send:
  case chat_op::typing:
  case chat_op::ring:
    return false;
  default:
    return true;
  }
}

void load(chat_pointer self) {
  auto& st = self->state;
  st.loading = true;
  auto fail_all = [=](errc code, const char* why) {
    auto& st = self->state;
    for (auto& q : st.core.waiting)
      q.rp.deliver(error_reply(code, why));
    st.core.waiting.clear();
  };
  self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::chats, chat_key(st.id))
      .then(
          [=](kv_lookup& found) {
            auto& st = self->state;
            st.loading = false;
            if (found.found) {
              auto decoded = chat_record::decode(found.value);
              if (!decoded) {
                logger()->error("event=bad_group_record group={}", st.id);
                return fail_all(errc::internal, "the group record is damaged");
              }
              st.chat = std::move(*decoded);
            }
            st.loaded = true;
            run_next(self);
          },
          [=](caf::error& err) {
            self->state.loading = false;
            logger()->warn("event=group_load_failed group={} code={}", self->state.id,
                           errc_name(to_failure(err).code));
            fail_all(errc::unavailable, "the group could not be loaded");
          });
}

void run_next(chat_pointer self) {
  auto& st = self->state;
  serial::run(
      self,
      [&] {
        if (!st.loaded && !st.loading)
          load(self);
        return st.loaded;
      },
      [&](queued_request& next) {
        if (!is_change(next.req.op))
          return read_or_send(self, next.req, std::move(next.rp));
        st.core.busy = true;
        change(self, next.req, std::move(next.rp));
      });
}

bool may_stop(chat_pointer self, uint64_t) {
  return !self->state.loading;
}

chat_actor::behavior_type chat_behavior(chat_pointer self, group_id id,
                                        std::shared_ptr<const chat_deps> deps, entity_host host) {
  self->state.id = id;
  self->state.deps = std::move(deps);
  self->state.core.life = entity_life{chat_kind, id, std::move(host)};
  return serial::behavior(self, &run_next, &may_stop);
}

} // namespace

entity_kind_spec chat_kind_spec(chat_deps deps) {
  auto shared = std::make_shared<const chat_deps>(std::move(deps));
  return {chat_kind,
          [shared](caf::actor_system& sys, uint64_t id, entity_host host) {
            return entity_actor{sys.spawn(chat_behavior, id, shared, std::move(host))};
          },
          {}};
}

} // namespace kinbox
