// The user actor's reads and the account's lifetime: the contact listing with current
// names, cards, keys and status for friends, the profile and who sees which field, the
// export of everything held on the account, and its deletion (records, mail, data key).
#include "actors/user_parts.hpp"
#include "actors/views.hpp"

namespace kinbox::user_parts {

/// Whether `other` showed itself to this account: a friend, or one that asked it to be
/// friends (its name is then no secret to the one it asked). A request this account made
/// to an id shows nothing of who holds the id.
bool shows_name(const contact_list_state::entry& e) {
  return e.state == contact_state::friends || e.state == contact_state::incoming ||
         (e.state == contact_state::awaiting_parent && (!e.ours || e.they_asked));
}

/// The contact list with the current names of those who showed themselves, and the
/// linked parent or children (read from KV at every listing, so a rename shows at once).
void list_contacts(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto result = std::make_shared<contact_list>();
  std::vector<size_t> named;
  for (auto& [id, e] : st.contacts.entries()) {
    if (shows_name(e))
      named.push_back(result->entries.size());
    result->entries.push_back(contact_entry{id, e.state, {}});
  }
  auto family = [&](account_id id, contact_state state) {
    named.push_back(result->entries.size());
    result->entries.push_back(contact_entry{id, state, {}});
  };
  if (st.contacts.parent() != 0)
    family(st.contacts.parent(), contact_state::parent);
  for (auto child : st.contacts.children())
    family(child, contact_state::child);
  if (named.empty())
    return rp.deliver(ok_reply(*result));
  auto remaining = std::make_shared<size_t>(named.size());
  for (auto i : named) {
    auto finish = [=]() mutable {
      if (--*remaining == 0)
        rp.deliver(ok_reply(*result));
    };
    self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                  key_of(result->entries[i].id))
        .then(
            [=](kv_lookup& acc) mutable {
              if (acc.found)
                if (auto a = decode_account(acc.value))
                  result->entries[i].name = a->name;
              finish();
            },
            [=](caf::error&) mutable { finish(); });
  }
}

/// Who this account is, for the parent of child `asker` weighing a friend step with it:
/// only if this account asked the child or answered it (an id the child merely typed
/// shows nothing), and never to a blocked one.
void get_card(user_pointer self, account_id asker, bool with_avatar, reply_to rp) {
  auto& st = self->state;
  auto i = st.contacts.entries().find(asker);
  if (i == st.contacts.entries().end() || i->second.state == contact_state::blocked)
    return rp.deliver(error_reply(errc::not_found));
  auto view = st.deps->service->view();
  auto card = std::make_shared<card_body>();
  card->profile = profile_reply{st.id, st.account->name, {}, false, false, {}, {},
                                gender::unsaid, account_role::parent, {}};
  card->profile.online = st.session && view->is_live(st.session->node, st.session->incarnation);
  card->role = st.account->role;
  auto parent = st.contacts.parent();
  auto with_parent = [=](reply_to rp) mutable {
    if (parent == 0)
      return rp.deliver(ok_reply(*card));
    self->request(self->state.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                  key_of(parent))
        .then(
            [=](kv_lookup& acc) mutable {
              if (auto a = acc.found ? decode_account(acc.value) : std::nullopt)
                card->parent_name = a->name;
              rp.deliver(ok_reply(*card));
            },
            [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
  };
  if (!with_avatar)
    return with_parent(std::move(rp));
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return rp.deliver(error_reply(errc::unavailable, "the profile could not be read"));
    card->profile.avatar = std::move(p->avatar);
    with_parent(std::move(rp));
  });
}

/// Whether the account may see `other`'s keys and status: a friend, or its linked parent
/// or child (the child's location is sealed to the parent's key).
bool knows(const user_state& st, account_id other) {
  return st.contacts.are_friends(other) || other == st.contacts.parent() ||
         st.contacts.children().count(other) != 0;
}

