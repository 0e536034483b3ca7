// kinbox-admin: the operator's tool. `status` shows the cluster as its KV buckets hold it
// (nodes, placement, shards in motion, accounts); `drain NODE` has a node hand its shards
// to the others, redirect its apps and stop; `reports` lists and resolves what users
// reported; `ban`/`unban` keep an account out.
#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/contacts.hpp"
#include "actors/safety.hpp"
#include "actors/user_actor.hpp"
#include "cluster/cluster_client.hpp"
#include "cluster/entity.hpp"
#include "cluster/kv_actor.hpp"
#include "cluster/membership.hpp"
#include "cluster/membership_actor.hpp"
#include "cluster/nats_link.hpp"
#include "config/node_config.hpp"
#include "config/version.hpp"

namespace po = boost::program_options;
using namespace kinbox;
using nlohmann::json;

namespace {

constexpr int exit_error = 1;
constexpr int exit_usage = 2;

const char* usage = R"(usage: kinbox-admin [options] COMMAND

commands:
  status          nodes, shards, sessions, stored mail, the placement epoch, shards in motion
  drain NODE      NODE hands its shards to the other nodes, redirects its apps to their
                  gateways and stops; prints the shards it has left until it is gone
                  (--no-wait: returns at once)
  account ID      where account ID is served, whether it is online and where, and how much
                  mail waits for it (counts only: never a name, a contact or content)
  plan join NODE  what would move if NODE joined (shards, from which nodes), before it does
  plan drain NODE what would move if NODE were drained
  reports list    open reports, oldest first (--all: resolved ones too)
  reports resolve SEQ     mark report SEQ handled (--ban: ban the reported account too)
  ban ID          end ID's session and refuse its logins and its keys' new registrations
                  (--reason CATEGORY; the ban is kept 400 days)
  unban ID        lift the ban

options)";

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::string age(uint64_t since_ms) {
  auto s = since_ms == 0 || since_ms > now_ms() ? 0 : (now_ms() - since_ms) / 1000;
  std::ostringstream out;
  if (s >= 3600)
    out << s / 3600 << "h" << (s % 3600) / 60 << "m";
  else if (s >= 60)
    out << s / 60 << "m" << s % 60 << "s";
  else
    out << s << "s";
  return out.str();
}

/// The usage line of each command.
const std::map<std::string, std::string> command_usage{
    {"status", "kinbox-admin status [--json]"},
    {"drain", "kinbox-admin drain NODE [--no-wait] [--json]"},
    {"plan", "kinbox-admin plan join|drain NODE [--json]"},
    {"account", "kinbox-admin account ID [--json]"},
    {"reports", "kinbox-admin reports list [--all] [--json]  |  kinbox-admin reports resolve SEQ "
                "[--ban] [--json]"},
    {"ban", "kinbox-admin ban ID [--reason CATEGORY] [--json]"},
    {"unban", "kinbox-admin unban ID [--json]"},
};

/// What is wrong, in one line, and the usage of the command it is about.
int usage_error(const std::string& verb, const std::string& what) {
  auto u = command_usage.find(verb);
  std::cerr << "kinbox-admin" << (u != command_usage.end() ? " " + verb : "") << ": " << what
            << "\nusage: "
            << (u != command_usage.end() ? u->second
                                         : "kinbox-admin [options] COMMAND (kinbox-admin --help "
                                           "lists the commands and options)")
            << "\n";
  return exit_usage;
}

int fail(const std::string& why) {
  std::cerr << "kinbox-admin: " << why << "\n";
  return exit_error;
}

struct cluster_state {
  std::vector<node_record> nodes;
  std::optional<placement> map;
  size_t accounts = 0;
  size_t online = 0;
};

result<cluster_state> read_state(kv_buckets& b) {
  cluster_state out;
  auto keys = b.nodes->keys();
  if (!keys)
    return keys.error();
  for (auto& k : *keys) {
    auto v = b.nodes->get(k);
    if (!v)
      return v.error();
    if (*v)
      if (auto r = node_record::decode((*v)->value))
        out.nodes.push_back(std::move(*r));
  }
  auto p = b.cluster->get(placement_key);
  if (!p)
    return p.error();
  if (*p)
    out.map = placement::decode((*p)->value);
  auto accounts = b.spaces[static_cast<size_t>(kv_space::accounts)]->keys();
  auto online = b.spaces[static_cast<size_t>(kv_space::presence)]->keys();
  if (!accounts || !online)
    return !accounts ? accounts.error() : online.error();
  out.accounts = accounts->size();
  out.online = online->size();
  return out;
}

