// The kinbox client SDK: what an app does, over one connection. Messages are encrypted
// end to end here (crypto_box from our box key to the friend's); the gateway only ever
// sees ciphertext. Received messages are decrypted, duplicates dropped (by message id,
// remembered in the profile), and acked.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/connection.hpp"
#include "client/profile.hpp"
#include "protocol/calls.hpp"
#include "protocol/groups.hpp"
#include "protocol/moments.hpp"
#include "protocol/quiet.hpp"

namespace kinbox::client {

/// A point on Earth, as a child's app shares it with its parent.
struct geo_point {
  double lat = 0;        ///< degrees, -90..90
  double lon = 0;        ///< degrees, -180..180
  float accuracy_m = 0;  ///< radius of uncertainty in meters
};

/// What `receive` hands the app.
struct received {
  enum class what {
    text,
    delivered,
    read,
    expired,
    undecryptable,
    notice,
    location,
    typing,
    quiet_began, ///< this child's quiet hours began: nothing comes until they end
    quiet_ended,
    call,        ///< a signal of a call (`call`; `text` is its opened payload, if any)
    missed_call, ///< a call that rang unanswered or could not ring (`missed`)
    moment,      ///< a friend's post (`poster`, `post`, `text`)
    like,        ///< `from` liked post `post` of `poster`
    comment,     ///< `from` commented on post `post` of `poster` (`text`)
    retraction,  ///< `poster` deleted post `post`: the app deletes it
  };
  what kind;
  account_id from; ///< sender of a text; for receipts the account the message went to
  message_id id;   ///< a receipt naming many messages is handed over once per message
  uint64_t stored_at_ms;
  std::string text;
  std::optional<notice_body> notice; ///< for notices (to a parent, from the server)
  std::optional<geo_point> location; ///< for a child's location (to its parent)
  group_id group = 0; ///< a group message's (or typing's) group; 0 for a 1:1 conversation
  std::optional<call_event> call{};       ///< for call signals (its payload opened)
  std::optional<missed_call_body> missed{}; ///< for missed calls
  account_id poster = 0; ///< for Moments: whose post it is
  post_id post = 0;
};

/// What a parent lets a child do about friends (link_info.policy on the wire).
enum class friend_policy_choice : uint8_t { parent_approves = 1, child_alone = 2 };

/// Plaintext inside an E2E envelope: version u8 (1), content type u8 (1 = UTF-8 text), body.
bytes encode_plaintext(std::string_view text);
std::optional<std::string> decode_plaintext(std::span<const uint8_t> plain);
/// Content type 2: `lat:f64 lon:f64 accuracy_m:f32`, IEEE 754 bits, big-endian.
bytes encode_location_plaintext(const geo_point& p);
std::optional<geo_point> decode_location_plaintext(std::span<const uint8_t> plain);

class client {
public:
  /// Connects to host:port. If the profile has a pinned cluster key, a gateway with any
  /// other key is refused; otherwise the presented key is pinned into the profile.
  /// The client keeps a reference to `prof`: the profile must outlive the client and
  /// must not move (keep it on the heap if its owner moves).
  [[nodiscard]] static result<std::unique_ptr<client>>
  connect(profile& prof, const std::string& host, uint16_t port, const std::string& source = {});

  /// Connects to the first of `gateways` (host:port) that answers. After a login, the
  /// client resumes on another of them (or on those a leaving node redirects it to) when
  /// its gateway goes away: see `resume`.
  [[nodiscard]] static result<std::unique_ptr<client>>
  connect_any(profile& prof, const std::vector<std::string>& gateways,
              const std::string& source = {});

  /// Connects again and logs in: first to the gateways a leaving node named, then to the
  /// configured ones. Requests and `receive` call it themselves when the connection goes
  /// with a retryable reason (the node left, restarted or shed the connection); a send
  /// is then repeated with the same message id, which the server stores once.
  [[nodiscard]] result<account_info> resume();

