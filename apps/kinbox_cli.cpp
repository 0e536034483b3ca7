// kinbox: the command-line client. Every command connects, logs in (except register)
// and does one thing. Secret keys stay in the profile directory.
#include <sys/utsname.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "config/version.hpp"
#include "client/client.hpp"

using namespace kinbox;
using namespace kinbox::client;
using nlohmann::json;

namespace {

constexpr int exit_error = 1;
constexpr int exit_usage = 2;

const char* usage_text = R"(usage: kinbox [global options] COMMAND [ARGS]

global options:
  --profile DIR         profile directory (default: $KINBOX_PROFILE or ~/.kinbox)
  --gateway HOST:PORT[,HOST:PORT...]
                        gateways to use, the first that answers; the others take over when
                        it goes away (default: the profile's, $KINBOX_GATEWAY, 127.0.0.1:7420)
  --cluster-key HEX     pin this cluster key instead of trusting the first one seen
  --json                print one JSON object per line
  --version             print the version and exit

commands:
  register --name NAME --birth-date YYYY-MM-DD
                        register a parent account (18 or older)
  register --setup-code CODE
                        register this device as the child account whose code this is
                        (the parent's `child add` prints it)
  login                 log in and print the account
  whoami                print this profile's account
  friend add ID         ask ID to be friends
  friend accept ID      accept ID's request
  friend decline ID     decline ID's request
  friend list           list contacts and requests
  send ID TEXT          send TEXT to friend ID (end-to-end encrypted)
  recv [--wait SECONDS] [--read]
                        print received mail and ack it (waits up to SECONDS, default 0);
                        --read also tells the senders their messages were read
  read ID MSGID...      tell ID its messages MSGID (hex, as recv prints them) were read
  typing ID|GROUP       tell a friend, or a group's members, you are typing (not stored)
  status ID             online status and last seen of friend ID
  profile set [--name N] [--country CC|-] [--gender female|male|other|unsaid]
              [--avatar FILE]   change your profile (a PNG, JPEG or WebP avatar)
  profile show [ID] [--child CHILD]
                        your profile, a child's, or what a friend shows; with --child,
                        who a friend step of your child waiting for you is with
  export [CHILD] [--out FILE]  everything the cluster holds on you (or your child), as JSON
  delete-account [CHILD] --yes [--pin PIN]
                        delete your account (or your child's) on every node; a linked
                        child deleting itself needs its parent's PIN
  contacts [CHILD]      contacts and pending requests, your own or your child's
  block ID [--child CHILD]     block ID and delete the mail from it still waiting
  remove ID [--child CHILD]    remove ID from the contacts, deleting its waiting mail
  report ID CATEGORY    report ID to the operators and block it; CATEGORY is harassment,
                        bullying, sexual_content, violence, impersonation or other

groups (of friends; every child in a group is a friend of every member, or their child):
  group create NAME ID...      make a group of you and your friends ID...; prints its id
  group add GROUP ID           add your friend ID (refused not_allowed unless every child
                               of the group may meet ID, and ID, a child, may meet them all)
  group remove GROUP ID        (the creator, or ID's parent) take ID out of the group
  group leave GROUP            leave the group
  group list [CHILD]           your groups, or your child's
  group show GROUP             name, version and members (with the names of your contacts)
  group send GROUP TEXT        send TEXT to the group (end-to-end encrypted, one upload)

moments (posts to your friends; the server keeps only copies not yet delivered):
  moment post TEXT             post TEXT to your friends (and your parent or children);
                               prints the post's id, POSTER-NUMBER
  moment like POSTID           like a post (your friends who are the poster's see it too)
  moment comment POSTID TEXT   comment on a post (to the poster and your common friends)
  moment delete POSTID         delete your post, or your child's, from every friend

calls (signaling only: the media goes between the apps):
  call ID|GROUP [--video] [--wait S]
                               ring a friend, or a group's members; prints each one's
                               outcome, then waits up to S seconds (default 65) for their
                               answers; the call ends when this command does
  call answer|decline|hangup CALLID
                               answer, decline or end call CALLID (as recv printed it)
  call end CHILD               (parent) end your child's ringing or running calls

family (a parent makes each child's account; the PIN approves the child's friends):
  child add --name NAME --birth-date YYYY-MM-DD
                               (parent) make your child's account, linked to you; prints
                               the one-time code its device registers with
  child setup-code CHILD       (parent) a new code for the child's device (a new phone,
                               or the first code expired)
  link create --pin PIN        (parent) make a one-time link code, valid 10 minutes, for a
                               child without a parent, or one moving to you
  link redeem CODE [--pin PIN] (child) link to the parent whose code this is; a linked
                               child moves only with its current parent's PIN
  link show [CHILD]            the link of CHILD (parent) or your own (child)
  link remove CHILD            (parent) end the link
  pin set CHILD PIN            (parent) set the child's parent PIN
  pin change OLD NEW           (child's device) change the PIN with the old one
  approvals list [CHILD]       friend steps of the child waiting for the parent
  approvals approve|deny CHILD ID          (parent) answer from the parent's app
  approvals approve|deny ID --pin PIN      (child's device) answer with the parent PIN
  policy CHILD approve|alone   (parent) approve each friend, or let the child add alone
  location share LAT LON [--accuracy M]   (child) send your location to your parent only
  location watch [--wait S]    (parent) print your children's latest and new locations
                               (and other mail) for S seconds, default 30
  location on|off CHILD        (parent) switch the child's location sharing
  quiet set CHILD --from HH:MM --to HH:MM [--days mon,tue,...|mon-fri] [--tz ZONE]
                               (parent) the child's quiet hours, in its time zone (a tz
                               database name; default this machine's): nothing reaches the
                               child then, and it reaches only you
  quiet show [CHILD]           quiet hours, yours or your child's, and whether they run now
  quiet off CHILD              (parent) no quiet hours
)";

struct options {
  std::string profile_dir;
  std::string gateway;
  std::string cluster_key;
  bool json_output = false;
  bool version = false;
  std::vector<std::string> args;
};

struct usage_error {
  std::string message;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

options parse(int argc, char** argv) {
  options o;
  int i = 1;
  auto value = [&](const std::string& flag) {
    if (i + 1 >= argc)
      throw usage_error{flag + " needs a value"};
    return std::string{argv[++i]};
  };
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--profile")
      o.profile_dir = value(a);
    else if (a == "--gateway")
      o.gateway = value(a);
    else if (a == "--cluster-key")
      o.cluster_key = value(a);
    else if (a == "--json")
      o.json_output = true;
    else if (a == "--help" || a == "-h")
      throw usage_error{};
    else if (a == "--version")
      o.version = true;
    else if (a.rfind("--", 0) == 0 && o.args.empty())
      throw usage_error{"unknown option " + a};
    else
      o.args.push_back(a);
  }
  if (o.args.empty() && !o.version)
    throw usage_error{"no command given"};
  if (o.profile_dir.empty())
    o.profile_dir = env_or("KINBOX_PROFILE", env_or("HOME", ".") + "/.kinbox");
  return o;
}

account_id parse_id(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    throw usage_error{"'" + text + "' is not a kinbox ID"};
  try {
    size_t used = 0;
    auto id = std::stoull(text, &used);
    if (used == text.size() && id != 0)
      return id;
  } catch (const std::exception&) {
  }
  throw usage_error{"'" + text + "' is not a kinbox ID"};
}

std::string utc_time(uint64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

/// What this machine tells the server at login (printable ASCII, shortened to fit).
device_info this_device() {
  auto ascii = [](std::string s) {
    std::erase_if(s, [](char c) { return c < 0x20 || c > 0x7e; });
    return s.substr(0, max_device_field);
  };
  device_info d;
  utsname u{};
  if (::uname(&u) == 0)
    d.os = ascii(std::string{u.sysname} + " " + u.release);
  d.app_version = "kinbox-cli 0.1.0";
  if (const char* lang = std::getenv("LANG"); lang != nullptr) {
    std::string tag{lang};
    tag = tag.substr(0, tag.find('.'));
    std::replace(tag.begin(), tag.end(), '_', '-');
    d.language = ascii(tag == "C" || tag == "POSIX" ? "" : tag);
  }
  std::string zone;
  if (const char* tz = std::getenv("TZ"); tz != nullptr)
    zone = tz;
  else if (std::ifstream f{"/etc/timezone"}; f)
    std::getline(f, zone);
  d.time_zone = ascii(zone);
  return d;
}

class cli {
public:
  explicit cli(options o) : opts_(std::move(o)) {}

  int run() {
    auto& cmd = opts_.args[0];
    if (cmd == "register")
      return do_register();
    if (cmd == "login" || cmd == "whoami")
      return with_login([&](client::client& c, const account_info& me) {
        (void)c;
        print_account(me);
        return 0;
      });
    if (cmd == "friend")
      return do_friend();
    if (cmd == "send")
      return do_send();
    if (cmd == "recv")
      return do_recv();
    if (cmd == "group")
      return do_group();
    if (cmd == "read")
      return do_read();
    if (cmd == "typing")
      return do_typing();
    if (cmd == "status")
      return do_status();
    if (cmd == "contacts")
      return do_contacts();
    if (cmd == "location")
      return do_location();
    if (cmd == "block" || cmd == "remove")
      return do_block_or_remove();
    if (cmd == "report")
      return do_report();
    if (cmd == "profile")
      return do_profile();
    if (cmd == "export")
      return do_export();
    if (cmd == "delete-account")
      return do_delete_account();
    if (cmd == "link")
      return do_link();
    if (cmd == "child")
      return do_child();
    if (cmd == "pin")
      return do_pin();
    if (cmd == "approvals")
      return do_approvals();
    if (cmd == "policy")
      return do_policy();
    if (cmd == "quiet")
      return do_quiet();
    if (cmd == "call")
      return do_call();
    if (cmd == "moment")
      return do_moment();
    throw usage_error{"unknown command '" + cmd + "'"};
  }

private:
  int error(const failure& f) {
    if (opts_.json_output) {
      json j{{"error", std::string{errc_name(f.code)}},
             {"code", static_cast<int>(f.code)},
             {"message", f.message}};
      if (f.retry_after_ms > 0)
        j["retry_after_ms"] = f.retry_after_ms;
      std::cerr << j.dump() << "\n";
    } else {
      std::cerr << "kinbox: " << f.message << " (" << errc_name(f.code) << ")";
      if (f.retry_after_ms > 0)
        std::cerr << "; try again in " << (f.retry_after_ms + 999) / 1000 << " s";
      std::cerr << "\n";
    }
    return exit_error;
  }

  void print(const json& j, const std::string& text) {
    if (opts_.json_output)
      std::cout << j.dump() << "\n";
    else
      std::cout << text << "\n";
    std::cout.flush();
  }

  void print_account(const account_info& me) {
    auto role = me.role == account_role::parent ? "parent" : "child";
    print({{"id", me.id}, {"name", me.name}, {"role", role}},
          std::to_string(me.id) + " " + me.name + " (" + role + ")");
  }

  result<profile> load_profile(bool must_exist) {
    auto loaded = profile::load(opts_.profile_dir);
    if (!loaded)
      return loaded.error();
    if (!*loaded) {
      if (must_exist)
        return failure{errc::invalid_argument,
                       "no profile in '" + opts_.profile_dir + "'; run 'kinbox register' first"};
      return profile::create(opts_.profile_dir);
    }
    return std::move(**loaded);
  }

  result<std::unique_ptr<client::client>> open(profile& prof) {
    if (!opts_.gateway.empty())
      prof.gateway = opts_.gateway;
    if (prof.gateway.empty())
      prof.gateway = env_or("KINBOX_GATEWAY", "127.0.0.1:7420");
    if (!opts_.cluster_key.empty()) {
      public_key k;
      if (!crypto::from_hex(opts_.cluster_key, k))
        throw usage_error{"--cluster-key must be 64 hex digits"};
      if (prof.pinned_key && *prof.pinned_key != k)
        return failure{errc::key_mismatch,
                       "--cluster-key differs from the key pinned in the profile"};
      prof.pinned_key = k;
    }
    // A comma-separated list: the first that answers; the others (and any a leaving
    // node redirects to) take over when it goes away.
    std::vector<std::string> gateways;
    std::stringstream list{prof.gateway};
    for (std::string g; std::getline(list, g, ',');)
      if (!g.empty())
        gateways.push_back(g);
    return client::client::connect_any(prof, gateways);
  }

  template <class F>
  int with_login(F&& body) {
    auto prof = load_profile(true);
    if (!prof)
      return error(prof.error());
    if (prof->id == 0)
      return error({errc::invalid_argument, "the profile has no account; run 'kinbox register'"});
    auto c = open(*prof);
    if (!c)
      return error(c.error());
    (*c)->set_device(this_device());
    auto me = (*c)->login();
    if (!me)
      return error(me.error());
    auto saved = prof->save();
    if (!saved)
      return error(saved.error());
    return body(**c, *me);
  }

  std::string flag(const std::string& name) {
    for (size_t i = 1; i + 1 < opts_.args.size(); ++i)
      if (opts_.args[i] == name)
        return opts_.args[i + 1];
    return {};
  }

  /// Splits "ID-SECRET" (a link or setup code).
  static std::pair<account_id, uint64_t> parse_code(const std::string& code, const char* what) {
    auto dash = code.find('-');
    if (dash == std::string::npos)
      throw usage_error{std::string{"a "} + what + " looks like ID-SECRET"};
    return {parse_id(code.substr(0, dash)), parse_id(code.substr(dash + 1))};
  }

  int do_register() {
    auto name = flag("--name");
    auto birth = flag("--birth-date");
    auto role_text = flag("--role");
    auto setup_code = flag("--setup-code");
    if (role_text == "child" || (!setup_code.empty() && (!name.empty() || !birth.empty())))
      throw usage_error{"a child's account is made by its parent (kinbox child add); its device "
                        "registers with: register --setup-code CODE"};
    if (setup_code.empty() &&
        (name.empty() || birth.empty() || (!role_text.empty() && role_text != "parent")))
      throw usage_error{"register needs --name and --birth-date YYYY-MM-DD (a parent), or "
                        "--setup-code CODE (a child's device)"};
    auto prof = load_profile(false);
    if (!prof)
      return error(prof.error());
    if (prof->id != 0)
      return error({errc::invalid_argument, "profile '" + opts_.profile_dir +
                                                "' already holds account " +
                                                std::to_string(prof->id)});
    auto c = open(*prof);
    if (!c)
      return error(c.error());
    if (!setup_code.empty()) {
      auto [child, secret] = parse_code(setup_code, "setup code");
      auto id = (*c)->register_child(child, secret);
      if (!id)
        return error(id.error());
      print({{"id", *id}, {"role", "child"}},
            "registered " + std::to_string(*id) + " (child): this device is its own now");
      return 0;
    }
    auto id = (*c)->register_account(name, birth, account_role::parent);
    if (!id)
      return error(id.error());
    print({{"id", *id}, {"name", name}, {"role", "parent"}},
          "registered " + std::to_string(*id) + " " + name + " (parent)");
    return 0;
  }

  void print_setup(const child_setup_reply& setup, const std::string& name) {
    auto code = std::to_string(setup.child) + "-" + std::to_string(setup.secret);
    json j{{"id", setup.child}, {"code", code}, {"expires_in_ms", setup.expires_in_ms}};
    if (!name.empty())
      j["name"] = name;
    print(j, "child " + std::to_string(setup.child) + (name.empty() ? "" : " " + name) +
                 ": on the child's device run\n  kinbox register --setup-code " + code +
                 "\n(valid " + std::to_string(setup.expires_in_ms / 60000) + " minutes, once)");
  }

  int do_child() {
    auto name = take_flag("--name");
    auto birth = take_flag("--birth-date");
    auto& a = opts_.args;
    auto sub = a.size() >= 2 ? a[1] : "";
    if (sub == "add" && a.size() == 2) {
      if (name.empty() || birth.empty())
        throw usage_error{"child add needs --name NAME and --birth-date YYYY-MM-DD"};
      return with_login([&](client::client& c, const account_info&) {
        auto setup = c.child_create(name, birth);
        if (!setup)
          return error(setup.error());
        print_setup(*setup, name);
        return 0;
      });
    }
    if (sub == "setup-code" && a.size() == 3) {
      auto child = parse_id(a[2]);
      return with_login([&](client::client& c, const account_info&) {
        auto setup = c.child_setup_code(child);
        if (!setup)
          return error(setup.error());
        print_setup(*setup, "");
        return 0;
      });
    }
    throw usage_error{"child needs add --name NAME --birth-date YYYY-MM-DD, or setup-code CHILD"};
  }

  int do_friend() {
    if (opts_.args.size() < 2)
      throw usage_error{"friend needs add, accept, decline or list"};
    auto sub = opts_.args[1];
    if (sub == "list") {
      if (opts_.args.size() != 2)
        throw usage_error{"friend list takes no arguments"};
      return with_login(
          [&](client::client& c, const account_info&) { return print_contacts(c.friends()); });
    }
    if (opts_.args.size() != 3)
      throw usage_error{"friend " + sub + " needs one ID"};
    auto id = parse_id(opts_.args[2]);
    if (sub != "add" && sub != "accept" && sub != "decline")
      throw usage_error{"unknown friend command '" + sub + "'"};
    return with_login([&](client::client& c, const account_info&) {
      auto done = sub == "add"      ? c.friend_add(id)
                  : sub == "accept" ? c.friend_accept(id)
                                    : c.friend_decline(id);
      if (!done)
        return error(done.error());
      print({{"ok", true}, {"friend", sub}, {"id", id}}, "ok");
      return 0;
    });
  }

  int print_contacts(const result<contact_list>& list) {
    if (!list)
      return error(list.error());
    for (auto& e : list->entries) {
      std::string state{contact_state_name(e.state)};
      print({{"id", e.id}, {"name", e.name}, {"state", state}},
            std::to_string(e.id) + " " + e.name + " " + state);
    }
    return 0;
  }

  int do_contacts() {
    auto& a = opts_.args;
    if (a.size() > 2)
      throw usage_error{"contacts takes at most one CHILD"};
    auto child = a.size() == 2 ? parse_id(a[1]) : 0;
    return with_login([&](client::client& c, const account_info& me) {
      auto owner = child ? child : me.id;
      auto list = c.contacts(owner);
      if (auto failed = print_contacts(list); failed != 0)
        return failed;
      auto groups = c.group_list_of(owner);
      if (!groups)
        return error(groups.error());
      auto names = known_names(c, me);
      for (auto& e : list->entries)
        if (!e.name.empty())
          names[e.id] = e.name;
      for (auto& g : groups->groups)
        print_group(g, "group", names);
      return 0;
    });
  }

  /// A group as `group show` and `contacts` print it (member names are those of the
  /// printer's contacts; a member it does not know is shown by id).
  void print_group(const group_info& g, const std::string& label,
                   const std::map<account_id, std::string>& names = {}) {
    json members = json::array();
    std::string text = label + " " + std::to_string(g.id) + " \"" + g.name + "\" version " +
                       std::to_string(g.version) + ":";
    for (auto m : g.members) {
      auto name = names.count(m) ? names.at(m) : std::string{};
      members.push_back({{"id", m}, {"name", name}});
      text += " " + std::to_string(m) + (name.empty() ? "" : " (" + name + ")");
    }
    print({{"group", g.id}, {"name", g.name}, {"creator", g.creator}, {"version", g.version},
           {"members", members}},
          text);
  }

  /// The names this account knows: its own and its contacts'.
  static std::map<account_id, std::string> known_names(client::client& c, const account_info& me) {
    std::map<account_id, std::string> names{{me.id, me.name}};
    if (auto contacts = c.contacts(me.id))
      for (auto& e : contacts->entries)
        if (!e.name.empty())
          names[e.id] = e.name;
    return names;
  }

  int do_group() {
    auto& a = opts_.args;
    auto sub = a.size() >= 2 ? a[1] : "";
    auto print_info = [&](client::client& c, const account_info& me, const result<group_info>& g) {
      if (!g)
        return error(g.error());
      print_group(*g, "group", known_names(c, me));
      return 0;
    };
    if (sub == "create" && a.size() >= 4) {
      auto name = a[2];
      std::vector<account_id> members;
      for (size_t i = 3; i < a.size(); ++i)
        members.push_back(parse_id(a[i]));
      return with_login([&](client::client& c, const account_info& me) {
        return print_info(c, me, c.group_create(name, members));
      });
    }
    if (sub == "add" && a.size() == 4) {
      auto group = parse_id(a[2]);
      auto id = parse_id(a[3]);
      return with_login([&](client::client& c, const account_info& me) {
        return print_info(c, me, c.group_add(group, id));
      });
    }
    if (sub == "remove" && a.size() == 4) {
      auto group = parse_id(a[2]);
      auto id = parse_id(a[3]);
      return with_login([&](client::client& c, const account_info& me) {
        auto removed = c.group_remove(group, id);
        if (!removed)
          return error(removed.error());
        if (*removed)
          print_group(**removed, "group", known_names(c, me));
        else // a parent outside the group: its child is out, and that is all it learns
          print({{"ok", true}, {"done", "group remove"}, {"group", group}, {"id", id}}, "ok");
        return 0;
      });
    }
    if (sub == "leave" && a.size() == 3) {
      auto group = parse_id(a[2]);
      return ok_or_error("group leave", [&](client::client& c, const account_info&) {
        return c.group_leave(group);
      });
    }
    if (sub == "list" && a.size() <= 3) {
      auto child = a.size() == 3 ? parse_id(a[2]) : 0;
      return with_login([&](client::client& c, const account_info& me) {
        auto groups = c.group_list_of(child ? child : me.id);
        if (!groups)
          return error(groups.error());
        auto names = known_names(c, me);
        if (child)
          if (auto theirs = c.contacts(child))
            for (auto& e : theirs->entries)
              if (!e.name.empty())
                names[e.id] = e.name;
        for (auto& g : groups->groups)
          print_group(g, "group", names);
        return 0;
      });
    }
    if (sub == "show" && a.size() == 3) {
      auto group = parse_id(a[2]);
      return with_login([&](client::client& c, const account_info& me) {
        auto g = c.group_show(group);
        if (!g)
          return error(g.error());
        print_group(*g, "group", known_names(c, me));
        return 0;
      });
    }
    if (sub == "send" && a.size() == 4) {
      auto group = parse_id(a[2]);
      auto text = a[3];
      return with_login([&](client::client& c, const account_info&) {
        auto sent = c.group_send_text(group, text);
        if (!sent)
          return error(sent.error());
        auto hex = crypto::to_hex(*sent);
        print({{"accepted", hex}, {"group", group}}, "accepted " + hex);
        return 0;
      });
    }
    throw usage_error{"group needs create NAME ID..., add GROUP ID, remove GROUP ID, leave GROUP, "
                      "list [CHILD], show GROUP or send GROUP TEXT"};
  }

  int do_read() {
    auto& a = opts_.args;
    if (a.size() < 3)
      throw usage_error{"read needs ID and one or more MSGID"};
    auto to = parse_id(a[1]);
    std::vector<message_id> ids;
    for (size_t i = 2; i < a.size(); ++i) {
      message_id id{};
      if (!crypto::from_hex(a[i], id))
        throw usage_error{"'" + a[i] + "' is not a message id (32 hex digits)"};
      ids.push_back(id);
    }
    return ok_or_error("read", [&](client::client& c, const account_info&) {
      return c.mark_read(to, ids);
    });
  }

  int do_typing() {
    auto& a = opts_.args;
    if (a.size() != 2)
      throw usage_error{"typing needs one ID or GROUP"};
    auto to = parse_id(a[1]);
    return ok_or_error("typing", [&](client::client& c, const account_info&) {
      return c.typing(to, is_group_id(to));
    });
  }

  int do_block_or_remove() {
    auto child_flag = take_flag("--child");
    auto& a = opts_.args;
    auto cmd = a[0];
    if (a.size() != 2)
      throw usage_error{cmd + " needs one ID (and --child CHILD for a child's contact)"};
    auto other = parse_id(a[1]);
    auto child = child_flag.empty() ? 0 : parse_id(child_flag);
    return ok_or_error(cmd, [&](client::client& c, const account_info& me) {
      auto owner = child ? child : me.id;
      return cmd == "block" ? c.contact_block(owner, other) : c.contact_remove(owner, other);
    });
  }

  int do_profile() {
    auto child_flag = take_flag("--child");
    auto name = take_flag("--name");
    auto country = take_flag("--country");
    auto gender_text = take_flag("--gender");
    auto avatar_file = take_flag("--avatar");
    auto& a = opts_.args;
    if (a.size() == 2 && a[1] == "set") {
      std::optional<gender> g;
      for (auto candidate : {gender::unsaid, gender::female, gender::male, gender::other})
        if (gender_name(candidate) == gender_text)
          g = candidate;
      if (!gender_text.empty() && !g)
        throw usage_error{"--gender is female, male, other or unsaid"};
      std::optional<bytes> avatar;
      if (!avatar_file.empty()) {
        std::ifstream in{avatar_file, std::ios::binary};
        if (!in)
          throw usage_error{"cannot read " + avatar_file};
        avatar = bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
      return ok_or_error("profile set", [&](client::client& c, const account_info& me) -> result<bool> {
        // Fields not given stay as they are.
        auto now = c.profile_get(me.id);
        if (!now)
          return now.error();
        profile_set_request p{name.empty() ? now->name : name,
                              country.empty() ? now->country : (country == "-" ? "" : country),
                              g.value_or(now->gender_of), avatar.value_or(now->avatar)};
        return c.profile_set(p);
      });
    }
    if (a.size() <= 3 && a.size() >= 2 && a[1] == "show") {
      return with_login([&](client::client& c, const account_info& me) {
        auto id = a.size() == 3 ? parse_id(a[2]) : me.id;
        auto p = c.profile_get(id, child_flag.empty() ? 0 : parse_id(child_flag));
        if (!p)
          return error(p.error());
        json j{{"id", p->id}, {"name", p->name}, {"avatar_bytes", p->avatar.size()},
               {"online", p->online}};
        std::string text = std::to_string(p->id) + " " + p->name +
                           (p->online ? " online" : " offline") +
                           (p->avatar.empty() ? "" : ", avatar " + std::to_string(p->avatar.size()) +
                                                         " bytes");
        if (p->full) {
          j.update({{"birth_date", p->birth_date},
                    {"country", p->country},
                    {"gender", std::string{gender_name(p->gender_of)}},
                    {"role", p->role == account_role::child ? "child" : "parent"},
                    {"device",
                     {{"os", p->device.os},
                      {"app_version", p->device.app_version},
                      {"language", p->device.language},
                      {"time_zone", p->device.time_zone}}}});
          text += "\n  born " + p->birth_date + ", country " +
                  (p->country.empty() ? "-" : p->country) + ", " + std::string{gender_name(p->gender_of)} +
                  "\n  device: " + p->device.os + ", " + p->device.app_version + ", " +
                  p->device.language + ", " + p->device.time_zone;
        }
        print(j, text);
        return 0;
      });
    }
    throw usage_error{"profile needs set [--name N] [--country CC|-] [--gender G] [--avatar FILE], "
                      "or show [ID]"};
  }

  int do_export() {
    auto out_file = take_flag("--out");
    auto& a = opts_.args;
    if (a.size() > 2)
      throw usage_error{"export takes at most one CHILD (and --out FILE)"};
    auto child = a.size() == 2 ? parse_id(a[1]) : 0;
    return with_login([&](client::client& c, const account_info& me) {
      auto doc = c.account_export(child ? child : me.id);
      if (!doc)
        return error(doc.error());
      if (out_file.empty()) {
        std::cout << *doc << "\n";
        return 0;
      }
      std::ofstream out{out_file, std::ios::trunc};
      out << *doc << "\n";
      if (!out)
        return error({errc::internal, "cannot write " + out_file});
      print({{"ok", true}, {"export", out_file}}, "written to " + out_file);
      return 0;
    });
  }

  int do_delete_account() {
    bool yes = std::erase(opts_.args, std::string{"--yes"}) > 0;
    auto pin = take_flag("--pin");
    auto& a = opts_.args;
    if (a.size() > 2 || !yes)
      throw usage_error{"delete-account [CHILD] --yes [--pin PIN]: deletes the account (yours, "
                        "or your child's) and everything the cluster holds on it, for good"};
    auto child = a.size() == 2 ? parse_id(a[1]) : 0;
    return ok_or_error("delete-account", [&](client::client& c, const account_info& me) {
      return c.account_delete(child ? child : me.id, pin);
    });
  }

  int do_report() {
    auto& a = opts_.args;
    auto category = a.size() == 3 ? report_category_from(a[2]) : std::nullopt;
    if (!category)
      throw usage_error{"report needs ID and a category: harassment, bullying, sexual_content, "
                        "violence, impersonation or other"};
    auto other = parse_id(a[1]);
    return ok_or_error("report", [&](client::client& c, const account_info&) {
      return c.report(other, *category);
    });
  }

  int do_send() {
    if (opts_.args.size() != 3)
      throw usage_error{"send needs ID and TEXT"};
    auto id = parse_id(opts_.args[1]);
    auto text = opts_.args[2];
    return with_login([&](client::client& c, const account_info&) {
      auto sent = c.send_text(id, text);
      if (!sent)
        return error(sent.error());
      auto hex = crypto::to_hex(*sent);
      print({{"accepted", hex}, {"to", id}}, "accepted " + hex);
      return 0;
    });
  }

  int do_recv() {
    bool mark_read = std::erase(opts_.args, std::string{"--read"}) > 0;
    double wait_s = 0;
    if (opts_.args.size() == 3 && opts_.args[1] == "--wait") {
      try {
        wait_s = std::stod(opts_.args[2]);
      } catch (const std::exception&) {
        throw usage_error{"--wait needs a number of seconds"};
      }
      if (wait_s < 0 || wait_s > 3600)
        throw usage_error{"--wait must be between 0 and 3600"};
    } else if (opts_.args.size() != 1) {
      throw usage_error{"recv takes only --wait SECONDS and --read"};
    }
    return with_login([&](client::client& c, const account_info&) {
      auto got = c.receive(milliseconds(static_cast<int64_t>(wait_s * 1000) + 200));
      if (!got)
        return error(got.error());
      print_received(*got);
      if (!mark_read)
        return 0;
      std::map<account_id, std::vector<message_id>> shown;
      for (auto& r : *got)
        if (r.kind == received::what::text)
          shown[r.from].push_back(r.id);
      for (auto& [from, ids] : shown)
        if (auto sent = c.mark_read(from, ids); !sent)
          return error(sent.error());
      return 0;
    });
  }

  void print_received(const std::vector<client::received>& got) {
    for (auto& r : got) {
      auto hex = crypto::to_hex(r.id);
      switch (r.kind) {
        case received::what::text: {
          json j{{"type", "message"},
                 {"from", r.from},
                 {"id", hex},
                 {"text", r.text},
                 {"stored_at_ms", r.stored_at_ms}};
          if (r.group != 0)
            j["group"] = r.group;
          print(j, (r.group != 0 ? "group " + std::to_string(r.group) + " message from "
                                 : std::string{"message from "}) +
                       std::to_string(r.from) + ": " + r.text);
          break;
        }
        case received::what::moment:
          print({{"type", "moment"}, {"post", post_name(r.poster, r.post)}, {"from", r.from},
                 {"text", r.text}},
                "moment " + post_name(r.poster, r.post) + " from " + std::to_string(r.from) + ": " +
                    r.text);
          break;
        case received::what::like:
        case received::what::comment: {
          bool like = r.kind == received::what::like;
          json j{{"type", like ? "like" : "comment"},
                 {"post", post_name(r.poster, r.post)},
                 {"from", r.from}};
          if (!like)
            j["text"] = r.text;
          print(j, std::to_string(r.from) + (like ? " likes " : " comments on ") +
                       post_name(r.poster, r.post) + (like ? "" : ": " + r.text));
          break;
        }
        case received::what::retraction:
          print({{"type", "retraction"}, {"post", post_name(r.poster, r.post)}},
                "post " + post_name(r.poster, r.post) + " was deleted");
          break;
        case received::what::call:
          if (r.call)
            print_call_event(r.from, *r.call, r.text);
          break;
        case received::what::missed_call: {
          json j{{"type", "missed_call"}, {"from", r.from}, {"at_ms", r.stored_at_ms}};
          std::string line = "missed call from " + std::to_string(r.from);
          if (r.missed) {
            auto why = std::string{call_outcome_name(r.missed->why)};
            j.update({{"call", r.missed->id}, {"video", r.missed->video}, {"why", why}});
            if (r.group != 0)
              j["group"] = r.group;
            line += " (" + why + ")";
          }
          print(j, line + " " + utc_time(r.stored_at_ms));
          break;
        }
        case received::what::quiet_began:
        case received::what::quiet_ended: {
          bool began = r.kind == received::what::quiet_began;
          print({{"type", began ? "quiet_began" : "quiet_ended"}},
                began ? "quiet hours began" : "quiet hours ended");
          break;
        }
        case received::what::typing: {
          json j{{"type", "typing"}, {"from", r.from}};
          if (r.group != 0)
            j["group"] = r.group;
          print(j, std::to_string(r.from) + " is typing" +
                       (r.group != 0 ? " in group " + std::to_string(r.group) : std::string{}));
          break;
        }
        case received::what::delivered:
        case received::what::read:
        case received::what::expired: {
          auto kind = r.kind == received::what::delivered ? "delivered"
                      : r.kind == received::what::read    ? "read"
                                                          : "expired";
          print({{"type", kind}, {"to", r.from}, {"id", hex}},
                std::string{kind} + " " + hex + " (to " + std::to_string(r.from) + ")");
          break;
        }
        case received::what::undecryptable: {
          json j{{"type", "undecryptable"}, {"from", r.from}, {"id", hex}};
          if (r.group != 0)
            j["group"] = r.group;
          print(j, "undecryptable message " + hex + " from " + std::to_string(r.from));
          break;
        }
        case received::what::notice:
          print_notice(r);
          break;
        case received::what::location: {
          auto& p = *r.location;
          print({{"type", "location"}, {"child", r.from}, {"lat", p.lat}, {"lon", p.lon},
                 {"accuracy_m", p.accuracy_m}, {"at_ms", r.stored_at_ms}},
                "child " + std::to_string(r.from) + " at " + fmt_coord(p.lat) + "," +
                    fmt_coord(p.lon) + " (±" + std::to_string(static_cast<int>(p.accuracy_m)) +
                    " m) " + utc_time(r.stored_at_ms));
          break;
        }
      }
    }
  }

  static std::string fmt_coord(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6f", v);
    return buf;
  }

  static double parse_number(const std::string& text, double lo, double hi, const char* what) {
    try {
      size_t used = 0;
      auto v = std::stod(text, &used);
      if (used == text.size() && v >= lo && v <= hi)
        return v;
    } catch (const std::exception&) {
    }
    throw usage_error{std::string{what} + " must be a number between " + fmt_coord(lo) + " and " +
                      fmt_coord(hi)};
  }

  int do_location() {
    auto wait_flag = take_flag("--wait");
    auto accuracy_flag = take_flag("--accuracy");
    auto& a = opts_.args;
    auto sub = a.size() >= 2 ? a[1] : "";
    if (sub == "share" && a.size() == 4) {
      client::geo_point p{parse_number(a[2], -90, 90, "latitude"),
                          parse_number(a[3], -180, 180, "longitude"),
                          static_cast<float>(accuracy_flag.empty()
                                                 ? 0
                                                 : parse_number(accuracy_flag, 0, 1e6, "--accuracy"))};
      return ok_or_error("location share",
                         [&](client::client& c, const account_info&) { return c.location_share(p); });
    }
    if ((sub == "on" || sub == "off") && a.size() == 3) {
      auto child = parse_id(a[2]);
      return ok_or_error("location " + sub, [&](client::client& c, const account_info&) {
        return c.location_sharing(child, sub == "on");
      });
    }
    if (sub == "watch" && a.size() == 2) {
      auto wait_s = wait_flag.empty() ? 30.0 : parse_number(wait_flag, 0, 3600, "--wait");
      return with_login([&](client::client& c, const account_info&) {
        // Prints what arrives (the latest location of each child first) until the wait ends.
        auto until = std::chrono::steady_clock::now() +
                     milliseconds(static_cast<int64_t>(wait_s * 1000));
        while (std::chrono::steady_clock::now() < until) {
          auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
          auto got = c.receive(std::max(left, milliseconds(0)));
          if (!got)
            return error(got.error());
          print_received(*got);
        }
        return 0;
      });
    }
    throw usage_error{"location needs share LAT LON [--accuracy M] (child), watch [--wait S] or "
                      "on|off CHILD (parent)"};
  }

  void print_notice(const client::received& r) {
    if (!r.notice) {
      print({{"type", "notice"}, {"unreadable", true}}, "a notice this version cannot read");
      return;
    }
    auto& n = *r.notice;
    auto child = std::to_string(n.child);
    switch (n.type) {
    case notice_type::approval_needed:
      print({{"type", "notice"}, {"notice", "approval_needed"}, {"child", n.child},
             {"other", n.other}, {"child_asked", n.value == 1}},
            "child " + child + (n.value == 1 ? " asks " : " accepts ") +
                std::to_string(n.other) + ": waits for your approval");
      return;
    case notice_type::pin_locked:
      print({{"type", "notice"}, {"notice", "pin_locked"}, {"child", n.child},
             {"until_ms", n.value}},
            "the PIN of child " + child + " is locked after wrong tries");
      return;
    case notice_type::linked:
      print({{"type", "notice"}, {"notice", "linked"}, {"child", n.child}},
            "child " + child + " is linked to you");
      return;
    case notice_type::registered:
      print({{"type", "notice"}, {"notice", "registered"}, {"child", n.child}, {"at_ms", n.value}},
            "child " + child + " registered a device with its setup code");
      return;
    case notice_type::unlinked:
      print({{"type", "notice"}, {"notice", "unlinked"}, {"child", n.child}, {"at_ms", n.value}},
            "child " + child + " moved to another parent with your PIN");
      return;
    case notice_type::child_deleted:
      print({{"type", "notice"}, {"notice", "child_deleted"}, {"child", n.child}, {"at_ms", n.value}},
            "child " + child + " deleted its account with your PIN");
      return;
    case notice_type::pin_changed:
      print({{"type", "notice"}, {"notice", "pin_changed"}, {"child", n.child}, {"at_ms", n.value}},
            "the PIN of child " + child + " was changed on its device");
      return;
    case notice_type::link_code_attacked:
      print({{"type", "notice"}, {"notice", "link_code_attacked"}, {"wrong_tries", n.value},
             {"by", n.other}},
            std::to_string(n.value) + " wrong secrets met your link code (the last from " +
                std::to_string(n.other) + "); it is still good: give it only to your child");
      return;
    case notice_type::friend_renamed:
      print({{"type", "notice"}, {"notice", "friend_renamed"}, {"child", n.child},
             {"other", n.other}, {"at_ms", n.value}},
            "a friend of child " + child + ", " + std::to_string(n.other) +
                ", changed its name (see: kinbox contacts " + child + ")");
      return;
    case notice_type::reported: {
      auto category = std::string{report_category_name(static_cast<report_category>(n.value))};
      print({{"type", "notice"}, {"notice", "reported"}, {"child", n.child}, {"other", n.other},
             {"category", category}},
            "child " + child + " reported " + std::to_string(n.other) + " (" + category +
                ") and blocked them");
      return;
    }
    }
  }

  /// The value after `--NAME` among the arguments (removed from them), or "".
  std::string take_flag(const std::string& name) {
    auto& a = opts_.args;
    for (size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == name) {
        auto value = a[i + 1];
        a.erase(a.begin() + static_cast<std::ptrdiff_t>(i), a.begin() + static_cast<std::ptrdiff_t>(i) + 2);
        return value;
      }
    return "";
  }

  /// Runs `f` logged in and prints "ok" when it succeeds.
  template <class F>
  int ok_or_error(const std::string& what, F f) {
    return with_login([&](client::client& c, const account_info& me) {
      auto done = f(c, me);
      if (!done)
        return error(done.error());
      print({{"ok", true}, {"done", what}}, "ok");
      return 0;
    });
  }

  int do_link() {
    auto pin = take_flag("--pin");
    auto& a = opts_.args;
    auto sub = a.size() >= 2 ? a[1] : "";
    if (sub == "create" && a.size() == 2) {
      if (pin.empty())
        throw usage_error{"link create needs --pin PIN (four digits)"};
      return with_login([&](client::client& c, const account_info& me) {
        auto code = c.link_create(pin);
        if (!code)
          return error(code.error());
        auto text = std::to_string(me.id) + "-" + std::to_string(code->secret);
        print({{"code", text}, {"expires_in_ms", code->expires_in_ms}},
              text + " (valid " + std::to_string(code->expires_in_ms / 60000) + " minutes)");
        return 0;
      });
    }
    if (sub == "redeem" && a.size() == 3) {
      auto [parent, secret] = parse_code(a[2], "link code");
      return ok_or_error("link redeem", [&](client::client& c, const account_info&) {
        return c.link_redeem(parent, secret, pin);
      });
    }
    if (sub == "show" && (a.size() == 2 || a.size() == 3)) {
      return with_login([&](client::client& c, const account_info& me) {
        auto child = a.size() == 3 ? parse_id(a[2]) : me.id;
        auto info = c.link_get(child);
        if (!info)
          return error(info.error());
        auto policy = info->policy == 2 ? "alone" : "approve";
        print({{"child", info->child},
               {"parent", info->parent},
               {"policy", policy},
               {"pin_set", info->pin_set},
               {"location_sharing", info->location_sharing},
               {"locked_until_ms", info->locked_until_ms}},
              info->parent == 0 ? "not linked"
                                : "child " + std::to_string(info->child) + " linked to parent " +
                                      std::to_string(info->parent) + ", friends: " + policy);
        return 0;
      });
    }
    if (sub == "remove" && a.size() == 3) {
      auto child = parse_id(a[2]);
      return ok_or_error("link remove",
                         [&](client::client& c, const account_info&) { return c.link_remove(child); });
    }
    throw usage_error{"link needs create --pin PIN, redeem CODE [--pin PIN], show [CHILD] or "
                      "remove CHILD"};
  }

  int do_pin() {
    auto& a = opts_.args;
    if (a.size() == 4 && a[1] == "set") {
      auto child = parse_id(a[2]);
      auto pin = a[3];
      return ok_or_error("pin set",
                         [&](client::client& c, const account_info&) { return c.pin_set(child, pin); });
    }
    if (a.size() == 4 && a[1] == "change") {
      auto from = a[2];
      auto to = a[3];
      return ok_or_error("pin change",
                         [&](client::client& c, const account_info&) { return c.pin_change(from, to); });
    }
    throw usage_error{"pin needs set CHILD PIN or change OLD NEW"};
  }

  int do_approvals() {
    auto pin = take_flag("--pin");
    auto& a = opts_.args;
    auto sub = a.size() >= 2 ? a[1] : "";
    if (sub == "list" && (a.size() == 2 || a.size() == 3)) {
      return with_login([&](client::client& c, const account_info& me) {
        auto child = a.size() == 3 ? parse_id(a[2]) : me.id;
        auto list = c.approvals(child);
        if (!list)
          return error(list.error());
        for (auto& e : list->entries) {
          json j{{"child", child}, {"other", e.other}, {"child_asked", e.ours},
                 {"since_ms", e.since_ms}, {"name", e.name}, {"parent_name", e.parent_name}};
          auto role = e.role == account_role::child    ? "child"
                      : e.role == account_role::parent ? "parent"
                                                       : "";
          j["role"] = role;
          std::string who = e.name.empty() ? "(not answered yet)" : e.name;
          if (e.role == account_role::child)
            who += ", a child of " + e.parent_name;
          else if (e.role == account_role::parent)
            who += ", a parent";
          print(j, std::to_string(e.other) + " " + who +
                       (e.ours ? " (the child asked)" : " (asked the child)"));
        }
        return 0;
      });
    }
    if (sub != "approve" && sub != "deny")
      throw usage_error{"approvals needs list [CHILD], approve|deny CHILD ID, or approve|deny ID --pin PIN"};
    bool approve = sub == "approve";
    if (!pin.empty() && a.size() == 3) {
      auto other = parse_id(a[2]);
      return ok_or_error("approvals " + sub, [&](client::client& c, const account_info&) {
        return c.approval_by_pin(other, approve, pin);
      });
    }
    if (pin.empty() && a.size() == 4) {
      auto child = parse_id(a[2]);
      auto other = parse_id(a[3]);
      return ok_or_error("approvals " + sub, [&](client::client& c, const account_info&) {
        return c.approval_decide(child, other, approve);
      });
    }
    throw usage_error{"approvals " + sub + " needs CHILD ID (parent) or ID --pin PIN (child)"};
  }

  int do_policy() {
    auto& a = opts_.args;
    if (a.size() != 3 || (a[2] != "approve" && a[2] != "alone"))
      throw usage_error{"policy needs CHILD approve|alone"};
    auto child = parse_id(a[1]);
    auto choice = a[2] == "alone" ? client::friend_policy_choice::child_alone
                                  : client::friend_policy_choice::parent_approves;
    return ok_or_error("policy", [&](client::client& c, const account_info&) {
      return c.policy_set(child, choice);
    });
  }

  static std::string post_name(account_id poster, post_id post) {
    return std::to_string(poster) + "-" + std::to_string(post);
  }

  /// "POSTER-NUMBER" as recv and moment post print it.
  static std::pair<account_id, post_id> parse_post(const std::string& text) {
    auto dash = text.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == text.size() ||
        text.find_first_not_of("0123456789-") != std::string::npos ||
        text.find('-', dash + 1) != std::string::npos)
      throw usage_error{"'" + text + "' is not a post id (POSTER-NUMBER, as recv prints it)"};
    try {
      return {std::stoull(text.substr(0, dash)), std::stoull(text.substr(dash + 1))};
    } catch (const std::exception&) { // a number past 64 bits
      throw usage_error{"'" + text + "' is not a post id (POSTER-NUMBER, as recv prints it)"};
    }
  }

  int do_moment() {
    auto& a = opts_.args;
    auto sub = a.size() >= 2 ? a[1] : "";
    if (sub == "post" && a.size() == 3) {
      auto text = a[2];
      return with_login([&](client::client& c, const account_info& me) {
        auto id = c.moment_post(text);
        if (!id)
          return error(id.error());
        print({{"post", post_name(me.id, *id)}}, "posted " + post_name(me.id, *id));
        return 0;
      });
    }
    if ((sub == "like" && a.size() == 3) || (sub == "comment" && a.size() == 4) ||
        (sub == "delete" && a.size() == 3)) {
      auto [poster, post] = parse_post(a[2]);
      auto text = sub == "comment" ? a[3] : std::string{};
      if (sub == "comment" && text.empty())
        throw usage_error{"a comment needs TEXT"};
      return ok_or_error("moment " + sub, [&](client::client& c, const account_info&) {
        return sub == "delete" ? c.moment_delete(poster, post) : c.moment_react(poster, post, text);
      });
    }
    throw usage_error{"moment needs post TEXT, like POSTID, comment POSTID TEXT or delete POSTID"};
  }

  /// Prints what became of a ring, or a call event.
  void print_call_event(account_id from, const call_event& ev, const std::string& text) {
    json j{{"type", "call"},
           {"call", ev.id},
           {"from", from},
           {"signal", std::string{call_signal_name(ev.signal)}},
           {"video", ev.video}};
    if (ev.group != 0)
      j["group"] = ev.group;
    if (ev.reason != 0)
      j["reason"] = std::string{call_outcome_name(static_cast<call_outcome>(ev.reason))};
    if (!text.empty())
      j["text"] = text;
    std::string line = "call " + std::to_string(ev.id) + " from " + std::to_string(from) + ": " +
                       std::string{call_signal_name(ev.signal)};
    if (ev.reason != 0)
      line += " (" + std::string{call_outcome_name(static_cast<call_outcome>(ev.reason))} + ")";
    if (ev.signal == call_signal::offer)
      line += ev.video ? " (video)" : " (voice)";
    if (ev.group != 0)
      line += " in group " + std::to_string(ev.group);
    print(j, line);
  }

  int do_call() {
    bool video = std::erase(opts_.args, std::string{"--video"}) > 0;
    auto wait_text = take_flag("--wait");
    auto& a = opts_.args;
    if (a.size() == 3 && (a[1] == "answer" || a[1] == "decline" || a[1] == "hangup")) {
      call_id id = 0;
      try {
        size_t used = 0;
        id = std::stoull(a[2], &used);
        if (used != a[2].size() || a[2][0] == '-')
          throw std::invalid_argument{"id"};
      } catch (const std::exception&) {
        throw usage_error{"'" + a[2] + "' is not a call id"};
      }
      auto s = a[1] == "answer"    ? call_signal::answer
               : a[1] == "decline" ? call_signal::decline
                                   : call_signal::hangup;
      return ok_or_error("call " + a[1], [&](client::client& c, const account_info&) {
        return c.call_signal_to(id, s);
      });
    }
    if (a.size() == 3 && a[1] == "end") {
      auto child = parse_id(a[2]);
      return ok_or_error("call end", [&](client::client& c, const account_info&) {
        return c.call_end(child);
      });
    }
    if (a.size() != 2)
      throw usage_error{"call needs ID|GROUP, answer|decline|hangup CALLID, or end CHILD"};
    auto to = parse_id(a[1]);
    double wait_s = wait_text.empty() ? 65 : parse_number(wait_text, 0, 3600, "--wait");
    return with_login([&](client::client& c, const account_info&) {
      call_id id = 0;
      randombytes_buf(&id, sizeof id);
      id >>= 1; // JSON readers keep it exact
      auto rung = c.call_offer(to, id, video);
      if (!rung)
        return error(rung.error());
      std::set<account_id> ringing;
      if (rung->rung.empty())
        print({{"type", "rung"}, {"call", id}, {"outcome", "no_one"}},
              "call " + std::to_string(id) + ": no one to ring");
      for (auto& r : rung->rung) {
        auto outcome = std::string{call_outcome_name(r.outcome)};
        print({{"type", "rung"}, {"call", id}, {"id", r.id}, {"outcome", outcome}},
              "call " + std::to_string(id) + ": " + std::to_string(r.id) + " " + outcome);
        if (r.outcome == call_outcome::ringing)
          ringing.insert(r.id);
      }
      auto until = std::chrono::steady_clock::now() +
                   milliseconds(static_cast<int64_t>(wait_s * 1000));
      while (!ringing.empty() && std::chrono::steady_clock::now() < until) {
        auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
        auto got = c.receive(std::min(left, milliseconds(1000)));
        if (!got)
          return error(got.error());
        for (auto& r : *got) {
          if (r.kind != received::what::call || !r.call || r.call->id != id) {
            print_received({r});
            continue;
          }
          print_call_event(r.from, *r.call, r.text);
          auto s = r.call->signal;
          if (s == call_signal::answer || s == call_signal::decline || s == call_signal::busy ||
              s == call_signal::hangup)
            ringing.erase(r.from);
        }
      }
      if (!ringing.empty()) { // the wait is over: stop the ring
        if (auto done = c.call_signal_to(id, call_signal::hangup); !done)
          return error(done.error());
      }
      return 0;
    });
  }

  int do_quiet() {
    for (auto flag : {"--from", "--to", "--days", "--tz"}) {
      auto at = std::find(opts_.args.begin(), opts_.args.end(), flag);
      if (at != opts_.args.end() && (at + 1 == opts_.args.end() || (at + 1)->empty()))
        throw usage_error{std::string{flag} + " needs a value"};
    }
    auto from = take_flag("--from");
    auto to = take_flag("--to");
    auto days_text = take_flag("--days");
    auto zone = take_flag("--tz");
    auto& a = opts_.args;
    auto sub = a.size() >= 2 ? a[1] : "";
    bool set = sub == "set";
    if (!(set && a.size() == 3) && !(sub == "off" && a.size() == 3) &&
        !(sub == "show" && a.size() <= 3))
      throw usage_error{"quiet needs set CHILD --from HH:MM --to HH:MM, show [CHILD] or off CHILD"};
    if (!set && !(from.empty() && to.empty() && days_text.empty() && zone.empty()))
      throw usage_error{"--from, --to, --days and --tz go with quiet set"};
    std::optional<quiet_schedule> schedule;
    if (set) {
      auto start = parse_clock(from);
      auto end = parse_clock(to);
      if (!start || !end)
        throw usage_error{"quiet set needs --from HH:MM and --to HH:MM (00:00 to 23:59)"};
      auto days = days_text.empty() ? std::optional<uint8_t>{0x7f} : parse_days(days_text);
      if (!days)
        throw usage_error{"--days takes mon,tue,wed,thu,fri,sat,sun or ranges like mon-fri"};
      if (zone.empty())
        zone = this_device().time_zone;
      schedule = quiet_schedule{*days, *start, *end, zone.empty() ? "UTC" : zone};
    }
    auto child = a.size() == 3 ? parse_id(a[2]) : 0;
    return with_login([&](client::client& c, const account_info& me) {
      auto owner = child ? child : me.id;
      auto got = sub == "show" ? c.quiet_get(owner) : c.quiet_set(owner, schedule);
      if (!got)
        return error(got.error());
      json j{{"id", owner}, {"on", got->schedule.has_value()}};
      std::string text = std::to_string(owner) + ": no quiet hours";
      if (auto& s = got->schedule) {
        j.update({{"from", format_clock(s->from_min)},
                  {"to", format_clock(s->to_min)},
                  {"days", format_days(s->days)},
                  {"tz", s->tz},
                  {"asleep", got->asleep},
                  {"next_change_ms", got->next_change_ms}});
        text = std::to_string(owner) + ": quiet " + format_clock(s->from_min) + "-" +
               format_clock(s->to_min) + " " + format_days(s->days) + " (" + s->tz + "); " +
               (got->asleep ? "quiet now, until " : "awake now, quiet from ") +
               utc_time(got->next_change_ms);
      }
      print(j, text);
      return 0;
    });
  }

  int do_status() {
    if (opts_.args.size() != 2)
      throw usage_error{"status needs one ID"};
    auto id = parse_id(opts_.args[1]);
    return with_login([&](client::client& c, const account_info&) {
      auto s = c.status(id);
      if (!s)
        return error(s.error());
      print({{"id", s->id}, {"online", s->online}, {"last_seen_ms", s->last_seen_ms}},
            std::to_string(s->id) + (s->online ? " online" : " offline") +
                (s->last_seen_ms ? ", last seen " + utc_time(s->last_seen_ms) : ""));
      return 0;
    });
  }

  options opts_;
};

} // namespace

int main(int argc, char** argv) {
  if (!crypto::init()) {
    std::cerr << "kinbox: libsodium could not be initialized\n";
    return exit_error;
  }
  try {
    auto opts = parse(argc, argv);
    if (opts.version) {
      std::cout << "kinbox " << version << "\n";
      return 0;
    }
    return cli{std::move(opts)}.run();
  } catch (const usage_error& e) {
    if (e.message.empty()) {
      std::cout << usage_text;
      return 0;
    }
    std::cerr << "kinbox: " << e.message << "\n\n" << usage_text;
    return exit_usage;
  }
}
