#include "actors/contacts.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>

#include "crypto/crypto.hpp"

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

bytes encode_account(const account_record& a) {
  json j{{"id", a.id},
         {"name", a.name},
         {"birth_date", a.birth_date},
         {"role", a.role == account_role::child ? "child" : "parent"},
         {"sign_key", key_hex(a.sign_key)},
         {"box_key", key_hex(a.box_key)},
         {"created_ms", a.created_ms}};
  auto text = j.dump();
  return bytes(text.begin(), text.end());
}

std::optional<account_record> decode_account(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  account_record a;
  try {
    a.id = j.at("id").get<account_id>();
    a.name = j.at("name").get<std::string>();
    a.birth_date = j.at("birth_date").get<std::string>();
    a.role =
        j.at("role").get<std::string>() == "parent" ? account_role::parent : account_role::child;
    a.created_ms = j.value("created_ms", uint64_t{0});
  } catch (const json::exception&) {
    return std::nullopt;
  }
  if (!hex_key(j, "sign_key", a.sign_key) || !hex_key(j, "box_key", a.box_key))
    return std::nullopt;
  return a;
}

std::optional<std::string> validate_registration(const register_request& req) {
  if (req.name.empty() || req.name.size() > max_name_length)
    return "name must be 1 to 64 bytes";
  for (unsigned char c : req.name)
    if (c < 0x20 || c == 0x7f)
      return "name must not contain control characters";
  auto& d = req.birth_date;
  if (d.size() != 10 || d[4] != '-' || d[7] != '-')
    return "birth date must be YYYY-MM-DD";
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (d[i] < '0' || d[i] > '9')
      return "birth date must be YYYY-MM-DD";
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(d.substr(0, 4))},
                     month{static_cast<unsigned>(std::stoi(d.substr(5, 2)))},
                     day{static_cast<unsigned>(std::stoi(d.substr(8, 2)))}};
  if (!ymd.ok() || ymd.year() < year{1900})
    return "birth date is not a real date";
  if (sys_days{ymd} > floor<days>(system_clock::now()))
    return "birth date is in the future";
  if (!crypto::is_valid_sign_key(req.sign_key))
    return "sign key is not a valid Ed25519 public key";
  if (!crypto::is_valid_box_key(req.box_key))
    return "box key is not a valid X25519 public key";
  return std::nullopt;
}

std::optional<contact_state> contact_list_state::state_of(account_id other) const {
  auto i = entries_.find(other);
  if (i == entries_.end())
    return std::nullopt;
  return i->second;
}

contact_effect contact_list_state::add(account_id other) {
  auto state = state_of(other);
  if (!state) {
    entries_[other] = contact_state::outgoing;
    return contact_effect::notify_request;
  }
  switch (*state) {
  case contact_state::incoming:
    entries_[other] = contact_state::friends;
    return contact_effect::notify_accept;
  case contact_state::outgoing:
    return contact_effect::notify_request; // ask again: the first may have been lost
  default:
    return contact_effect::none;
  }
}

contact_effect contact_list_state::receive_request(account_id other) {
  auto state = state_of(other);
  if (!state) {
    entries_[other] = contact_state::incoming;
    return contact_effect::changed;
  }
  if (*state == contact_state::outgoing) {
    entries_[other] = contact_state::friends;
    return contact_effect::notify_accept;
  }
  if (*state == contact_state::friends)
    return contact_effect::notify_accept; // they lost our accept; say it again
  return contact_effect::none;
}

std::optional<contact_effect> contact_list_state::accept(account_id other) {
  auto state = state_of(other);
  if (state == contact_state::friends)
    return contact_effect::notify_accept;
  if (state != contact_state::incoming)
    return std::nullopt;
  entries_[other] = contact_state::friends;
  return contact_effect::notify_accept;
}

contact_effect contact_list_state::receive_accept(account_id other) {
  if (state_of(other) != contact_state::outgoing)
    return contact_effect::none;
  entries_[other] = contact_state::friends;
  return contact_effect::changed;
}

std::optional<contact_effect> contact_list_state::decline(account_id other) {
  if (state_of(other) != contact_state::incoming)
    return std::nullopt;
  entries_.erase(other);
  return contact_effect::notify_decline;
}

contact_effect contact_list_state::receive_decline(account_id other) {
  if (state_of(other) != contact_state::outgoing)
    return contact_effect::none;
  entries_.erase(other);
  return contact_effect::changed;
}

bytes contact_list_state::encode() const {
  json list = json::array();
  for (auto& [id, state] : entries_)
    list.push_back({{"id", id}, {"state", static_cast<int>(state)}});
  auto text = json{{"contacts", list}}.dump();
  return bytes(text.begin(), text.end());
}

std::optional<contact_list_state> contact_list_state::decode(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("contacts") || !j["contacts"].is_array())
    return std::nullopt;
  contact_list_state out;
  try {
    for (auto& e : j["contacts"]) {
      auto state = e.at("state").get<int>();
      if (state < 1 || state > 5)
        return std::nullopt;
      out.entries_[e.at("id").get<account_id>()] = static_cast<contact_state>(state);
    }
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return out;
}

} // namespace kinbox
