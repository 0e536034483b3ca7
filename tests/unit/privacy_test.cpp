// The data inventory (docs/privacy.md) against what kinbox writes: every field of every
// record stored in KV, a stream or LMDB must be named there. JSON records are encoded
// with every field set and their keys collected, so a field added to a record without
// its line in the inventory fails here.
#define CAF_SUITE privacy
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "actors/chat.hpp"
#include "actors/contacts.hpp"
#include "actors/family.hpp"
#include "actors/profile.hpp"
#include "actors/safety.hpp"
#include "actors/user_actor.hpp"
#include "cluster/membership.hpp"
#include "cluster/shard_map.hpp"
#include "persistence/mailbox_format.hpp"

using namespace kinbox;

namespace {

std::string inventory() {
  std::ifstream in{std::string{KINBOX_SOURCE_DIR} + "/docs/privacy.md"};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void collect_keys(const nlohmann::json& j, std::set<std::string>& out) {
  if (j.is_object())
    for (auto& [key, value] : j.items()) {
      out.insert(key);
      collect_keys(value, out);
    }
  else if (j.is_array())
    for (auto& value : j)
      collect_keys(value, out);
}

std::set<std::string> keys_of(const bytes& record) {
  std::set<std::string> out;
  collect_keys(nlohmann::json::parse(record.begin(), record.end()), out);
  return out;
}

void check_listed(const std::string& what, const std::set<std::string>& fields) {
  static const auto doc = inventory();
  CAF_REQUIRE(!doc.empty());
  for (auto& f : fields) {
    bool listed = doc.find("`" + f + "`") != std::string::npos;
    if (!listed)
      CAF_MESSAGE(what << " field `" << f << "` is not in docs/privacy.md");
    CAF_CHECK(listed);
  }
}

} // namespace

CAF_TEST(every field of the account and profile records is in the inventory) {
  account_record a;
  a.id = 1234567890;
  a.name = "Mia";
  a.birth_date = "2015-04-12";
  a.setup_hash = "00";
  a.setup_expires_ms = 1;
  a.quiet = quiet_schedule{0x7f, 21 * 60, 7 * 60, "Europe/Berlin"};
  check_listed("account", keys_of(encode_account(a)));
  profile_record p;
  p.avatar = {1, 2};
  p.device = {"os", "1.0", "en", "UTC"};
  check_listed("profile", keys_of(encode_profile(p)));
}

CAF_TEST(every field of the contact list family and group records is in the inventory) {
  contact_list_state list;
  friend_limit_config rules;
  CAF_REQUIRE(list.add(1111111111, 1, rules, true));
  CAF_REQUIRE(list.add(2222222222, 1, rules, false));
  list.receive_decline(2222222222, 2, rules);
  list.set_parent(3333333333);
  list.add_child(4444444444);
  list.block(5555555555, 1);
  CAF_REQUIRE(list.may_report(5555555555, 1, rules));
  list.reported(5555555555);
  list.join_group(0x8000000000000001ull);
  check_listed("contact list", keys_of(list.encode()));
  family_state f;
  f.child = 1;
  f.parent = 2;
  f.pin_hash = "$argon2id$...";
  f.add_approval(3, true, 4);
  CAF_CHECK(!f.redeems.take(rate_limit{1, 5}, 5));
  check_listed("family", keys_of(f.encode()));
  chat_record chat{0x8000000000000001ull, "Lunch", 1111111111, 3, {1111111111, 2222222222}};
  check_listed("group", keys_of(chat.encode()));
}

CAF_TEST(every field of reports bans and node records is in the inventory) {
  check_listed("report", keys_of(encode_report({1, 2, report_category::bullying, 3,
                                                account_role::child, 4})));
  check_listed("resolution", keys_of(encode_resolution({1, 2, "banned"})));
  check_listed("ban", keys_of(encode_ban({1, 2, report_category::other})));
  node_record n;
  n.id = "n1";
  n.moving = {{1, "n2"}};
  check_listed("node record", keys_of(n.encode()));
}

CAF_TEST(the fields of the binary records are in the inventory and make up the whole record) {
  // Binary records carry no names: each is listed field by field with its size, and the
  // sizes must add up to what the encoder writes, so a field added to an encoder fails
  // here until it is listed (and documented).
  using field = std::pair<std::string, size_t>;
  auto check_record = [](const std::string& what, const std::vector<field>& fields,
                         size_t encoded) {
    std::set<std::string> names;
    size_t total = 0;
    for (auto& [name, size] : fields) {
      if (!name.empty())
        names.insert(name);
      total += size;
    }
    check_listed(what, names);
    CAF_CHECK_EQUAL(total, encoded);
  };
  presence_record p{"node-1", 7, 8};
  // "" is framing: a format byte, a string's length.
  check_record("presence", {{"", 1}, {"", 4}, {"node", p.node.size()}, {"incarnation", 8},
                            {"since_ms", 8}},
               encode_presence(p).size());
  check_listed("last seen", {"last_seen_ms"}); // one u64 under the account's key
  envelope e{1, mail_kind::message, {}, 2, 3, 4, bytes(10, 1), 5};
  // The recipient and the sequence number are the LMDB key; the value is the rest.
  check_listed("envelope", {"recipient"});
  check_record("envelope", {{"kind", 1}, {"id", 16}, {"sender", 8}, {"stored_at_ms", 8},
                            {"expires_at_ms", 8}, {"payload", e.payload.size()}},
               mailbox_format::encode_envelope(e).size());
  auto map = placement::initial(4, {"n1", "n2"});
  check_record("placement", {{"", 1}, {"epoch", 8}, {"shards", 4}, {"", 2},
                             {"nodes", 4 + 2 + 4 + 2}, {"owners", 2 * 4}},
               map.encode().size());
}

CAF_TEST(what is never stored is said so) {
  auto doc = inventory();
  for (auto* never : {"Message content", "Locations", "PINs"})
    CAF_CHECK(doc.find(never) != std::string::npos);
}
