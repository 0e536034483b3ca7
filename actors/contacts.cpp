#include "actors/contacts.hpp"
#include "protocol/json_fields.hpp"

#include <nlohmann/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "crypto/crypto.hpp"
#include "actors/names.hpp"

namespace kinbox {

using nlohmann::json;

namespace {

std::string key_hex(const public_key& k) {
  return crypto::to_hex(k);
}

bool hex_key(const json& j, const char* field, public_key& out) {
  return j.contains(field) && j[field].is_string() &&
         crypto::from_hex(j[field].get<std::string>(), out);
}

} // namespace

account_id random_account_id() {
  constexpr account_id min_account_id = 1'000'000'000ull;
  constexpr account_id account_id_span = 9'000'000'000ull;
  uint64_t random = 0;
  randombytes_buf(&random, sizeof(random));
  return min_account_id + random % account_id_span;
}

bytes encode_account(const account_record& a) {
  json j{{"id", a.id},
         {"name", a.name},
         {"birth_date", a.birth_date},
         {"role", a.role == account_role::child ? "child" : "parent"},
         {"sign_key", key_hex(a.sign_key)},
         {"box_key", key_hex(a.box_key)},
         {"created_ms", a.created_ms}};
  if (!a.setup_hash.empty())
    j["setup"] = {{"hash", a.setup_hash}, {"expires_ms", a.setup_expires_ms}};
  if (a.quiet)
    j["quiet"] = {{"days", format_days(a.quiet->days)},
                  {"from", format_clock(a.quiet->from_min)},
                  {"to", format_clock(a.quiet->to_min)},
                  {"tz", a.quiet->tz}};
  // Text is validated before it gets here; should invalid UTF-8 slip through, it is
  // replaced rather than thrown across an actor.
  auto text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return bytes(text.begin(), text.end());
}

std::optional<account_record> decode_account(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  account_record a;
  try {
    a.id = json_uint<account_id>(j, "id");
    a.name = j.at("name").get<std::string>();
    a.birth_date = j.at("birth_date").get<std::string>();
    a.role =
        j.at("role").get<std::string>() == "parent" ? account_role::parent : account_role::child;
    a.created_ms = json_uint_or(j, "created_ms", uint64_t{0});
    if (j.contains("setup")) {
      a.setup_hash = j["setup"].at("hash").get<std::string>();
      a.setup_expires_ms = json_uint<uint64_t>(j["setup"], "expires_ms");
    }
    if (j.contains("quiet")) {
      auto& q = j["quiet"];
      auto days = parse_days(q.at("days").get<std::string>());
      auto from = parse_clock(q.at("from").get<std::string>());
      auto to = parse_clock(q.at("to").get<std::string>());
      if (!days || !from || !to)
        return std::nullopt;
      a.quiet = quiet_schedule{*days, *from, *to, q.at("tz").get<std::string>()};
    }
  } catch (const json::exception&) {
    return std::nullopt;
  }
  if (!hex_key(j, "sign_key", a.sign_key) || !hex_key(j, "box_key", a.box_key))
    return std::nullopt;
  return a;
}

namespace {

/// Why `d` is not a birth date of someone between `min_age` and `max_age` (exclusive)
/// years old on `now_ms`'s day, or nullopt.
std::optional<std::string> birth_date_problem(const std::string& d, uint64_t now_ms,
                                              unsigned min_age, unsigned max_age,
                                              const std::string& too_young,
                                              const std::string& too_old) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-')
    return "birth date must be YYYY-MM-DD";
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (d[i] < '0' || d[i] > '9')
      return "birth date must be YYYY-MM-DD";
  using namespace std::chrono;
  year_month_day born{year{std::stoi(d.substr(0, 4))},
                      month{static_cast<unsigned>(std::stoi(d.substr(5, 2)))},
                      day{static_cast<unsigned>(std::stoi(d.substr(8, 2)))}};
  if (!born.ok() || born.year() < year{1900})
    return "birth date is not a real date";
  year_month_day today{floor<days>(sys_time<milliseconds>{milliseconds{now_ms}})};
  if (sys_days{born} > sys_days{today})
    return "birth date is in the future";
  auto age = int{today.year()} - int{born.year()} -
             ((today.month() < born.month() ||
               (today.month() == born.month() && today.day() < born.day()))
                  ? 1
                  : 0);
  if (age < static_cast<int>(min_age))
    return too_young;
  if (age >= static_cast<int>(max_age))
    return too_old;
  return std::nullopt;
}

} // namespace

