// Integer division rounded up, and rounding up to a multiple: how the kernels count tiles,
// chunks and vectors, and size padded rows.
#pragma once

#include <cstdint>

namespace fovea::kernels {

constexpr int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

constexpr int64_t round_up(int64_t v, int64_t multiple) {
  return ceil_div(v, multiple) * multiple;
}

}  // namespace fovea::kernels
