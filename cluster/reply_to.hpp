// Where the reply to one entity request goes, for entity actors that take requests one
// by one or in batches: its own promise, or its slot in the one reply to a batch
// (delivered when the last slot is filled).
#pragma once

#include <caf/typed_response_promise.hpp>

#include <memory>
#include <utility>
#include <vector>

#include "cluster/entity.hpp"

namespace kinbox {

class reply_to {
public:
  struct batch {
    caf::typed_response_promise<std::vector<entity_reply>> promise;
    std::vector<entity_reply> replies;
    size_t open = 0;
  };

  explicit reply_to(caf::typed_response_promise<entity_reply> single)
      : single_(std::move(single)) {}
  reply_to(std::shared_ptr<batch> b, size_t index) : batch_(std::move(b)), index_(index) {}

  /// Fills the slot; once per slot (of all copies of a reply_to, one delivers).
  void deliver(entity_reply r) {
    if (open_) {
      --*open_;
      open_.reset();
    }
    if (!batch_) {
      single_.deliver(std::move(r));
      return;
    }
    batch_->replies[index_] = std::move(r);
    if (--batch_->open == 0)
      batch_->promise.deliver(std::move(batch_->replies));
  }

  /// Counts the slot in `open` until it is delivered: an actor that stops waits for it.
  void count_in(std::shared_ptr<size_t> open) {
    ++*open;
    open_ = std::move(open);
  }

  /// The reply slots of a batch of `n` requests and the promise they fill together.
  template <class Self>
  static std::pair<caf::typed_response_promise<std::vector<entity_reply>>, std::vector<reply_to>>
  for_batch(Self* self, size_t n) {
    auto b = std::make_shared<batch>();
    b->promise = self->template make_response_promise<std::vector<entity_reply>>();
    b->replies.resize(n);
    b->open = n;
    auto promise = b->promise;
    if (n == 0)
      promise.deliver(std::vector<entity_reply>{});
    std::vector<reply_to> slots;
    slots.reserve(n);
    for (size_t i = 0; i < n; ++i)
      slots.emplace_back(b, i);
    return {promise, std::move(slots)};
  }

private:
  caf::typed_response_promise<entity_reply> single_;
  std::shared_ptr<batch> batch_;
  size_t index_ = 0;
  std::shared_ptr<size_t> open_;
};

} // namespace kinbox
