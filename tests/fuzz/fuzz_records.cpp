// libFuzzer target: the record reader fed arbitrary bytes in arbitrary pieces, and every
// record it cuts decoded as a frame. It must never read out of bounds, loop or crash.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  // The first byte sets the size of the pieces the stream arrives in (1..256).
  size_t piece = static_cast<size_t>(data[0]) + 1;
  std::span<const uint8_t> stream{data + 1, size - 1};
  kinbox::record_reader reader{4096};
  for (size_t at = 0; at < stream.size(); at += piece) {
    reader.append(stream.subspan(at, std::min(piece, stream.size() - at)));
    for (;;) {
      auto rec = reader.next();
      if (!rec)
        return 0; // refused: the connection would close
      if (!*rec)
        break;
      auto view = kinbox::decode_frame_view((**rec).payload);
      auto owned = kinbox::decode_frame((**rec).payload);
      if (static_cast<bool>(view) != static_cast<bool>(owned))
        __builtin_trap();
    }
    reader.release_if_idle();
  }
  return 0;
}
