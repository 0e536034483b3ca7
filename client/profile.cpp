#include "client/profile.hpp"
#include "protocol/json_fields.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "crypto/key_file.hpp"

namespace kinbox::client {

using nlohmann::json;

namespace {

std::string file_of(const std::string& dir) {
  return dir + "/profile.json";
}

failure profile_error(const std::string& dir, const std::string& why) {
  return failure{errc::invalid_argument, "profile '" + dir + "': " + why};
}

} // namespace

result<std::optional<profile>> profile::load(const std::string& dir) {
  auto text = crypto::read_secret_file(file_of(dir), "profile", 1 << 20);
  if (!text && text.error().code == errc::not_found)
    return std::optional<profile>{};
  if (!text)
    return text.error();
  auto j = json::parse(*text, nullptr, false);
  sodium_memzero(text->data(), text->size());
  if (j.is_discarded() || !j.is_object())
    return profile_error(dir, "profile.json is not valid JSON");
  profile p;
  p.dir = dir;
  try {
    p.id = json_uint_or(j, "id", account_id{0});
    p.name = j.value("name", std::string{});
    p.role = j.value("role", std::string{"child"}) == "parent" ? account_role::parent
                                                               : account_role::child;
    p.gateway = j.value("gateway", std::string{});
    auto sign_sk = j.at("sign_secret").get<std::string>();
    auto box_sk = j.at("box_secret").get<std::string>();
    if (!crypto::from_hex(sign_sk, {p.sign.sk.data(), p.sign.sk.size()}) ||
        !crypto::from_hex(box_sk, {p.box.sk.data(), p.box.sk.size()}))
      return profile_error(dir, "malformed keys");
    sodium_memzero(sign_sk.data(), sign_sk.size());
    sodium_memzero(box_sk.data(), box_sk.size());
    crypto_sign_ed25519_sk_to_pk(p.sign.pk.data(), p.sign.sk.data());
    crypto_scalarmult_base(p.box.pk.data(), p.box.sk.data());
    if (j.contains("cluster_key")) {
      public_key k;
      if (!crypto::from_hex(j["cluster_key"].get<std::string>(), k))
        return profile_error(dir, "malformed cluster_key");
      p.pinned_key = k;
    }
    for (auto& s : j.value("seen", json::array())) {
      // "<sender>:<id in hex>"
      auto text = s.is_string() ? s.get<std::string>() : std::string{};
      auto colon = text.find(':');
      seen_message m;
      if (colon != std::string::npos &&
          std::from_chars(text.data(), text.data() + colon, m.from).ec == std::errc{} &&
          crypto::from_hex(std::string_view{text}.substr(colon + 1), m.id))
        p.seen.push_back(m);
    }
  } catch (const json::exception& e) {
    return profile_error(dir, e.what());
  }
  return std::optional<profile>{std::move(p)};
}

profile profile::create(const std::string& dir) {
  profile p;
  p.dir = dir;
  p.sign = crypto::sign_keypair::generate();
  p.box = crypto::box_keypair::generate();
  return p;
}

result<bool> profile::save() const {
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec); ec)
    return profile_error(dir, ec.message());
  ::chmod(dir.c_str(), 0700);
  json j{{"id", id},
         {"name", name},
         {"role", role == account_role::parent ? "parent" : "child"},
         {"gateway", gateway},
         {"sign_secret", crypto::to_hex({sign.sk.data(), sign.sk.size()})},
         {"box_secret", crypto::to_hex({box.sk.data(), box.sk.size()})}};
  if (pinned_key)
    j["cluster_key"] = crypto::to_hex(*pinned_key);
  json seen_ids = json::array();
  for (auto& s : seen)
    seen_ids.push_back(std::to_string(s.from) + ":" + crypto::to_hex(s.id));
  j["seen"] = seen_ids;
  auto text = j.dump(2) + "\n";
  auto tmp = file_of(dir) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return profile_error(dir, std::strerror(errno));
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok || ::rename(tmp.c_str(), file_of(dir).c_str()) != 0)
    return profile_error(dir, "could not be written");
  return true;
}

bool profile::was_seen(const seen_message& m) const {
  return std::find(seen.begin(), seen.end(), m) != seen.end();
}

void profile::mark_seen(const seen_message& m) {
  if (was_seen(m))
    return;
  seen.push_back(m);
  while (seen.size() > max_seen)
    seen.pop_front();
}

void profile::forget_newest(size_t n) {
  seen.erase(seen.end() - static_cast<std::ptrdiff_t>(std::min(n, seen.size())), seen.end());
}

} // namespace kinbox::client
