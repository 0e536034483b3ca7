// How a user's requests, answers and pushes are written as bytes: the bodies its requests
// carry between nodes (deliver, attach, found, card), the attach answer, the presence
// record, and the push codec the entity service uses for pushes that cross nodes.
#include <caf/message.hpp>

#include "actors/user_actor.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

constexpr uint8_t presence_format = 1;

} // namespace

bytes encode_deliver(const deliver_body& x) {
  bytes out;
  wire::writer{out}.u8(static_cast<uint8_t>(x.kind)).fixed(x.id).blob(x.payload);
  return out;
}

std::optional<send_as_deliver> deliver_from_send(std::span<const uint8_t> send_body) {
  send_as_deliver x;
  wire::reader r{send_body};
  r.u64(x.to);
  r.fixed(x.id);
  if (!r.skip_blob(max_payload_size) || !r.finished())
    return std::nullopt;
  // A send body after `to` is `id payload:blob`, which is a deliver body after its kind.
  constexpr size_t to_size = 8;
  x.body.reserve(1 + send_body.size() - to_size);
  x.body.push_back(static_cast<uint8_t>(mail_kind::message));
  x.body.insert(x.body.end(), send_body.begin() + to_size, send_body.end());
  return x;
}

namespace {

enum class push_tag : uint8_t { mail = 1, kick = 2, reattach = 3, thawed = 4 };

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
  }
  return std::nullopt;
}

} // namespace

push_codec user_push_codec() {
  return {encode_user_push, decode_user_push};
}

bytes encode_attach(const attach_body& x) {
  bytes out;
  wire::writer{out}.blob(encode_endpoint(x.session));
  write_body(out, x.device);
  return out;
}

std::optional<attach_body> decode_attach(std::span<const uint8_t> in) {
  wire::reader r{in};
  bytes session;
  if (!r.blob(session, 256))
    return std::nullopt;
  auto e = decode_endpoint(session);
  if (!e)
    return std::nullopt;
  auto device = decode_body<device_info>(in.subspan(4 + session.size()));
  if (!device)
    return std::nullopt;
  return attach_body{*e, std::move(*device)};
}

bytes encode_attach_reply(const attach_reply& x) {
  bytes out;
  wire::writer{out}.str(x.node).u64(x.incarnation).u8(x.frozen ? 1 : 0);
  write_body(out, x.account);
  return out;
}

std::optional<attach_reply> decode_attach_reply(std::span<const uint8_t> in) {
  // node:str incarnation:u64 frozen:u8, then the account as login_ok carries it.
  wire::reader r{in};
  attach_reply x;
  uint8_t frozen = 0;
  r.str(x.node, 64);
  r.u64(x.incarnation);
  r.u8(frozen);
  if (!r.ok() || frozen > 1)
    return std::nullopt;
  x.frozen = frozen == 1;
  auto info = decode_body<account_info>(in.subspan(4 + x.node.size() + 8 + 1));
  if (!info)
    return std::nullopt;
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

std::optional<deliver_body> decode_deliver(std::span<const uint8_t> in) {
  wire::reader r{in};
  deliver_body x;
  uint8_t kind = 0;
  r.u8(kind);
  r.fixed(x.id);
  r.blob(x.payload, max_payload_size);
  if (!r.finished() || !is_valid_mail_kind(kind))
    return std::nullopt;
  x.kind = static_cast<mail_kind>(kind);
  return x;
}

bytes encode_found(const found_body& x) {
  bytes out;
  wire::writer{out}.str(x.name).str(x.birth_date).str(x.setup_hash).u64(x.setup_expires_ms);
  return out;
}

std::optional<found_body> decode_found(std::span<const uint8_t> in) {
  wire::reader r{in};
  found_body x;
  r.str(x.name, max_name_length);
  r.str(x.birth_date, 10);
  r.str(x.setup_hash, 64);
  r.u64(x.setup_expires_ms);
  if (!r.finished())
    return std::nullopt;
  return x;
}

bytes encode_card(const card_body& x) {
  bytes out;
  write_body(out, x.profile);
  wire::writer{out}.u8(static_cast<uint8_t>(x.role)).str(x.parent_name);
  return out;
}

std::optional<card_body> decode_card(std::span<const uint8_t> in) {
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
    return std::nullopt;
  x.profile.online = online == 1;
  x.profile.full = false;
  x.role = static_cast<account_role>(role);
  return x;
}

} // namespace kinbox