/// (owner, target) -> shards: the shards whose owner is not their rendezvous target among
/// `targets` (an owner of "" for a shard without one).
using shard_moves = std::map<std::pair<std::string, std::string>, size_t>;

shard_moves moves_to(const placement& map, std::vector<std::string> targets) {
  shard_moves out;
  if (targets.empty())
    return out;
  std::sort(targets.begin(), targets.end());
  auto t = rendezvous_targets(map.shards, targets);
  for (uint32_t s = 0; s < map.shards; ++s) {
    auto* owner = map.owner(s);
    if (owner == nullptr || *owner != targets[t[s]])
      ++out[{owner ? *owner : std::string{}, targets[t[s]]}];
  }
  return out;
}

size_t count_of(const shard_moves& moves) {
  size_t out = 0;
  for (auto& [pair, count] : moves)
    out += count;
  return out;
}

/// Shards whose owner is not their rendezvous target among the live nodes that take
/// shards: what the cluster is still moving.
size_t shards_to_move(const cluster_state& st) {
  if (!st.map)
    return 0;
  std::vector<std::string> targets;
  for (auto& n : st.nodes)
    if (!n.draining)
      targets.push_back(n.id);
  return count_of(moves_to(*st.map, targets));
}

/// A node's state from its record: `draining`, `serving`, `late` once it missed two
/// heartbeats, `dead` once a third of its lease passed without one (a node that cannot
/// renew its record stops serving at half of its lease).
std::string node_state(const node_record& n) {
  auto since = n.heartbeat_ms == 0 || n.heartbeat_ms > now_ms() ? 0 : now_ms() - n.heartbeat_ms;
  if (n.lease_ms > 0 && since > n.lease_ms / 2)
    return "dead";
  if (n.lease_ms > 0 && since > n.lease_ms / 3)
    return "late";
  return n.draining ? "draining" : "serving";
}

