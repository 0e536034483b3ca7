#include "actors/family.hpp"
#include "protocol/json_fields.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace kinbox {

using nlohmann::json;

std::optional<uint64_t> family_state::pin_wait(uint64_t now_ms) const {
  if (locked_until_ms > now_ms)
    return locked_until_ms - now_ms;
  return std::nullopt;
}

bool family_state::count_pin_try(uint64_t now_ms, const pin_rules& rules) {
  ++pin_failures;
  if (pin_failures < rules.max_failures)
    return false;
  // Past the limit every wrong try locks again, each lockout twice the one before.
  auto doubling = std::min<uint32_t>(lockouts, 30);
  auto lockout = std::min(rules.max_lockout_ms, rules.first_lockout_ms << doubling);
  locked_until_ms = now_ms + lockout;
  ++lockouts;
  return true;
}

void family_state::pin_right() {
  pin_failures = 0;
  lockouts = 0;
  locked_until_ms = 0;
}

bool family_state::add_approval(account_id other, bool ours, uint64_t now_ms) {
  auto i = std::find_if(approvals.begin(), approvals.end(),
                        [&](const pending_approval& a) { return a.other == other; });
  if (i != approvals.end())
    return false;
  approvals.push_back({other, ours, now_ms});
  return true;
}

std::optional<pending_approval> family_state::take_approval(account_id other) {
  auto i = std::find_if(approvals.begin(), approvals.end(),
                        [&](const pending_approval& a) { return a.other == other; });
  if (i == approvals.end())
    return std::nullopt;
  auto out = *i;
  approvals.erase(i);
  return out;
}

bool family_state::expire_approvals(uint64_t now_ms, uint64_t ttl_ms) {
  auto before = approvals.size();
  std::erase_if(approvals, [&](const pending_approval& a) { return a.since_ms + ttl_ms <= now_ms; });
  return approvals.size() != before;
}

void family_state::unlink() {
  parent = 0;
  linked_ms = 0;
  pin_hash.clear();
  policy = friend_policy::parent_approves;
  location_sharing = true;
  approvals.clear();
}

bytes family_state::encode() const {
  json list = json::array();
  for (auto& a : approvals)
    list.push_back({{"other", a.other}, {"ours", a.ours}, {"since", a.since_ms}});
  json j{{"child", child},
         {"parent", parent},
         {"linked_ms", linked_ms},
         {"pin_hash", pin_hash},
         {"policy", policy == friend_policy::child_alone ? "child_alone" : "parent_approves"},
         {"location_sharing", location_sharing},
         {"pin_failures", pin_failures},
         {"locked_until_ms", locked_until_ms},
         {"lockouts", lockouts},
         {"approvals", list}};
  if (redeems.tokens >= 0)
    j["redeems"] = {{"tokens", redeems.tokens}, {"at", redeems.at_ms}};
  auto text = j.dump();
  return bytes(text.begin(), text.end());
}

std::optional<family_state> family_state::decode(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  family_state f;
  try {
    f.child = json_uint<account_id>(j, "child");
    f.parent = json_uint<account_id>(j, "parent");
    f.linked_ms = json_uint<uint64_t>(j, "linked_ms");
    f.pin_hash = j.at("pin_hash").get<std::string>();
    f.policy = j.at("policy").get<std::string>() == "child_alone" ? friend_policy::child_alone
                                                                   : friend_policy::parent_approves;
    f.location_sharing = j.at("location_sharing").get<bool>();
    f.pin_failures = json_uint<uint32_t>(j, "pin_failures");
    f.locked_until_ms = json_uint<uint64_t>(j, "locked_until_ms");
    f.lockouts = json_uint<uint32_t>(j, "lockouts");
    for (auto& a : j.at("approvals"))
      f.approvals.push_back({json_uint<account_id>(a, "other"), a.at("ours").get<bool>(),
                             json_uint<uint64_t>(a, "since")});
    if (j.contains("redeems")) {
      f.redeems.tokens = std::max(0.0, j["redeems"].at("tokens").get<double>());
      f.redeems.at_ms = json_uint<uint64_t>(j["redeems"], "at");
    }
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return f;
}

} // namespace kinbox
