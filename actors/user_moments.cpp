// Moments in the user actor: a post is handed to the poster's approved contacts that have
// a key in it, each copy through the recipient's own filter; a like or comment goes
// through the poster's actor to the poster and to those of its contacts the commenter's
// copy is for, each recipient's filter letting it through only from an approved account
// (so a child sees no comment from anyone not approved for it). Nothing of a post is kept
// but the copies waiting for their recipients; deleting a post sends a retraction, which
// each recipient's actor turns into a purge of what still waits, or keeps for the app.
#include "actors/user_parts.hpp"
#include "protocol/moments.hpp"

namespace kinbox::user_parts {

namespace {

/// Delivers `copies` and answers `rp` once all are answered: ok, or `unavailable` when
/// one failed for another reason than the recipient's filter or its full mailbox (sent
/// again with the same ids, each copy is stored once).
void fan_out(user_pointer self, std::vector<entity_request> copies, reply_to rp) {
  if (copies.empty())
    return rp.deliver(ok_reply());
  struct tally {
    size_t open = 0;
    bool failed = false;
  };
  auto t = std::make_shared<tally>();
  t->open = copies.size();
  for (auto& copy : copies)
    ask_entity(self, std::move(copy), [=](entity_reply& r) mutable {
      auto code = static_cast<errc>(r.status);
      if (!r.ok() && code != errc::not_found && code != errc::mailbox_cap)
        t->failed = true;
      if (--t->open == 0)
        rp.deliver(t->failed ? error_reply(errc::unavailable, "not every friend could be reached; send again")
                             : ok_reply());
    });
}

/// Every account this one approves: friends, its linked parent, its linked children.
std::vector<account_id> approved_contacts(const user_state& st) {
  std::vector<account_id> out;
  for (auto& [other, e] : st.contacts.entries())
    if (st.contacts.approves(other))
      out.push_back(other);
  if (auto p = st.contacts.parent(); p != 0 && std::find(out.begin(), out.end(), p) == out.end())
    out.push_back(p);
  for (auto c : st.contacts.children())
    if (std::find(out.begin(), out.end(), c) == out.end())
      out.push_back(c);
  return out;
}

} // namespace

void post_moment(user_pointer self, moment_post& post, reply_to rp) {
  auto& st = self->state;
  std::vector<entity_request> copies;
  for (auto& k : post.keys)
    if (k.member != st.id && st.contacts.approves(k.member))
      copies.push_back(user_request<user_op::deliver>(
          k.member, st.id,
          {mail_kind::moment, post_mail_id(post.id),
           encode_body(moment_mail{post.id, std::move(k.key), post.content})}));
  fan_out(self, std::move(copies), std::move(rp));
}

void react_moment(user_pointer self, moment_reaction& r, reply_to rp) {
  auto& st = self->state;
  if (r.poster == st.id)
    return moment_reacted(self, st.id, r, std::move(rp));
  if (!st.contacts.approves(r.poster))
    return rp.deliver(error_reply(errc::not_found));
  ask_entity(self, user_request<user_op::moment_reaction>(r.poster, st.id, std::move(r)),
             [=](entity_reply& reply) mutable { rp.deliver(std::move(reply)); });
}

void moment_reacted(user_pointer self, account_id from, moment_reaction& r, reply_to rp) {
  auto& st = self->state;
  if (r.poster != st.id || (from != st.id && !st.contacts.approves(from)))
    return rp.deliver(error_reply(errc::not_found));
  auto copy = [&](account_id to, bytes key) {
    return user_request<user_op::deliver>(
        to, from,
        {mail_kind::reaction, r.id,
         encode_body(reaction_mail{st.id, r.post, r.kind, std::move(key), r.content})});
  };
  std::vector<entity_request> copies;
  if (r.kind == reaction_kind::like) {
    // To the poster and to its contacts; each one's filter keeps those who are not the
    // liker's approved contacts out.
    if (from != st.id)
      copies.push_back(copy(st.id, {}));
    for (auto other : approved_contacts(st))
      if (other != from)
        copies.push_back(copy(other, {}));
  } else {
    for (auto& k : r.keys)
      if (k.member != from && (k.member == st.id || st.contacts.approves(k.member)))
        copies.push_back(copy(k.member, std::move(k.key)));
  }
  fan_out(self, std::move(copies), std::move(rp));
}

void delete_moment(user_pointer self, account_id by, post_id post, reply_to rp) {
  auto& st = self->state;
  std::vector<entity_request> copies;
  auto to = approved_contacts(st);
  if (by != st.id)
    to.push_back(st.id); // its parent deleted it: the child's app deletes it too
  for (auto other : to)
    copies.push_back(user_request<user_op::deliver>(
        other, st.id, {mail_kind::retraction, post_mail_id(post), encode_body(retraction_mail{post})}));
  log::get("user")->info("event=moment_deleted account={} recipients={}", st.id, copies.size());
  fan_out(self, std::move(copies), std::move(rp));
}

void retract_moment(user_pointer self, account_id poster, deliver_body& body, reply_to rp) {
  auto& st = self->state;
  auto r = decode_body<retraction_mail>(body.payload);
  if (!r)
    return rp.deliver(error_reply(errc::invalid_argument, "malformed retraction"));
  if (!admits(owner_of(st), poster, mail_kind::retraction))
    return rp.deliver(error_reply(errc::not_found));
  // What still waits of the post goes. The retraction is kept even then: a copy paged
  // out to the app and not acked yet is deleted here but may be on its screen.
  auto post = r->post;
  auto copy_id = post_mail_id(post);
  auto match = [=](const envelope& e) {
    if (e.kind == mail_kind::moment)
      return e.sender == poster && e.id == copy_id;
    if (e.kind != mail_kind::reaction)
      return false;
    auto about = decode_body<reaction_mail>(e.payload);
    return about && about->poster == poster && about->post == post;
  };
  auto copy = std::make_shared<deliver_body>(std::move(body));
  purge_where(self, match, 0, [=]() mutable {
    auto& st = self->state;
    if (!st.account)
      return rp.deliver(account_changed_reply());
    st.incoming.push_back({poster, std::move(*copy), std::move(rp)});
    store_incoming(self);
  });
}

} // namespace kinbox::user_parts
