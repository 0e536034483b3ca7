#include "client/client.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <thread>

#include "protocol/text.hpp"
#include "protocol/wire.hpp"

namespace kinbox::client {

namespace {

constexpr uint8_t plaintext_version = 1;
constexpr uint8_t content_text = 1;
constexpr uint8_t content_location = 2;
constexpr milliseconds drain_wait{0}; // take what has arrived, do not wait for more
constexpr auto send_retry_limit = std::chrono::seconds(30);

} // namespace

bytes encode_plaintext(std::string_view text) {
  bytes out(2 + text.size());
  out[0] = plaintext_version;
  out[1] = content_text;
  std::memcpy(out.data() + 2, text.data(), text.size());
  return out;
}

std::optional<std::string> decode_plaintext(std::span<const uint8_t> plain) {
  if (plain.size() < 2 || plain[0] != plaintext_version || plain[1] != content_text)
    return std::nullopt;
  return std::string(plain.begin() + 2, plain.end());
}

bytes encode_location_plaintext(const geo_point& p) {
  bytes out{plaintext_version, content_location};
  wire::writer{out}
      .u64(std::bit_cast<uint64_t>(p.lat))
      .u64(std::bit_cast<uint64_t>(p.lon))
      .u32(std::bit_cast<uint32_t>(p.accuracy_m));
  return out;
}

std::optional<geo_point> decode_location_plaintext(std::span<const uint8_t> plain) {
  if (plain.size() < 2 || plain[0] != plaintext_version || plain[1] != content_location)
    return std::nullopt;
  wire::reader r{plain.subspan(2)};
  uint64_t lat = 0, lon = 0;
  uint32_t accuracy = 0;
  r.u64(lat);
  r.u64(lon);
  r.u32(accuracy);
  if (!r.finished())
    return std::nullopt;
  geo_point p{std::bit_cast<double>(lat), std::bit_cast<double>(lon),
              std::bit_cast<float>(accuracy)};
  if (!(p.lat >= -90 && p.lat <= 90 && p.lon >= -180 && p.lon <= 180 && p.accuracy_m >= 0))
    return std::nullopt;
  return p;
}

result<std::pair<std::string, uint16_t>> split_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return failure{errc::invalid_argument, "'" + text + "' is not host:port"};
  try {
    auto port = std::stoul(text.substr(colon + 1));
    if (port == 0 || port > 65535)
      throw std::out_of_range{"port"};
    return std::pair{text.substr(0, colon), static_cast<uint16_t>(port)};
  } catch (const std::exception&) {
    return failure{errc::invalid_argument, "'" + text + "' has no valid port"};
  }
}

result<std::unique_ptr<client>> client::connect(profile& prof, const std::string& host,
                                                uint16_t port, const std::string& source) {
  auto conn = connection::open(host, port, prof.pinned_key, milliseconds(10000), source);
  if (!conn)
    return conn.error();
  if (!prof.pinned_key)
    prof.pinned_key = (*conn)->cluster_key();
  return std::unique_ptr<client>{new client(prof, std::move(*conn))};
}

result<std::unique_ptr<client>> client::connect_any(profile& prof,
                                                    const std::vector<std::string>& gateways,
                                                    const std::string& source) {
  failure last{errc::invalid_argument, "no gateway given"};
  for (auto& g : gateways) {
    auto hp = split_host_port(g);
    if (!hp) {
      last = hp.error();
      continue;
    }
    auto c = connect(prof, hp->first, hp->second, source);
    if (c) {
      (*c)->gateways_ = gateways;
      (*c)->source_ = source;
      return c;
    }
    last = c.error();
  }
  return last;
}

bool is_transient(errc code) {
  // The cluster is moving or restarting something: the same request succeeds soon. A full
  // or failing mailbox is the app's to decide about.
  return code == errc::unavailable || code == errc::timeout || code == errc::shutting_down ||
         code == errc::moved || code == errc::slow_consumer;
}

bool client::should_resume(const failure& f) const {
  return logged_in_ && conn_->closed() && errc_retryable(f.code);
}

result<account_info> client::resume() {
  auto candidates = conn_->redirected_to();
  candidates.insert(candidates.end(), gateways_.begin(), gateways_.end());
  failure last{errc::unavailable, "no gateway to resume on"};
  for (auto& g : candidates) {
    auto hp = split_host_port(g);
    if (!hp)
      continue;
    auto conn = connection::open(hp->first, hp->second, prof_.pinned_key, milliseconds(10000),
                                 source_);
    if (!conn) {
      last = conn.error();
      continue;
    }
    conn_ = std::move(*conn);
    auto me = login();
    if (me)
      return me;
    last = me.error();
  }
  return last;
}

