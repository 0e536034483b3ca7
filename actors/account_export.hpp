// The one JSON document of everything the cluster holds on an account, as the account or
// its linked parent asks for it (`account_export`). Built by the account's user actor from
// what it reads: the account and profile records, the contact list, the family link, its
// groups (id, name, members), last seen, and the undelivered mail (kinds, senders and ids; never a payload).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actors/contacts.hpp"
#include "actors/profile.hpp"
#include "protocol/groups.hpp"
#include "persistence/mailbox.hpp"

namespace kinbox {

/// Most undelivered envelopes an export names one by one (the count is always exact):
/// the document must fit in one reply.
constexpr size_t max_exported_mail = 2000;

struct account_data {
  account_record account;
  profile_record profile;
  contact_list_state contacts;
  std::optional<link_info> link; ///< a child's family link, if it has one
  std::vector<group_info> groups;
  uint64_t last_seen_ms = 0;
  bool online = false;
  uint64_t mail_count = 0;
  std::vector<envelope> mail; ///< at most max_exported_mail, payloads left out
  uint64_t exported_at_ms = 0;
};

std::string export_document(const account_data& d);

} // namespace kinbox
