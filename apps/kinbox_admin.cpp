// kinbox-admin: operator's view of a cluster. For now: `status`, read from the cluster's
// KV buckets in NATS (accounts registered, accounts online).
#include <boost/program_options.hpp>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cluster/kv_actor.hpp"
#include "cluster/nats_link.hpp"

namespace po = boost::program_options;
using namespace kinbox;

int main(int argc, char** argv) {
  po::options_description desc{"usage: kinbox-admin [options] status\n\noptions"};
  // clang-format off
  desc.add_options()
    ("help,h", "print this help")
    ("nats", po::value<std::string>()->default_value("nats://127.0.0.1:4222"),
     "NATS URL of the cluster (a dev node prints its embedded server's URL at start)")
    ("cluster", po::value<std::string>()->default_value("dev"), "cluster name")
    ("json", "print one JSON object")
    ("command", po::value<std::string>()->default_value("status"), "status");
  // clang-format on
  po::positional_options_description pos;
  pos.add("command", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "kinbox-admin: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (vm["command"].as<std::string>() != "status") {
    std::cerr << "kinbox-admin: unknown command '" << vm["command"].as<std::string>() << "'\n"
              << desc;
    return 2;
  }
  auto cluster = vm["cluster"].as<std::string>();
  auto link = nats_link::connect({vm["nats"].as<std::string>()}, "kinbox-admin", std::nullopt);
  if (!link) {
    std::cerr << "kinbox-admin: " << link.error().message << "\n";
    return 1;
  }
  auto buckets = kv_buckets::open(**link, cluster, 1, std::chrono::seconds(6));
  if (!buckets) {
    std::cerr << "kinbox-admin: " << buckets.error().message << "\n";
    return 1;
  }
  auto accounts = (*buckets)->spaces[static_cast<size_t>(kv_space::accounts)]->keys();
  auto online = (*buckets)->spaces[static_cast<size_t>(kv_space::presence)]->keys();
  if (!accounts || !online) {
    std::cerr << "kinbox-admin: cannot read the cluster's buckets\n";
    return 1;
  }
  if (vm.count("json"))
    std::cout << nlohmann::json{{"cluster", cluster},
                                {"accounts", accounts->size()},
                                {"online", online->size()}}
                     .dump()
              << "\n";
  else
    std::cout << "cluster " << cluster << ": " << accounts->size() << " accounts, "
              << online->size() << " online\n";
  link->reset();
  nats_Close();
  return 0;
}