void get_key(user_pointer self, account_id target, reply_to rp) {
  if (!knows(self->state, target)) {
    rp.deliver(error_reply(errc::not_found));
    return;
  }
  self->request(self->state.deps->kv, caf::infinite, kv_get_atom::value, kv_space::accounts,
                key_of(target))
      .then(
          [=](kv_lookup& acc) mutable {
            auto a = acc.found ? decode_account(acc.value) : std::nullopt;
            if (!a) {
              rp.deliver(error_reply(errc::not_found));
              return;
            }
            rp.deliver(ok_reply(key_reply{target, a->box_key, a->sign_key}));
          },
          [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
}

void get_status(user_pointer self, account_id target, reply_to rp) {
  if (!knows(self->state, target)) {
    rp.deliver(error_reply(errc::not_found));
    return;
  }
  auto kv = self->state.deps->kv;
  auto service = self->state.deps->service;
  self->request(kv, caf::infinite, kv_get_atom::value, kv_space::presence, key_of(target))
      .then(
          [=](kv_lookup& presence) mutable {
            auto attached = presence.found ? decode_presence(presence.value) : std::nullopt;
            self->request(kv, caf::infinite, kv_get_atom::value, kv_space::last_seen,
                          key_of(target))
                .then(
                    [=](kv_lookup& seen) mutable {
                      auto last = seen.found ? read_last_seen(seen.value) : 0;
                      rp.deliver(
                          ok_reply(status_view(target, attached, last, *service->view())));
                    },
                    [=](caf::error& err) mutable {
                      rp.deliver(error_reply(err));
                    });
          },
          [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
}

/// Reads the profile record (a default one if there is none), then `then(record)`, or
/// `then(nullopt)` if KV failed.
void read_profile(user_pointer self, std::function<void(std::optional<profile_record>)> then) {
  auto& st = self->state;
  self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::profiles, key_of(st.id))
      .then(
          [=](kv_lookup& found) {
            auto p = found.found ? decode_profile(found.value) : profile_record{};
            if (!p)
              log::get("user")->error("event=bad_profile_record id={}", self->state.id);
            then(p ? std::move(*p) : profile_record{});
          },
          [=](caf::error&) { then(std::nullopt); });
}

void write_profile(user_pointer self, const profile_record& p, reply_to rp) {
  auto& st = self->state;
  ++st.store_calls;
  self->request(st.deps->kv, caf::infinite, kv_put_atom::value, kv_space::profiles, key_of(st.id),
                encode_profile(p))
      .then(store_reply<bool>(self, [=](bool) mutable { rp.deliver(ok_reply()); }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              rp.deliver(error_reply(err, "the profile could not be saved"));
            }));
}

/// The owner changes its name, country, gender or avatar: all of it or nothing. The avatar
/// is decoded and written anew on the image worker first (no metadata reaches a friend).
void set_profile(user_pointer self, profile_set_request req, reply_to rp) {
  auto& st = self->state;
  if (auto why = check_profile(req, st.deps->avatar_max))
    return rp.deliver(error_reply(errc::invalid_argument, *why));
  if (req.avatar.empty())
    return save_profile(self, req, std::move(rp));
  auto image = std::move(req.avatar);
  self->request(st.deps->images, caf::infinite, avatar_atom::value, std::move(image),
                static_cast<uint64_t>(st.deps->avatar_max))
      .then(
          [=](bytes& normal) mutable {
            if (!self->state.account)
              return rp.deliver(account_changed_reply());
            req.avatar = std::move(normal);
            save_profile(self, req, std::move(rp));
          },
          [=](caf::error& err) mutable { rp.deliver(error_reply(err)); });
}

void save_profile(user_pointer self, const profile_set_request& req, reply_to rp) {
  auto& st = self->state;
  if (req.name != st.account->name) {
    st.account->name = req.name;
    caf::anon_send(st.deps->kv, kv_put_atom::value, kv_space::accounts, key_of(st.id),
                   encode_account(*st.account));
    // Each friend that is a linked child has its parent told (a friend renamed "Mum").
    std::vector<entity_request> told;
    for (auto& [other, e] : st.contacts.entries())
      if (e.state == contact_state::friends)
        told.push_back(user_request<user_op::friend_renamed>(other, st.id));
    send_entities(self, std::move(told));
  }
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return rp.deliver(error_reply(errc::unavailable, "the profile could not be read"));
    p->country = req.country;
    p->gender_of = req.gender_of;
    p->avatar = req.avatar;
    p->updated_ms = self->state.deps->now_ms();
    write_profile(self, *p, std::move(rp));
  });
}

