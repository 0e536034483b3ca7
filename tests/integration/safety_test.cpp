// The family model attacked from outside, as an adult posing as a parent, a child trying
// to slip its parent, and a stranger probing ids would (docs/security.md): each test is
// one of the attacks that worked before the family model was closed, through real
// gateways, a real nats-server and real TCP.
#define CAF_SUITE safety
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "tests/images.hpp"
#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

struct fixture : nats_fixture {
  node n{&nats};
};

/// Waits for a notice of `type` about `child` in `parent`'s mail.
bool got_notice(user& parent, notice_type type, account_id child) {
  return eventually([&] {
    auto items = parent->receive(200ms);
    if (!items)
      return false;
    for (auto& r : *items)
      if (r.kind == client::received::what::notice && r.notice && r.notice->type == type &&
          r.notice->child == child)
        return true;
    return false;
  });
}

/// The parent `asker` reads in `child`'s link; 0 when it may not read it.
account_id parent_seen(user& asker, account_id child) {
  auto info = asker->link_get(child);
  return info ? info->parent : 0;
}

/// Reads and acks what waits for `u`.
void drain_mail(user& u) {
  while (true) {
    auto items = u->receive(300ms);
    if (!items || items->empty())
      return;
  }
}

/// Registers on a fresh connection with the given body; the answer's error code, or
/// nullopt when it was accepted.
std::optional<errc> register_raw(const node& n, const register_request& req) {
  auto conn = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(conn);
  auto r = (*conn)->request(frame_type::register_account, encode_body(req));
  if (r)
    return std::nullopt;
  return r.error().code;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(safety_tests, fixture)

CAF_TEST(no one becomes the parent of a child by saying so) {
  auto sign = crypto::sign_keypair::generate().pk;
  auto box = crypto::box_keypair::generate().pk;
  // A child registers alone, or an adult registers as a child: refused.
  CAF_CHECK(register_raw(n, {"Kid", "2016-05-01", account_role::child, sign, box}) ==
            errc::invalid_argument);
  CAF_CHECK(register_raw(n, {"Grown", "1970-05-01", account_role::child, sign, box}) ==
            errc::invalid_argument);
  // A date in a wrong form is a bad value with its reason, not a malformed frame.
  CAF_CHECK(register_raw(n, {"Grown", " 1970-05-01", account_role::parent, sign, box}) ==
            errc::invalid_argument);
  // A child registers a "parent" with its own birth date, or yesterday's: refused.
  CAF_CHECK(register_raw(n, {"Kid", "2016-05-01", account_role::parent, sign, box}) ==
            errc::invalid_argument);
  auto yesterday = [] {
    auto t = std::chrono::system_clock::now() - std::chrono::hours(24);
    auto days = std::chrono::floor<std::chrono::days>(t);
    std::chrono::year_month_day ymd{days};
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", int{ymd.year()}, unsigned{ymd.month()},
                  unsigned{ymd.day()});
    return std::string{buf};
  }();
  CAF_CHECK(register_raw(n, {"Kid", yesterday, account_role::parent, sign, box}) ==
            errc::invalid_argument);
  // An adult stranger who gets a child to type its link code gets nothing: the child is
  // linked from its first moment, and a linked child takes no code without its PIN.
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  auto stranger = make_user(n, "Stranger");
  auto code = stranger->link_create("3958");
  CAF_REQUIRE(code);
  auto taken = mia->link_redeem(stranger.id, code->secret);
  CAF_REQUIRE(!taken);
  CAF_CHECK(taken.error().code == errc::already_linked);
  CAF_CHECK_EQUAL(parent_seen(mum, mia.id), mum.id);
  CAF_CHECK(!stranger->link_get(mia.id));
  CAF_CHECK(!stranger->contacts(mia.id));
  // The child cannot make accounts or codes of its own.
  CAF_CHECK(!mia->child_create("Mini", "2020-01-01"));
  CAF_CHECK(!mia->link_create("3958"));
  // Nor can a parent take another parent's child with a setup code of its own making:
  // a setup code is for the account its parent made.
  auto other = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(other);
  auto stolen =
      (*other)->request(frame_type::register_child,
                        encode_body(register_child_request{mia.id, code->secret, sign, box}));
  CAF_REQUIRE(!stolen);
  CAF_CHECK(stolen.error().code == errc::not_found);
  CAF_CHECK(mia->whoami()); // the child's device still holds the account
}