result<frame> client::request(frame_type type, const bytes& body) {
  auto f = conn_->request(type, body);
  if (!f && should_resume(f.error()) && resume())
    f = conn_->request(type, body);
  return f;
}

result<account_id> client::register_account(const std::string& name, const std::string& birth_date,
                                            account_role role) {
  if (auto why = check_display_name(name))
    return failure{errc::invalid_argument, *why};
  // Keys reach the disk before the server knows them: no account without its keys.
  if (auto saved = prof_.save(); !saved)
    return saved.error();
  auto reply = call<register_reply>(
      frame_type::register_account,
      encode_body(register_request{name, birth_date, role, prof_.sign.pk, prof_.box.pk}));
  if (!reply)
    return reply.error();
  prof_.id = reply->id;
  prof_.name = name;
  prof_.role = role;
  auto saved = prof_.save();
  if (!saved)
    return saved.error();
  return reply->id;
}

result<account_id> client::register_child(account_id child, uint64_t secret) {
  if (auto saved = prof_.save(); !saved)
    return saved.error();
  auto reply = call<register_reply>(
      frame_type::register_child,
      encode_body(register_child_request{child, secret, prof_.sign.pk, prof_.box.pk}));
  if (!reply)
    return reply.error();
  prof_.id = reply->id;
  prof_.role = account_role::child;
  auto saved = prof_.save();
  if (!saved)
    return saved.error();
  return reply->id;
}

result<child_setup_reply> client::child_create(const std::string& name,
                                               const std::string& birth_date) {
  if (auto why = check_display_name(name))
    return failure{errc::invalid_argument, *why};
  return call<child_setup_reply>(frame_type::child_create,
                                 encode_body(child_create_request{name, birth_date}));
}

result<child_setup_reply> client::child_setup_code(account_id child) {
  return call<child_setup_reply>(frame_type::child_setup_code, encode_body(target_request{child}));
}

result<account_info> client::login() {
  if (prof_.id == 0)
    return failure{errc::invalid_argument, "this profile has no account yet; register first"};
  auto proof = crypto::sign(crypto::login_message(conn_->transcript(), prof_.id), prof_.sign);
  auto f = conn_->request(frame_type::login, encode_body(login_request{prof_.id, proof, device_}));
  if (!f)
    return f.error();
  auto me = decode_body<account_info>(f->body);
  logged_in_ = static_cast<bool>(me);
  return me;
}

result<account_info> client::whoami() {
  return call<account_info>(frame_type::whoami, {});
}

result<bool> client::expect_ok(frame_type type, bytes body) {
  auto f = request(type, body);
  if (!f)
    return f.error();
  return true;
}

result<bool> client::friend_add(account_id id) {
  return expect_ok(frame_type::friend_add, encode_body(target_request{id}));
}

result<bool> client::friend_accept(account_id id) {
  return expect_ok(frame_type::friend_accept, encode_body(target_request{id}));
}

result<bool> client::friend_decline(account_id id) {
  return expect_ok(frame_type::friend_decline, encode_body(target_request{id}));
}

result<link_code_reply> client::link_create(const std::string& pin) {
  return call<link_code_reply>(frame_type::link_create, encode_body(link_create_request{pin}));
}

result<bool> client::link_redeem(account_id parent, uint64_t secret, const std::string& pin) {
  return expect_ok(frame_type::link_redeem, encode_body(link_redeem_request{parent, secret, pin}));
}

result<bool> client::link_remove(account_id child) {
  return expect_ok(frame_type::link_remove, encode_body(target_request{child}));
}

result<link_info> client::link_get(account_id child) {
  return call<link_info>(frame_type::link_get, encode_body(target_request{child}));
}

result<bool> client::pin_set(account_id child, const std::string& pin) {
  return expect_ok(frame_type::pin_set, encode_body(pin_set_request{child, pin}));
}

result<bool> client::pin_change(const std::string& old_pin, const std::string& new_pin) {
  return expect_ok(frame_type::pin_change, encode_body(pin_change_request{old_pin, new_pin}));
}

result<approval_list> client::approvals(account_id child) {
  return call<approval_list>(frame_type::approvals_get, encode_body(target_request{child}));
}

result<bool> client::approval_decide(account_id child, account_id other, bool approve) {
  return expect_ok(frame_type::approval_decide, encode_body(approval_decision{child, other, approve}));
}