  /// Registers the profile's keys as a new account; stores the new id in the profile.
  [[nodiscard]] result<account_id>
  register_account(const std::string& name, const std::string& birth_date, account_role role);

  /// Registers the profile's keys as the child account its parent's app made, with the
  /// one-time setup code it got (`<child>-<secret>`); stores the id in the profile.
  [[nodiscard]] result<account_id> register_child(account_id child, uint64_t secret);

  /// (parent) Makes a child's account, linked to this parent; the child's device registers
  /// with the code in the answer before it expires.
  [[nodiscard]] result<child_setup_reply> child_create(const std::string& name,
                                                       const std::string& birth_date);
  /// (parent) A new setup code for a linked child (the first expired, or a new device).
  [[nodiscard]] result<child_setup_reply> child_setup_code(account_id child);

  /// What the app tells the server of its device at every login (kept with the account,
  /// seen only by the account and its linked parent).
  void set_device(device_info device) { device_ = std::move(device); }

  /// Logs in with the signed challenge of this connection.
  [[nodiscard]] result<account_info> login();

  /// Changes this account's name, country, gender and avatar (all four at once).
  [[nodiscard]] result<bool> profile_set(const profile_set_request& p);
  /// What this account may see of `id`'s profile (everything of itself or a linked child,
  /// name, avatar and online status of a friend). A parent names its `child` to see who
  /// a friend step of the child waiting for it is with.
  [[nodiscard]] result<profile_reply> profile_get(account_id id, account_id child = 0);

  /// Everything the cluster holds on this account or a linked child: one JSON document.
  [[nodiscard]] result<std::string> account_export(account_id id);
  /// Deletes this account or a linked child's, on every node. A linked child deleting
  /// itself gives its parent's `pin`. Deleting this account ends the connection; the
  /// profile's keys stay on disk for the app to remove.
  [[nodiscard]] result<bool> account_delete(account_id id, const std::string& pin = {});

  [[nodiscard]] result<account_info> whoami();
  [[nodiscard]] result<bool> friend_add(account_id id);
  [[nodiscard]] result<bool> friend_accept(account_id id);
  [[nodiscard]] result<bool> friend_decline(account_id id);
  [[nodiscard]] result<contact_list> friends();
  /// The contact list of this account or of a linked child (with pending requests).
  [[nodiscard]] result<contact_list> contacts(account_id owner);
  /// Blocks or removes `other` from the contacts of this account or of a linked child.
  [[nodiscard]] result<bool> contact_block(account_id owner, account_id other);
  [[nodiscard]] result<bool> contact_remove(account_id owner, account_id other);
  /// Reports `other` (blocked at once, its waiting mail deleted); a child's parent is told.
  [[nodiscard]] result<bool> report(account_id other, report_category category);
  [[nodiscard]] result<key_reply> keys_of(account_id id);
  [[nodiscard]] result<status_reply> status(account_id id);

  // Family: a parent makes a link code with the PIN, the child redeems it; the parent (or
  // the PIN on the child's device) answers the child's friend steps.
  [[nodiscard]] result<link_code_reply> link_create(const std::string& pin);
  /// (child) Links to the parent whose code this is; a linked child moving to another
  /// parent gives its current parent's `pin`.
  [[nodiscard]] result<bool> link_redeem(account_id parent, uint64_t secret,
                                         const std::string& pin = {});
  [[nodiscard]] result<bool> link_remove(account_id child);
  [[nodiscard]] result<link_info> link_get(account_id child);
  [[nodiscard]] result<bool> pin_set(account_id child, const std::string& pin);
  [[nodiscard]] result<bool> pin_change(const std::string& old_pin, const std::string& new_pin);
  [[nodiscard]] result<approval_list> approvals(account_id child);
  [[nodiscard]] result<bool> approval_decide(account_id child, account_id other, bool approve);
  [[nodiscard]] result<bool> approval_by_pin(account_id other, bool approve, const std::string& pin);
  [[nodiscard]] result<bool> policy_set(account_id child, friend_policy_choice policy);

