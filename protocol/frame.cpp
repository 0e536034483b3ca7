#include "protocol/frame.hpp"

#include "protocol/wire.hpp"

namespace kinbox {

bool is_known_frame_type(uint8_t value) {
  switch (static_cast<frame_type>(value)) {
#define KINBOX_FRAME_CASE(name, number, text) case frame_type::name:
    KINBOX_FRAME_TABLE(KINBOX_FRAME_CASE)
#undef KINBOX_FRAME_CASE
    return true;
  }
  return false;
}

std::string_view frame_type_name(frame_type type) {
  switch (type) {
#define KINBOX_FRAME_NAME(name, number, text)                                                      \
  case frame_type::name:                                                                           \
    return text;
    KINBOX_FRAME_TABLE(KINBOX_FRAME_NAME)
#undef KINBOX_FRAME_NAME
  }
  return "unknown";
}

void write_frame_header(bytes& out, frame_type type, uint32_t request_id) {
  wire::writer{out}.u8(protocol_version).u8(static_cast<uint8_t>(type)).u32(request_id);
}

bytes encode_frame(const frame& f) {
  bytes out;
  out.reserve(frame_header_size + f.body.size());
  write_frame_header(out, f.type, f.request_id);
  out.insert(out.end(), f.body.begin(), f.body.end());
  return out;
}

result<frame_view> decode_frame_view(std::span<const uint8_t> data) {
  if (data.size() < frame_header_size)
    return failure{errc::malformed_frame, "frame shorter than its header"};
  if (data[0] != protocol_version)
    return failure{errc::unsupported_version,
                   "protocol version " + std::to_string(data[0]) + " is not supported"};
  if (!is_known_frame_type(data[1]))
    return failure{errc::unknown_type, "frame type " + std::to_string(data[1]) + " is unknown"};
  return frame_view{static_cast<frame_type>(data[1]), wire::get_u32_be(data.data() + 2),
                    data.subspan(frame_header_size)};
}

result<frame> decode_frame(std::span<const uint8_t> data) {
  auto v = decode_frame_view(data);
  if (!v)
    return v.error();
  return frame{v->type, v->request_id, bytes(v->body.begin(), v->body.end())};
}

void record_reader::append(std::span<const uint8_t> data) {
  if (read_pos_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(read_pos_));
    read_pos_ = 0;
  }
  buffer_.insert(buffer_.end(), data.begin(), data.end());
}

void record_reader::release_if_idle() {
  if (read_pos_ == buffer_.size() && buffer_.capacity() > idle_capacity) {
    bytes{}.swap(buffer_);
    read_pos_ = 0;
  }
}

result<std::optional<record>> record_reader::next() {
  auto available = buffer_.size() - read_pos_;
  if (available < length_prefix_size)
    return std::optional<record>{};
  auto* start = buffer_.data() + read_pos_;
  auto len = wire::get_u32_be(start);
  if (len == 0)
    return failure{errc::malformed_frame, "record of length 0"};
  if (len > max_record_size_)
    return failure{errc::frame_too_large, "record of " + std::to_string(len) +
                                              " bytes exceeds the maximum of " +
                                              std::to_string(max_record_size_)};
  if (available < length_prefix_size + len)
    return std::optional<record>{};
  read_pos_ += length_prefix_size + len;
  // The record stays valid until the next append, which compacts the buffer then.
  return std::optional<record>{
      record{{start, length_prefix_size}, {start + length_prefix_size, len}}};
}

void append_length_prefix(bytes& out, size_t payload_size) {
  uint8_t prefix[length_prefix_size];
  wire::put_u32_be(prefix, static_cast<uint32_t>(payload_size));
  out.insert(out.end(), prefix, prefix + length_prefix_size);
}

} // namespace kinbox