CAF_TEST(a child cannot leave its parent silently) {
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  CAF_REQUIRE(mum->pin_set(mia.id, "2741"));
  // Deleting itself needs the parent: without the PIN, or with a wrong one, nothing goes.
  auto alone = mia->account_delete(mia.id);
  CAF_REQUIRE(!alone);
  CAF_CHECK(alone.error().code == errc::parent_required);
  auto wrong = mia->account_delete(mia.id, "5827");
  CAF_REQUIRE(!wrong);
  CAF_CHECK(wrong.error().code == errc::wrong_pin);
  CAF_CHECK_EQUAL(parent_seen(mum, mia.id), mum.id);
  // Moving to a parent of its own making needs the PIN too.
  auto fake = make_user(n, "Fake Mum");
  auto code = fake->link_create("3958");
  CAF_REQUIRE(code);
  auto without_pin = mia->link_redeem(fake.id, code->secret);
  CAF_REQUIRE(!without_pin);
  CAF_CHECK(without_pin.error().code == errc::already_linked);
  auto wrong_pin = mia->link_redeem(fake.id, code->secret, "8316");
  CAF_REQUIRE(!wrong_pin);
  CAF_CHECK(wrong_pin.error().code == errc::wrong_pin);
  CAF_CHECK_EQUAL(parent_seen(mum, mia.id), mum.id);
  // With Mum's PIN typed on Mia's device, the deletion goes, and Mum is told, also when
  // she was away.
  mum.conn.reset();
  CAF_REQUIRE(mia->account_delete(mia.id, "2741"));
  reconnect(mum, n);
  CAF_CHECK(got_notice(mum, notice_type::child_deleted, mia.id));
  CAF_CHECK(!mum->link_get(mia.id));
}

CAF_TEST(a child whose parent is gone is frozen until a new parent links it) {
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  auto dad = make_user(n, "Dad");
  auto leo = make_child(n, dad, "Leo");
  CAF_REQUIRE(mum->policy_set(mia.id, client::friend_policy_choice::child_alone));
  CAF_REQUIRE(dad->policy_set(leo.id, client::friend_policy_choice::child_alone));
  befriend(mia, leo);
  // Mum deletes her own account: Mia is left without a parent.
  CAF_REQUIRE(mum->account_delete(mum.id));
  // Her messages go straight to her friends' actors: her session is closed, and the
  // next one refuses them. She still logs in and exports; she cannot befriend, write or
  // be written to, or delete herself.
  await_frozen(mia, n);
  auto befriend_dad = mia->friend_add(dad.id);
  CAF_REQUIRE(!befriend_dad);
  CAF_CHECK(befriend_dad.error().code == errc::account_frozen);
  auto friend_profile = mia->profile_get(leo.id); // read at Leo's actor, refused at hers
  CAF_REQUIRE(!friend_profile);
  CAF_CHECK(friend_profile.error().code == errc::account_frozen);
  auto sent = mia->send_text(leo.id, "anyone?");
  CAF_REQUIRE(!sent);
  CAF_CHECK(sent.error().code == errc::account_frozen);
  CAF_CHECK(mia->account_export(mia.id));
  auto friends = mia->friends();
  CAF_REQUIRE(!friends);
  CAF_CHECK(friends.error().code == errc::account_frozen);
  auto deleted = mia->account_delete(mia.id, "2741");
  CAF_REQUIRE(!deleted);
  CAF_CHECK(deleted.error().code == errc::account_frozen);
  CAF_CHECK(!leo->send_text(mia.id, "still there?"));
  CAF_CHECK_EQUAL(parent_seen(mia, mia.id), 0u);
  // A new parent's link code takes her; she is herself again, her friends kept.
  auto gran = make_user(n, "Gran");
  auto code = gran->link_create("3958");
  CAF_REQUIRE(code);
  CAF_REQUIRE(mia->link_redeem(gran.id, code->secret));
  CAF_CHECK(got_notice(gran, notice_type::linked, mia.id));
  CAF_CHECK(mia->friends());
  CAF_CHECK(eventually([&] { return static_cast<bool>(leo->send_text(mia.id, "welcome back")); }));
  CAF_CHECK(mia->send_text(leo.id, "thanks"));
}

