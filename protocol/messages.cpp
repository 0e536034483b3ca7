#include "protocol/messages.hpp"

#include <algorithm>

#include "protocol/wire.hpp"

namespace kinbox {

namespace {

bool read_role(wire::reader& r, account_role& x) {
  uint8_t raw = 0;
  if (!r.u8(raw) || !is_valid_role(raw))
    return false;
  x = static_cast<account_role>(raw);
  return true;
}

bool read_kind(wire::reader& r, mail_kind& x) {
  uint8_t raw = 0;
  if (!r.u8(raw) || !is_valid_mail_kind(raw))
    return false;
  x = static_cast<mail_kind>(raw);
  return true;
}

bool read_state(wire::reader& r, contact_state& x) {
  uint8_t raw = 0;
  if (!r.u8(raw) || raw < 1 || raw > static_cast<uint8_t>(contact_state::child))
    return false;
  x = static_cast<contact_state>(raw);
  return true;
}

} // namespace

void write_body(bytes& out, const client_hello& x) {
  wire::writer w{out};
  w.fixed(x.ephemeral_key).u8(static_cast<uint8_t>(x.ciphers.size()));
  for (auto c : x.ciphers)
    w.u8(static_cast<uint8_t>(c));
}

void write_body(bytes& out, const server_hello& x) {
  wire::writer{out}
      .fixed(x.cluster_key)
      .fixed(x.ephemeral_key)
      .u32(x.max_frame_size)
      .u8(static_cast<uint8_t>(x.cipher));
}

void write_body(bytes& out, const error_body& x) {
  wire::writer{out}.u16(static_cast<uint16_t>(x.code)).str(x.message).u32(x.retry_after_ms);
}

void write_body(bytes& out, const redirect_body& x) {
  wire::writer w{out};
  w.u16(static_cast<uint16_t>(x.code)).str(x.message);
  auto count = std::min(x.gateways.size(), max_redirect_gateways);
  w.u8(static_cast<uint8_t>(count));
  for (size_t i = 0; i < count; ++i)
    w.str(x.gateways[i]);
}

void write_body(bytes& out, const register_request& x) {
  wire::writer{out}
      .str(x.name)
      .str(x.birth_date)
      .u8(static_cast<uint8_t>(x.role))
      .fixed(x.sign_key)
      .fixed(x.box_key);
}

void write_body(bytes& out, const register_reply& x) {
  wire::writer{out}.u64(x.id);
}

void write_body(bytes& out, const login_request& x) {
  wire::writer{out}.u64(x.id).fixed(x.proof);
  write_body(out, x.device);
}

namespace {

void write_device(wire::writer& w, const device_info& x) {
  w.str(x.os).str(x.app_version).str(x.language).str(x.time_zone);
}

/// Device fields are read up to `max_device_wire_field` bytes: a longer one than the
/// server keeps is a bad value (invalid_argument), not a broken frame.
void read_device(wire::reader& r, device_info& x) {
  r.str(x.os, max_device_wire_field);
  r.str(x.app_version, max_device_wire_field);
  r.str(x.language, max_device_wire_field);
  r.str(x.time_zone, max_device_wire_field);
}

} // namespace

void write_body(bytes& out, const device_info& x) {
  wire::writer w{out};
  write_device(w, x);
}

static bool read_body(std::span<const uint8_t> in, device_info& x) {
  wire::reader r{in};
  read_device(r, x);
  return r.finished();
}

void write_body(bytes& out, const profile_set_request& x) {
  wire::writer{out}.str(x.name).str(x.country).u8(static_cast<uint8_t>(x.gender_of)).blob(x.avatar);
}

static bool read_body(std::span<const uint8_t> in, profile_set_request& x) {
  wire::reader r{in};
  uint8_t g = 0;
  r.str(x.name, max_name_length);
  r.str(x.country, max_country_wire_field);
  r.u8(g);
  r.blob(x.avatar, max_avatar_size);
  x.gender_of = static_cast<gender>(g); // checked with the other fields (check_profile)
  return r.finished();
}

void write_body(bytes& out, const profile_reply& x) {
  wire::writer w{out};
  w.u64(x.id).str(x.name).blob(x.avatar).u8(x.online ? 1 : 0).u8(x.full ? 1 : 0);
  if (!x.full)
    return;
  w.str(x.birth_date).str(x.country).u8(static_cast<uint8_t>(x.gender_of)).u8(static_cast<uint8_t>(x.role));
  write_device(w, x.device);
}

static bool read_body(std::span<const uint8_t> in, profile_reply& x) {
  wire::reader r{in};
  uint8_t online = 2, full = 2;
  r.u64(x.id);
  r.str(x.name, max_name_length);
  r.blob(x.avatar, max_avatar_size);
  r.u8(online);
  r.u8(full);
  x.online = online == 1;
  x.full = full == 1;
  if (online > 1 || full > 1)
    return false;
  if (x.full) {
    uint8_t g = 0xff;
    r.str(x.birth_date, 10);
    r.str(x.country, 2);
    r.u8(g);
    x.gender_of = static_cast<gender>(g);
    if (!read_role(r, x.role) || g > 3)
      return false;
    read_device(r, x.device);
  }
  return r.finished();
}

void write_body(bytes& out, const account_info& x) {
  wire::writer{out}.u64(x.id).str(x.name).u8(static_cast<uint8_t>(x.role));
}

void write_body(bytes& out, const target_request& x) {
  wire::writer{out}.u64(x.id);
}

void write_body(bytes& out, const contact_list& x) {
  wire::writer w{out};
  w.u32(static_cast<uint32_t>(x.entries.size()));
  for (auto& e : x.entries)
    w.u64(e.id).u8(static_cast<uint8_t>(e.state)).str(e.name);
}

void write_body(bytes& out, const key_reply& x) {
  wire::writer{out}.u64(x.id).fixed(x.box_key).fixed(x.sign_key);
}

void write_body(bytes& out, const status_reply& x) {
  wire::writer{out}.u64(x.id).u8(x.online ? 1 : 0).u64(x.last_seen_ms);
}

void write_body(bytes& out, const send_request& x) {
  wire::writer{out}.u64(x.to).fixed(x.id).blob(x.payload);
}

void write_body(bytes& out, const accepted_reply& x) {
  wire::writer{out}.fixed(x.id);
}

void write_body(bytes& out, const ack_request& x) {
  wire::writer w{out};
  w.u16(static_cast<uint16_t>(x.keys.size()));
  for (auto& k : x.keys)
    w.u8(static_cast<uint8_t>(k.kind)).u64(k.sender).fixed(k.id);
}

void write_body(bytes& out, const mail_push& x) {
  wire::writer{out}
      .u8(static_cast<uint8_t>(x.kind))
      .u64(x.from)
      .fixed(x.id)
      .u64(x.stored_at_ms)
      .blob(x.payload);
}

static bool read_body(std::span<const uint8_t> in, client_hello& x) {
  wire::reader r{in};
  r.fixed(x.ephemeral_key);
  uint8_t n = 0;
  if (!r.u8(n) || n == 0 || n > max_offered_ciphers)
    return false;
  x.ciphers.clear();
  for (uint8_t i = 0; i < n; ++i) {
    uint8_t c = 0;
    r.u8(c);
    x.ciphers.push_back(static_cast<record_cipher>(c)); // unknown values are skipped by the server
  }
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, server_hello& x) {
  wire::reader r{in};
  r.fixed(x.cluster_key);
  r.fixed(x.ephemeral_key);
  r.u32(x.max_frame_size);
  uint8_t c = 0;
  r.u8(c);
  x.cipher = static_cast<record_cipher>(c);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, error_body& x) {
  wire::reader r{in};
  uint16_t code = 0;
  r.u16(code);
  r.str(x.message, max_text_length);
  r.u32(x.retry_after_ms);
  x.code = static_cast<errc>(code);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, redirect_body& x) {
  wire::reader r{in};
  uint16_t code = 0;
  uint8_t count = 0;
  r.u16(code);
  r.str(x.message, max_text_length);
  r.u8(count);
  if (count > max_redirect_gateways)
    return false;
  x.gateways.resize(count);
  for (auto& g : x.gateways)
    r.str(g, max_gateway_length);
  x.code = static_cast<errc>(code);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, register_request& x) {
  wire::reader r{in};
  uint8_t role = 0;
  r.str(x.name, max_name_length);
  r.str(x.birth_date, max_date_wire_field);
  r.u8(role);
  r.fixed(x.sign_key);
  r.fixed(x.box_key);
  x.role = static_cast<account_role>(role); // checked with the other fields
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, register_reply& x) {
  wire::reader r{in};
  r.u64(x.id);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, login_request& x) {
  wire::reader r{in};
  r.u64(x.id);
  r.fixed(x.proof);
  if (r.finished())
    return true; // an app that tells nothing of its device
  read_device(r, x.device);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, account_info& x) {
  wire::reader r{in};
  r.u64(x.id);
  r.str(x.name, max_name_length);
  bool valid = read_role(r, x.role);
  return valid && r.finished();
}

static bool read_body(std::span<const uint8_t> in, target_request& x) {
  wire::reader r{in};
  r.u64(x.id);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, contact_list& x) {
  wire::reader r{in};
  uint32_t n = 0;
  if (!r.u32(n) || n > in.size())
    return false;
  x.entries.resize(n);
  bool valid = true;
  for (auto& e : x.entries) {
    r.u64(e.id);
    valid = read_state(r, e.state) && valid;
    r.str(e.name, max_name_length);
  }
  return valid && r.finished();
}

static bool read_body(std::span<const uint8_t> in, key_reply& x) {
  wire::reader r{in};
  r.u64(x.id);
  r.fixed(x.box_key);
  r.fixed(x.sign_key);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, status_reply& x) {
  wire::reader r{in};
  uint8_t online = 0;
  r.u64(x.id);
  r.u8(online);
  r.u64(x.last_seen_ms);
  x.online = online != 0;
  return r.finished() && online <= 1;
}

static bool read_body(std::span<const uint8_t> in, send_request& x) {
  wire::reader r{in};
  r.u64(x.to);
  r.fixed(x.id);
  r.blob(x.payload, max_payload_size);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, accepted_reply& x) {
  wire::reader r{in};
  r.fixed(x.id);
  return r.finished();
}

static bool read_body(std::span<const uint8_t> in, ack_request& x) {
  wire::reader r{in};
  uint16_t n = 0;
  if (!r.u16(n) || n > max_ack_keys)
    return false;
  x.keys.resize(n);
  bool valid = true;
  for (auto& k : x.keys) {
    valid = read_kind(r, k.kind) && valid;
    r.u64(k.sender);
    r.fixed(k.id);
  }
  return valid && r.finished();
}

static bool read_body(std::span<const uint8_t> in, mail_push& x) {
  wire::reader r{in};
  bool valid = read_kind(r, x.kind);
  r.u64(x.from);
  r.fixed(x.id);
  r.u64(x.stored_at_ms);
  r.blob(x.payload, max_payload_size);
  return valid && r.finished();
}

void write_body(bytes& out, const link_create_request& x) {
  wire::writer{out}.str(x.pin);
}

static bool read_body(std::span<const uint8_t> in, link_create_request& x) {
  wire::reader r{in};
  r.str(x.pin, max_pin_field);
  return r.finished();
}

void write_body(bytes& out, const link_code_reply& x) {
  wire::writer{out}.u64(x.secret).u32(x.expires_in_ms);
}

static bool read_body(std::span<const uint8_t> in, link_code_reply& x) {
  wire::reader r{in};
  r.u64(x.secret);
  r.u32(x.expires_in_ms);
  return r.finished();
}

void write_body(bytes& out, const link_redeem_request& x) {
  wire::writer w{out};
  w.u64(x.parent).u64(x.secret);
  if (!x.pin.empty())
    w.str(x.pin);
}

static bool read_body(std::span<const uint8_t> in, link_redeem_request& x) {
  wire::reader r{in};
  r.u64(x.parent);
  r.u64(x.secret);
  if (r.ok() && r.remaining() > 0)
    r.str(x.pin, max_pin_field);
  return r.finished();
}

void write_body(bytes& out, const child_create_request& x) {
  wire::writer{out}.str(x.name).str(x.birth_date);
}

static bool read_body(std::span<const uint8_t> in, child_create_request& x) {
  wire::reader r{in};
  r.str(x.name, max_name_length);
  r.str(x.birth_date, max_date_wire_field);
  return r.finished();
}

void write_body(bytes& out, const child_setup_reply& x) {
  wire::writer{out}.u64(x.child).u64(x.secret).u32(x.expires_in_ms);
}

static bool read_body(std::span<const uint8_t> in, child_setup_reply& x) {
  wire::reader r{in};
  r.u64(x.child);
  r.u64(x.secret);
  r.u32(x.expires_in_ms);
  return r.finished();
}

void write_body(bytes& out, const register_child_request& x) {
  wire::writer{out}.u64(x.child).u64(x.secret).fixed(x.sign_key).fixed(x.box_key);
}

static bool read_body(std::span<const uint8_t> in, register_child_request& x) {
  wire::reader r{in};
  r.u64(x.child);
  r.u64(x.secret);
  r.fixed(x.sign_key);
  r.fixed(x.box_key);
  return r.finished();
}

void write_body(bytes& out, const account_delete_request& x) {
  wire::writer w{out};
  w.u64(x.id);
  if (!x.pin.empty())
    w.str(x.pin);
}

static bool read_body(std::span<const uint8_t> in, account_delete_request& x) {
  wire::reader r{in};
  r.u64(x.id);
  if (r.ok() && r.remaining() > 0)
    r.str(x.pin, max_pin_field);
  return r.finished();
}

void write_body(bytes& out, const link_info& x) {
  wire::writer{out}
      .u64(x.child)
      .u64(x.parent)
      .u8(x.policy)
      .u8(x.location_sharing ? 1 : 0)
      .u8(x.pin_set ? 1 : 0)
      .u64(x.locked_until_ms);
}

static bool read_body(std::span<const uint8_t> in, link_info& x) {
  wire::reader r{in};
  uint8_t sharing = 0;
  uint8_t pin = 0;
  r.u64(x.child);
  r.u64(x.parent);
  r.u8(x.policy);
  r.u8(sharing);
  r.u8(pin);
  r.u64(x.locked_until_ms);
  x.location_sharing = sharing != 0;
  x.pin_set = pin != 0;
  return r.finished();
}

void write_body(bytes& out, const pin_set_request& x) {
  wire::writer{out}.u64(x.child).str(x.pin);
}

static bool read_body(std::span<const uint8_t> in, pin_set_request& x) {
  wire::reader r{in};
  r.u64(x.child);
  r.str(x.pin, max_pin_field);
  return r.finished();
}

void write_body(bytes& out, const pin_change_request& x) {
  wire::writer{out}.str(x.old_pin).str(x.new_pin);
}

static bool read_body(std::span<const uint8_t> in, pin_change_request& x) {
  wire::reader r{in};
  r.str(x.old_pin, max_pin_field);
  r.str(x.new_pin, max_pin_field);
  return r.finished();
}

void write_body(bytes& out, const approval_list& x) {
  wire::writer w{out};
  w.u32(static_cast<uint32_t>(x.entries.size()));
  for (auto& e : x.entries)
    w.u64(e.other)
        .u8(e.ours ? 1 : 0)
        .u64(e.since_ms)
        .str(e.name)
        .u8(static_cast<uint8_t>(e.role))
        .str(e.parent_name);
}

static bool read_body(std::span<const uint8_t> in, approval_list& x) {
  wire::reader r{in};
  uint32_t n = 0;
  if (!r.u32(n) || n > in.size())
    return false;
  x.entries.resize(n);
  for (auto& e : x.entries) {
    uint8_t ours = 0;
    uint8_t role = 0;
    r.u64(e.other);
    r.u8(ours);
    r.u64(e.since_ms);
    r.str(e.name, max_name_length);
    r.u8(role);
    r.str(e.parent_name, max_name_length);
    e.ours = ours != 0;
    if (role > 2)
      return false;
    e.role = static_cast<account_role>(role);
  }
  return r.finished();
}

void write_body(bytes& out, const profile_request& x) {
  wire::writer w{out};
  w.u64(x.id);
  if (x.child != 0)
    w.u64(x.child);
}

static bool read_body(std::span<const uint8_t> in, profile_request& x) {
  wire::reader r{in};
  r.u64(x.id);
  if (r.ok() && r.remaining() > 0)
    r.u64(x.child);
  return r.finished();
}

void write_body(bytes& out, const contact_action& x) {
  wire::writer{out}.u64(x.owner).u64(x.other);
}

static bool read_body(std::span<const uint8_t> in, contact_action& x) {
  wire::reader r{in};
  r.u64(x.owner);
  r.u64(x.other);
  return r.finished();
}

namespace {

constexpr std::string_view category_names[] = {"harassment", "bullying",      "sexual_content",
                                               "violence",   "impersonation", "other"};

} // namespace

std::string_view contact_state_name(contact_state s) {
  switch (s) {
  case contact_state::outgoing:
    return "requested";
  case contact_state::incoming:
    return "incoming";
  case contact_state::friends:
    return "friend";
  case contact_state::blocked:
    return "blocked";
  case contact_state::awaiting_parent:
    return "awaiting_parent";
  case contact_state::parent:
    return "parent";
  case contact_state::child:
    return "child";
  }
  return "unknown";
}

std::string_view mail_kind_name(mail_kind k) {
  switch (k) {
  case mail_kind::message:
    return "message";
  case mail_kind::delivered:
    return "delivered";
  case mail_kind::expired:
    return "expired";
  case mail_kind::notice:
    return "notice";
  case mail_kind::location:
    return "location";
  case mail_kind::group:
    return "group";
  case mail_kind::read:
    return "read";
  case mail_kind::typing:
    return "typing";
  case mail_kind::missed_call:
    return "missed_call";
  case mail_kind::call:
    return "call";
  case mail_kind::quiet:
    return "quiet";
  case mail_kind::moment:
    return "moment";
  case mail_kind::reaction:
    return "reaction";
  case mail_kind::retraction:
    return "retraction";
  }
  return "unknown";
}

std::string_view gender_name(gender g) {
  switch (g) {
  case gender::female:
    return "female";
  case gender::male:
    return "male";
  case gender::other:
    return "other";
  case gender::unsaid:
    break;
  }
  return "unsaid";
}

std::string_view report_category_name(report_category c) {
  auto i = static_cast<size_t>(c);
  return i >= 1 && i <= std::size(category_names) ? category_names[i - 1] : "unknown";
}

std::optional<report_category> report_category_from(std::string_view name) {
  for (size_t i = 0; i < std::size(category_names); ++i)
    if (category_names[i] == name)
      return static_cast<report_category>(i + 1);
  return std::nullopt;
}

void write_body(bytes& out, const report_request& x) {
  wire::writer{out}.u64(x.other).u8(static_cast<uint8_t>(x.category));
}

static bool read_body(std::span<const uint8_t> in, report_request& x) {
  wire::reader r{in};
  uint8_t category = 0;
  r.u64(x.other);
  r.u8(category);
  x.category = static_cast<report_category>(category);
  return r.finished() && category >= 1 && category <= std::size(category_names);
}

void write_body(bytes& out, const approval_decision& x) {
  wire::writer{out}.u64(x.child).u64(x.other).u8(x.approve ? 1 : 0);
}

static bool read_body(std::span<const uint8_t> in, approval_decision& x) {
  wire::reader r{in};
  uint8_t approve = 2;
  r.u64(x.child);
  r.u64(x.other);
  r.u8(approve);
  x.approve = approve == 1;
  return r.finished() && approve <= 1;
}

void write_body(bytes& out, const approval_by_pin& x) {
  wire::writer{out}.u64(x.other).u8(x.approve ? 1 : 0).str(x.pin);
}

static bool read_body(std::span<const uint8_t> in, approval_by_pin& x) {
  wire::reader r{in};
  uint8_t approve = 2;
  r.u64(x.other);
  r.u8(approve);
  r.str(x.pin, max_pin_field);
  x.approve = approve == 1;
  return r.finished() && approve <= 1;
}

void write_body(bytes& out, const policy_request& x) {
  wire::writer{out}.u64(x.child).u8(x.policy);
}

static bool read_body(std::span<const uint8_t> in, policy_request& x) {
  wire::reader r{in};
  r.u64(x.child);
  r.u8(x.policy);
  return r.finished() && (x.policy == 1 || x.policy == 2);
}

void write_body(bytes& out, const notice_body& x) {
  wire::writer{out}.u8(static_cast<uint8_t>(x.type)).u64(x.child).u64(x.other).u64(x.value);
}

static bool read_body(std::span<const uint8_t> in, notice_body& x) {
  wire::reader r{in};
  uint8_t type = 0;
  r.u8(type);
  r.u64(x.child);
  r.u64(x.other);
  r.u64(x.value);
  x.type = static_cast<notice_type>(type);
  return r.finished() && type >= 1 && type <= max_notice_type;
}

void write_body(bytes& out, const location_update& x) {
  wire::writer{out}.blob(x.payload);
}

static bool read_body(std::span<const uint8_t> in, location_update& x) {
  wire::reader r{in};
  r.blob(x.payload, max_location_payload);
  return r.finished() && !x.payload.empty();
}

void write_body(bytes& out, const location_sharing_request& x) {
  wire::writer{out}.u64(x.child).u8(x.on ? 1 : 0);
}

static bool read_body(std::span<const uint8_t> in, location_sharing_request& x) {
  wire::reader r{in};
  uint8_t on = 2;
  r.u64(x.child);
  r.u8(on);
  x.on = on == 1;
  return r.finished() && on <= 1;
}

template <class T>
result<T> decode_body(std::span<const uint8_t> in) {
  T x{};
  if (!read_body(in, x))
    return failure{errc::malformed_frame, "the frame body does not match its type"};
  return x;
}

template result<client_hello> decode_body<client_hello>(std::span<const uint8_t>);
template result<server_hello> decode_body<server_hello>(std::span<const uint8_t>);
template result<error_body> decode_body<error_body>(std::span<const uint8_t>);
template result<redirect_body> decode_body<redirect_body>(std::span<const uint8_t>);
template result<register_request> decode_body<register_request>(std::span<const uint8_t>);
template result<register_reply> decode_body<register_reply>(std::span<const uint8_t>);
template result<child_create_request> decode_body<child_create_request>(std::span<const uint8_t>);
template result<child_setup_reply> decode_body<child_setup_reply>(std::span<const uint8_t>);
template result<register_child_request> decode_body<register_child_request>(std::span<const uint8_t>);
template result<account_delete_request> decode_body<account_delete_request>(std::span<const uint8_t>);
template result<login_request> decode_body<login_request>(std::span<const uint8_t>);
template result<account_info> decode_body<account_info>(std::span<const uint8_t>);
template result<target_request> decode_body<target_request>(std::span<const uint8_t>);
template result<profile_request> decode_body<profile_request>(std::span<const uint8_t>);
template result<device_info> decode_body<device_info>(std::span<const uint8_t>);
template result<profile_set_request> decode_body<profile_set_request>(std::span<const uint8_t>);
template result<profile_reply> decode_body<profile_reply>(std::span<const uint8_t>);
template result<contact_action> decode_body<contact_action>(std::span<const uint8_t>);
template result<report_request> decode_body<report_request>(std::span<const uint8_t>);
template result<contact_list> decode_body<contact_list>(std::span<const uint8_t>);
template result<key_reply> decode_body<key_reply>(std::span<const uint8_t>);
template result<status_reply> decode_body<status_reply>(std::span<const uint8_t>);
template result<send_request> decode_body<send_request>(std::span<const uint8_t>);
template result<accepted_reply> decode_body<accepted_reply>(std::span<const uint8_t>);
template result<ack_request> decode_body<ack_request>(std::span<const uint8_t>);
template result<mail_push> decode_body<mail_push>(std::span<const uint8_t>);
template result<link_create_request> decode_body<link_create_request>(std::span<const uint8_t>);
template result<link_code_reply> decode_body<link_code_reply>(std::span<const uint8_t>);
template result<link_redeem_request> decode_body<link_redeem_request>(std::span<const uint8_t>);
template result<link_info> decode_body<link_info>(std::span<const uint8_t>);
template result<pin_set_request> decode_body<pin_set_request>(std::span<const uint8_t>);
template result<pin_change_request> decode_body<pin_change_request>(std::span<const uint8_t>);
template result<approval_list> decode_body<approval_list>(std::span<const uint8_t>);
template result<approval_decision> decode_body<approval_decision>(std::span<const uint8_t>);
template result<approval_by_pin> decode_body<approval_by_pin>(std::span<const uint8_t>);
template result<policy_request> decode_body<policy_request>(std::span<const uint8_t>);
template result<notice_body> decode_body<notice_body>(std::span<const uint8_t>);
template result<location_update> decode_body<location_update>(std::span<const uint8_t>);
template result<location_sharing_request> decode_body<location_sharing_request>(std::span<const uint8_t>);

} // namespace kinbox
