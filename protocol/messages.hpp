// Typed bodies of the frames in frame.hpp. `encode_body` writes one; `decode_body<T>` reads
// one and fails with malformed_frame on short, long or out-of-range input.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/frame.hpp"

namespace kinbox {

/// Most ciphers a client_hello may offer.
constexpr size_t max_offered_ciphers = 8;

struct client_hello {
  public_key ephemeral_key;
  std::vector<record_cipher> ciphers; ///< offered, most preferred first (1..8)
};

struct server_hello {
  public_key cluster_key;   ///< the cluster's long-term key, pinned by the client
  public_key ephemeral_key; ///< fresh per connection, gives forward secrecy
  uint32_t max_frame_size;  ///< longest record the server accepts
  record_cipher cipher;     ///< the offered cipher the server picked
};

/// Body of `error` and `bye` frames.
struct error_body {
  errc code;
  std::string message;
  uint32_t retry_after_ms{}; ///< when the request may be tried again; 0: no hint
};

/// Most gateways a `redirect` names, and the longest address.
constexpr size_t max_redirect_gateways = 16;
constexpr size_t max_gateway_length = 255;

/// Body of `redirect`: the node is leaving; the app reconnects to one of `gateways`.
struct redirect_body {
  errc code;
  std::string message;
  std::vector<std::string> gateways; ///< host:port, in no particular order
};

struct register_request {
  std::string name;
  std::string birth_date; ///< YYYY-MM-DD
  account_role role;
  public_key sign_key; ///< Ed25519, verifies login signatures
  public_key box_key;  ///< X25519, friends encrypt to it
};

struct register_reply {
  account_id id;
};

/// Body of `child_create`: a parent makes its child's account.
struct child_create_request {
  std::string name;
  std::string birth_date; ///< YYYY-MM-DD
};

/// Body of `child_setup`: the child's account and the one-time code its device registers
/// with (shown to people as "<child>-<secret>"), valid for `expires_in_ms`.
struct child_setup_reply {
  account_id child;
  uint64_t secret;
  uint32_t expires_in_ms;
};

/// Body of `register_child`: the child's device registers its own keys with the code its
/// parent's app got.
struct register_child_request {
  account_id child;
  uint64_t secret;
  public_key sign_key;
  public_key box_key;
};

/// Body of `account_delete`: the account (the caller's own, or a linked child's), and for
/// a linked child deleting itself the parent's PIN typed on its device.
struct account_delete_request {
  account_id id;
  std::string pin; ///< empty: none given
};

/// What the app tells the server about its device at login (kept with the account,
/// shown only to the account and its linked parent). Printable ASCII, each at most
/// `max_device_field` bytes; empty when not given.
struct device_info {
  std::string os;          ///< e.g. "android 14"
  std::string app_version; ///< e.g. "1.4.2"
  std::string language;    ///< BCP 47, e.g. "de-AT"
  std::string time_zone;   ///< IANA, e.g. "Europe/Vienna"
  friend bool operator==(const device_info&, const device_info&) = default;
};

constexpr size_t max_device_field = 64;
/// Longest device field a frame may carry; one longer than `max_device_field` is refused
/// as a bad value (invalid_argument), with the session kept.
constexpr size_t max_device_wire_field = 255;
/// Longest country field a frame may carry (the value must be empty or two letters).
constexpr size_t max_country_wire_field = 16;
/// Longest birth date a request may carry (the value must be YYYY-MM-DD): a longer one is
/// invalid_argument with the reason, not a malformed frame.
constexpr size_t max_date_wire_field = 32;

struct login_request {
  account_id id;
  signature proof; ///< Ed25519 over login_context || transcript hash || id
  device_info device;
};

/// What an account tells about itself besides its name (gender: 0 unsaid, 1 female,
/// 2 male, 3 other; country: ISO 3166-1 alpha-2 or empty; avatar: a PNG, JPEG or WebP
/// image, or empty).
enum class gender : uint8_t { unsaid = 0, female = 1, male = 2, other = 3 };

struct profile_set_request {
  std::string name;
  std::string country;
  gender gender_of = gender::unsaid;
  bytes avatar;
};

/// Body of `profile`: what the caller may see of an account. Contacts get `id`, `name`,
/// `avatar` and `online`; the account itself and its linked parent also the rest
/// (`full` set).
struct profile_reply {
  account_id id = 0;
  std::string name;
  bytes avatar;
  bool online = false;
  bool full = false;
  std::string birth_date;
  std::string country;
  gender gender_of = gender::unsaid;
  account_role role = account_role::child;
  device_info device;
};

/// Largest avatar a frame can carry; the server's cap (--avatar-max-bytes) is lower.
constexpr size_t max_avatar_size = 1u << 20;

/// Body of `login_ok` and of the answer to `whoami`.
struct account_info {
  account_id id;
  std::string name;
  account_role role;
};

/// Body of requests that name one other account.
struct target_request {
  account_id id;
};

/// Body of `profile_get`: an account, and (a parent asking about a friend step of its
/// child) the child whose step waits.
struct profile_request {
  account_id id;
  account_id child = 0; ///< 0: none
};

/// Body of `contact_block` and `contact_remove`: `owner` is the caller or its linked child.
struct contact_action {
  account_id owner;
  account_id other;
};

/// What a report is about (the server cannot read messages: the category is all it gets).
enum class report_category : uint8_t {
  harassment = 1,
  bullying = 2,
  sexual_content = 3,
  violence = 4,
  impersonation = 5,
  other = 6,
};

/// Names of a contact state (as the CLI and exports show it: "friend", "requested",
/// "incoming", "blocked", "awaiting_parent"), a gender and a mail kind.
std::string_view contact_state_name(contact_state s);
std::string_view gender_name(gender g);
std::string_view mail_kind_name(mail_kind k);

/// Stable snake_case name of a category ("unknown" outside 1..6), and back.
std::string_view report_category_name(report_category c);
std::optional<report_category> report_category_from(std::string_view name);

/// Body of `report`: the reporter blocks `other` at once and files a report.
struct report_request {
  account_id other;
  report_category category;
};

struct contact_entry {
  account_id id;
  contact_state state;
  std::string name;
};

struct contact_list {
  std::vector<contact_entry> entries;
};

struct key_reply {
  account_id id;
  public_key box_key;
  public_key sign_key;
};

struct status_reply {
  account_id id;
  bool online;
  uint64_t last_seen_ms; ///< 0 when never seen
};

struct send_request {
  account_id to;
  message_id id;
  bytes payload; ///< end-to-end ciphertext, opaque to the server
};

struct accepted_reply {
  message_id id;
};

/// Names one piece of mail in a recipient's mailbox. Message ids are chosen by senders, so
/// the same id from two senders is two messages: the sender is part of the key.
struct mail_key {
  mail_kind kind;
  account_id sender;
  message_id id;
  friend bool operator==(const mail_key&, const mail_key&) = default;
};

/// Hashes the random half of the id (its head is a timestamp, alike for a whole batch).
struct mail_key_hash {
  size_t operator()(const mail_key& k) const {
    uint64_t tail = 0;
    std::memcpy(&tail, k.id.data() + 8, sizeof(tail));
    return std::hash<uint64_t>{}(tail ^ static_cast<uint64_t>(k.kind) ^
                                 (k.sender * 0x9e3779b97f4a7c15ull));
  }
};

struct ack_request {
  std::vector<mail_key> keys;
};

struct mail_push {
  mail_kind kind;
  account_id from; ///< the sender; for receipts, the recipient of the original message
  message_id id;
  uint64_t stored_at_ms;
  bytes payload; ///< empty for receipts
};

/// Body of `link_create`: the parent PIN the link will have.
struct link_create_request {
  std::string pin; ///< four digits
};

/// Body of `link_code`: the child's app redeems (parent's id, secret) once, before it expires.
struct link_code_reply {
  uint64_t secret;
  uint32_t expires_in_ms;
};

struct link_redeem_request {
  account_id parent;
  uint64_t secret;
  std::string pin; ///< a linked child moving to another parent: its parent's PIN; else empty
};

/// Body of `link_info`.
struct link_info {
  account_id child;
  account_id parent;      ///< 0: not linked
  uint8_t policy;         ///< 1: the parent approves friends, 2: the child adds them alone
  bool location_sharing;
  bool pin_set;
  uint64_t locked_until_ms; ///< PIN tries refused until then; 0: not locked
};

struct pin_set_request {
  account_id child;
  std::string pin;
};

struct pin_change_request {
  std::string old_pin;
  std::string new_pin;
};

struct approval_entry {
  account_id other;
  bool ours; ///< the child asked (true) or accepts their request (false)
  uint64_t since_ms;
  /// Who `other` is, once it asked the child or answered: its name, role (0 unknown:
  /// the child asked and they have not answered yet) and, for a child, its parent's name.
  std::string name;
  account_role role = static_cast<account_role>(0);
  std::string parent_name;
};

struct approval_list {
  std::vector<approval_entry> entries;
};

/// Body of `approval_decide`: the parent's answer from the parent's own app.
struct approval_decision {
  account_id child;
  account_id other;
  bool approve;
};

/// Body of `approval_pin`: the parent's answer typed on the child's device.
struct approval_by_pin {
  account_id other;
  bool approve;
  std::string pin;
};

struct policy_request {
  account_id child;
  uint8_t policy; ///< as in link_info
};

/// Most bytes of a location envelope (end-to-end ciphertext for the parent).
constexpr size_t max_location_payload = 1024;

/// Body of `location_send`: the child's location, sealed for its parent.
struct location_update {
  bytes payload;
};

/// Body of `location_sharing`.
struct location_sharing_request {
  account_id child;
  bool on;
};

/// What a `notice` (mail kind 4) is about.
enum class notice_type : uint8_t {
  approval_needed = 1, ///< `child` waits for approval of a step with `other` (value: 1 if the child asked)
  pin_locked = 2,      ///< the PIN of `child` is locked until `value` (ms) after wrong tries
  linked = 3,          ///< `child` redeemed the parent's link code
  reported = 4,        ///< `child` reported and blocked `other` (value: the report_category)
  registered = 5,      ///< `child`'s device registered with a setup code (its keys are new)
  unlinked = 6,        ///< `child` moved to another parent with this parent's PIN (value: when)
  child_deleted = 7,   ///< `child` deleted its account with the parent's PIN (value: when)
  pin_changed = 8,     ///< `child`'s PIN was changed on its device
  link_code_attacked = 9, ///< wrong secrets met the parent's link code (value: how many;
                          ///< `other`: the child account that sent the last); it stays valid
  friend_renamed = 10,    ///< `other`, a friend of `child`, changed its name (value: when)
};

/// The last notice type this version knows.
constexpr uint8_t max_notice_type = 10;

/// Payload of `notice` mail: written by the server for a parent, carries ids only.
struct notice_body {
  notice_type type;
  account_id child;
  account_id other;
  uint64_t value;
};

/// Longest PIN field read (a PIN of another length is refused as invalid, not malformed).
constexpr size_t max_pin_field = 16;

constexpr size_t max_ack_keys = 1024;
constexpr size_t max_payload_size = max_max_frame_size;

void write_body(bytes& out, const client_hello& x);
void write_body(bytes& out, const server_hello& x);
void write_body(bytes& out, const error_body& x);
void write_body(bytes& out, const redirect_body& x);
void write_body(bytes& out, const register_request& x);
void write_body(bytes& out, const register_reply& x);
void write_body(bytes& out, const child_create_request& x);
void write_body(bytes& out, const child_setup_reply& x);
void write_body(bytes& out, const register_child_request& x);
void write_body(bytes& out, const account_delete_request& x);
void write_body(bytes& out, const login_request& x);
void write_body(bytes& out, const account_info& x);
void write_body(bytes& out, const target_request& x);
void write_body(bytes& out, const profile_request& x);
void write_body(bytes& out, const device_info& x);
void write_body(bytes& out, const profile_set_request& x);
void write_body(bytes& out, const profile_reply& x);
void write_body(bytes& out, const contact_action& x);
void write_body(bytes& out, const report_request& x);
void write_body(bytes& out, const contact_list& x);
void write_body(bytes& out, const key_reply& x);
void write_body(bytes& out, const status_reply& x);
void write_body(bytes& out, const send_request& x);
void write_body(bytes& out, const accepted_reply& x);
void write_body(bytes& out, const ack_request& x);
void write_body(bytes& out, const mail_push& x);
void write_body(bytes& out, const link_create_request& x);
void write_body(bytes& out, const link_code_reply& x);
void write_body(bytes& out, const link_redeem_request& x);
void write_body(bytes& out, const link_info& x);
void write_body(bytes& out, const pin_set_request& x);
void write_body(bytes& out, const pin_change_request& x);
void write_body(bytes& out, const approval_list& x);
void write_body(bytes& out, const approval_decision& x);
void write_body(bytes& out, const approval_by_pin& x);
void write_body(bytes& out, const policy_request& x);
void write_body(bytes& out, const notice_body& x);
void write_body(bytes& out, const location_update& x);
void write_body(bytes& out, const location_sharing_request& x);


template <class T>
bytes encode_body(const T& x) {
  bytes out;
  write_body(out, x);
  return out;
}

/// Reads a body of type T: the whole of `in`, every field within its bound; else
/// `malformed_frame`. Defined for every body type above (messages.cpp).
template <class T>
result<T> decode_body(std::span<const uint8_t> in);

/// A frame of type `type` carrying `body`.
template <class T>
frame make_frame(frame_type type, uint32_t request_id, const T& body) {
  return frame{type, request_id, encode_body(body)};
}

} // namespace kinbox

// The bodies that are also arguments and results of entity requests travel inside a
// caf::message on one node (CAF never serializes them: across nodes they are these bytes).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::register_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::child_create_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::child_setup_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::register_child_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::account_delete_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::profile_set_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::profile_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::target_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::profile_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::report_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::contact_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::key_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::status_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::accepted_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::ack_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::link_create_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::link_code_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::link_redeem_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::link_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::pin_set_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::pin_change_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::approval_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::approval_decision)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::approval_by_pin)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::policy_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::location_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kinbox::location_sharing_request)