CAF_TEST(a parent moving the child and every change made elsewhere is told) {
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  CAF_CHECK(got_notice(mum, notice_type::registered, mia.id));
  CAF_REQUIRE(mum->pin_set(mia.id, "2741"));
  CAF_REQUIRE(mia->pin_change("2741", "6294"));
  CAF_CHECK(got_notice(mum, notice_type::pin_changed, mia.id));
  // A new device for Mia: Mum makes a new code; the old device's session ends.
  auto fresh = mum->child_setup_code(mia.id);
  CAF_REQUIRE(fresh);
  user phone;
  phone.dir = std::make_unique<temp_dir>("kinbox-profile");
  phone.prof = std::make_unique<client::profile>(client::profile::create(phone.dir->str()));
  {
    auto c = client::client::connect(*phone.prof, "127.0.0.1", n.port());
    CAF_REQUIRE(c);
    CAF_REQUIRE((*c)->register_child(fresh->child, fresh->secret));
  }
  auto ended = mia->receive(5s);
  CAF_REQUIRE(!ended);
  CAF_CHECK(ended.error().code == errc::session_replaced);
  reconnect(phone, n);
  CAF_CHECK(phone->whoami());
  auto old_device = client::client::connect(*mia.prof, "127.0.0.1", n.port());
  CAF_REQUIRE(old_device);
  CAF_CHECK(!(*old_device)->login()); // its keys are not the child's any more
  // Moved to Dad with Mum's PIN on the child's device: Mum is told, Dad gets the child.
  auto dad = make_user(n, "Dad");
  auto code = dad->link_create("3958");
  CAF_REQUIRE(code);
  CAF_REQUIRE(phone->link_redeem(dad.id, code->secret, "6294"));
  CAF_CHECK(got_notice(mum, notice_type::unlinked, mia.id));
  CAF_CHECK(got_notice(dad, notice_type::linked, mia.id));
  CAF_CHECK_EQUAL(parent_seen(dad, mia.id), dad.id);
  CAF_CHECK(!mum->link_get(mia.id));
  CAF_CHECK(!mum->contacts(mia.id));
}

CAF_TEST(a parent approves a person and hears when a friend takes another name) {
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  auto dad = make_user(n, "Dad");
  auto leo = make_child(n, dad, "Leo");
  CAF_REQUIRE(dad->policy_set(leo.id, client::friend_policy_choice::child_alone));
  // Leo asks Mia; she accepts; the step waits for Mum, who sees who Leo is.
  CAF_REQUIRE(leo->friend_add(mia.id));
  CAF_CHECK(eventually([&] { return static_cast<bool>(mia->friend_accept(leo.id)); }));
  auto waiting = mum->approvals(mia.id);
  CAF_REQUIRE(waiting && waiting->entries.size() == 1);
  auto& step = waiting->entries[0];
  CAF_CHECK_EQUAL(step.other, leo.id);
  CAF_CHECK_EQUAL(step.name, "Leo");
  CAF_CHECK(step.role == account_role::child);
  CAF_CHECK_EQUAL(step.parent_name, "Dad");
  // The contact-level profile while the step waits: name, avatar, online, nothing more.
  auto who = mum->profile_get(leo.id, mia.id);
  CAF_REQUIRE(who);
  CAF_CHECK_EQUAL(who->name, "Leo");
  CAF_CHECK(!who->full);
  CAF_CHECK(!mum->profile_get(leo.id)); // not without the step
  auto stranger = make_user(n, "Stranger");
  CAF_CHECK(!stranger->profile_get(leo.id, mia.id)); // nor for another parent
  auto listed = mum->contacts(mia.id);
  CAF_REQUIRE(listed);
  bool named = false;
  for (auto& e : listed->entries)
    named = named || (e.id == leo.id && e.name == "Leo");
  CAF_CHECK(named);
  CAF_REQUIRE(mum->approval_decide(mia.id, leo.id, true));
  CAF_CHECK(eventually([&] {
    auto list = leo->friends();
    return list && std::any_of(list->entries.begin(), list->entries.end(), [&](auto& e) {
             return e.id == mia.id && e.state == contact_state::friends;
           });
  }));
  drain_mail(mum);
  // Leo tries to pass for Mum: look-alike names are refused, a plain one is told to Mum.
  for (std::string fake : {"\xd0\x9c"
                           "um",
                           "\xef\xbc\xad\xef\xbd\x95\xef\xbd\x8d",
                           "\xf0\x9d\x90\x8c\xf0\x9d\x90\xae\xf0\x9d\x90\xa6"}) {
    auto refused = leo->profile_set({fake, "", gender::unsaid, {}});
    CAF_REQUIRE(!refused);
    CAF_CHECK(refused.error().code == errc::invalid_argument);
  }
  CAF_REQUIRE(leo->profile_set({"Mum", "", gender::unsaid, {}}));
  bool told = eventually([&] {
    auto items = mum->receive(200ms);
    if (!items)
      return false;
    for (auto& r : *items)
      if (r.kind == client::received::what::notice && r.notice &&
          r.notice->type == notice_type::friend_renamed && r.notice->other == leo.id &&
          r.notice->child == mia.id)
        return true;
    return false;
  });
  CAF_CHECK(told);
  // Mia's own list shows her real parent beside the friend who took the name.
  auto mine = mia->friends();
  CAF_REQUIRE(mine);
  bool real_mum = false, fake_mum = false;
  for (auto& e : mine->entries) {
    real_mum = real_mum || (e.id == mum.id && e.state == contact_state::parent && e.name == "Mum");
    fake_mum = fake_mum || (e.id == leo.id && e.state == contact_state::friends && e.name == "Mum");
  }
  CAF_CHECK(real_mum);
  CAF_CHECK(fake_mum);
}

