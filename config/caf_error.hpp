// Bridges kinbox error codes into CAF errors (category "kinbox"), so that actors answer
// requests with `caf::error` values that map back to the wire codes of protocol/errc.hpp.
#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>

#include <string>

#include "protocol/types.hpp"

namespace kinbox {

constexpr caf::atom_value error_category = caf::atom("kinbox");

inline caf::error make_error(errc code, std::string message = {}) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message))};
}

/// Keeps the retry-after of a rate limit: it travels in the error's context.
inline caf::error make_error(const failure& f) {
  if (f.retry_after_ms == 0)
    return make_error(f.code, f.message);
  return caf::error{static_cast<uint8_t>(f.code), error_category,
                    caf::make_message(f.message, f.retry_after_ms)};
}

/// The kinbox code of a CAF error: its own code for kinbox errors, `timeout` for CAF's
/// request timeouts, `unavailable` for dead actors, `internal` for anything else.
inline failure to_failure(const caf::error& err) {
  if (err.category() == error_category) {
    std::string text;
    uint32_t retry_after_ms = 0;
    auto& context = err.context();
    if (context.match_elements<std::string>() || context.match_elements<std::string, uint32_t>())
      text = context.get_as<std::string>(0);
    if (context.match_elements<std::string, uint32_t>())
      retry_after_ms = context.get_as<uint32_t>(1);
    auto code = static_cast<errc>(err.code());
    return failure{code, text.empty() ? std::string{errc_description(code)} : text,
                   retry_after_ms};
  }
  if (err == caf::sec::request_timeout)
    return failure{errc::timeout, std::string{errc_description(errc::timeout)}};
  if (err == caf::sec::request_receiver_down)
    return failure{errc::unavailable, std::string{errc_description(errc::unavailable)}};
  return failure{errc::internal, std::string{errc_description(errc::internal)}};
}

} // namespace kinbox