std::optional<std::string> check_public_keys(const public_key& sign_key, const public_key& box_key) {
  if (!crypto::is_valid_sign_key(sign_key))
    return "sign key is not a valid Ed25519 public key";
  if (!crypto::is_valid_box_key(box_key))
    return "box key is not a valid X25519 public key";
  return std::nullopt;
}

std::optional<std::string> validate_registration(const register_request& req, uint64_t now_ms,
                                                 const age_rules& ages) {
  if (auto why = check_name(req.name))
    return why;
  if (req.role == account_role::child)
    return "a child's account is made by its parent's app (child_create), and its device "
           "registers with the setup code it gets (register_child)";
  if (req.role != account_role::parent)
    return "role must be 2 (parent)";
  if (auto why = birth_date_problem(req.birth_date, now_ms, ages.parent_min_age, 1000,
                                    "a parent account is for adults; a child's account is made by "
                                    "its parent's app",
                                    ""))
    return why;
  return check_public_keys(req.sign_key, req.box_key);
}

std::optional<std::string> validate_child(const child_create_request& req, uint64_t now_ms,
                                          const age_rules& ages) {
  if (auto why = check_name(req.name))
    return why;
  return birth_date_problem(req.birth_date, now_ms, 0, ages.child_max_age, "",
                            "a child account is for children younger than " +
                                std::to_string(ages.child_max_age));
}

std::optional<contact_state> contact_list_state::state_of(account_id other) const {
  auto i = entries_.find(other);
  if (i == entries_.end())
    return std::nullopt;
  return i->second.state;
}

result<bool> contact_list_state::may_report(account_id other, uint64_t now_ms,
                                            const friend_limit_config& rules) {
  auto i = entries_.find(other);
  if (i != entries_.end() && i->second.reported)
    return false;
  if (auto wait = reports_.take(rules.reports, now_ms))
    return failure{errc::rate_limited, "too many reports from this account; the contact is blocked",
                   *wait};
  return true;
}

void contact_list_state::reported(account_id other) {
  auto i = entries_.find(other);
  if (i != entries_.end() && i->second.state == contact_state::blocked)
    i->second.reported = true;
}

void contact_list_state::start_cooldown(account_id other, uint64_t from_ms,
                                        const friend_limit_config& rules) {
  if (rules.cooldown_ms > 0)
    cooldown_until_[other] = from_ms + rules.cooldown_ms;
}

result<contact_effect> contact_list_state::add(account_id other, uint64_t now_ms,
                                               const friend_limit_config& rules,
                                               bool needs_parent) {
  auto i = entries_.find(other);
  if (i == entries_.end()) {
    if (auto c = cooldown_until_.find(other); c != cooldown_until_.end() && c->second > now_ms)
      return failure{errc::friend_request_cooldown,
                     "a request to this account was declined or expired lately",
                     static_cast<uint32_t>(std::min<uint64_t>(c->second - now_ms, UINT32_MAX))};
    if (auto wait = requests_.take(rules.requests, now_ms))
      return failure{errc::friend_request_limit, "too many friend requests from this account",
                     *wait};
    entries_[other] = needs_parent ? entry{contact_state::awaiting_parent, now_ms, true}
                                   : entry{contact_state::outgoing, now_ms};
    return needs_parent ? contact_effect::ask_parent : contact_effect::notify_request;
  }
  switch (i->second.state) {
  case contact_state::incoming:
    if (needs_parent) {
      i->second = entry{contact_state::awaiting_parent, now_ms, false};
      return contact_effect::ask_parent;
    }
    i->second = entry{contact_state::friends, now_ms};
    return contact_effect::notify_accept;
  case contact_state::outgoing:
    return contact_effect::notify_request; // ask again: the first may have been lost
  case contact_state::awaiting_parent:
    return contact_effect::ask_parent; // ask the family again: the first may have failed
  default:
    return contact_effect::none;
  }
}