CAF_TEST(a flood of PIN work by one parent leaves other families their checks) {
  auto flooder = make_user(n, "Flooder");
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  CAF_REQUIRE(mum->pin_set(mia.id, "2741"));
  // 300 link codes pipelined, each a PIN hash: one at a time for this parent, the others
  // refused at once instead of queued in front of everyone else's.
  auto& conn = flooder->conn();
  std::vector<uint32_t> ids;
  for (int i = 0; i < 300; ++i) {
    ids.push_back(conn.next_request_id());
    conn.queue_frame(make_frame(frame_type::link_create, ids.back(), link_create_request{"3958"}));
  }
  CAF_REQUIRE(conn.flush());
  // Meanwhile Mia's device changes her PIN with the old one (a check and a hash).
  CAF_CHECK(mia->pin_change("2741", "6294"));
  size_t codes = 0, limited = 0;
  for (size_t answered = 0; answered < ids.size();) {
    auto f = conn.read_frame(30s);
    CAF_REQUIRE(f);
    if (f->type == frame_type::link_code) {
      ++codes;
    } else if (f->type == frame_type::error) {
      auto e = decode_body<error_body>(f->body);
      CAF_REQUIRE(e);
      CAF_CHECK(e->code == errc::rate_limited);
      limited += e->code == errc::rate_limited;
    } else {
      continue; // a push
    }
    ++answered;
  }
  CAF_CHECK_GREATER_OR_EQUAL(codes, 1u);
  CAF_CHECK_GREATER(limited, 250u);
}