  /// (child) Seals `where` for the linked parent and sends it; the parent gets it at once
  /// if online, else only the latest one at its next login (within the server's TTL).
  [[nodiscard]] result<bool> location_share(const geo_point& where);
  /// (parent) Switches the child's location sharing on or off.
  [[nodiscard]] result<bool> location_sharing(account_id child, bool on);

  /// Encrypts `text` to the friend and sends it; returns the message id once the server
  /// has stored it durably (accepted).
  [[nodiscard]] result<message_id> send_text(account_id to, std::string_view text);

  /// Sends an already encrypted payload with a given id. A refusal that is transient (see
  /// `is_transient`) is tried again with the same id for up to 30 s (the server stores an
  /// id once); others, like `mailbox_full`, are the caller's.
  [[nodiscard]] result<message_id> send_payload(account_id to, const message_id& id, bytes payload);

  // Groups: one upload per message, the content encrypted once and its key wrapped for
  // each member (groups.cpp).
  /// Makes a group of this account and `members` (its friends); returns the group.
  [[nodiscard]] result<group_info> group_create(const std::string& name,
                                                const std::vector<account_id>& members);
  [[nodiscard]] result<group_info> group_add(group_id group, account_id id);
  /// Takes `id` out: the creator, or the linked parent of a child member. A member hears
  /// the group as it is now; a parent outside the group, nothing more (nullopt).
  [[nodiscard]] result<std::optional<group_info>> group_remove(group_id group, account_id id);
  [[nodiscard]] result<bool> group_leave(group_id group);
  [[nodiscard]] result<group_info> group_show(group_id group);
  /// The groups of this account, or of a linked child.
  [[nodiscard]] result<group_list> group_list_of(account_id owner);
  /// Encrypts `text` once, wraps its key for every member whose key this account can
  /// fetch (its friends, linked parent and children), and sends it; a `group_stale` answer
  /// wraps again for the members it names. Returns the message id once accepted.
  [[nodiscard]] result<message_id> group_send_text(group_id group, std::string_view text);
  /// The upload of a message to group `g`: `content` (sealed once with `key`), and `key`
  /// wrapped for each member this account can fetch the keys of.
  [[nodiscard]] group_send_request group_upload(const group_info& g, const message_id& id,
                                                const crypto::content_key& key, bytes content);
  /// Sends an upload (a transient refusal is tried again): nullopt once accepted, or the
  /// group as it is now when the upload's version was stale.
  [[nodiscard]] result<std::optional<group_info>> group_send(const group_send_request& up);
  // Calls (calls.cpp): signaling only; the media goes between the apps.
  /// Rings friend or group `to` for call `id` (random, made by the caller): each rung
  /// account's outcome. `description` is sealed for a friend; a group offer carries none
  /// (each member that answers sends its own, and the caller answers it with `ice`).
  [[nodiscard]] result<call_ring_result> call_offer(uint64_t to, call_id id, bool video,
                                                    std::string_view description = {});
  /// Sends signal `s` of call `id` to peer `to` (0: every peer of the call), with
  /// `text` sealed for a friend (to 0: sent as it is).
  [[nodiscard]] result<bool> call_signal_to(call_id id, call_signal s, account_id to = 0,
                                            std::string_view text = {});
  /// (A parent) ends the ringing or running calls of linked child `child`.
  [[nodiscard]] result<bool> call_end(account_id child);
  // Moments (moments.cpp): posts to friends; the server keeps only undelivered copies.
  /// Posts `text` to this account's friends (its linked parent and children too): the
  /// content sealed once, its key wrapped for each. Returns the post's id.
  [[nodiscard]] result<post_id> moment_post(std::string_view text);
  /// The upload of a post of `text` to accounts `to` (an app that keeps its friend list
  /// posts with this and `moment_send`): a new post id, the content sealed once, its key
  /// wrapped for each of `to` whose keys this account has.
  [[nodiscard]] kinbox::moment_post moment_upload(std::string_view text,
                                                  const std::vector<account_id>& to);
  [[nodiscard]] result<bool> moment_send(const kinbox::moment_post& post);
  /// Likes (`text` empty) or comments on post `post` of `poster`; a comment is sealed
  /// once, its key wrapped for the poster and this account's friends (the server hands
  /// it to those of them the poster approves).
  [[nodiscard]] result<bool> moment_react(account_id poster, post_id post, std::string_view text);
  /// Deletes post `post` of `owner` (this account, or a linked child) from every friend.
  [[nodiscard]] result<bool> moment_delete(account_id owner, post_id post);
  /// (A parent) sets the quiet hours of linked child `child`, or turns them off (nullopt).
  [[nodiscard]] result<quiet_reply> quiet_set(account_id child,
                                              const std::optional<quiet_schedule>& schedule);
  /// The quiet hours of this account, or of a linked child.
  [[nodiscard]] result<quiet_reply> quiet_get(account_id owner);
  /// Tells a friend (or a group's members) this account is typing; never stored.
  [[nodiscard]] result<bool> typing(uint64_t to, bool group);
  /// Tells `to` that its messages `ids` were read.
  [[nodiscard]] result<bool> mark_read(account_id to, const std::vector<message_id>& ids);