contact_effect contact_list_state::receive_request(account_id other, uint64_t now_ms) {
  auto i = entries_.find(other);
  if (i == entries_.end()) {
    entries_[other] = entry{contact_state::incoming, now_ms};
    return contact_effect::changed;
  }
  auto& e = i->second;
  switch (e.state) {
  case contact_state::outgoing:
    e = entry{contact_state::friends, now_ms};
    return contact_effect::notify_accept;
  case contact_state::friends:
    return contact_effect::notify_accept; // they lost our accept; say it again
  case contact_state::awaiting_parent:
    if (!e.ours || e.they_asked)
      return contact_effect::none;
    e.they_asked = true; // the approval makes friends at once
    return contact_effect::changed;
  default:
    return contact_effect::none;
  }
}

std::optional<contact_effect> contact_list_state::accept(account_id other, uint64_t now_ms,
                                                         bool needs_parent) {
  auto state = state_of(other);
  if (state == contact_state::friends)
    return contact_effect::notify_accept;
  if (state == contact_state::awaiting_parent && !entries_[other].ours)
    return contact_effect::ask_parent; // accepted already; ask the family again
  if (state != contact_state::incoming)
    return std::nullopt;
  if (needs_parent) {
    entries_[other] = entry{contact_state::awaiting_parent, now_ms, false};
    return contact_effect::ask_parent;
  }
  entries_[other] = entry{contact_state::friends, now_ms};
  return contact_effect::notify_accept;
}

contact_effect contact_list_state::receive_accept(account_id other, uint64_t now_ms) {
  if (state_of(other) != contact_state::outgoing)
    return contact_effect::none;
  entries_[other] = entry{contact_state::friends, now_ms};
  return contact_effect::changed;
}

std::optional<contact_effect> contact_list_state::decline(account_id other) {
  auto i = entries_.find(other);
  if (i == entries_.end())
    return std::nullopt;
  auto& e = i->second;
  if (e.state != contact_state::incoming && !(e.state == contact_state::awaiting_parent && !e.ours))
    return std::nullopt;
  entries_.erase(i);
  return contact_effect::notify_decline;
}

contact_effect contact_list_state::receive_decline(account_id other, uint64_t now_ms,
                                                   const friend_limit_config& rules) {
  auto i = entries_.find(other);
  if (i == entries_.end())
    return contact_effect::none;
  if (i->second.state == contact_state::awaiting_parent && i->second.ours && i->second.they_asked) {
    i->second.they_asked = false; // they withdrew their side
    return contact_effect::changed;
  }
  if (i->second.state != contact_state::outgoing)
    return contact_effect::none;
  entries_.erase(i);
  start_cooldown(other, now_ms, rules);
  return contact_effect::changed;
}

contact_effect contact_list_state::parent_approved(account_id other, uint64_t now_ms) {
  auto i = entries_.find(other);
  if (i == entries_.end() || i->second.state != contact_state::awaiting_parent)
    return contact_effect::none;
  auto& e = i->second;
  if (e.ours && !e.they_asked) {
    e = entry{contact_state::outgoing, now_ms};
    return contact_effect::notify_request;
  }
  e = entry{contact_state::friends, now_ms};
  return contact_effect::notify_accept;
}

contact_effect contact_list_state::parent_denied(account_id other) {
  auto i = entries_.find(other);
  if (i == entries_.end() || i->second.state != contact_state::awaiting_parent)
    return contact_effect::none;
  bool they_asked = !i->second.ours || i->second.they_asked;
  entries_.erase(i);
  return they_asked ? contact_effect::notify_decline : contact_effect::changed;
}

contact_effect contact_list_state::block(account_id other, uint64_t now_ms) {
  auto state = state_of(other);
  if (state == contact_state::blocked)
    return contact_effect::none;
  entries_[other] = entry{contact_state::blocked, now_ms};
  return state ? contact_effect::notify_remove : contact_effect::changed;
}

contact_effect contact_list_state::remove(account_id other) {
  auto state = state_of(other);
  if (!state)
    return contact_effect::none;
  entries_.erase(other);
  return state == contact_state::blocked ? contact_effect::changed : contact_effect::notify_remove;
}