CAF_TEST(the small abuse channels are closed) {
  auto mum = make_user(n, "Mum");
  auto mia = make_child(n, mum, "Mia");
  // The PINs anyone tries first are refused as new PINs.
  for (auto* easy : {"0000", "1234", "1111", "2580"}) {
    auto r = mum->pin_set(mia.id, easy);
    CAF_REQUIRE(!r);
    CAF_CHECK(r.error().code == errc::invalid_argument);
  }
  // Names that show nothing.
  for (std::string blank : {"\xe3\x85\xa4", "\xe1\x85\x9f", "\xe2\xa0\x80",
                            "\xf3\xa0\x80\x81\xf3\xa0\x81\xa1", "\xef\xb8\x8f"}) {
    auto r = mia->profile_set({blank, "", gender::unsaid, {}});
    CAF_REQUIRE(!r);
    CAF_CHECK(r.error().code == errc::invalid_argument);
  }
  // A photo with the child's GPS position in its EXIF: what friends get has none of it.
  const std::string gps = "GPS-48.8584N-2.2945E-from-the-camera";
  CAF_REQUIRE(mia->profile_set({"Mia", "", gender::unsaid, jpeg_with_exif(gps)}));
  auto seen = mum->profile_get(mia.id);
  CAF_REQUIRE(seen);
  CAF_CHECK(!seen->avatar.empty());
  std::string avatar(seen->avatar.begin(), seen->avatar.end());
  CAF_CHECK(avatar.find(gps) == std::string::npos);
  CAF_CHECK(avatar.find("Exif") == std::string::npos);
  // A script behind PNG magic, random bytes behind JPEG magic, a header of 65535 x 65535:
  // refused with the reason, the session kept and the avatar as it was.
  std::string script = "\x89PNG\r\n\x1a\n<script>alert(1)</script>";
  bytes noise{0xff, 0xd8, 0xff};
  for (int i = 0; i < 500; ++i)
    noise.push_back(static_cast<uint8_t>(i * 131));
  for (auto& bad : {bytes(script.begin(), script.end()), noise}) {
    auto r = mia->profile_set({"Mia", "", gender::unsaid, bad});
    CAF_REQUIRE(!r);
    CAF_CHECK(r.error().code == errc::invalid_argument);
  }
  CAF_CHECK(mia->whoami());
  auto again = mum->profile_get(mia.id);
  CAF_REQUIRE(again);
  CAF_CHECK(again->avatar == seen->avatar);
}

