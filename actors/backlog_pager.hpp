// Where the drain of an account's stored mail to its attached device stands: the cursor
// (the sequence of the last stored envelope pushed), whether a page read is out, whether
// more follows, the pages pushed and not yet acked, and whether new mail went to the store
// while pages were read (it may be missing from them). A plain class: the user actor asks
// it whether to read a page and tells it what came; tests/unit/backlog_pager_test.cpp has
// its rules.
//
// Pages in flight are counted by key: an ack names each key once in a page's count however
// often the device sends it (a page pushed again after a stall is acked twice), and keys of
// mail pushed live are not in any page, so neither credits a later page early.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "protocol/messages.hpp"

namespace kinbox {

class backlog_pager {
public:
  /// From the first stored envelope again: a new session, or no ack for a whole wait.
  void restart();

  /// Whether a page may be read now: none is being read, and fewer than `max_pages` are
  /// pushed and not fully acked.
  [[nodiscard]] bool may_read(size_t max_pages) const {
    return !reading_ && pages_.size() < max_pages;
  }

  /// A page read goes out; returns the sequence to read after.
  uint64_t start_read() {
    reading_ = true;
    return cursor_;
  }

  /// The read failed: not through, so a later check pages again.
  void read_failed() {
    reading_ = false;
    more_ = true;
  }

  /// A read came back for an earlier session: nothing of it counts.
  void read_dropped() { reading_ = false; }

  /// A page came: the keys it pushed, the sequence of its last envelope (0 if it was
  /// empty) and whether more follows. True when another page should be read at once.
  [[nodiscard]] bool page_read(const std::vector<mail_key>& pushed, uint64_t last_seq, bool more);

  /// The device acked `keys`: each key of a page in flight counts once.
  void acked(std::span<const mail_key> keys);

  /// New mail went to the store while pages are read (or came from another node): look
  /// once more at the end of the backlog.
  void mail_stored_meanwhile() { skipped_ = true; }

  /// Pages are being read or more remain: new mail waits for its page, in order.
  bool paging() const { return reading_ || more_; }
  bool reading() const { return reading_; }
  bool more() const { return more_; }
  /// Pushed pages not fully acked.
  bool pages_out() const { return !pages_.empty(); }
  /// After an ack: whether a read should follow (more pages, or mail stored meanwhile).
  bool wants_read() const { return more_ || skipped_; }
  uint64_t cursor() const { return cursor_; }

private:
  uint64_t cursor_ = 0;
  bool reading_ = false;
  bool more_ = false;
  bool skipped_ = false;
  /// A page pushed and not fully acked: its keys in push order (one allocation a page),
  /// which of them were acked, how many were not, and where the next ack is looked for
  /// first (the device acks in the order it got them, so a lookup is one comparison).
  struct page {
    std::vector<mail_key> keys;
    std::vector<bool> acked;
    size_t left = 0;
    size_t next = 0;
  };
  std::vector<page> pages_; ///< oldest first
};

} // namespace kinbox
