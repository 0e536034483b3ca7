#include "actors/views.hpp"

#include <algorithm>

namespace kinbox {

profile_reply profile_view(const account_record& account, profile_record profile, bool online,
                           profile_sight sight) {
  profile_reply out;
  out.id = account.id;
  out.name = account.name;
  out.avatar = std::move(profile.avatar);
  out.online = online;
  out.role = account.role;
  out.full = sight == profile_sight::full;
  if (out.full) {
    out.birth_date = account.birth_date;
    out.country = std::move(profile.country);
    out.gender_of = profile.gender_of;
    out.device = std::move(profile.device);
  }
  return out;
}

status_reply status_view(account_id id, const std::optional<presence_record>& presence,
                         uint64_t last_seen_ms, const cluster_view& view) {
  bool online = presence && view.is_live(presence->node, presence->incarnation);
  uint64_t seen_when_gone = 0;
  if (presence && !online)
    seen_when_gone = view.departed_at(presence->node, presence->incarnation).value_or(presence->since_ms);
  return status_reply{id, online, std::max(last_seen_ms, seen_when_gone)};
}

} // namespace kinbox
