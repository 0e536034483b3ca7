#include "actors/chat.hpp"
#include "actors/chat_interface.hpp"
#include "actors/names.hpp"

#include <sodium.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "protocol/json_fields.hpp"
#include "protocol/text.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

using nlohmann::json;

bool chat_record::has(account_id a) const {
  return std::find(members.begin(), members.end(), a) != members.end();
}

group_info chat_record::info() const {
  return group_info{id, name, creator, version, members};
}

void chat_record::add(account_id a) {
  members.push_back(a);
  ++version;
}

void chat_record::remove(account_id a) {
  std::erase(members, a);
  ++version;
}

bytes chat_record::encode() const {
  json j{{"id", id}, {"name", name}, {"creator", creator}, {"version", version},
         {"members", members}};
  auto text = j.dump();
  return bytes(text.begin(), text.end());
}

std::optional<chat_record> chat_record::decode(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  chat_record c;
  try {
    c.id = json_uint<group_id>(j, "id");
    c.name = j.at("name").get<std::string>();
    c.creator = json_uint<account_id>(j, "creator");
    c.version = json_uint<uint64_t>(j, "version");
    for (auto& m : j.at("members"))
      c.members.push_back(json_uint<account_id>(m));
  } catch (const json::exception&) {
    return std::nullopt;
  }
  if (c.members.size() > max_group_members_wire || check_group_name(c.name))
    return std::nullopt;
  return c;
}

std::string chat_key(group_id id) {
  return "g" + std::to_string(id);
}

group_id random_group_id() {
  group_id id = 0;
  while (!is_group_id(id))
    randombytes_buf(&id, sizeof(id));
  return id;
}

result<std::vector<account_id>> check_create(account_id creator, const group_create_request& req,
                                             size_t max_members) {
  if (auto why = check_group_title(req.name))
    return failure{errc::invalid_argument, "group " + *why};
  std::vector<account_id> members{creator};
  for (auto m : req.members) {
    if (m == 0 || m == creator)
      return failure{errc::invalid_argument, "members are other accounts"};
    if (std::find(members.begin(), members.end(), m) != members.end())
      return failure{errc::invalid_argument, "a member is named twice"};
    members.push_back(m);
  }
  if (members.size() < 2 || members.size() > max_members)
    return failure{errc::invalid_argument,
                   "a group has 2 to " + std::to_string(max_members) + " members"};
  return members;
}

bool approves_all(const relation_answer& by, std::span<const account_id> others) {
  std::set<account_id> approved(by.approved.begin(), by.approved.end());
  return std::all_of(others.begin(), others.end(),
                     [&](account_id o) { return approved.count(o) != 0; });
}

bool pairwise_approved(std::span<const account_id> members, std::span<const account_id> joining,
                       const std::map<account_id, relation_answer>& answers) {
  auto is_joining = [&](account_id a) {
    return std::find(joining.begin(), joining.end(), a) != joining.end();
  };
  for (auto x : members) {
    auto ax = answers.find(x);
    if (ax == answers.end() || (is_joining(x) && ax->second.full))
      return false;
    if (!ax->second.child)
      continue;
    std::vector<account_id> must;
    for (auto y : members)
      if (y != x && (is_joining(x) || is_joining(y)))
        must.push_back(y);
    if (!approves_all(ax->second, must))
      return false;
  }
  return true;
}

std::optional<failure> check_keys(const chat_record& chat, account_id sender,
                                  const std::vector<wrapped_key>& keys) {
  std::set<account_id> seen;
  for (auto& k : keys) {
    if (k.member == sender || !chat.has(k.member))
      return failure{errc::invalid_argument, "a key names no other member of the group"};
    if (!seen.insert(k.member).second)
      return failure{errc::invalid_argument, "a member has two keys"};
    if (k.key.empty())
      return failure{errc::invalid_argument, "a wrapped key is empty"};
  }
  return std::nullopt;
}

} // namespace kinbox

namespace kinbox {

namespace {

failure malformed() {
  return failure{errc::malformed_frame, "the body does not match its type"};
}

} // namespace

void write_body(bytes& out, const relation_end& x) {
  wire::writer{out}.u64(x.other);
}

template <>
result<relation_end> decode_body<relation_end>(std::span<const uint8_t> in) {
  wire::reader r{in};
  relation_end x;
  r.u64(x.other);
  if (!r.finished())
    return malformed();
  return x;
}

void write_body(bytes& out, const group_send_result& x) {
  wire::writer{out}.u8(x.stale ? 1 : 0);
  if (x.stale)
    write_body(out, x.current);
}

template <>
result<group_send_result> decode_body<group_send_result>(std::span<const uint8_t> in) {
  if (in.size() == 1 && in[0] == 0)
    return group_send_result{};
  if (in.empty() || in[0] != 1)
    return malformed();
  auto current = decode_body<group_info>(in.subspan(1));
  if (!current)
    return malformed();
  return group_send_result{true, std::move(*current)};
}

entity_codec chat_codec() {
  return {chat_interface::codec(),
          {[](const caf::message&) { return bytes{}; },
           [](std::span<const uint8_t>) -> std::optional<caf::message> { return std::nullopt; }}};
}

} // namespace kinbox
