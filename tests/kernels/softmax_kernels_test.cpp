// Holds the CPU softmax and log-softmax kernels (float, vectorised, threaded) equal to the
// double-precision reference (STYLE.md habit 2), forward and backward, on line lengths 1..33
// around the vector widths and on classifier sizes, contiguous lines (inner 1) and lines
// inner apart around the tile of 64, one and two threads, with -inf and large logits mixed in
// and NaN-filled outputs so unwritten elements show.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fovea/random.h"
#include "kernels/cpu/softmax_cpu.h"
#include "kernels/reference/softmax_reference.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Buffer = std::vector<float>;

std::string describe(const SoftmaxGeometry& g) {
  return fmt::format("outer {} size {} inner {} log {}", g.outer, g.size, g.inner, g.log);
}

// Within atol + rtol*|expected| (relative to scale[i] too, when given), or both NaN.
std::string compare(const Buffer& actual, const Buffer& expected, const Buffer* scale, float rtol,
                    float atol) {
  for (size_t i = 0; i < expected.size(); ++i) {
    const float a = actual[i], e = expected[i];
    if (std::isnan(a) && std::isnan(e)) continue;
    const float bound = atol + rtol * (std::fabs(e) + (scale ? std::fabs((*scale)[i]) : 0.0f));
    if (a == e || std::fabs(a - e) <= bound) continue;
    return fmt::format("element {}: {} but expected {}", i, a, e);
  }
  return "";
}

// Logits of spread 4, with every 11th -inf (a class ruled out) and every 13th shifted by 60
// (a confident class), so the exponentials underflow and the shift matters.
Buffer logits(int64_t n, Generator& gen) {
  Buffer v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = gen.normal(0.0f, 4.0f);
    if (i % 11 == 5) v[i] = -std::numeric_limits<float>::infinity();
    if (i % 13 == 7) v[i] += 60.0f;
  }
  return v;
}

std::vector<SoftmaxGeometry> geometries() {
  std::vector<SoftmaxGeometry> all;
  for (bool log : {false, true}) {
    for (int64_t size = 1; size <= 33; ++size)
      for (int64_t outer : {1, 3}) all.push_back({outer, size, 1, log});
    for (int64_t inner : {2, 5, 63, 64, 65, 130})
      for (int64_t size : {1, 3, 17}) all.push_back({2, size, inner, log});
    all.push_back({64, 10, 1, log});     // a classifier's batch
    all.push_back({256, 1000, 1, log});  // ImageNet classes: above the threading threshold
    all.push_back({2, 21, 4096, log});   // per-pixel classes of a segmentation map
    all.push_back({3, 0, 4, log});       // empty lines
  }
  return all;
}

// The size of the terms that make dx[i], which bounds its rounding error: |dy_i| + e^y_i * A for
// log-softmax, |y_i| * (|dy_i| + A) for softmax, with A = the line's sum of |dy| or |dy * y|.
Buffer backward_magnitudes(const SoftmaxGeometry& g, const Buffer& dy, const Buffer& y) {
  Buffer m(dy.size());
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t j = 0; j < g.inner; ++j) {
      const int64_t base = o * g.size * g.inner + j;
      float A = 0.0f;
      for (int64_t k = 0; k < g.size; ++k) {
        const int64_t i = base + k * g.inner;
        A += std::fabs(g.log ? dy[i] : dy[i] * y[i]);
      }
      for (int64_t k = 0; k < g.size; ++k) {
        const int64_t i = base + k * g.inner;
        m[i] = g.log ? std::fabs(dy[i]) + std::exp(y[i]) * A
                     : std::fabs(y[i]) * (std::fabs(dy[i]) + A);
      }
    }
  return m;
}

TEST(SoftmaxKernels, CpuMatchesReference) {
  testing::with_one_and_two_threads([&] {
    for (const SoftmaxGeometry& g : geometries()) {
      SCOPED_TRACE(describe(g));
      const int64_t n = g.outer * g.size * g.inner;
      Generator gen(static_cast<uint64_t>(n + g.size));
      const Buffer x = logits(n, gen);
      Buffer dy(x.size());
      for (float& v : dy) v = gen.normal();

      Buffer y_ref(x.size(), kNaN), y(x.size(), kNaN);
      softmax_forward_reference(g, x.data(), y_ref.data());
      softmax_forward_cpu(g, x.data(), y.data());
      // Softmax: a few ulps of each probability (plus the underflow of e^-87 and below);
      // log-softmax: of the shifted logit.
      EXPECT_EQ(compare(y, y_ref, g.log ? &x : nullptr, 4e-6f, 1e-30f), "") << "forward";

      Buffer dx_ref(x.size(), kNaN), dx(x.size(), kNaN);
      softmax_backward_reference(g, dy.data(), y_ref.data(), dx_ref.data());
      softmax_backward_cpu(g, dy.data(), y_ref.data(), dx.data());
      // dx cancels (dy - sum dy*y): as precise as the terms that make it, not as dx.
      const Buffer magnitude = backward_magnitudes(g, dy, y_ref);
      EXPECT_EQ(compare(dx, dx_ref, &magnitude, 4e-6f, 1e-30f), "") << "backward";
    }
  });
}

}  // namespace
}  // namespace fovea::kernels