contact_effect contact_list_state::receive_remove(account_id other) {
  auto state = state_of(other);
  if (!state || state == contact_state::blocked)
    return contact_effect::none;
  entries_.erase(other);
  return contact_effect::changed;
}

bool contact_list_state::forget(account_id other) {
  bool changed = entries_.erase(other) + cooldown_until_.erase(other) + children_.erase(other) > 0;
  if (parent_ == other) {
    parent_ = 0;
    changed = true;
  }
  return changed;
}

bool contact_list_state::expire(uint64_t now_ms, const friend_limit_config& rules) {
  bool changed = false;
  for (auto i = entries_.begin(); i != entries_.end();) {
    auto& e = i->second;
    bool pending = e.state == contact_state::outgoing || e.state == contact_state::incoming ||
                   e.state == contact_state::awaiting_parent;
    if (pending && e.since_ms == 0) {
      e.since_ms = now_ms; // kept before entries had times: their TTL starts now
      changed = true;
    }
    if (!pending || e.since_ms + rules.request_ttl_ms > now_ms) {
      ++i;
      continue;
    }
    if (e.state == contact_state::outgoing || (e.state == contact_state::awaiting_parent && e.ours))
      start_cooldown(i->first, e.since_ms + rules.request_ttl_ms, rules);
    i = entries_.erase(i);
    changed = true;
  }
  for (auto i = cooldown_until_.begin(); i != cooldown_until_.end();) {
    if (i->second <= now_ms) {
      i = cooldown_until_.erase(i);
      changed = true;
    } else {
      ++i;
    }
  }
  return changed;
}

bytes contact_list_state::encode() const {
  json list = json::array();
  for (auto& [id, e] : entries_) {
    json item{{"id", id}, {"state", static_cast<int>(e.state)}, {"since", e.since_ms}};
    if (e.state == contact_state::awaiting_parent) {
      item["ours"] = e.ours;
      item["they_asked"] = e.they_asked;
    }
    if (e.reported)
      item["reported"] = true;
    list.push_back(std::move(item));
  }
  json cooldowns = json::array();
  for (auto& [id, until] : cooldown_until_)
    cooldowns.push_back({{"id", id}, {"until", until}});
  json j{{"contacts", list}, {"cooldowns", cooldowns}};
  if (parent_ != 0)
    j["parent"] = parent_;
  if (!children_.empty())
    j["children"] = children_;
  if (!groups_.empty())
    j["groups"] = groups_;
  if (requests_.tokens >= 0)
    j["requests"] = {{"tokens", requests_.tokens}, {"at", requests_.at_ms}};
  if (reports_.tokens >= 0)
    j["reports"] = {{"tokens", reports_.tokens}, {"at", reports_.at_ms}};
  auto text = j.dump();
  return bytes(text.begin(), text.end());
}

std::optional<contact_list_state> contact_list_state::decode(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("contacts") || !j["contacts"].is_array())
    return std::nullopt;
  contact_list_state out;
  try {
    for (auto& item : j["contacts"]) {
      auto state = json_uint<uint32_t>(item, "state");
      if (state < 1 || state > 5)
        return std::nullopt;
      entry e{static_cast<contact_state>(state), json_uint_or(item, "since", uint64_t{0}),
              item.value("ours", false), item.value("they_asked", false),
              item.value("reported", false)};
      out.entries_[json_uint<account_id>(item, "id")] = e;
    }
    if (j.contains("cooldowns"))
      for (auto& item : j.at("cooldowns"))
        out.cooldown_until_[json_uint<account_id>(item, "id")] = json_uint<uint64_t>(item, "until");
    out.parent_ = json_uint_or(j, "parent", account_id{0});
    if (j.contains("children"))
      for (auto& child : j.at("children"))
        out.children_.insert(json_uint<account_id>(child));
    if (j.contains("groups"))
      for (auto& group : j.at("groups"))
        out.groups_.insert(json_uint<uint64_t>(group));
    for (auto [name, bucket] : {std::pair{"requests", &out.requests_}, {"reports", &out.reports_}})
      if (j.contains(name)) {
        bucket->tokens = std::max(0.0, j[name].at("tokens").get<double>());
        bucket->at_ms = json_uint<uint64_t>(j[name], "at");
      }
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return out;
}

} // namespace kinbox
