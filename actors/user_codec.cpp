// How a user's requests, answers and pushes are written as bytes when they cross nodes:
// the arguments and results of its interface that are not client bodies (deliver,
// attach, found, card...), its pushes, and the presence record it keeps in KV.
#include <caf/message.hpp>

#include "actors/user_actor.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

constexpr uint8_t presence_format = 1;

} // namespace

namespace {

enum class push_tag : uint8_t { mail = 1, kick = 2, reattach = 3, thawed = 4, asleep = 5 };

bytes encode_user_push(const caf::message& msg) {
  bytes out;
  wire::writer w{out};
  if (msg.match_elements<push_atom, account_id, std::vector<mail_push>>()) {
    auto& mail = msg.get_as<std::vector<mail_push>>(2);
    w.u8(static_cast<uint8_t>(push_tag::mail)).u64(msg.get_as<account_id>(1));
    w.u32(static_cast<uint32_t>(mail.size()));
    for (auto& m : mail) {
      bytes body;
      write_body(body, m);
      w.blob(body);
    }
  } else if (msg.match_elements<kick_atom, account_id, uint16_t>()) {
    w.u8(static_cast<uint8_t>(push_tag::kick))
        .u64(msg.get_as<account_id>(1))
        .u16(msg.get_as<uint16_t>(2));
  } else if (msg.match_elements<reattach_atom, account_id>()) {
    w.u8(static_cast<uint8_t>(push_tag::reattach)).u64(msg.get_as<account_id>(1));
  } else if (msg.match_elements<thawed_atom, account_id>()) {
    w.u8(static_cast<uint8_t>(push_tag::thawed)).u64(msg.get_as<account_id>(1));
  } else if (msg.match_elements<asleep_atom, account_id, bool>()) {
    w.u8(static_cast<uint8_t>(push_tag::asleep))
        .u64(msg.get_as<account_id>(1))
        .u8(msg.get_as<bool>(2) ? 1 : 0);
  }
  return out;
}

std::optional<caf::message> decode_user_push(std::span<const uint8_t> in) {
  wire::reader r{in};
  uint8_t tag = 0;
  account_id account = 0;
  r.u8(tag);
  r.u64(account);
  switch (static_cast<push_tag>(tag)) {
  case push_tag::mail: {
    uint32_t count = 0;
    if (!r.u32(count) || count > max_bus_batch)
      return std::nullopt;
    std::vector<mail_push> mail(count);
    for (auto& m : mail) {
      bytes body;
      if (!r.blob(body, max_max_frame_size))
        return std::nullopt;
      auto decoded = decode_body<mail_push>(body);
      if (!decoded)
        return std::nullopt;
      m = std::move(*decoded);
    }
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(push_atom::value, account, std::move(mail));
  }
  case push_tag::kick: {
    uint16_t code = 0;
    r.u16(code);
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(kick_atom::value, account, code);
  }
  case push_tag::reattach:
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(reattach_atom::value, account);
  case push_tag::thawed:
    if (!r.finished())
      return std::nullopt;
    return caf::make_message(thawed_atom::value, account);
  case push_tag::asleep: {
    uint8_t asleep = 2;
    r.u8(asleep);
    if (!r.finished() || asleep > 1)
      return std::nullopt;
    return caf::make_message(asleep_atom::value, account, asleep == 1);
  }
  }
  return std::nullopt;
}

failure malformed() {
  return failure{errc::malformed_frame, "the body does not match its type"};
}

} // namespace

entity_codec user_codec() {
  return {user_interface::codec(), {encode_user_push, decode_user_push}};
}

void write_body(bytes& out, const attach_body& x) {
  wire::writer{out}.blob(encode_endpoint(x.session));
  write_body(out, x.device);
}

template <>
result<attach_body> decode_body<attach_body>(std::span<const uint8_t> in) {
  wire::reader r{in};
  bytes session;
  if (!r.blob(session, 256))
    return malformed();
  auto e = decode_endpoint(session);
  if (!e)
    return malformed();
  auto device = decode_body<device_info>(in.subspan(4 + session.size()));
  if (!device)
    return device.error();
  return attach_body{*e, std::move(*device)};
}

void write_body(bytes& out, const attach_reply& x) {
  wire::writer{out}
      .str(x.node)
      .u64(x.incarnation)
      .u8(x.frozen ? 1 : 0)
      .u8(x.asleep ? 1 : 0)
      .u64(x.parent);
  write_body(out, x.account);
}