/// What `caller` may see of this account: all of it for the account and its linked
/// parent, name, avatar and online status for a friend (or its child, or its parent
/// seen by the child), nothing for anyone else (not_found, as for an unknown id).
void get_profile(user_pointer self, account_id caller, reply_to rp) {
  auto& st = self->state;
  bool full = caller == st.id || (st.contacts.parent() != 0 && caller == st.contacts.parent());
  auto sight = full ? profile_sight::full : knows(st, caller) ? profile_sight::contact
                                                               : profile_sight::none;
  if (sight == profile_sight::none)
    return rp.deliver(error_reply(errc::not_found));
  auto view = st.deps->service->view();
  bool online = st.session && view->is_live(st.session->node, st.session->incarnation);
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return rp.deliver(error_reply(errc::unavailable, "the profile could not be read"));
    if (!self->state.account)
      return rp.deliver(account_changed_reply());
    rp.deliver(ok_reply(profile_view(*self->state.account, std::move(*p), online, sight)));
  });
}

/// Keeps the device info a new session's app gave, if it changed.
void note_device(user_pointer self, const device_info& device) {
  auto& st = self->state;
  if (st.device && *st.device == device)
    return;
  read_profile(self, [=](std::optional<profile_record> p) {
    if (!p)
      return; // tried again at the next attach
    self->state.device = device;
    if (p->device == device)
      return;
    p->device = device;
    p->updated_ms = self->state.deps->now_ms();
    caf::anon_send(self->state.deps->kv, kv_put_atom::value, kv_space::profiles,
                   key_of(self->state.id), encode_profile(*p));
  });
}

/// Adds the stored mail after `after` to the export (payloads left out), then answers.
void export_mail(user_pointer self, std::shared_ptr<account_data> data, uint64_t after, reply_to rp) {
  page_after(self, after)
      .then(store_reply<mail_page>(self,
                                   [=](mail_page& page) mutable {
                                     for (auto& e : page.mail) {
                                       ++data->mail_count;
                                       if (data->mail.size() < max_exported_mail) {
                                         e.payload.clear();
                                         data->mail.push_back(std::move(e));
                                       }
                                     }
                                     if (page.more)
                                       return export_mail(self, data, page.mail.back().seq,
                                                          std::move(rp));
                                     auto doc = export_document(*data);
                                     rp.deliver(ok_reply(account_document{std::move(doc)}));
                                   }),
            store_reply<caf::error>(self, [=](caf::error& err) mutable {
              rp.deliver(error_reply(err, "the mail could not be read"));
            }));
}

/// Adds the account's groups to the export, then its mail.
void export_groups(user_pointer self, std::shared_ptr<account_data> data, reply_to rp) {
  collect_groups(self, [=](std::optional<group_list> groups) mutable {
    if (!groups)
      return rp.deliver(error_reply(errc::unavailable, "a group could not be read; try again"));
    data->groups = std::move(groups->groups);
    export_mail(self, data, 0, std::move(rp));
  });
}

/// Everything the cluster holds on this account, as one JSON document: the account and
/// profile, contacts, blocks and pending requests, the family link, its groups, presence
/// and last seen, and the undelivered mail (held for an ack here, or stored).
void export_account(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto data = std::make_shared<account_data>();
  data->account = *st.account;
  data->contacts = st.contacts;
  data->exported_at_ms = st.deps->now_ms();
  auto view = st.deps->service->view();
  data->online = st.session && view->is_live(st.session->node, st.session->incarnation);
  st.mail->held().for_each([&](const envelope& held) {
    ++data->mail_count;
    auto e = held;
    e.payload.clear();
    data->mail.push_back(std::move(e));
  });
  auto unavailable = [](reply_to& rp) {
    rp.deliver(error_reply(errc::unavailable, "the account data could not be read; try again"));
  };
  read_profile(self, [=](std::optional<profile_record> p) mutable {
    if (!p)
      return unavailable(rp);
    data->profile = std::move(*p);
    auto& st = self->state;
    self->request(st.deps->kv, caf::infinite, kv_get_atom::value, kv_space::last_seen, key_of(st.id))
        .then(
            [=](kv_lookup& seen) mutable {
              data->last_seen_ms = seen.found ? read_last_seen(seen.value) : 0;
              auto& st = self->state;
              if (!st.account)
                return rp.deliver(account_changed_reply());
              if (st.account->role != account_role::child)
                return export_groups(self, data, std::move(rp));
              ask_entity(self, family_request<family_op::get_link>(st.id, st.id),
                         [=](entity_reply& r) mutable {
                if (auto* info = result_as<link_info>(r))
                  data->link = *info;
                export_groups(self, data, std::move(rp));
              });
            },
            [=](caf::error&) mutable { unavailable(rp); });
  });
}

