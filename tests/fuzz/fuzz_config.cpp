// libFuzzer target: the node's configuration parser on arbitrary command lines (NUL
// separates the arguments). Every input ends in a configuration, a help text or a clear
// failure; none crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/node_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"kinbox-node"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  const char* environ[] = {nullptr};
  (void)kinbox::parse_node_config(static_cast<int>(args.size()), argv.data(), environ);
  return 0;
}
