// The SDK's Moments: a post or a comment is one upload, its content sealed once with a
// random key and the key wrapped for each friend through the box channel to it (which
// also tells the friend who wrapped it), as a group message is.
#include "client/client.hpp"

namespace kinbox::client {

namespace {

/// The accounts this one approves, as its contact list shows them.
std::vector<account_id> approved(const contact_list& list) {
  std::vector<account_id> out;
  for (auto& e : list.entries)
    if (e.state == contact_state::friends || e.state == contact_state::parent ||
        e.state == contact_state::child)
      out.push_back(e.id);
  return out;
}

} // namespace

std::pair<bytes, std::vector<wrapped_key>>
client::seal_for_each(std::string_view text, const std::vector<account_id>& to) {
  auto key = crypto::new_content_key();
  auto content = crypto::content_seal(encode_plaintext(text), key);
  std::vector<wrapped_key> keys;
  for (auto id : to)
    if (auto* channel = channel_to(id))
      keys.push_back({id, channel->seal({key.data(), key.size()})});
  return {std::move(content), std::move(keys)};
}

std::optional<std::string> client::open_shared(account_id from, std::span<const uint8_t> wrapped,
                                               std::span<const uint8_t> content) {
  auto* channel = channel_to(from);
  if (channel == nullptr)
    return std::nullopt;
  auto raw = channel->open(wrapped);
  if (!raw || raw->size() != crypto::content_key::size())
    return std::nullopt;
  crypto::content_key key;
  std::copy(raw->begin(), raw->end(), key.data());
  sodium_memzero(raw->data(), raw->size());
  auto plain = crypto::content_open(content, key);
  if (!plain)
    return std::nullopt;
  return decode_plaintext(*plain);
}

kinbox::moment_post client::moment_upload(std::string_view text,
                                          const std::vector<account_id>& to) {
  post_id id = 0;
  randombytes_buf(&id, sizeof id);
  id >>= 1; // JSON readers keep it exact
  auto [content, keys] = seal_for_each(text, to);
  return {id, std::move(content), std::move(keys)};
}

result<bool> client::moment_send(const kinbox::moment_post& post) {
  auto reply = request_retrying(frame_type::moment_post, encode_body(post));
  if (!reply)
    return reply.error();
  return true;
}

result<post_id> client::moment_post(std::string_view text) {
  auto list = friends();
  if (!list)
    return list.error();
  auto post = moment_upload(text, approved(*list));
  if (auto sent = moment_send(post); !sent)
    return sent.error();
  return post.id;
}

result<bool> client::moment_react(account_id poster, post_id post, std::string_view text) {
  moment_reaction r{poster, post, reaction_kind::like, crypto::new_message_id(), {}, {}};
  if (!text.empty()) {
    auto list = friends();
    if (!list)
      return list.error();
    auto to = approved(*list);
    if (poster != prof_.id && std::find(to.begin(), to.end(), poster) == to.end())
      to.push_back(poster);
    r.kind = reaction_kind::comment;
    std::tie(r.content, r.keys) = seal_for_each(text, to);
  }
  auto reply = request_retrying(frame_type::moment_react, encode_body(r));
  if (!reply)
    return reply.error();
  return true;
}

result<bool> client::moment_delete(account_id owner, post_id post) {
  return expect_ok(frame_type::moment_delete, encode_body(kinbox::moment_delete{owner, post}));
}

} // namespace kinbox::client
