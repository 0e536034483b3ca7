// The user actor's friend workflow: applying the contact state machine's effects, a
// child's steps waiting for its parent, notices to the parent, blocks and reports.
#include "actors/user_parts.hpp"

namespace kinbox::user_parts {

/// A child's friend step waits for its parent: the family records it, or answers that the
/// child may add friends alone (then the step goes on at once).
void ask_parent(user_pointer self, account_id other, reply_to rp) {
  auto entries = self->state.contacts.entries();
  auto i = entries.find(other);
  auto id = self->state.id;
  account_flag step{other, i != entries.end() && i->second.ours};
  ask_entity(self, family_request<family_op::approval_needed>(id, id, step),
             [=](entity_reply& r) mutable {
    if (!r.ok())
      return rp.deliver(error_reply(r.to_failure())); // still waiting; asking again retries
    if (auto* answer = result_as<approval_answer>(r); answer != nullptr && answer->approved)
      return apply_contact_effect(self,
                                  self->state.contacts.parent_approved(other, self->state.deps->now_ms()),
                                  other, std::move(rp));
    rp.deliver(ok_reply());
  });
}

/// Accounts this one blocked and that were deleted since leave its list: a blocked account
/// does not know who blocked it, so its deletion tells no blocker; each load looks instead
/// (one KV read per block).
void forget_deleted_blocks(user_pointer self) {
  auto& st = self->state;
  for (auto& [other, e] : st.contacts.entries()) {
    if (e.state != contact_state::blocked)
      continue;
    auto gone = other;
    self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                  key_of(gone))
        .then(
            [=](kv_lookup& account) {
              auto& st = self->state;
              if (account.found || !st.account || !st.contacts.forget(gone))
                return;
              log::get("user")->debug("event=deleted_block_forgotten account={}", st.id);
              put_contacts(self).then(store_reply<bool>(self, [](bool) {}),
                                      store_reply<caf::error>(self, [](caf::error&) {}));
            },
            [](caf::error&) {}); // the next load looks again
  }
}

/// Persists the contact list, then tells `other` what the effect asks and answers `rp`
/// (or hands it to `done`, which goes on and answers it).
void apply_contact_effect(user_pointer self, contact_effect effect, account_id other, reply_to rp,
                          std::function<void(reply_to)> done) {
  auto& st = self->state;
  auto answer = [done](reply_to rp) {
    if (done)
      done(std::move(rp));
    else
      rp.deliver(ok_reply());
  };
  if (effect == contact_effect::none && !st.contacts_expired)
    return answer(std::move(rp));
  put_contacts(self)
      .then(
          store_reply<bool>(self, [=](bool) mutable {
            switch (effect) {
            case contact_effect::notify_request:
              send_entity(self, user_request<user_op::friend_request>(other, self->state.id));
              break;
            case contact_effect::notify_accept:
              send_entity(self, user_request<user_op::friend_accepted>(other, self->state.id));
              break;
            case contact_effect::notify_decline:
              send_entity(self, user_request<user_op::friend_declined>(other, self->state.id));
              break;
            case contact_effect::notify_remove:
              send_entity(self, user_request<user_op::friend_removed>(other, self->state.id));
              break;
            case contact_effect::ask_parent:
              return ask_parent(self, other, std::move(rp));
            default:
              break;
            }
            answer(std::move(rp));
          }),
          store_reply<caf::error>(self, [=](caf::error& err) mutable {
            rp.deliver(error_reply(err));
          }));
}

/// A notice for this child's linked parent (as its family sends them).
void notify_parent(user_pointer self, notice_type type, account_id other, uint64_t value) {
  auto& st = self->state;
  if (st.contacts.parent() == 0)
    return;
  message_id id{};
  randombytes_buf(id.data(), id.size());
  auto payload = encode_body(notice_body{type, st.id, other, value});
  send_entity(self, user_request<user_op::deliver>(st.contacts.parent(), st.id,
                                                   {mail_kind::notice, id, std::move(payload)}));
}