template <>
result<attach_reply> decode_body<attach_reply>(std::span<const uint8_t> in) {
  // node:str incarnation:u64 frozen:u8 asleep:u8 parent:u64, then the account as
  // login_ok carries it.
  wire::reader r{in};
  attach_reply x;
  uint8_t frozen = 2;
  uint8_t asleep = 2;
  r.str(x.node, 64);
  r.u64(x.incarnation);
  r.u8(frozen);
  r.u8(asleep);
  r.u64(x.parent);
  if (!r.ok() || frozen > 1 || asleep > 1)
    return malformed();
  x.frozen = frozen == 1;
  x.asleep = asleep == 1;
  auto info = decode_body<account_info>(in.subspan(4 + x.node.size() + 8 + 1 + 1 + 8));
  if (!info)
    return info.error();
  x.account = *info;
  return x;
}

bytes encode_presence(const presence_record& p) {
  bytes out;
  wire::writer{out}.u8(presence_format).str(p.node).u64(p.incarnation).u64(p.since_ms);
  return out;
}

std::optional<presence_record> decode_presence(std::span<const uint8_t> data) {
  wire::reader r{data};
  uint8_t format = 0;
  presence_record p;
  r.u8(format);
  r.str(p.node, 64);
  r.u64(p.incarnation);
  r.u64(p.since_ms);
  if (!r.finished() || format != presence_format)
    return std::nullopt;
  return p;
}

void write_body(bytes& out, const deliver_body& x) {
  out.reserve(out.size() + 21 + x.payload.size());
  wire::writer{out}.u8(static_cast<uint8_t>(x.kind)).fixed(x.id).blob(x.payload);
}

template <>
result<deliver_body> decode_body<deliver_body>(std::span<const uint8_t> in) {
  wire::reader r{in};
  deliver_body x;
  uint8_t kind = 0;
  r.u8(kind);
  r.fixed(x.id);
  r.blob(x.payload, max_payload_size);
  if (!r.finished() || !is_valid_mail_kind(kind))
    return malformed();
  x.kind = static_cast<mail_kind>(kind);
  return x;
}

void write_body(bytes& out, const found_body& x) {
  wire::writer{out}.str(x.name).str(x.birth_date).str(x.setup_hash).u64(x.setup_expires_ms);
}

template <>
result<found_body> decode_body<found_body>(std::span<const uint8_t> in) {
  wire::reader r{in};
  found_body x;
  r.str(x.name, max_name_length);
  r.str(x.birth_date, 10);
  r.str(x.setup_hash, 64);
  r.u64(x.setup_expires_ms);
  if (!r.finished())
    return malformed();
  return x;
}

void write_body(bytes& out, const found_reply& x) {
  wire::writer{out}.u8(x.made ? 1 : 0);
}

template <>
result<found_reply> decode_body<found_reply>(std::span<const uint8_t> in) {
  auto flag = wire::read_flag(in);
  return flag ? result<found_reply>{found_reply{*flag}} : malformed();
}

void write_body(bytes& out, const card_request& x) {
  wire::writer{out}.u8(x.with_avatar ? 1 : 0);
}

template <>
result<card_request> decode_body<card_request>(std::span<const uint8_t> in) {
  auto flag = wire::read_flag(in);
  return flag ? result<card_request>{card_request{*flag}} : malformed();
}

void write_body(bytes& out, const card_body& x) {
  write_body(out, x.profile);
  wire::writer{out}.u8(static_cast<uint8_t>(x.role)).str(x.parent_name);
}

template <>
result<card_body> decode_body<card_body>(std::span<const uint8_t> in) {
  // A contact-level profile, then role:u8 parent_name:str.
  wire::reader r{in};
  card_body x;
  uint8_t online = 2, full = 2, role = 0;
  r.u64(x.profile.id);
  r.str(x.profile.name, max_name_length);
  r.blob(x.profile.avatar, max_avatar_size);
  r.u8(online);
  r.u8(full);
  r.u8(role);
  r.str(x.parent_name, max_name_length);
  if (!r.finished() || online > 1 || full != 0 || !is_valid_role(role))
    return malformed();
  x.profile.online = online == 1;
  x.profile.full = false;
  x.role = static_cast<account_role>(role);
  return x;
}

void write_body(bytes& out, const unlink_notice& x) {
  wire::writer{out}.u8(static_cast<uint8_t>(x.reason));
}

template <>
result<unlink_notice> decode_body<unlink_notice>(std::span<const uint8_t> in) {
  if (in.size() != 1 || in[0] > static_cast<uint8_t>(unlink_reason::deleted_by_child))
    return malformed();
  return unlink_notice{static_cast<unlink_reason>(in[0])};
}

