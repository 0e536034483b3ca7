// Runs a libFuzzer target over files without libFuzzer: every file of the corpus and
// regression directories given, once. ctest runs this for every target, so each input
// that ever crashed a decoder stays a test.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path dir{argv[i]};
    if (!std::filesystem::exists(dir))
      continue; // no regressions for this target (yet)
    if (!std::filesystem::is_directory(dir)) {
      std::fprintf(stderr, "not a directory: %s\n", argv[i]);
      return 1;
    }
    for (auto& entry : std::filesystem::directory_iterator(dir)) {
      if (!entry.is_regular_file())
        continue;
      std::ifstream in{entry.path(), std::ios::binary};
      std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), {}};
      LLVMFuzzerTestOneInput(data.data(), data.size());
      ++inputs;
    }
  }
  std::printf("%zu inputs replayed\n", inputs);
  return inputs > 0 ? 0 : 1;
}
