// The SDK's group chats: requests to a group's chat entity, and a group message as one
// upload (the content encrypted once with a random key, the key wrapped for each member
// through the box channel to it, which also tells the member who wrapped it).
#include "client/client.hpp"

namespace kinbox::client {

result<group_info> client::group_create(const std::string& name,
                                        const std::vector<account_id>& members) {
  return call<group_info>(frame_type::group_create, encode_body(group_create_request{name, members}));
}

result<group_info> client::group_add(group_id group, account_id id) {
  return call<group_info>(frame_type::group_add, encode_body(group_member_request{group, id}));
}

result<std::optional<group_info>> client::group_remove(group_id group, account_id id) {
  auto reply = request(frame_type::group_remove, encode_body(group_member_request{group, id}));
  if (!reply)
    return reply.error();
  if (reply->type == frame_type::ok)
    return std::optional<group_info>{};
  auto info = decode_body<group_info>(reply->body);
  if (!info)
    return info.error();
  return std::optional<group_info>{std::move(*info)};
}

result<bool> client::group_leave(group_id group) {
  return expect_ok(frame_type::group_leave, encode_body(target_request{group}));
}

result<group_info> client::group_show(group_id group) {
  return call<group_info>(frame_type::group_show, encode_body(target_request{group}));
}

result<group_list> client::group_list_of(account_id owner) {
  return call<group_list>(frame_type::group_list, encode_body(target_request{owner}));
}

group_send_request client::group_upload(const group_info& g, const message_id& id,
                                        const crypto::content_key& key, bytes content) {
  group_send_request req{g.id, g.version, id, std::move(content), {}};
  for (auto m : g.members) {
    if (m == prof_.id)
      continue;
    // A member whose key this account cannot fetch (not a contact of a parent member)
    // could not read it; the server would not hand it over either.
    if (auto* channel = channel_to(m))
      req.keys.push_back({m, channel->seal({key.data(), key.size()})});
  }
  return req;
}

result<std::optional<group_info>> client::group_send(const group_send_request& up) {
  auto reply = request_retrying(frame_type::group_send, encode_body(up));
  if (!reply)
    return reply.error();
  if (reply->type == frame_type::accepted)
    return std::optional<group_info>{};
  if (reply->type != frame_type::group_stale)
    return failure{errc::internal, "an unexpected answer to group_send"};
  auto now = decode_body<group_info>(reply->body);
  if (!now)
    return now.error();
  return std::optional<group_info>{std::move(*now)};
}

result<message_id> client::group_send_text(group_id group, std::string_view text) {
  auto info = group_show(group);
  if (!info)
    return info.error();
  auto id = crypto::new_message_id();
  auto key = crypto::new_content_key();
  auto content = crypto::content_seal(encode_plaintext(text), key);
  // The group may change between the show and the send, and again: a few tries.
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto sent = group_send(group_upload(*info, id, key, content));
    if (!sent)
      return sent.error();
    if (!*sent)
      return id;
    *info = std::move(**sent);
  }
  return failure{errc::stale_membership, "the group kept changing; send again"};
}

result<bool> client::typing(uint64_t to, bool group) {
  return expect_ok(frame_type::typing, encode_body(typing_request{to, group}));
}

result<bool> client::mark_read(account_id to, const std::vector<message_id>& ids) {
  for (size_t i = 0; i < ids.size(); i += max_receipt_ids) {
    read_request req{to, {}};
    req.ids.assign(ids.begin() + static_cast<ptrdiff_t>(i),
                   ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), i + max_receipt_ids)));
    if (auto sent = expect_ok(frame_type::read, encode_body(req)); !sent)
      return sent;
  }
  return true;
}

std::optional<std::pair<group_id, std::string>>
client::open_group_mail(account_id from, std::span<const uint8_t> payload) {
  auto body = decode_body<group_mail>(payload);
  auto* channel = channel_to(from);
  if (!body || channel == nullptr)
    return std::nullopt;
  auto raw = channel->open(body->key);
  if (!raw || raw->size() != crypto::content_key::size())
    return std::nullopt;
  crypto::content_key key;
  std::copy(raw->begin(), raw->end(), key.data());
  sodium_memzero(raw->data(), raw->size());
  auto plain = crypto::content_open(body->content, key);
  if (!plain)
    return std::nullopt;
  auto text = decode_plaintext(*plain);
  if (!text)
    return std::nullopt;
  return std::pair{body->group, std::move(*text)};
}

} // namespace kinbox::client
