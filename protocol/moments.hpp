// Bodies of the Moments frames and mail (docs/protocol.md, "Moments"): posts to friends.
// A post is one upload, its content encrypted once with a random key and that key
// wrapped for each friend, as a group message is; the server keeps no post, only the
// copies waiting for their recipients. A comment is an upload of the same form, wrapped
// for the commenter's friends; the poster's actor hands it to those of its own friends
// who have a key, and each recipient's filter lets it through only from an approved
// commenter.
#pragma once

#include "protocol/groups.hpp"

namespace kinbox {

/// Made by the poster's app: random, unique among its posts.
using post_id = uint64_t;

/// Most wrapped keys one post or comment carries (one per friend).
constexpr size_t max_moment_keys = 1024;

/// The mail id of a post's copies and of its retraction: the post id, big-endian, then
/// zeros (a post reaches each friend once).
message_id post_mail_id(post_id id);

/// Body of `moment_post`: the content once, a wrapped key per friend it is for.
struct moment_post {
  post_id id = 0;
  bytes content;
  std::vector<wrapped_key> keys;
};

enum class reaction_kind : uint8_t { like = 1, comment = 2 };

/// Body of `moment_react`: a like, or a comment (content once, a key per friend of the
/// commenter), on post `post` of `poster`. `id` is the reaction's own message id.
struct moment_reaction {
  account_id poster = 0;
  post_id post = 0;
  reaction_kind kind = reaction_kind::like;
  message_id id{};
  bytes content;                 ///< a comment's, sealed with its key; empty for a like
  std::vector<wrapped_key> keys; ///< a comment's; none for a like
};

/// Body of `moment_delete`: post `post` of `owner` (the account itself, or a parent's
/// linked child).
struct moment_delete {
  account_id owner = 0;
  post_id post = 0;
};

/// Payload of `moment` mail: one friend's copy of a post.
struct moment_mail {
  post_id post = 0;
  bytes key; ///< the content key, wrapped for this friend
  bytes content;
};

/// Payload of `reaction` mail (its `from` is the one who reacted).
struct reaction_mail {
  account_id poster = 0;
  post_id post = 0;
  reaction_kind kind = reaction_kind::like;
  bytes key; ///< a comment's key wrapped for this recipient; empty for a like
  bytes content;
};

/// Payload of `retraction` mail (its `from` is the poster): the post is deleted.
struct retraction_mail {
  post_id post = 0;
};

void write_body(bytes& out, const moment_post& x);
void write_body(bytes& out, const moment_reaction& x);
void write_body(bytes& out, const moment_delete& x);
void write_body(bytes& out, const moment_mail& x);
void write_body(bytes& out, const reaction_mail& x);
void write_body(bytes& out, const retraction_mail& x);

} // namespace kinbox

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::moment_post)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::moment_reaction)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::moment_delete)