  /// Waits up to `wait` for mail, then takes what else is there at once (up to `max`),
  /// decrypts, drops duplicates, acks everything taken, and returns the new items.
  [[nodiscard]] result<std::vector<received>> receive(milliseconds wait, size_t max = 1000);

  connection& conn() { return *conn_; }
  profile& prof() { return prof_; }

private:
  client(profile& prof, std::unique_ptr<connection> conn) : prof_(prof), conn_(std::move(conn)) {}

  template <class Reply>
  result<Reply> call(frame_type type, bytes body) {
    auto f = request(type, body);
    if (!f)
      return f.error();
    return decode_body<Reply>(f->body);
  }

  result<bool> expect_ok(frame_type type, bytes body);

  /// A request, repeated once on a fresh connection if the gateway went away under it.
  result<frame> request(frame_type type, const bytes& body);

  /// A send: a transient refusal is tried again with the same body for up to 30 s.
  result<frame> request_retrying(frame_type type, const bytes& body);

  /// Opens a `group` mail's payload from `from`: its group and text.
  std::optional<std::pair<group_id, std::string>> open_group_mail(account_id from,
                                                                  std::span<const uint8_t> payload);

  /// `text` sealed once with a new key, and that key wrapped for each of `to` whose keys
  /// can be fetched (moments.cpp).
  std::pair<bytes, std::vector<wrapped_key>> seal_for_each(std::string_view text,
                                                           const std::vector<account_id>& to);
  /// Opens content sealed with a key `from` wrapped for this account.
  std::optional<std::string> open_shared(account_id from, std::span<const uint8_t> wrapped,
                                         std::span<const uint8_t> content);

  /// Whether a failure means: connect elsewhere and go on.
  bool should_resume(const failure& f) const;

  profile& prof_;
  std::unique_ptr<connection> conn_;
  std::vector<std::string> gateways_;
  std::string source_;
  bool logged_in_ = false;
  device_info device_;
  account_id parent_ = 0; ///< the linked parent, once known (locations go to it)
  /// Per friend: the precomputed box key (fetched once with key_get).
  std::map<account_id, crypto::box_channel> channels_;

  const crypto::box_channel* channel_to(account_id id);
};

/// Whether a refusal comes from the cluster moving or restarting something (a shard in
/// motion, a node leaving or cut off from NATS): the same request succeeds soon.
bool is_transient(errc code);

/// Parses "host:port".
[[nodiscard]] result<std::pair<std::string, uint16_t>> split_host_port(const std::string& text);

} // namespace kinbox::client
