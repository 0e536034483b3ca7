#include "actors/backlog_pager.hpp"

#include <algorithm>
#include <tuple>

namespace kinbox {

namespace {

bool before(const mail_key& a, const mail_key& b) {
  return std::tie(a.sender, a.id, a.kind) < std::tie(b.sender, b.id, b.kind);
}

} // namespace

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
  if (!pushed.empty()) {
    page p{pushed, std::vector<bool>(pushed.size()), pushed.size()};
    std::sort(p.keys.begin(), p.keys.end(), before);
    pages_.push_back(std::move(p));
  }
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
      auto at = std::lower_bound(p.keys.begin(), p.keys.end(), k, before);
      if (at == p.keys.end() || !(*at == k))
        continue;
      auto i = static_cast<size_t>(at - p.keys.begin());
      if (!p.acked[i]) {
        p.acked[i] = true;
        --p.left;
      }
      break;
    }
  std::erase_if(pages_, [](const page& p) { return p.left == 0; });
}

} // namespace kinbox