/// Appends the report to the reports stream; once it is durable, the list remembers it
/// (one open report per target), the reporter's parent is told, and `rp` hears ok.
void file_report(user_pointer self, const report_record& rec, reply_to rp) {
  auto& st = self->state;
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, report_atom::value, encode_report(rec))
      .then(store_reply<uint64_t>(self,
                                  [=](uint64_t seq) mutable {
                                    log::get("user")->info(
                                        "event=report_filed seq={} reporter={} reported={} "
                                        "category={}",
                                        seq, rec.reporter, rec.reported,
                                        report_category_name(rec.category));
                                    self->state.contacts.reported(rec.reported);
                                    put_contacts(self).then(
                                        store_reply<bool>(self, [](bool) {}),
                                        store_reply<caf::error>(self, [](caf::error&) {}));
                                    notify_parent(self, notice_type::reported, rec.reported,
                                                  static_cast<uint64_t>(rec.category));
                                    rp.deliver(ok_reply());
                                  }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              auto code = to_failure(err).code;
              log::get("user")->warn("event=report_not_filed reporter={} code={}", rec.reporter,
                                     errc_name(code));
              rp.deliver(error_reply(errc::unavailable,
                                     "the contact is blocked; the report could not be filed "
                                     "now, send it again"));
            }));
}

/// A notice this parent's own actor stores for it: about a child that is no child any
/// more (its family may not send it one), or about its own link code.
void notify_self(user_pointer self, notice_type type, account_id child, account_id other,
                 uint64_t value) {
  auto& st = self->state;
  message_id id{};
  randombytes_buf(id.data(), id.size());
  auto payload = encode_body(notice_body{type, child, other, value});
  send_entity(self, user_request<user_op::deliver>(st.id, st.id,
                                                   {mail_kind::notice, id, std::move(payload)}));
}

/// Blocks `other` at once and purges its mail (as contact_block does), then files the
/// report in the reports stream; a child's parent is told. One report per target while
/// the block holds, and a few a day per account (past that, `rate_limited` with the block
/// in place). A report of an id without an account is answered the same and not stored.
/// A report that cannot be filed is answered `unavailable` with the block in place: sent
/// again, it is filed then.
void report(user_pointer self, account_id other, report_category category, reply_to rp) {
  auto& st = self->state;
  auto now = st.deps->now_ms();
  auto effect = st.contacts.block(other, now);
  end_group_relation(self, other);
  end_calls_with(self, other);
  auto filing = st.contacts.may_report(other, now, st.deps->friend_limits);
  report_record rec{st.id, other, category, now, st.account->role, st.contacts.parent()};
  purge_mail(self, other, 0, [=]() mutable {
    apply_contact_effect(self, effect, other, std::move(rp), [=](reply_to rp) mutable {
      if (!filing)
        return rp.deliver(error_reply(filing.error()));
      if (!*filing)
        return rp.deliver(ok_reply()); // filed already while this block holds
      auto& st = self->state;
      self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                    key_of(other))
          .then(
              [=](kv_lookup& target) mutable {
                if (!target.found)
                  return rp.deliver(ok_reply()); // nothing to moderate; nothing stored
                file_report(self, rec, std::move(rp));
              },
              [=](caf::error&) mutable {
                rp.deliver(error_reply(errc::unavailable,
                                       "the contact is blocked; the report could not be filed "
                                       "now, send it again"));
              });
    });
  });
}

/// Answers a contact step the state machine refused (a limit), or applies its effect.
void apply_contact_result(user_pointer self, const result<contact_effect>& effect,
                          account_id other, reply_to rp) {
  if (!effect) {
    log::get("user")->info("event=friend_request_refused account={} code={}", self->state.id,
                           errc_name(effect.error().code));
    rp.deliver(error_reply(effect.error()));
    return;
  }
  apply_contact_effect(self, *effect, other, std::move(rp));
}

} // namespace kinbox::user_parts