result<bool> client::approval_by_pin(account_id other, bool approve, const std::string& pin) {
  return expect_ok(frame_type::approval_pin,
                   encode_body(kinbox::approval_by_pin{other, approve, pin}));
}

result<bool> client::policy_set(account_id child, friend_policy_choice policy) {
  return expect_ok(frame_type::policy_set,
                   encode_body(policy_request{child, static_cast<uint8_t>(policy)}));
}

result<bool> client::location_share(const geo_point& where) {
  if (parent_ == 0) {
    auto link = link_get(prof_.id);
    if (!link)
      return link.error();
    if (link->parent == 0)
      return failure{errc::not_found, "this account is not linked to a parent"};
    parent_ = link->parent;
  }
  auto* channel = channel_to(parent_);
  if (!channel)
    return failure{errc::not_found, "the parent's key could not be fetched"};
  auto sent = expect_ok(frame_type::location_send,
                        encode_body(location_update{channel->seal(encode_location_plaintext(where))}));
  if (!sent && sent.error().code == errc::not_found)
    parent_ = 0; // unlinked meanwhile: ask again next time
  return sent;
}

result<bool> client::location_sharing(account_id child, bool on) {
  return expect_ok(frame_type::location_sharing, encode_body(location_sharing_request{child, on}));
}

result<contact_list> client::friends() {
  return call<contact_list>(frame_type::friend_list, {});
}

result<contact_list> client::contacts(account_id owner) {
  return call<contact_list>(frame_type::contacts_get, encode_body(target_request{owner}));
}

result<bool> client::contact_block(account_id owner, account_id other) {
  return expect_ok(frame_type::contact_block, encode_body(contact_action{owner, other}));
}

result<bool> client::contact_remove(account_id owner, account_id other) {
  return expect_ok(frame_type::contact_remove, encode_body(contact_action{owner, other}));
}

result<bool> client::profile_set(const profile_set_request& p) {
  if (auto why = check_display_name(p.name))
    return failure{errc::invalid_argument, *why};
  return expect_ok(frame_type::profile_set, encode_body(p));
}

result<profile_reply> client::profile_get(account_id id, account_id child) {
  return call<profile_reply>(frame_type::profile_get, encode_body(profile_request{id, child}));
}

result<std::string> client::account_export(account_id id) {
  auto f = request(frame_type::account_export, encode_body(target_request{id}));
  if (!f)
    return f.error();
  if (f->type != frame_type::account_data)
    return failure{errc::malformed_frame, "unexpected answer to account_export"};
  return std::string(f->body.begin(), f->body.end());
}

result<bool> client::account_delete(account_id id, const std::string& pin) {
  auto done = expect_ok(frame_type::account_delete, encode_body(account_delete_request{id, pin}));
  // Its own deletion ends the session: the goodbye may come before the answer.
  if (!done && id == prof_.id && done.error().code == errc::account_deleted)
    return true;
  if (done && id == prof_.id)
    logged_in_ = false;
  return done;
}

result<bool> client::report(account_id other, report_category category) {
  return expect_ok(frame_type::report, encode_body(report_request{other, category}));
}

result<key_reply> client::keys_of(account_id id) {
  auto reply = call<key_reply>(frame_type::key_get, encode_body(target_request{id}));
  if (!reply)
    return reply;
  auto channel = crypto::box_channel::make(reply->box_key, prof_.box);
  if (!channel)
    return failure{errc::invalid_argument,
                   "account " + std::to_string(id) + " has a box key that cannot be used"};
  channels_.insert_or_assign(id, std::move(*channel));
  return reply;
}

const crypto::box_channel* client::channel_to(account_id id) {
  auto i = channels_.find(id);
  if (i == channels_.end() && keys_of(id))
    i = channels_.find(id);
  return i == channels_.end() ? nullptr : &i->second;
}

result<status_reply> client::status(account_id id) {
  return call<status_reply>(frame_type::status_get, encode_body(target_request{id}));
}

result<frame> client::request_retrying(frame_type type, const bytes& body) {
  // A retryable refusal (a shard on the move, a node restarting) is tried again with the
  // same id, which the server stores once, for a bounded time.
  auto deadline = std::chrono::steady_clock::now() + send_retry_limit;
  auto backoff = milliseconds(50);
  for (;;) {
    auto reply = request(type, body);
    if (reply)
      return reply;
    if (!is_transient(reply.error().code) || std::chrono::steady_clock::now() + backoff > deadline)
      return reply.error();
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(1000));
    if (conn_->closed())
      if (auto resumed = resume(); !resumed)
        return resumed.error();
  }
}