/// The deletion is done: the session is told, and the actor forgets the account.
void forget_account(user_pointer self, reply_to rp) {
  auto& st = self->state;
  log::get("user")->info("event=account_deleted account={}", st.id);
  rp.deliver(ok_reply());
  if (st.session)
    st.deps->service->push(*st.session, user_kind,
                           caf::make_message(kick_atom::value, st.id,
                                             static_cast<uint16_t>(errc::account_deleted)));
  st.session.reset();
  st.account.reset();
  st.contacts = contact_list_state{};
  st.device.reset();
  st.code.reset();
}

/// The last step of a deletion: the account's KV records go, its data key is erased (so
/// what JetStream keeps of older revisions opens for no one), the account record last.
void erase_records(user_pointer self, reply_to rp) {
  auto& st = self->state;
  auto open = std::make_shared<size_t>(0);
  auto failed = std::make_shared<bool>(false);
  auto finish = [=]() mutable {
    if (--*open != 0)
      return;
    auto& st = self->state;
    auto partly = [](reply_to& rp) {
      rp.deliver(error_reply(errc::unavailable, "the account was partly deleted; delete it again"));
    };
    if (*failed)
      return partly(rp);
    // The data key goes before the account record: every revision of every record of the
    // account is unreadable from here on, and a deletion cut short here is asked again.
    self->request(st.deps->kv, caf::infinite, kv_shred_atom::value, key_of(st.id))
        .then([=](bool) mutable {
                auto& st = self->state;
                self->request(st.deps->kv, caf::infinite, kv_delete_atom::value,
                              kv_space::accounts, key_of(st.id))
                    .then([=](bool) mutable { forget_account(self, std::move(rp)); },
                          [=](caf::error&) mutable {
                            // Sealed under an erased key, the record opens for no one:
                            // the account is gone all the same.
                            log::get("user")->warn("event=account_record_left account={}",
                                                   self->state.id);
                            forget_account(self, std::move(rp));
                          });
              },
              [=](caf::error&) mutable { partly(rp); });
  };
  for (auto space : {kv_space::contacts, kv_space::profiles, kv_space::presence, kv_space::last_seen}) {
    ++*open;
    self->request(st.deps->kv, caf::infinite, kv_delete_atom::value, space, key_of(st.id))
        .then([=](bool) mutable { finish(); },
              [=](caf::error&) mutable {
                *failed = true;
                finish();
              });
  }
}

/// Deletes the account (asked by it or its linked parent): its contacts forget it, its
/// family link and PIN go, its mail (held and stored) is dropped without receipts, then
/// its records. Requests that come after it find an unknown account. A child that deletes
/// itself has given its parent's PIN; its parent is told.
void delete_account(user_pointer self, account_id by, reply_to rp) {
  auto& st = self->state;
  bool by_child = by == st.id && st.account->role == account_role::child;
  log::get("user")->info("event=account_deleting account={} by={}", st.id,
                         by == st.id ? "self" : "parent");
  std::vector<entity_request> notes;
  // Blocked ones too: they may keep a request to it, or a cooldown.
  for (auto& [other, e] : st.contacts.entries())
    notes.push_back(user_request<user_op::account_gone>(other, st.id));
  for (auto child : st.contacts.children())
    notes.push_back(family_request<family_op::unlink>(child, st.id));
  send_entities(self, std::move(notes));
  leave_groups(self);
  st.mail->answer_held(); // it reached the device; nothing more will
  auto rest = [=](reply_to rp) mutable {
    purge_mail(self, std::nullopt, 0, [=]() mutable {
      compact_soon(self);
      erase_records(self, std::move(rp));
    });
  };
  if (st.account->role != account_role::child && st.contacts.parent() == 0)
    return rest(std::move(rp));
  ask_entity(self, family_request<family_op::erase>(st.id, st.id, {by_child}),
             [=](entity_reply& r) mutable {
    if (!r.ok())
      return rp.deliver(error_reply(errc::unavailable, "the family link could not be deleted; try again"));
    rest(std::move(rp));
  });
}

} // namespace kinbox::user_parts