int status(kv_buckets& b, const std::string& cluster, bool as_json) {
  auto st = read_state(b);
  if (!st)
    return fail("cannot read the cluster's buckets: " + st.error().message);
  std::sort(st->nodes.begin(), st->nodes.end(),
            [](const node_record& x, const node_record& y) { return x.id < y.id; });
  auto shards_of = [&](const std::string& id) { return st->map ? st->map->owned_by(id) : 0; };
  auto pending = shards_to_move(*st);
  if (as_json) {
    json nodes = json::array();
    json moving = json::array();
    for (auto& n : st->nodes) {
      nodes.push_back(
          {{"id", n.id},
           {"gateway", n.gateway},
           {"key", n.key_fingerprint},
           {"incarnation", n.incarnation},
           {"started_ms", n.started_ms},
           {"heartbeat_ms", n.heartbeat_ms},
           {"heartbeat_age_ms",
            n.heartbeat_ms && n.heartbeat_ms < now_ms() ? now_ms() - n.heartbeat_ms : 0},
           {"version", n.version},
           {"state", node_state(n)},
           {"age_s", n.started_ms ? (now_ms() - n.started_ms) / 1000 : 0},
           {"shards", shards_of(n.id)},
           {"sessions", n.sessions},
           {"stored_mail", n.stored_mail},
           {"draining", n.draining},
           {"epoch", n.epoch}});
      for (auto& [shard, to] : n.moving)
        moving.push_back({{"shard", shard}, {"from", n.id}, {"to", to}});
    }
    std::cout << json{{"cluster", cluster},
                      {"epoch", st->map ? st->map->epoch : 0},
                      {"shards", st->map ? st->map->shards : 0},
                      {"accounts", st->accounts},
                      {"online", st->online},
                      {"nodes", nodes},
                      {"moving", moving},
                      {"shards_to_move", pending}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "cluster " << cluster << ": epoch " << (st->map ? st->map->epoch : 0) << ", "
            << (st->map ? st->map->shards : 0) << " shards, " << st->nodes.size()
            << (st->nodes.size() == 1 ? " node, " : " nodes, ") << st->accounts << " accounts, "
            << st->online << " online\n";
  std::cout << std::left << std::setw(16) << "NODE" << std::setw(24) << "GATEWAY" << std::setw(10)
            << "VERSION" << std::setw(9) << "UP" << std::setw(11) << "HEARTBEAT" << std::setw(8)
            << "SHARDS" << std::setw(10) << "SESSIONS" << std::setw(8) << "STORED" << std::setw(18)
            << "KEY"
            << "STATE\n";
  for (auto& n : st->nodes)
    std::cout << std::left << std::setw(16) << n.id << std::setw(24) << n.gateway << std::setw(10)
              << (n.version.empty() ? "?" : n.version) << std::setw(9) << age(n.started_ms)
              << std::setw(11) << (age(n.heartbeat_ms) + " ago") << std::setw(8) << shards_of(n.id)
              << std::setw(10) << n.sessions << std::setw(8) << n.stored_mail << std::setw(18)
              << n.key_fingerprint << node_state(n) << "\n";
  size_t moving = 0;
  for (auto& n : st->nodes)
    for (auto& [shard, to] : n.moving) {
      if (moving++ == 0)
        std::cout << "in motion:\n";
      std::cout << "  shard " << shard << ": " << n.id << " -> " << to << "\n";
    }
  if (pending > 0)
    std::cout << pending << " shards still to move to their targets\n";
  return 0;
}

/// What a join or a drain of `node` would move: every shard whose owner is not its
/// rendezvous target among the serving nodes with `node` added (join) or taken out (drain).
int plan(kv_buckets& b, const std::string& action, const std::string& node, bool as_json) {
  auto st = read_state(b);
  if (!st)
    return fail("cannot read the cluster's buckets: " + st.error().message);
  if (!st->map)
    return fail("the cluster has no placement yet (no node has started)");
  std::vector<std::string> targets;
  bool member = false;
  for (auto& n : st->nodes) {
    member = member || n.id == node;
    if (!n.draining && n.id != node)
      targets.push_back(n.id);
  }
  if (action == "join" && member)
    return fail("node " + node + " is in the cluster already");
  if (action == "drain" && !member)
    return fail("no node " + node + " in the cluster (kinbox-admin status lists them)");
  if (action == "join")
    targets.push_back(node);
  if (targets.empty())
    return fail("no node would be left to take the shards");
  auto by_pair = moves_to(*st->map, targets);
  auto total = count_of(by_pair);
  if (as_json) {
    json moves = json::array();
    for (auto& [pair, count] : by_pair)
      moves.push_back({{"from", pair.first}, {"to", pair.second}, {"shards", count}});
    std::cout << json{{"action", action},
                      {"node", node},
                      {"shards", st->map->shards},
                      {"shards_to_move", total},
                      {"moves", moves}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << (action == "join" ? "if " + node + " joins" : "if " + node + " is drained") << ", "
            << total << " of " << st->map->shards << " shards move (with their stored mail):\n";
  for (auto& [pair, count] : by_pair)
    std::cout << "  " << std::left << std::setw(8) << count
              << (pair.first.empty() ? "(none)" : pair.first) << " -> " << pair.second << "\n";
  return 0;
}

int drain(cluster_client& cluster, kv_buckets& b, const std::string& node, bool wait,
          bool as_json) {
  if (auto st = read_state(b)) {
    bool other = std::any_of(st->nodes.begin(), st->nodes.end(),
                             [&](const node_record& r) { return r.id != node && !r.draining; });
    if (!other)
      std::cerr << "kinbox-admin drain: no other node takes the shards of " << node
                << ": it stops with their mail on its disk, served again when it restarts\n";
  }
  auto answer = cluster.ask_node(node, admin_op::drain);
  if (!answer)
    return fail("node " + node + " did not take the drain request: " + answer.error().message);
  if (!wait) {
    if (as_json)
      std::cout << json{{"node", node}, {"draining", true}, {"drained", false}}.dump() << "\n";
    else
      std::cout << "node " << node << " is draining\n";
    return 0;
  }
  if (!as_json)
    std::cout << "node " << node << " is draining\n";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  size_t last_shards = SIZE_MAX;
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = read_state(b);
    if (st) {
      auto i = std::find_if(st->nodes.begin(), st->nodes.end(),
                            [&](const node_record& r) { return r.id == node; });
      if (i == st->nodes.end()) {
        if (as_json)
          std::cout << json{{"node", node}, {"drained", true}}.dump() << "\n";
        else
          std::cout << "node " << node << " has left the cluster\n";
        return 0;
      }
      auto left = st->map ? st->map->owned_by(node) : 0;
      if (left != last_shards && !as_json)
        std::cout << "  " << left << " shards left, " << i->sessions << " sessions\n";
      last_shards = left;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return fail("node " + node + " has not left within 10 minutes");
}

/// What an operator may see of account `id`: where it is served, whether and where it is
/// online, and how much mail waits for it (never its name, contacts or content).
int account(cluster_client& cluster, account_id id, bool as_json) {
  auto answer =
      cluster.call(user_request<user_op::summary>(id, operator_caller), user_interface::codec());
  if (!answer)
    return fail("the account's node did not answer: " + answer.error().message);
  if (answer->status == static_cast<uint16_t>(errc::not_found))
    return fail("no account " + std::to_string(id));
  auto* s = result_as<account_summary>(*answer);
  if (!answer->ok() || s == nullptr)
    return fail("the account's node could not say: " +
                std::string{errc_name(static_cast<errc>(answer->status))});
  auto role = s->role == account_role::child ? "child" : "parent";
  if (as_json) {
    std::cout << json{{"id", id},
                      {"role", role},
                      {"node", s->node},
                      {"online", !s->session_node.empty()},
                      {"session_node", s->session_node},
                      {"banned", s->banned},
                      {"frozen", s->frozen},
                      {"stored_envelopes", s->envelopes},
                      {"stored_bytes", s->bytes}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "account " << id << " (" << role << (s->banned ? ", banned" : "")
            << (s->frozen ? ", frozen: no parent" : "") << ")\n  served by node " << s->node
            << "\n  "
            << (s->session_node.empty() ? std::string{"offline"}
                                        : "online, session on node " + s->session_node)
            << "\n  stored mail: " << s->envelopes << " envelopes, " << s->bytes << " bytes\n";
  return 0;
}

kv_bucket& bans_of(kv_buckets& b) {
  return *b.spaces[static_cast<size_t>(kv_space::bans)];
}

/// Writes the ban under the account's id, and has the account's actor end its session,
/// refuse attaches and ban its two public keys (its record is sealed: only the cluster's
/// nodes read its keys); `lift` deletes it all and lets the actor go on.
int ban(cluster_client& cluster, kv_buckets& b, account_id id, report_category reason, bool lift,
        bool as_json) {
  auto at = now_ms();
  auto record = encode_ban({id, at, reason});
  auto key = ban_key_of_account(id);
  std::optional<failure> failed;
  if (lift) {
    if (auto erased = bans_of(b).erase(key); !erased)
      failed = erased.error();
  } else if (auto put = bans_of(b).put(key, record); !put) {
    failed = put.error();
  }
  if (failed)
    return fail("cannot write the bans bucket: " + failed->message);
  ban_order order;
  if (!lift)
    order.ban = ban_record{id, at, reason};
  auto told = cluster.call(user_request<user_op::ban>(id, operator_caller, std::move(order)),
                           user_interface::codec());
  bool reached = told && told->ok();
  bool known = reached || (told && told->status != static_cast<uint16_t>(errc::not_found));
  if (as_json)
    std::cout << json{{"account", id},
                      {"banned", !lift},
                      {"account_known", known},
                      {"actor_told", reached}}
                     .dump()
              << "\n";
  else
    std::cout << "account " << id << (lift ? " may log in again" : " is banned")
              << (known ? ""
                        : " (no such account now, or its node was not reached; the id "
                          "stays banned)")
              << "\n";
  return 0;
}

struct report_entry {
  uint64_t seq = 0;
  report_record report;
  std::optional<report_resolution> resolution;
};

result<std::vector<report_entry>> read_reports(kv_buckets& b, const std::string& cluster) {
  auto bounds = b.reports->bounds();
  if (!bounds)
    return bounds.error();
  std::vector<report_entry> out;
  std::map<uint64_t, report_resolution> resolved;
  for (auto seq = bounds->first; seq != 0 && seq <= bounds->second; ++seq) {
    auto m = b.reports->get(seq);
    if (!m)
      return m.error();
    if (!*m)
      continue;
    if ((*m)->subject == resolutions_subject(cluster)) {
      if (auto r = decode_resolution((*m)->data))
        resolved[r->report] = *r;
    } else if (auto r = decode_report((*m)->data)) {
      out.push_back({seq, *r, std::nullopt});
    }
  }
  for (auto& e : out)
    if (auto i = resolved.find(e.seq); i != resolved.end())
      e.resolution = i->second;
  return out;
}

int reports_list(kv_buckets& b, const std::string& cluster, bool all, bool as_json) {
  auto reports = read_reports(b, cluster);
  if (!reports)
    return fail("cannot read the reports stream: " + reports.error().message);
  json list = json::array();
  for (auto& e : *reports) {
    if (e.resolution && !all)
      continue;
    auto& r = e.report;
    auto category = std::string{report_category_name(r.category)};
    if (as_json) {
      json j{{"seq", e.seq},
             {"reporter", r.reporter},
             {"reported", r.reported},
             {"category", category},
             {"at_ms", r.at_ms},
             {"reporter_role", r.reporter_role == account_role::child ? "child" : "parent"},
             {"reporter_parent", r.reporter_parent},
             {"resolved", e.resolution.has_value()}};
      if (e.resolution)
        j["action"] = e.resolution->action;
      list.push_back(std::move(j));
      continue;
    }
    std::cout << "#" << e.seq << " " << age(r.at_ms) << " ago: " << r.reporter
              << (r.reporter_role == account_role::child ? " (child)" : "") << " reported "
              << r.reported << " for " << category
              << (e.resolution ? ", " + e.resolution->action : "") << "\n";
  }
  if (as_json)
    std::cout << json{{"reports", list}}.dump() << "\n";
  return 0;
}

int reports_resolve(cluster_client& client, kv_buckets& b, const std::string& cluster, uint64_t seq,
                    bool with_ban, bool as_json) {
  auto reports = read_reports(b, cluster);
  if (!reports)
    return fail("cannot read the reports stream: " + reports.error().message);
  auto i = std::find_if(reports->begin(), reports->end(),
                        [&](const report_entry& e) { return e.seq == seq; });
  if (i == reports->end())
    return fail("no report #" + std::to_string(seq));
  if (with_ban) {
    if (int rc = ban(client, b, i->report.reported, i->report.category, false, as_json))
      return rc;
  }
  auto done =
      b.reports->publish(resolutions_subject(cluster),
                         encode_resolution({seq, now_ms(), with_ban ? "banned" : "dismissed"}));
  if (!done)
    return fail("cannot write the resolution: " + done.error().message);
  if (as_json)
    std::cout << json{{"report", seq}, {"resolved", true}, {"banned", with_ban}}.dump() << "\n";
  else
    std::cout << "report #" << seq << " resolved\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  po::options_description desc{usage};
  // clang-format off
  desc.add_options()
    ("help,h", "print this help")
    ("version", "print the version and exit")
    ("nats", po::value<std::string>(),
     "NATS URL(s) of the cluster, comma-separated (default: $KINBOX_NATS, or the dev node's "
     "with --data-dir, or nats://127.0.0.1:4222)")
    ("nats-credentials", po::value<std::string>(),
     "file with the NATS user= and password= lines (default: $KINBOX_NATS_CREDENTIALS, or "
     "the dev node's with --data-dir)")
    ("nats-ca", po::value<std::string>(),
     "PEM file of the CA of the NATS servers' certificates (TLS; default: $KINBOX_NATS_CA)")
    ("data-dir", po::value<std::string>(),
     "a dev node's data dir: use its embedded nats-server and credentials")
    ("cluster", po::value<std::string>()->default_value(env_or("KINBOX_CLUSTER", "dev")),
     "cluster name")
    ("json", "print JSON (one object) instead of text")
    ("no-wait", "drain: return once the node took the request")
    ("all", "reports list: resolved reports too")
    ("ban", "reports resolve: ban the reported account")
    ("reason", po::value<std::string>()->default_value("other"),
     "ban: the report category it is for");
  po::options_description words;
  words.add_options()("command", po::value<std::vector<std::string>>());
  // clang-format on
  po::options_description all;
  all.add(desc).add(words);
  po::positional_options_description pos;
  pos.add("command", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error("", e.what());
  }
  if (vm.count("version")) {
    std::cout << "kinbox-admin " << kinbox::version << "\n";
    return 0;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  auto command = vm.count("command") ? vm["command"].as<std::vector<std::string>>()
                                     : std::vector<std::string>{"status"};
  auto& verb = command[0];
  if (!command_usage.count(verb))
    return usage_error("", "unknown command '" + verb + "'");
  if (verb == "status" && command.size() != 1)
    return usage_error(verb, "takes no argument");
  if ((verb == "drain" || verb == "ban" || verb == "unban" || verb == "account") &&
      command.size() != 2)
    return usage_error(verb, command.size() < 2
                                 ? std::string{verb == "drain" ? "needs NODE" : "needs ID"}
                                 : "takes one argument");
  if (verb == "plan" && (command.size() != 3 || (command[1] != "join" && command[1] != "drain")))
    return usage_error(verb, command.size() < 3 ? "needs join or drain, and NODE"
                                                : "join or drain, then NODE");
  if (verb == "drain" || verb == "plan") {
    auto& node = command.back();
    if (!is_name(node)) {
      std::string shown;
      for (char c : node.substr(0, 40))
        shown.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : '?');
      return usage_error(verb, "'" + shown + "' is not a node id (1 to 32 of a-z, 0-9, - and _)");
    }
  }
  if (verb == "reports" && !(command.size() == 2 && command[1] == "list") &&
      !(command.size() == 3 && command[1] == "resolve"))
    return usage_error(verb, command.size() == 2 && command[1] == "resolve"
                                 ? "resolve needs SEQ"
                                 : "list or resolve SEQ");
  auto number = [&](const std::string& text) -> std::optional<uint64_t> {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    try {
      size_t used = 0;
      auto v = std::stoull(text, &used);
      if (used == text.size() && v > 0)
        return v;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  };
  auto reason = report_category_from(vm["reason"].as<std::string>());
  std::optional<uint64_t> target;
  if (verb == "ban" || verb == "unban" || verb == "reports" || verb == "account") {
    target = verb == "reports" ? (command.size() == 3 ? number(command[2]) : uint64_t{1})
                               : number(command[1]);
    if (!target || !reason)
      return usage_error(verb, !reason ? "--reason is one of harassment, bullying, "
                                         "sexual_content, violence, impersonation, other"
                                       : "'" + command.back() + "' is not a number");
  }
  std::string url = env_or("KINBOX_NATS", "nats://127.0.0.1:4222");
  std::string creds_file = env_or("KINBOX_NATS_CREDENTIALS", "");
  if (vm.count("data-dir")) {
    auto dir = vm["data-dir"].as<std::string>();
    creds_file = dir + "/nats-credentials";
    std::ifstream in{dir + "/nats-url"};
    if (!(in >> url))
      return fail("no embedded nats-server URL in '" + dir + "/nats-url' (is the node running?)");
  }
  if (vm.count("nats"))
    url = vm["nats"].as<std::string>();
  if (vm.count("nats-credentials"))
    creds_file = vm["nats-credentials"].as<std::string>();
  std::vector<std::string> urls;
  std::stringstream list{url};
  for (std::string u; std::getline(list, u, ',');)
    if (!u.empty())
      urls.push_back(u);
  std::optional<nats_credentials> creds;
  if (!creds_file.empty()) {
    auto read = read_nats_credentials(creds_file);
    if (!read)
      return fail(read.error().message);
    creds = *read;
  }
  auto cluster = vm["cluster"].as<std::string>();
  auto ca = vm.count("nats-ca") ? vm["nats-ca"].as<std::string>() : env_or("KINBOX_NATS_CA", "");
  auto link = nats_link::connect(urls, "kinbox-admin", creds, ca);
  if (!link)
    return fail(link.error().message);
  auto buckets = kv_buckets::existing(**link, cluster);
  if (!buckets)
    return fail(buckets.error().code == errc::not_found
                    ? "no cluster '" + cluster + "' on this NATS (" + buckets.error().message +
                          "); check --cluster"
                    : buckets.error().message);
  bool as_json = vm.count("json") != 0;
  cluster_client client{**link, **buckets, cluster};
  int rc = 0;
  if (verb == "status")
    rc = status(**buckets, cluster, as_json);
  else if (verb == "account")
    rc = account(client, *target, as_json);
  else if (verb == "plan")
    rc = plan(**buckets, command[1], command[2], as_json);
  else if (verb == "drain")
    rc = drain(client, **buckets, command[1], vm.count("no-wait") == 0, as_json);
  else if (verb == "ban" || verb == "unban")
    rc = ban(client, **buckets, *target, *reason, verb == "unban", as_json);
  else if (command[1] == "list")
    rc = reports_list(**buckets, cluster, vm.count("all") != 0, as_json);
  else
    rc = reports_resolve(client, **buckets, cluster, *target, vm.count("ban") != 0, as_json);
  buckets->reset();
  link->reset();
  nats_Close();
  return rc;
}
