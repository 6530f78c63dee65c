// Holds the CPU cross-entropy kernels (fused, vectorised, threaded) equal to the reference
// (STYLE.md habit 2), forward and backward, on class counts 1..33 around the vector widths and
// classifier sizes, batches below and above the threading threshold, with and without class
// weights, label smoothing, ignored elements and per-element upstream gradients, one and two
// threads, on logits with confident classes and -inf; outputs start as NaN.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "fovea/random.h"
#include "kernels/cpu/loss_cpu.h"
#include "kernels/reference/loss_reference.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Buffer = std::vector<float>;

// Within atol[i] + rtol*|expected|, or both NaN, or equal (infinities).
std::string compare(const Buffer& actual, const Buffer& expected, const Buffer& atol, float rtol) {
  for (size_t i = 0; i < expected.size(); ++i) {
    const float a = actual[i], e = expected[i];
    if ((std::isnan(a) && std::isnan(e)) || a == e) continue;
    if (std::fabs(a - e) <= atol[i] + rtol * std::fabs(e)) continue;
    return fmt::format("element {}: {} but expected {}", i, a, e);
  }
  return "";
}

struct Case {
  int64_t N, C;
  bool weighted;
  float smoothing;
  bool per_element_scale;
};

std::vector<Case> cases() {
  std::vector<Case> all;
  for (bool weighted : {false, true})
    for (float smoothing : {0.0f, 0.1f})
      for (bool per_element : {false, true}) {
        for (int64_t C = 1; C <= 33; ++C) all.push_back({5, C, weighted, smoothing, per_element});
        all.push_back({64, 10, weighted, smoothing, per_element});
        all.push_back({256, 1000, weighted, smoothing, per_element});  // threaded
      }
  return all;
}

TEST(LossKernels, CrossEntropyCpuMatchesReference) {
  testing::with_one_and_two_threads([&] {
    for (const Case& k : cases()) {
      SCOPED_TRACE(fmt::format("N {} C {} weighted {} smoothing {} per-element scale {}", k.N, k.C,
                               k.weighted, k.smoothing, k.per_element_scale));
      ClassLossGeometry g;
      g.N = k.N;
      g.C = k.C;
      g.label_smoothing = k.smoothing;
      Generator gen(static_cast<uint64_t>(k.N * k.C));
      // Logits of spread 4, every 13th made confident (+20), every 17th -inf.
      Buffer x(static_cast<size_t>(k.N * k.C));
      for (size_t i = 0; i < x.size(); ++i) {
        x[i] = gen.normal(0.0f, 4.0f);
        if (i % 13 == 3) x[i] += 20.0f;
        if (i % 17 == 9) x[i] = -std::numeric_limits<float>::infinity();
      }
      Buffer target(static_cast<size_t>(k.N)), weight(static_cast<size_t>(k.C));
      for (size_t i = 0; i < target.size(); ++i)
        target[i] = i % 7 == 4 ? static_cast<float>(g.ignore_index)
                               : static_cast<float>(gen.next_u64() % static_cast<uint64_t>(k.C));
      for (float& w : weight) w = gen.uniform(0.2f, 2.0f);
      const float* w = k.weighted ? weight.data() : nullptr;
      Buffer scale(k.per_element_scale ? target.size() : 1);
      for (float& s : scale) s = gen.normal();
      const int64_t stride = k.per_element_scale ? 1 : 0;

      // Errors scale with the logits' size (through the log-sum-exp) and the weights.
      const float max_w = k.weighted ? *std::max_element(weight.begin(), weight.end()) : 1.0f;
      const float w_sum = k.weighted ? std::accumulate(weight.begin(), weight.end(), 0.0f)
                                     : static_cast<float>(k.C);
      const float eps_c = k.smoothing / static_cast<float>(k.C);

      Buffer loss_ref(target.size(), kNaN), loss(target.size(), kNaN), loss_atol(target.size());
      cross_entropy_forward_reference(g, x.data(), target.data(), w, loss_ref.data());
      cross_entropy_forward_cpu(g, x.data(), target.data(), w, loss.data());
      for (int64_t i = 0; i < k.N; ++i) {
        float row_max = 0.0f;
        for (int64_t c = 0; c < k.C; ++c)
          if (std::isfinite(x[i * k.C + c])) row_max = std::max(row_max, std::fabs(x[i * k.C + c]));
        loss_atol[i] = 2e-6f * (row_max + std::log(static_cast<float>(k.C)) + 1.0f) * max_w *
                       (1.0f + k.smoothing * static_cast<float>(k.C));
      }
      EXPECT_EQ(compare(loss, loss_ref, loss_atol, 1e-5f), "") << "forward";

      Buffer dx_ref(x.size(), kNaN), dx(x.size(), kNaN), dx_atol(x.size());
      cross_entropy_backward_reference(g, x.data(), target.data(), w, scale.data(), stride,
                                       dx_ref.data());
      cross_entropy_backward_cpu(g, x.data(), target.data(), w, scale.data(), stride, dx.data());
      for (size_t i = 0; i < x.size(); ++i)
        dx_atol[i] = 2e-6f * std::fabs(scale[i / k.C * stride]) * (max_w + eps_c * w_sum);
      EXPECT_EQ(compare(dx, dx_ref, dx_atol, 1e-5f), "") << "backward";
    }
  });
}

}  // namespace
}  // namespace fovea::kernels
