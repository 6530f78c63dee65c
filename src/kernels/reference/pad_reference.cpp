#include "kernels/reference/pad_reference.h"

#include <algorithm>

namespace fovea::kernels {
namespace {

// The input index output position j of axis a reads, or -1 for the constant value.
int64_t source_index(const PadGeometry& g, int a, int64_t j) {
  const int64_t n = g.in[a], lo = g.lo[a], p = j - lo;
  switch (g.mode) {
    case PadMode::kConstant:
      return p >= 0 && p < n ? p : -1;
    case PadMode::kReflect:
      return p < 0 ? -p : p >= n ? 2 * (n - 1) - p : p;
    case PadMode::kReplicate:
      return std::clamp<int64_t>(p, 0, n - 1);
    case PadMode::kCircular: {
      const int64_t hi = g.out[a] - n - lo;
      const int64_t start = std::max<int64_t>(-lo, 0);
      const int64_t core = n - start - std::max<int64_t>(-hi, 0);
      const int64_t q = (j - std::max<int64_t>(lo, 0)) % core;
      return start + (q < 0 ? q + core : q);
    }
  }
  return -1;
}

// Calls f(y_index, x_index) for every output element, x_index -1 where it takes the value.
template <class F>
void for_each_output(const PadGeometry& g, F&& f) {
  int64_t yi = 0;
  std::array<int64_t, 5> src{};
  // Row-major offset of the input element at src[0..a], or -1 once any axis is outside.
  auto offset = [&](int a, int64_t parent) {
    return parent < 0 || src[a] < 0 ? -1 : parent * g.in[a] + src[a];
  };
  for (int64_t j0 = 0; j0 < g.out[0]; ++j0) {
    src[0] = source_index(g, 0, j0);
    const int64_t o0 = offset(0, 0);
    for (int64_t j1 = 0; j1 < g.out[1]; ++j1) {
      src[1] = source_index(g, 1, j1);
      const int64_t o1 = offset(1, o0);
      for (int64_t j2 = 0; j2 < g.out[2]; ++j2) {
        src[2] = source_index(g, 2, j2);
        const int64_t o2 = offset(2, o1);
        for (int64_t j3 = 0; j3 < g.out[3]; ++j3) {
          src[3] = source_index(g, 3, j3);
          const int64_t o3 = offset(3, o2);
          for (int64_t j4 = 0; j4 < g.out[4]; ++j4) {
            src[4] = source_index(g, 4, j4);
            f(yi++, offset(4, o3));
          }
        }
      }
    }
  }
}

}  // namespace

void pad_forward_reference(const PadGeometry& g, const float* x, float* y) noexcept {
  for_each_output(g, [&](int64_t yi, int64_t xi) { y[yi] = xi < 0 ? g.value : x[xi]; });
}

void pad_backward_reference(const PadGeometry& g, const float* dy, float* dx) noexcept {
  std::fill_n(dx, g.in_numel(), 0.0f);
  for_each_output(g, [&](int64_t yi, int64_t xi) {
    if (xi >= 0) dx[xi] += dy[yi];
  });
}

}  // namespace fovea::kernels
