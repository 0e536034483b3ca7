#include "protocol/groups.hpp"

#include "protocol/text.hpp"
#include "protocol/wire.hpp"

namespace kinbox {

namespace {

void write_message_ids(wire::writer& w, const std::vector<message_id>& ids) {
  w.u16(static_cast<uint16_t>(ids.size()));
  for (auto& id : ids)
    w.fixed(id);
}

bool read_message_ids(wire::reader& r, std::vector<message_id>& ids) {
  uint16_t n = 0;
  if (!r.u16(n) || n > max_receipt_ids)
    return false;
  ids.resize(n);
  for (auto& id : ids)
    r.fixed(id);
  return r.ok();
}

bool read_info(wire::reader& r, group_info& x) {
  r.u64(x.id);
  r.str(x.name, max_group_name_bytes);
  r.u64(x.creator);
  r.u64(x.version);
  return r.ids(x.members, max_group_members_wire);
}

bool read_body(std::span<const uint8_t> in, group_create_request& x) {
  wire::reader r{in};
  r.str(x.name, max_text_length); // a longer name is the server's to refuse, with its reason
  return r.ids(x.members, max_group_members_wire) && r.finished();
}

bool read_body(std::span<const uint8_t> in, group_info& x) {
  wire::reader r{in};
  return read_info(r, x) && r.finished();
}

bool read_body(std::span<const uint8_t> in, group_member_request& x) {
  wire::reader r{in};
  r.u64(x.group);
  r.u64(x.id);
  return r.finished();
}

bool read_body(std::span<const uint8_t> in, group_list& x) {
  wire::reader r{in};
  uint16_t n = 0;
  if (!r.u16(n) || n > in.size())
    return false;
  x.groups.resize(n);
  for (auto& g : x.groups)
    if (!read_info(r, g))
      return false;
  return r.finished();
}

bool read_body(std::span<const uint8_t> in, group_send_request& x) {
  wire::reader r{in};
  r.u64(x.group);
  r.u64(x.version);
  r.fixed(x.id);
  r.blob(x.content, max_payload_size);
  return read_wrapped_keys(r, x.keys, max_group_members_wire) && r.finished();
}

bool read_body(std::span<const uint8_t> in, group_mail& x) {
  wire::reader r{in};
  r.u64(x.group);
  r.blob(x.key, max_wrapped_key);
  r.blob(x.content, max_payload_size);
  return r.finished();
}

bool read_body(std::span<const uint8_t> in, typing_request& x) {
  wire::reader r{in};
  uint8_t group = 2;
  r.u64(x.to);
  r.u8(group);
  x.group = group == 1;
  return r.finished() && group <= 1;
}

bool read_body(std::span<const uint8_t> in, read_request& x) {
  wire::reader r{in};
  r.u64(x.to);
  return read_message_ids(r, x.ids) && !x.ids.empty() && r.finished();
}

bool read_body(std::span<const uint8_t> in, receipt_ids& x) {
  if (in.empty())
    return true;
  wire::reader r{in};
  return read_message_ids(r, x.more) && r.finished();
}

bool read_body(std::span<const uint8_t> in, typing_body& x) {
  wire::reader r{in};
  r.u64(x.group);
  return r.finished();
}

} // namespace

bool read_wrapped_keys(wire::reader& r, std::vector<wrapped_key>& keys, size_t max_count) {
  uint16_t n = 0;
  if (!r.u16(n) || n > max_count)
    return false;
  keys.resize(n);
  for (auto& k : keys) {
    r.u64(k.member);
    r.blob(k.key, max_wrapped_key);
  }
  return r.ok();
}

void write_wrapped_keys(wire::writer& w, const std::vector<wrapped_key>& keys) {
  w.u16(static_cast<uint16_t>(keys.size()));
  for (auto& k : keys)
    w.u64(k.member).blob(k.key);
}

void write_body(bytes& out, const group_create_request& x) {
  wire::writer w{out};
  w.str(x.name).ids(x.members);
}

void write_body(bytes& out, const group_info& x) {
  wire::writer w{out};
  w.u64(x.id).str(x.name).u64(x.creator).u64(x.version).ids(x.members);
}

void write_body(bytes& out, const group_member_request& x) {
  wire::writer{out}.u64(x.group).u64(x.id);
}

void write_body(bytes& out, const group_list& x) {
  wire::writer w{out};
  w.u16(static_cast<uint16_t>(x.groups.size()));
  for (auto& g : x.groups)
    write_body(out, g);
}

void write_body(bytes& out, const group_send_request& x) {
  wire::writer w{out};
  w.u64(x.group).u64(x.version).fixed(x.id).blob(x.content);
  write_wrapped_keys(w, x.keys);
}

void write_body(bytes& out, const group_mail& x) {
  wire::writer{out}.u64(x.group).blob(x.key).blob(x.content);
}

void write_body(bytes& out, const typing_request& x) {
  wire::writer{out}.u64(x.to).u8(x.group ? 1 : 0);
}

void write_body(bytes& out, const read_request& x) {
  wire::writer w{out};
  w.u64(x.to);
  write_message_ids(w, x.ids);
}

void write_body(bytes& out, const receipt_ids& x) {
  if (x.more.empty())
    return;
  wire::writer w{out};
  write_message_ids(w, x.more);
}

void write_body(bytes& out, const typing_body& x) {
  wire::writer{out}.u64(x.group);
}

template <class T>
result<T> decode_body(std::span<const uint8_t> in) {
  T x{};
  if (!read_body(in, x))
    return failure{errc::malformed_frame, "the frame body does not match its type"};
  return x;
}

template result<group_create_request> decode_body<group_create_request>(std::span<const uint8_t>);
template result<group_info> decode_body<group_info>(std::span<const uint8_t>);
template result<group_member_request> decode_body<group_member_request>(std::span<const uint8_t>);
template result<group_list> decode_body<group_list>(std::span<const uint8_t>);
template result<group_send_request> decode_body<group_send_request>(std::span<const uint8_t>);
template result<group_mail> decode_body<group_mail>(std::span<const uint8_t>);
template result<typing_request> decode_body<typing_request>(std::span<const uint8_t>);
template result<read_request> decode_body<read_request>(std::span<const uint8_t>);
template result<receipt_ids> decode_body<receipt_ids>(std::span<const uint8_t>);
template result<typing_body> decode_body<typing_body>(std::span<const uint8_t>);

} // namespace kinbox
