#include "actors/account_export.hpp"

#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"

namespace kinbox {

using nlohmann::json;

std::string export_document(const account_data& d) {
  auto& a = d.account;
  json contacts = json::array();
  json blocked = json::array();
  json pending = json::array();
  for (auto& [id, e] : d.contacts.entries()) {
    json item{{"id", id}, {"state", contact_state_name(e.state)}, {"since_ms", e.since_ms}};
    if (e.state == contact_state::friends)
      contacts.push_back(std::move(item));
    else if (e.state == contact_state::blocked)
      blocked.push_back(std::move(item));
    else
      pending.push_back(std::move(item));
  }
  json link = json::object();
  if (d.contacts.parent() != 0)
    link["parent"] = d.contacts.parent();
  if (!d.contacts.children().empty())
    link["children"] = d.contacts.children();
  if (d.link) {
    link["policy"] = d.link->policy == 2 ? "child_alone" : "parent_approves";
    link["location_sharing"] = d.link->location_sharing;
    link["pin_set"] = d.link->pin_set;
    link["pin_locked_until_ms"] = d.link->locked_until_ms;
  }
  json groups = json::array();
  for (auto& g : d.groups)
    groups.push_back({{"id", g.id}, {"name", g.name}, {"creator", g.creator}, {"members", g.members}});
  json mail = json::array();
  for (auto& e : d.mail)
    mail.push_back({{"kind", mail_kind_name(e.kind)},
                    {"from", e.sender},
                    {"id", crypto::to_hex(e.id)},
                    {"stored_at_ms", e.stored_at_ms},
                    {"expires_at_ms", e.expires_at_ms}});
  json quiet = nullptr; // a child's schedule, set by its parent
  if (a.quiet)
    quiet = {{"days", format_days(a.quiet->days)},
             {"from", format_clock(a.quiet->from_min)},
             {"to", format_clock(a.quiet->to_min)},
             {"tz", a.quiet->tz}};
  auto& p = d.profile;
  json doc{
      {"format", "kinbox-account-export-v1"},
      {"exported_at_ms", d.exported_at_ms},
      {"account",
       {{"id", a.id},
        {"name", a.name},
        {"birth_date", a.birth_date},
        {"role", a.role == account_role::child ? "child" : "parent"},
        {"created_ms", a.created_ms},
        {"sign_key", crypto::to_hex(a.sign_key)},
        {"box_key", crypto::to_hex(a.box_key)}}},
      {"profile",
       {{"country", p.country},
        {"gender", gender_name(p.gender_of)},
        {"avatar_bytes", p.avatar.size()},
        {"updated_ms", p.updated_ms}}},
      {"device",
       {{"os", p.device.os},
        {"app_version", p.device.app_version},
        {"language", p.device.language},
        {"time_zone", p.device.time_zone}}},
      {"contacts", contacts},
      {"blocked", blocked},
      {"pending_requests", pending},
      {"link", link},
      {"groups", groups},
      {"quiet_hours", quiet},
      {"presence", {{"online", d.online}, {"last_seen_ms", d.last_seen_ms}}},
      {"undelivered_mail",
       {{"count", d.mail_count}, {"listed", mail}, {"truncated", d.mail_count > d.mail.size()}}},
  };
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace kinbox
