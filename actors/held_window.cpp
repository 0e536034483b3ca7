#include "actors/held_window.hpp"

#include "config/metrics.hpp"

namespace kinbox {

namespace {

/// Tells the sender of held mail (and its retries) that the mail is accepted.
void answer(std::vector<reply_to>& retries, reply_to& rp) {
  metrics::get().mail_accepted.Increment();
  rp.deliver(ok_reply());
  for (auto& retry : retries)
    retry.deliver(ok_reply());
  retries.clear();
}

} // namespace

bool held_window::hold(std::vector<envelope>& mail, std::vector<reply_to>& replies,
                       time_point until, size_t max_envelopes, held_budget& budget) {
  if (at_.size() + mail.size() > max_envelopes)
    return false;
  size_t bytes = 0;
  for (auto& e : mail)
    bytes += e.payload.size();
  if (!budget.take(bytes))
    return false;
  for (size_t i = 0; i < mail.size(); ++i) {
    auto position = base_ + held_.size();
    auto [at, added] = at_.emplace(mail_key{mail[i].kind, mail[i].sender, mail[i].id}, position);
    if (!added) { // held already: a sender's retry, answered when the mail is safe
      budget.give(mail[i].payload.size());
      held_[at->second - base_].retries.push_back(std::move(replies[i]));
      continue;
    }
    held_.push_back(entry{std::move(mail[i]), std::move(replies[i]), {}, until});
  }
  mail.clear();
  replies.clear();
  return true;
}

bool held_window::ack(const mail_key& key, held_budget& budget) {
  auto i = at_.find(key);
  if (i == at_.end())
    return false;
  auto& e = held_[i->second - base_];
  answer(e.retries, e.rp);
  release(e, budget);
  pop_done();
  return true;
}

mail_to_store held_window::take(bool all, time_point now, held_budget& budget) {
  mail_to_store out;
  for (size_t i = head_; i < held_.size(); ++i) {
    auto& e = held_[i];
    if (e.done)
      continue;
    if (!all && e.until > now)
      break; // deadlines grow along the queue
    release(e, budget);
    for (auto& retry : e.retries) { // a put of the same key, answered once durable
      out.mail.push_back(e.mail);
      out.replies.push_back(std::move(retry));
    }
    e.retries.clear();
    out.mail.push_back(std::move(e.mail));
    out.replies.push_back(std::move(e.rp));
  }
  pop_done();
  return out;
}

void held_window::answer_all(held_budget& budget) {
  for (size_t i = head_; i < held_.size(); ++i)
    if (!held_[i].done) {
      answer(held_[i].retries, held_[i].rp);
      release(held_[i], budget);
    }
  pop_done();
}

std::optional<held_window::time_point> held_window::next_deadline() const {
  for (size_t i = head_; i < held_.size(); ++i)
    if (!held_[i].done)
      return held_[i].until;
  return std::nullopt;
}

void held_window::release(entry& e, held_budget& budget) {
  e.done = true;
  at_.erase(mail_key{e.mail.kind, e.mail.sender, e.mail.id});
  budget.give(e.mail.payload.size());
}

void held_window::pop_done() {
  while (head_ < held_.size() && held_[head_].done)
    ++head_;
  if (head_ == held_.size()) {
    base_ += held_.size();
    head_ = 0;
    if (held_.capacity() > 16)
      std::vector<entry>{}.swap(held_);
    else
      held_.clear();
  } else if (head_ >= 1024 && 2 * head_ >= held_.size()) {
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(head_));
    base_ += head_;
    head_ = 0;
  }
}

} // namespace kinbox