CAF_TEST(a stranger gets the same answer whatever kind of id it asks about) {
  // The ids: an ordinary parent, another family's child, an id without an account, a
  // deleted account, an account that blocks the stranger, a parent with a live link code.
  auto ordinary = make_user(n, "Ordinary");
  auto other_parent = make_user(n, "Other Parent");
  auto child = make_child(n, other_parent, "Other Child");
  auto deleted = make_user(n, "Deleted");
  auto mallory = make_user(n, "Mallory");
  auto blocking = make_user(n, "Blocking");
  CAF_REQUIRE(blocking->contact_block(blocking.id, mallory.id));
  auto coded = make_user(n, "Coded");
  auto live_code = coded->link_create("3958");
  CAF_REQUIRE(live_code);
  CAF_REQUIRE(deleted->account_delete(deleted.id));
  const std::vector<std::pair<std::string, account_id>> kinds{
      {"parent", ordinary.id}, {"child", child.id},       {"unknown", 1'234'567'891},
      {"deleted", deleted.id}, {"blocking", blocking.id}, {"live code", coded.id}};
  // Mallory's own children, without a parent once she unlinks them: they redeem codes.
  auto shade = make_child(n, mallory, "Shade");
  auto umbra = make_child(n, mallory, "Umbra");
  CAF_REQUIRE(mallory->link_remove(shade.id));
  CAF_REQUIRE(mallory->link_remove(umbra.id));
  await_frozen(shade, n);
  await_frozen(umbra, n);
  auto answer = [](result<frame> r) -> std::string {
    if (r)
      return "ok " + std::string{frame_type_name(r->type)};
    return std::string{errc_name(r.error().code)} + ": " + r.error().message;
  };
  auto id_body = [](account_id id) { return encode_body(target_request{id}); };
  using request = std::function<std::string(account_id, size_t)>;
  std::vector<std::pair<std::string, request>> requests;
  auto by_mallory = [&](std::string name, frame_type type, std::function<bytes(account_id)> body) {
    requests.emplace_back(std::move(name), [&, type, body](account_id t, size_t) {
      return answer(mallory->conn().request(type, body(t)));
    });
  };
  by_mallory("profile_get", frame_type::profile_get, id_body);
  by_mallory("account_export", frame_type::account_export, id_body);
  by_mallory("account_delete", frame_type::account_delete, id_body);
  by_mallory("friend_accept", frame_type::friend_accept, id_body);
  by_mallory("friend_decline", frame_type::friend_decline, id_body);
  by_mallory("key_get", frame_type::key_get, id_body);
  by_mallory("status_get", frame_type::status_get, id_body);
  by_mallory("contacts_get", frame_type::contacts_get, id_body);
  by_mallory("contact_block", frame_type::contact_block, [&](account_id t) {
    return encode_body(contact_action{t, ordinary.id});
  });
  by_mallory("contact_remove", frame_type::contact_remove, [&](account_id t) {
    return encode_body(contact_action{t, ordinary.id});
  });
  by_mallory("send", frame_type::send, [](account_id t) {
    return encode_body(send_request{t, crypto::new_message_id(), bytes(48, 7)});
  });
  by_mallory("link_get", frame_type::link_get, id_body);
  by_mallory("link_remove", frame_type::link_remove, id_body);
  by_mallory("pin_set", frame_type::pin_set, [](account_id t) {
    return encode_body(pin_set_request{t, "5827"});
  });
  by_mallory("approvals_get", frame_type::approvals_get, id_body);
  by_mallory("approval_decide", frame_type::approval_decide, [&](account_id t) {
    return encode_body(approval_decision{t, ordinary.id, true});
  });
  by_mallory("policy_set", frame_type::policy_set, [](account_id t) {
    return encode_body(policy_request{t, 2});
  });
  by_mallory("location_sharing", frame_type::location_sharing, [](account_id t) {
    return encode_body(location_sharing_request{t, true});
  });
  by_mallory("child_setup_code", frame_type::child_setup_code, id_body);
  by_mallory("friend_add", frame_type::friend_add, id_body);
  by_mallory("report", frame_type::report, [](account_id t) {
    return encode_body(report_request{t, report_category::other});
  });
  // Link codes from a child without a parent (a few a child: two children take turns),
  // the live code's secret included; setup codes from a connection not logged in.
  requests.emplace_back("link_redeem", [&](account_id t, size_t kind) {
    auto& who = kind % 2 == 0 ? shade : umbra;
    return answer(who->conn().request(
        frame_type::link_redeem, encode_body(link_redeem_request{t, live_code->secret + 1, {}})));
  });
  requests.emplace_back("register_child", [&](account_id t, size_t) {
    auto conn = client::connection::open("127.0.0.1", n.port(), std::nullopt);
    CAF_REQUIRE(conn);
    return answer((*conn)->request(
        frame_type::register_child,
        encode_body(register_child_request{t, 77, crypto::sign_keypair::generate().pk,
                                           crypto::box_keypair::generate().pk})));
  });
  for (auto& [name, ask] : requests) {
    std::string first;
    for (size_t k = 0; k < kinds.size(); ++k) {
      auto got = ask(kinds[k].second, k);
      if (k == 0)
        first = got;
      if (got != first)
        CAF_MESSAGE(name << " about a " << kinds[k].first << ": '" << got << "', about a "
                         << kinds[0].first << ": '" << first << "'");
      CAF_CHECK_EQUAL(got, first);
    }
  }
}

CAF_TEST(codes are guessed only as fast as the guessing address allows) {
  node limited{
      &nats,
      {"--key-file", n.data_dir() + "/cluster.key", "--limit-code-guesses-per-address", "4"},
      "node2"};
  auto mum = make_user(limited, "Mum");
  auto code = mum->link_create("3958");
  CAF_REQUIRE(code);
  auto kid = make_child(limited, mum, "Kid");
  CAF_REQUIRE(mum->link_remove(kid.id));
  await_frozen(kid, limited);
  std::optional<failure> refused;
  for (uint64_t i = 1; i <= 6 && !refused; ++i)
    if (auto r = kid->link_redeem(mum.id, code->secret + i);
        !r && r.error().code != errc::not_found)
      refused = r.error();
  CAF_REQUIRE(refused);
  CAF_CHECK(refused->code == errc::rate_limited);
  // The guesses voided nothing: Mum's code still links her child (from another address).
  auto from_elsewhere =
      client::client::connect(*kid.prof, "127.0.0.1", limited.port(), "127.0.0.2");
  CAF_REQUIRE(from_elsewhere);
  CAF_REQUIRE((*from_elsewhere)->login());
  CAF_CHECK((*from_elsewhere)->link_redeem(mum.id, code->secret));
}

CAF_TEST_FIXTURE_SCOPE_END()
