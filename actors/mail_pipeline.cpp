#include "actors/mail_pipeline.hpp"

#include <algorithm>
#include <map>

#include "config/metrics.hpp"
#include "crypto/crypto.hpp"

namespace kinbox {

bool admits(const mailbox_owner& owner, account_id sender, mail_kind kind) {
  auto& c = *owner.contacts;
  switch (kind) {
  case mail_kind::message:
  case mail_kind::group: // also a group's copies: only from senders approved for the owner
    return c.approves(sender) && !owner.frozen;
  case mail_kind::read:        // made by the reader's app, so from a contact as messages are
  case mail_kind::missed_call: // made by the account's own actor, naming the caller
  case mail_kind::moment:      // posts, and what a friend's friends say of them
  case mail_kind::reaction:
    return c.approves(sender) && !owner.frozen;
  case mail_kind::retraction: // kept for a frozen child too (held back): its app deletes
    return c.approves(sender) || sender == owner.id; // (its own post, deleted by its parent)
  case mail_kind::notice:
    return c.children().count(sender) != 0 || sender == owner.id;
  case mail_kind::location:
  case mail_kind::typing:
  case mail_kind::call:
  case mail_kind::quiet:
    return false; // pushed from memory, never through the mailbox
  case mail_kind::delivered:
  case mail_kind::expired:
    return true;
  }
  return false;
}

bool held_back(const mailbox_owner& owner, const envelope& e) {
  return (e.kind == mail_kind::message || e.kind == mail_kind::group || e.kind == mail_kind::read ||
          e.kind == mail_kind::missed_call || e.kind == mail_kind::moment ||
          e.kind == mail_kind::reaction || e.kind == mail_kind::retraction) &&
         owner.frozen;
}

mail_push to_push(const envelope& e) {
  return mail_push{e.kind, e.sender, e.id, e.stored_at_ms, e.payload};
}

std::vector<entity_request> delivered_receipts(account_id self, std::span<const mail_key> keys) {
  std::map<account_id, std::vector<message_id>> by_sender;
  for (auto& k : keys)
    if (k.kind == mail_kind::message || k.kind == mail_kind::group)
      by_sender[k.sender].push_back(k.id);
  std::vector<entity_request> out;
  for (auto& [sender, ids] : by_sender)
    for (auto& r : receipt_mail(mail_kind::delivered, ids))
      out.push_back(user_request<user_op::deliver>(sender, self, std::move(r)));
  return out;
}

mail_pipeline::mail_pipeline(mail_pipeline_config cfg)
    : cfg_(std::move(cfg)), checks_(cfg_.redeliver_after) {}

mail_pipeline::delivery mail_pipeline::deliver(std::vector<incoming_mail> incoming,
                                               const mailbox_owner& owner, bool attached,
                                               uint64_t now_ms, time_point now) {
  delivery out;
  auto expires = now_ms + static_cast<uint64_t>(cfg_.mail_ttl.count());
  bool push_now = attached && !backlog_.paging() && deferred_ == 0;
  auto& mail = out.put.mail;
  auto& replies = out.put.replies;
  for (auto& in : incoming) {
    if (!admits(owner, in.sender, in.body.kind)) {
      metrics::get().refused(errc::not_found);
      in.rp.deliver(error_reply(errc::not_found));
      continue;
    }
    // The ids a notice names are the parent's business: sealed to its box key, they
    // reach neither a disk nor another node in the clear.
    if (in.body.kind == mail_kind::notice)
      in.body.payload = crypto::seal_for(in.body.payload, owner.box_key);
    mail.push_back(envelope{owner.id, in.body.kind, in.body.id, in.sender, now_ms, expires,
                            std::move(in.body.payload)});
    replies.push_back(std::move(in.rp));
    if (push_now)
      out.push.push_back(to_push(mail.back()));
  }
  if (mail.empty())
    return out;
  if (push_now && cfg_.ack_window.count() > 0 &&
      held_.hold(mail, replies, now + cfg_.ack_window, cfg_.max_held_per_user, *cfg_.held)) {
    out.arm_held_timer = true;
    return out;
  }
  out.flush = held_.take(true, now, *cfg_.held);
  out.put_pushed = push_now;
  if (!push_now)
    deferred_ += mail.size();
  return out;
}

entity_reply mail_pipeline::put_answer(put_result r) {
  if (r == put_result::over_cap) {
    metrics::get().refused(errc::mailbox_cap);
    return error_reply(errc::mailbox_cap, "the recipient has too much undelivered mail");
  }
  metrics::get().mail_accepted.Increment();
  return ok_reply();
}

std::vector<mail_push> mail_pipeline::committed(const std::vector<envelope>& mail,
                                                const std::vector<put_result>& stored,
                                                bool attached) {
  deferred_ -= mail.size();
  std::vector<mail_push> out;
  if (!attached)
    return out;
  for (size_t i = 0; i < mail.size() && i < stored.size(); ++i) {
    if (stored[i] != put_result::stored)
      continue;
    if (backlog_.paging())
      backlog_.mail_stored_meanwhile();
    else
      out.push_back(to_push(mail[i]));
  }
  return out;
}

mail_pipeline::ack_plan mail_pipeline::ack(account_id self, std::span<const mail_key> keys) {
  ack_plan out;
  checks_.acked();
  backlog_.acked(keys);
  out.read_page = backlog_.more();
  std::vector<mail_key> acked_held;
  for (auto& k : keys) {
    if (held_.ack(k, *cfg_.held))
      acked_held.push_back(k);
    else
      out.delete_stored.push_back(mail_ref{self, k});
  }
  out.receipts = delivered_receipts(self, acked_held);
  return out;
}

std::vector<entity_request> mail_pipeline::receipts_for(account_id self,
                                                        const std::vector<envelope>& removed) {
  std::vector<mail_key> keys;
  for (auto& e : removed)
    keys.push_back({e.kind, e.sender, e.id});
  return delivered_receipts(self, keys);
}

std::optional<mail_pipeline::page_start> mail_pipeline::start_page(time_point now) {
  if (!backlog_.may_read(cfg_.drain_pages_in_flight))
    return std::nullopt;
  page_start out;
  out.flush = held_.take(true, now, *cfg_.held);
  out.after = backlog_.start_read();
  return out;
}

mail_pipeline::page_plan mail_pipeline::page_read(const mail_page& page,
                                                  const mailbox_owner& owner) {
  page_plan out;
  std::vector<mail_key> keys;
  out.push.reserve(page.mail.size());
  keys.reserve(page.mail.size());
  for (auto& e : page.mail) {
    if (held_back(owner, e))
      continue;
    if (admits(owner, e.sender, e.kind)) {
      out.push.push_back(to_push(e));
      keys.push_back({e.kind, e.sender, e.id});
    } else {
      out.strays.push_back({owner.id, {e.kind, e.sender, e.id}});
    }
  }
  out.again = backlog_.page_read(keys, page.mail.empty() ? 0 : page.mail.back().seq, page.more);
  return out;
}

mail_pipeline::check mail_pipeline::check_due() {
  if (backlog_.reading())
    return check::wait;
  if (backlog_.more() || backlog_.pages_out()) {
    if (checks_.progress())
      return check::wait;
    checks_.back_off();
    backlog_.restart();
    return check::page_again;
  }
  return check::read_all;
}

mail_pipeline::recheck_plan mail_pipeline::recheck(const mail_page& page,
                                                   const mailbox_owner& owner, uint64_t now_ms) {
  recheck_plan out;
  if (backlog_.paging()) {
    out.arm = true; // the drain's acks show later
    return out;
  }
  auto wait = static_cast<uint64_t>(checks_.base().count());
  bool owed = false; // admitted mail is stored, due or not
  for (auto& e : page.mail) {
    if (held_back(owner, e))
      continue;
    if (!admits(owner, e.sender, e.kind)) {
      out.strays.push_back({owner.id, {e.kind, e.sender, e.id}});
      continue;
    }
    owed = true;
    if (e.stored_at_ms + wait <= now_ms)
      out.again.push_back(to_push(e));
  }
  if (!out.again.empty())
    checks_.back_off();
  // Mail still held, or waiting for its commit, may be stored unacked after this read.
  out.arm = owed || !held_.empty() || deferred_ > 0;
  return out;
}

void mail_pipeline::attached() {
  backlog_.restart();
  checks_.attached();
}

mail_to_store mail_pipeline::detached(time_point now) {
  backlog_.restart();
  return held_.take(true, now, *cfg_.held);
}

mail_to_store mail_pipeline::take_held(bool all, time_point now) {
  return held_.take(all, now, *cfg_.held);
}

std::optional<mail_pipeline::time_point> mail_pipeline::held_timer_due() {
  auto deadline = held_.next_deadline();
  if (held_timer_ || !deadline)
    return std::nullopt;
  held_timer_ = true;
  return deadline;
}

} // namespace kinbox
