// Number formatting shared by the analysis reports (summary, rf, separable): receptive-field
// values are doubles that are usually integers or halves, and should print as such.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace fovea::analysis {

inline bool is_integral(double v) {
  return std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15;
}

// 7 rather than 7.0 in JSON when the value is a whole number.
inline nlohmann::ordered_json json_number(double v) {
  if (is_integral(v)) return static_cast<int64_t>(v);
  return v;
}

// "7", "0.5", "2.6667".
inline std::string format_number(double v) {
  if (is_integral(v)) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.5g}", v);
}

// 1,234,567: large counts (parameters, MACs) are read at a glance.
inline std::string with_commas(int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace fovea::analysis