void write_body(bytes& out, const link_secret& x) {
  wire::writer{out}.u64(x.secret);
}

template <>
result<link_secret> decode_body<link_secret>(std::span<const uint8_t> in) {
  wire::reader r{in};
  link_secret x;
  r.u64(x.secret);
  if (!r.finished())
    return malformed();
  return x;
}

void write_body(bytes& out, const pin_hash_reply& x) {
  wire::writer{out}.str(x.hash);
}

template <>
result<pin_hash_reply> decode_body<pin_hash_reply>(std::span<const uint8_t> in) {
  wire::reader r{in};
  pin_hash_reply x;
  r.str(x.hash, 256);
  if (!r.finished())
    return malformed();
  return x;
}

void write_body(bytes& out, const ban_order& x) {
  wire::writer{out}.u8(x.ban ? 1 : 0);
  if (x.ban) {
    auto record = encode_ban(*x.ban);
    out.insert(out.end(), record.begin(), record.end());
  }
}

template <>
result<ban_order> decode_body<ban_order>(std::span<const uint8_t> in) {
  if (in.empty() || in[0] > 1)
    return malformed();
  if (in[0] == 0)
    return in.size() == 1 ? result<ban_order>{ban_order{}} : malformed();
  auto record = decode_ban(in.subspan(1));
  if (!record)
    return malformed();
  return ban_order{*record};
}

void write_body(bytes& out, const account_summary& x) {
  wire::writer{out}
      .u8(static_cast<uint8_t>(x.role))
      .u8(x.banned ? 1 : 0)
      .u8(x.frozen ? 1 : 0)
      .str(x.node)
      .str(x.session_node)
      .u64(x.envelopes)
      .u64(x.bytes);
}

template <>
result<account_summary> decode_body<account_summary>(std::span<const uint8_t> in) {
  wire::reader r{in};
  account_summary x;
  uint8_t role = 0, banned = 0, frozen = 0;
  r.u8(role);
  r.u8(banned);
  r.u8(frozen);
  r.str(x.node, 64);
  r.str(x.session_node, 64);
  r.u64(x.envelopes);
  r.u64(x.bytes);
  if (!r.finished() || role < 1 || role > 2 || banned > 1 || frozen > 1)
    return malformed();
  x.role = static_cast<account_role>(role);
  x.banned = banned == 1;
  x.frozen = frozen == 1;
  return x;
}

void write_body(bytes& out, const account_document& x) {
  out.insert(out.end(), x.json.begin(), x.json.end());
}

template <>
result<account_document> decode_body<account_document>(std::span<const uint8_t> in) {
  return account_document{std::string(in.begin(), in.end())};
}

void write_body(bytes& out, const endpoint& x) {
  auto e = encode_endpoint(x);
  out.insert(out.end(), e.begin(), e.end());
}

template <>
result<endpoint> decode_body<endpoint>(std::span<const uint8_t> in) {
  auto e = decode_endpoint(in);
  if (!e)
    return malformed();
  return *e;
}

void write_body(bytes& out, const relation_query& x) {
  wire::writer{out}.ids(x.ids);
}

template <>
result<relation_query> decode_body<relation_query>(std::span<const uint8_t> in) {
  wire::reader r{in};
  relation_query x;
  if (!r.ids(x.ids, max_group_members_wire) || !r.finished())
    return malformed();
  return x;
}

void write_body(bytes& out, const relation_answer& x) {
  wire::writer{out}.u8(x.child ? 1 : 0).u64(x.parent).ids(x.approved).u8(x.full ? 1 : 0);
}

template <>
result<relation_answer> decode_body<relation_answer>(std::span<const uint8_t> in) {
  wire::reader r{in};
  relation_answer x;
  uint8_t child = 2;
  uint8_t full = 2;
  r.u8(child);
  r.u64(x.parent);
  r.ids(x.approved, max_group_members_wire);
  r.u8(full);
  if (!r.finished() || child > 1 || full > 1)
    return malformed();
  x.child = child == 1;
  x.full = full == 1;
  return x;
}

std::vector<deliver_body> receipt_mail(mail_kind kind, std::span<const message_id> ids) {
  std::vector<deliver_body> out;
  for (size_t i = 0; i < ids.size(); i += max_receipt_ids + 1) {
    auto end = std::min(ids.size(), i + max_receipt_ids + 1);
    receipt_ids more;
    more.more.assign(ids.begin() + static_cast<ptrdiff_t>(i) + 1,
                     ids.begin() + static_cast<ptrdiff_t>(end));
    out.push_back(deliver_body{kind, ids[i], encode_body(more)});
  }
  return out;
}

} // namespace kinbox
