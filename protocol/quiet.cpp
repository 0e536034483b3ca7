#include "protocol/quiet.hpp"

#include <cstdio>

#include "protocol/wire.hpp"

namespace kinbox {

namespace {

void write_schedule(wire::writer& w, const std::optional<quiet_schedule>& s) {
  w.u8(s ? 1 : 0);
  if (s)
    w.u8(s->days).u16(s->from_min).u16(s->to_min).str(s->tz);
}

bool read_schedule(wire::reader& r, std::optional<quiet_schedule>& s) {
  uint8_t on = 2;
  if (!r.u8(on) || on > 1)
    return false;
  if (on == 0)
    return true;
  s.emplace();
  r.u8(s->days);
  r.u16(s->from_min);
  return r.u16(s->to_min) && r.str(s->tz, max_zone_name);
}

bool read_body(std::span<const uint8_t> in, quiet_set_request& x) {
  wire::reader r{in};
  r.u64(x.child);
  return read_schedule(r, x.schedule) && r.finished();
}

bool read_body(std::span<const uint8_t> in, quiet_reply& x) {
  wire::reader r{in};
  uint8_t asleep = 2;
  if (!read_schedule(r, x.schedule))
    return false;
  r.u8(asleep);
  r.u64(x.next_change_ms);
  x.asleep = asleep == 1;
  return r.finished() && asleep <= 1;
}

} // namespace

void write_body(bytes& out, const quiet_set_request& x) {
  wire::writer w{out};
  w.u64(x.child);
  write_schedule(w, x.schedule);
}

void write_body(bytes& out, const quiet_reply& x) {
  wire::writer w{out};
  write_schedule(w, x.schedule);
  w.u8(x.asleep ? 1 : 0).u64(x.next_change_ms);
}

namespace {

constexpr std::string_view day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::optional<int> day_index(std::string_view name) {
  for (int i = 0; i < 7; ++i)
    if (name == day_names[i])
      return i;
  return std::nullopt;
}

} // namespace

std::optional<uint16_t> parse_clock(std::string_view text) {
  auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4))
    return std::nullopt;
  int hours = (text[0] - '0') * 10 + (text[1] - '0');
  int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || minutes > 59)
    return std::nullopt;
  return static_cast<uint16_t>(hours * 60 + minutes);
}

std::string format_clock(uint16_t minutes) {
  char out[8];
  std::snprintf(out, sizeof out, "%02u:%02u", (minutes / 60u) % 100u, minutes % 60u);
  return out;
}

std::optional<uint8_t> parse_days(std::string_view text) {
  uint8_t days = 0;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty())
      return std::nullopt;
    auto dash = item.find('-');
    auto first = day_index(item.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : day_index(item.substr(dash + 1));
    if (!first || !last)
      return std::nullopt;
    for (int i = *first;; i = (i + 1) % 7) { // "fri-mon" wraps past Sunday
      days |= static_cast<uint8_t>(1u << i);
      if (i == *last)
        break;
    }
  }
  if (days == 0)
    return std::nullopt;
  return days;
}

std::string format_days(uint8_t days) {
  std::string out;
  for (int i = 0; i < 7; ++i)
    if (days & (1u << i)) {
      if (!out.empty())
        out += ',';
      out += day_names[i];
    }
  return out;
}

template <class T>
result<T> decode_body(std::span<const uint8_t> in) {
  T x{};
  if (!read_body(in, x))
    return failure{errc::malformed_frame, "the frame body does not match its type"};
  return x;
}

template result<quiet_set_request> decode_body<quiet_set_request>(std::span<const uint8_t>);
template result<quiet_reply> decode_body<quiet_reply>(std::span<const uint8_t>);

} // namespace kinbox
