#include "kernels/reference/softmax_reference.h"

#include <cmath>

namespace fovea::kernels {
namespace {

// Calls f(base) for the first element of every line along the axis; the line's elements
// are base + k*inner for k < size.
template <class F>
void for_each_line(const SoftmaxGeometry& g, F&& f) {
  if (g.size == 0) return;  // no lines, only empty ones
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t i = 0; i < g.inner; ++i) f(o * g.size * g.inner + i);
}

}  // namespace

void softmax_forward_reference(const SoftmaxGeometry& g, const float* x, float* y) noexcept {
  const int64_t step = g.inner;
  for_each_line(g, [&](int64_t base) {
    float m = x[base];
    for (int64_t k = 1; k < g.size; ++k) m = std::fmax(m, x[base + k * step]);
    double sum = 0.0;
    for (int64_t k = 0; k < g.size; ++k)
      sum += std::exp(static_cast<double>(x[base + k * step]) - m);
    for (int64_t k = 0; k < g.size; ++k) {
      const double shifted = static_cast<double>(x[base + k * step]) - m;
      y[base + k * step] =
          static_cast<float>(g.log ? shifted - std::log(sum) : std::exp(shifted) / sum);
    }
  });
}

void softmax_backward_reference(const SoftmaxGeometry& g, const float* dy, const float* y,
                                float* dx) noexcept {
  const int64_t step = g.inner;
  for_each_line(g, [&](int64_t base) {
    double sum = 0.0;  // softmax: sum g*y; log_softmax: sum g
    for (int64_t k = 0; k < g.size; ++k) {
      const int64_t j = base + k * step;
      sum += g.log ? static_cast<double>(dy[j]) : static_cast<double>(dy[j]) * y[j];
    }
    for (int64_t k = 0; k < g.size; ++k) {
      const int64_t j = base + k * step;
      dx[j] = static_cast<float>(g.log ? dy[j] - std::exp(static_cast<double>(y[j])) * sum
                                       : y[j] * (dy[j] - sum));
    }
  });
}

}  // namespace fovea::kernels
