// The user actor's side of group chats: how the account stands to a group's members (the
// chat actor's checks), the groups it is in, typing signals, and the fixes a group needs
// when a child's relation ends or the account goes.
#include "actors/chat_interface.hpp"
#include "actors/user_parts.hpp"

#include <algorithm>

namespace kinbox::user_parts {

relation_answer relations_to(const user_state& st, const relation_query& q) {
  relation_answer out;
  out.child = st.account->role == account_role::child;
  out.parent = st.contacts.parent();
  out.full = st.contacts.groups().size() >= max_groups_per_account;
  if (frozen(st))
    return out; // a child without a parent approves no one
  for (auto id : q.ids)
    if (st.contacts.approves(id))
      out.approved.push_back(id);
  return out;
}

namespace {

/// Whether the account may be in group `g` as it is now: a child approves every other
/// member (a relation may have ended since the group checked it), no account is in more
/// groups than allowed, and a banned account is in none.
bool may_join(const user_state& st, const group_info& g) {
  if (st.banned || frozen(st) || st.contacts.groups().size() >= max_groups_per_account)
    return false;
  if (st.account->role != account_role::child)
    return true;
  return std::all_of(g.members.begin(), g.members.end(),
                     [&](account_id m) { return m == st.id || st.contacts.approves(m); });
}

} // namespace

void group_membership(user_pointer self, const group_info& g, bool joined, reply_to rp) {
  auto& st = self->state;
  if (joined && !st.contacts.groups().count(g.id) && !may_join(st, g)) {
    log::get("user")->info("event=group_join_refused account={} group={}", st.id, g.id);
    return rp.deliver(error_reply(errc::not_allowed));
  }
  bool changed = joined ? st.contacts.join_group(g.id) : st.contacts.leave_group(g.id);
  apply_contact_effect(self, changed ? contact_effect::changed : contact_effect::none, 0,
                       std::move(rp));
}

void typing_from(user_pointer self, account_id sender, const typing_body& body) {
  auto& st = self->state;
  if (!st.session || frozen(st) || !st.contacts.approves(sender))
    return;
  push(self, {mail_push{mail_kind::typing, sender, message_id{}, st.deps->now_ms(),
                        encode_body(body)}});
}

void collect_groups(user_pointer self, std::function<void(std::optional<group_list>)> then) {
  auto& st = self->state;
  auto groups = std::vector<uint64_t>(st.contacts.groups().begin(), st.contacts.groups().end());
  auto out = std::make_shared<group_list>();
  if (groups.empty())
    return then(*out);
  auto open = std::make_shared<size_t>(groups.size());
  auto failed = std::make_shared<bool>(false);
  for (auto g : groups)
    ask_entity(self, chat_request<chat_op::show>(g, st.id), [=](entity_reply& r) mutable {
      auto& st = self->state;
      if (auto* info = result_as<group_info>(r))
        out->groups.push_back(*info);
      else if (r.status == static_cast<uint16_t>(errc::not_found) && st.contacts.leave_group(g))
        put_contacts(self).then(store_reply<bool>(self, [](bool) {}),
                                store_reply<caf::error>(self, [](caf::error&) {}));
      else if (!r.ok())
        *failed = true;
      if (--*open != 0)
        return;
      if (*failed)
        return then(std::nullopt);
      std::sort(out->groups.begin(), out->groups.end(),
                [](auto& a, auto& b) { return a.id < b.id; });
      then(std::move(*out));
    });
}

void list_groups(user_pointer self, reply_to rp) {
  collect_groups(self, [rp](std::optional<group_list> groups) mutable {
    if (!groups)
      return rp.deliver(error_reply(errc::unavailable, "a group could not be read; try again"));
    rp.deliver(ok_reply(std::move(*groups)));
  });
}

void end_group_relation(user_pointer self, account_id other) {
  auto& st = self->state;
  if (other == 0 || !st.account || st.account->role != account_role::child ||
      st.contacts.approves(other))
    return;
  std::vector<entity_request> reqs;
  for (auto g : st.contacts.groups())
    reqs.push_back(chat_request<chat_op::relation_ended>(g, st.id, {other}));
  send_entities(self, std::move(reqs));
}

void leave_groups(user_pointer self) {
  auto& st = self->state;
  std::vector<entity_request> reqs;
  for (auto g : st.contacts.groups())
    reqs.push_back(chat_request<chat_op::leave>(g, st.id));
  send_entities(self, std::move(reqs));
}

} // namespace kinbox::user_parts
