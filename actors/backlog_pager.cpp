#include "actors/backlog_pager.hpp"

#include <algorithm>

namespace kinbox {

void backlog_pager::restart() {
  cursor_ = 0;
  more_ = false;
  skipped_ = false;
  pages_.clear();
}

bool backlog_pager::page_read(const std::vector<mail_key>& pushed, uint64_t last_seq, bool more) {
  reading_ = false;
  if (last_seq != 0)
    cursor_ = last_seq;
  if (!pushed.empty())
    pages_.push_back(page{pushed, std::vector<bool>(pushed.size()), pushed.size(), 0});
  more_ = more;
  if (more)
    return true;
  // Mail that arrived while this page was read may be missing from it: at the end of the
  // backlog, look once more (no ack would come to pull it).
  if (skipped_) {
    skipped_ = false;
    return true;
  }
  return false;
}

void backlog_pager::acked(std::span<const mail_key> keys) {
  if (pages_.empty())
    return;
  for (auto& k : keys)
    for (auto& p : pages_) {
      auto i = p.next < p.keys.size() && p.keys[p.next] == k
                   ? p.next
                   : static_cast<size_t>(std::find(p.keys.begin(), p.keys.end(), k) -
                                         p.keys.begin());
      if (i == p.keys.size())
        continue;
      if (!p.acked[i]) {
        p.acked[i] = true;
        --p.left;
      }
      p.next = i + 1;
      break;
    }
  std::erase_if(pages_, [](const page& p) { return p.left == 0; });
}

} // namespace kinbox