result<message_id> client::send_payload(account_id to, const message_id& id, bytes payload) {
  auto reply = request_retrying(frame_type::send, encode_body(send_request{to, id, std::move(payload)}));
  if (!reply)
    return reply.error();
  auto accepted = decode_body<accepted_reply>(reply->body);
  if (!accepted)
    return accepted.error();
  return accepted->id;
}

result<message_id> client::send_text(account_id to, std::string_view text) {
  if (!channels_.count(to))
    if (auto fetched = keys_of(to); !fetched)
      return fetched.error();
  auto sealed = channels_.at(to).seal(encode_plaintext(text));
  return send_payload(to, crypto::new_message_id(), std::move(sealed));
}

result<std::vector<received>> client::receive(milliseconds wait, size_t max) {
  std::vector<mail_push> mail;
  auto first = conn_->next_push(wait);
  if (!first && should_resume(first.error())) {
    // The gateway went away: the mail waits for this account on the cluster.
    if (auto resumed = resume(); !resumed)
      return resumed.error();
    first = conn_->next_push(wait);
  }
  if (!first)
    return first.error();
  if (*first) {
    mail.push_back(std::move(**first));
    while (mail.size() < max) {
      auto more = conn_->next_push(drain_wait);
      if (!more)
        return more.error();
      if (!*more)
        break;
      mail.push_back(std::move(**more));
    }
  }
  // The keys of new senders first. One that cannot be fetched now (a retryable error)
  // fails the call before anything is marked seen or acked: the mail comes again, and is
  // not handed over as undecryptable.
  for (auto& m : mail)
    if ((m.kind == mail_kind::message || m.kind == mail_kind::location ||
         m.kind == mail_kind::group || m.kind == mail_kind::call ||
         m.kind == mail_kind::moment || m.kind == mail_kind::reaction) &&
        !channels_.count(m.from) && !prof_.was_seen({m.from, m.id}))
      if (auto keys = keys_of(m.from); !keys && errc_retryable(keys.error().code))
        return keys.error();
  std::vector<received> out;
  ack_request acks;
  size_t fresh = 0; ///< messages marked seen by this call
  for (auto& m : mail) {
    if (m.kind == mail_kind::location) { // never stored, so never acked
      received r{received::what::location, m.from, m.id, m.stored_at_ms, {}, {}, {}};
      if (auto* channel = channel_to(m.from))
        if (auto plain = channel->open(m.payload))
          r.location = decode_location_plaintext(*plain);
      if (!r.location)
        r.kind = received::what::undecryptable;
      out.push_back(std::move(r));
      continue;
    }
    if (m.kind == mail_kind::call) { // pushed only, never acked
      received r{received::what::call, m.from, m.id, m.stored_at_ms, {}, {}, {}};
      if (auto ev = decode_body<call_event>(m.payload)) {
        r.group = ev->group;
        if (!ev->payload.empty())
          if (auto* channel = channel_to(m.from))
            if (auto plain = channel->open(ev->payload))
              if (auto text = decode_plaintext(*plain))
                r.text = std::move(*text);
        r.call = std::move(*ev);
        out.push_back(std::move(r));
      }
      continue;
    }
    if (m.kind == mail_kind::quiet) { // pushed only, never acked
      bool began = m.payload.size() == 1 && m.payload[0] == 1;
      out.push_back(received{began ? received::what::quiet_began : received::what::quiet_ended,
                             m.from, m.id, m.stored_at_ms, {}, {}, {}});
      continue;
    }
    if (m.kind == mail_kind::typing) { // pushed only, never acked
      received r{received::what::typing, m.from, m.id, m.stored_at_ms, {}, {}, {}};
      if (auto body = decode_body<typing_body>(m.payload))
        r.group = body->group;
      out.push_back(std::move(r));
      continue;
    }
    acks.keys.push_back(mail_key{m.kind, m.from, m.id});
    if (m.kind == mail_kind::retraction) {
      received r{received::what::retraction, m.from, m.id, m.stored_at_ms, {}, {}, {}};
      r.poster = m.from;
      if (auto body = decode_body<retraction_mail>(m.payload))
        r.post = body->post;
      out.push_back(std::move(r));
      continue;
    }
    if (m.kind == mail_kind::moment || m.kind == mail_kind::reaction) {
      if (prof_.was_seen({m.from, m.id}))
        continue; // a duplicate: already handed to the app once
      prof_.mark_seen({m.from, m.id});
      ++fresh;
      received r{received::what::undecryptable, m.from, m.id, m.stored_at_ms, {}, {}, {}};
      if (auto post = decode_body<moment_mail>(m.payload); post && m.kind == mail_kind::moment) {
        r.poster = m.from;
        r.post = post->post;
        if (auto text = open_shared(m.from, post->key, post->content)) {
          r.kind = received::what::moment;
          r.text = std::move(*text);
        }
      } else if (auto about = decode_body<reaction_mail>(m.payload)) {
        r.poster = about->poster;
        r.post = about->post;
        if (about->kind == reaction_kind::like) {
          r.kind = received::what::like;
        } else if (auto text = open_shared(m.from, about->key, about->content)) {
          r.kind = received::what::comment;
          r.text = std::move(*text);
        }
      }
      out.push_back(std::move(r));
      continue;
    }
    if (m.kind == mail_kind::missed_call) {
      received r{received::what::missed_call, m.from, m.id, m.stored_at_ms, {}, {}, {}};
      if (auto body = decode_body<missed_call_body>(m.payload)) {
        r.group = body->group;
        r.missed = *body;
      }
      out.push_back(std::move(r));
      continue;
    }
    if (m.kind == mail_kind::notice) {
      received r{received::what::notice, m.from, m.id, m.stored_at_ms, {}, {}, {}};
      if (auto plain = crypto::open_sealed(m.payload, prof_.box))
        if (auto body = decode_body<notice_body>(*plain))
          r.notice = *body;
      out.push_back(std::move(r));
      continue;
    }
    if (m.kind == mail_kind::delivered || m.kind == mail_kind::read ||
        m.kind == mail_kind::expired) {
      auto what = m.kind == mail_kind::delivered ? received::what::delivered
                  : m.kind == mail_kind::read    ? received::what::read
                                                 : received::what::expired;
      std::vector<message_id> ids{m.id};
      if (auto more = decode_body<receipt_ids>(m.payload))
        ids.insert(ids.end(), more->more.begin(), more->more.end());
      for (auto& id : ids)
        out.push_back(received{what, m.from, id, m.stored_at_ms, {}, {}, {}});
      continue;
    }
    if (prof_.was_seen({m.from, m.id}))
      continue; // a duplicate: already handed to the app once
    prof_.mark_seen({m.from, m.id});
    ++fresh;
    received r{received::what::undecryptable, m.from, m.id, m.stored_at_ms, {}, {}, {}};
    if (m.kind == mail_kind::group) {
      if (auto opened = open_group_mail(m.from, m.payload)) {
        r.kind = received::what::text;
        r.group = opened->first;
        r.text = std::move(opened->second);
      } else if (auto body = decode_body<group_mail>(m.payload)) {
        r.group = body->group;
      }
    } else if (auto* channel = channel_to(m.from)) {
      if (auto plain = channel->open(m.payload))
        if (auto text = decode_plaintext(*plain)) {
          r.kind = received::what::text;
          r.text = std::move(*text);
        }
    }
    out.push_back(std::move(r));
  }
  if (!acks.keys.empty()) {
    // The seen ids are saved before the acks go. A profile that cannot be saved acks
    // nothing and hands nothing over: the mail comes again, once the error is fixed.
    if (auto saved = prof_.save(); !saved) {
      prof_.forget_newest(fresh);
      return saved.error();
    }
    // As many keys per ack frame as the gateway's frame size allows.
    constexpr size_t key_size = 1 + sizeof(account_id) + sizeof(message_id);
    auto room = conn_->max_frame_size() - frame_header_size - crypto::record_channel::overhead - 2;
    auto per_frame = std::max<size_t>(1, std::min(max_ack_keys, room / key_size));
    for (size_t i = 0; i < acks.keys.size(); i += per_frame) {
      ack_request part;
      part.keys.assign(acks.keys.begin() + static_cast<ptrdiff_t>(i),
                       acks.keys.begin() +
                           static_cast<ptrdiff_t>(std::min(acks.keys.size(), i + per_frame)));
      conn_->queue_frame(make_frame(frame_type::ack, conn_->next_request_id(), part));
    }
    // Acks lost with a connection that just closed are no reason to withhold the mail:
    // the node sends it again after the next login and the SDK drops it as seen. The
    // next call finds the connection closed and resumes.
    conn_->flush();
  }
  return out;
}

} // namespace kinbox::client
