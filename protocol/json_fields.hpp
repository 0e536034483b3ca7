#pragma once

// Strict reads of unsigned integer fields from stored JSON records. nlohmann's get<T> and
// value() convert a floating-point number with a plain cast, which is undefined behaviour
// when the number is out of range (a record holding 1e51 for an id); these helpers throw
// json::type_error instead, as a field of the wrong type does, so every decoder's one
// catch refuses the record.

#include <concepts>
#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace kinbox {

template <std::unsigned_integral T>
T json_uint(const nlohmann::json& v) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > std::numeric_limits<T>::max())
    throw nlohmann::json::type_error::create(302, "not an unsigned integer in range", &v);
  return static_cast<T>(v.get<uint64_t>());
}

template <std::unsigned_integral T>
T json_uint(const nlohmann::json& j, const char* field) {
  return json_uint<T>(j.at(field));
}

// A missing field reads as `fallback`; a present one must be valid.
template <std::unsigned_integral T>
T json_uint_or(const nlohmann::json& j, const char* field, T fallback) {
  auto i = j.find(field);
  return i == j.end() ? fallback : json_uint<T>(*i);
}

} // namespace kinbox
