// Senders' answers for tests of plain classes that answer them (held_window,
// mail_pipeline): reply slots with no promise behind them, each reading "unanswered"
// until it is answered.
#pragma once

#include <memory>

#include "cluster/reply_to.hpp"

namespace kinbox::testing {

struct answers {
  std::shared_ptr<reply_to::batch> batch = std::make_shared<reply_to::batch>();
  explicit answers(size_t n) {
    batch->replies.assign(n, error_reply(errc::internal, "unanswered"));
    batch->open = n + 1; // never complete: there is no promise behind the slots
  }
  reply_to slot(size_t i) const { return reply_to{batch, i}; }
  const entity_reply& at(size_t i) const { return batch->replies[i]; }
  bool accepted(size_t i) const { return at(i).ok(); }
  bool unanswered(size_t i) const { return at(i).message == "unanswered"; }
};

} // namespace kinbox::testing
