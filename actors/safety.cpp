#include "actors/safety.hpp"

#include <nlohmann/json.hpp>

namespace kinbox {

using nlohmann::json;

namespace {

std::optional<json> parse(std::span<const uint8_t> data) {
  auto j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  return j;
}

bytes dump(const json& j) {
  auto text = j.dump();
  return bytes(text.begin(), text.end());
}

std::optional<report_category> category_of(const json& j, const char* field) {
  auto i = j.find(field);
  if (i == j.end() || !i->is_string())
    return std::nullopt;
  return report_category_from(i->get<std::string>());
}

template <class T>
bool read(const json& j, const char* field, T& out) {
  auto i = j.find(field);
  if (i == j.end() || !i->is_number_unsigned())
    return false;
  out = i->get<T>();
  return true;
}

} // namespace

bytes encode_report(const report_record& r) {
  return dump({{"reporter", r.reporter},
               {"reported", r.reported},
               {"category", report_category_name(r.category)},
               {"at_ms", r.at_ms},
               {"reporter_role", r.reporter_role == account_role::child ? "child" : "parent"},
               {"reporter_parent", r.reporter_parent}});
}

std::optional<report_record> decode_report(std::span<const uint8_t> data) {
  auto j = parse(data);
  report_record r;
  if (!j || !read(*j, "reporter", r.reporter) || !read(*j, "reported", r.reported) ||
      !read(*j, "at_ms", r.at_ms) || !read(*j, "reporter_parent", r.reporter_parent))
    return std::nullopt;
  auto category = category_of(*j, "category");
  auto role = j->find("reporter_role");
  if (!category || role == j->end() || !role->is_string())
    return std::nullopt;
  r.category = *category;
  r.reporter_role = role->get<std::string>() == "child" ? account_role::child : account_role::parent;
  return r;
}

bytes encode_resolution(const report_resolution& r) {
  return dump({{"report", r.report}, {"at_ms", r.at_ms}, {"action", r.action}});
}

std::optional<report_resolution> decode_resolution(std::span<const uint8_t> data) {
  auto j = parse(data);
  report_resolution r;
  if (!j || !read(*j, "report", r.report) || !read(*j, "at_ms", r.at_ms))
    return std::nullopt;
  auto action = j->find("action");
  if (action == j->end() || !action->is_string())
    return std::nullopt;
  r.action = action->get<std::string>();
  return r;
}

bytes encode_ban(const ban_record& b) {
  return dump({{"account", b.account},
               {"at_ms", b.at_ms},
               {"reason", report_category_name(b.reason)}});
}

std::optional<ban_record> decode_ban(std::span<const uint8_t> data) {
  auto j = parse(data);
  ban_record b;
  if (!j || !read(*j, "account", b.account) || !read(*j, "at_ms", b.at_ms))
    return std::nullopt;
  auto reason = category_of(*j, "reason");
  if (!reason)
    return std::nullopt;
  b.reason = *reason;
  return b;
}

} // namespace kinbox
