// Holds the CPU batch-norm kernels equal to the reference ones (STYLE.md habit 2) on a sweep
// of (N, C, P) shapes below and above the OpenMP threshold, with NaN-filled outputs so
// unwritten elements show, and on values far from zero (the one-pass variance's hard case).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fovea/random.h"
#include "kernels/batch_norm_geometry.h"
#include "kernels/cpu/batch_norm_cpu.h"
#include "kernels/reference/batch_norm_reference.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Buffer = std::vector<float>;

Buffer random_buffer(int64_t n, Generator& gen, float loc = 0.0f, float scale = 1.0f) {
  Buffer v(static_cast<size_t>(n));
  for (float& e : v) e = loc + scale * gen.normal();
  return v;
}

Buffer nan_buffer(int64_t n) {
  return Buffer(static_cast<size_t>(n), kNaN);
}

// "" when |actual - expected| <= atol + rtol*|expected| everywhere, else the first failure.
std::string compare(const Buffer& actual, const Buffer& expected, float rtol, float atol) {
  for (size_t i = 0; i < expected.size(); ++i)
    if (!(std::fabs(actual[i] - expected[i]) <= atol + rtol * std::fabs(expected[i])))
      return fmt::format("element {} is {} but expected {}", i, actual[i], expected[i]);
  return "";
}

struct Shape3 {
  int64_t N, C, P;
};

constexpr Shape3 kShapes[] = {
    {2, 1, 1},  {1, 3, 2},   {5, 2, 1},   {3, 4, 7},    {2, 3, 16},
    {2, 5, 17}, {4, 2, 100}, {1, 8, 333}, {4, 3, 4096}, {2, 16, 1500},
};

class NormKernels : public ::testing::TestWithParam<Shape3> {};

TEST_P(NormKernels, StatsMatchReference) {
  const auto [N, C, P] = GetParam();
  const BatchNormGeometry g{N, C, P};
  Generator gen(N * 1000 + C * 10 + P);
  for (const float loc : {0.0f, 1000.0f}) {
    SCOPED_TRACE(fmt::format("N={} C={} P={} loc={}", N, C, P, loc));
    const Buffer x = random_buffer(g.numel(), gen, loc, 0.5f);
    Buffer mean_ref = nan_buffer(C), var_ref = nan_buffer(C);
    Buffer mean = nan_buffer(C), var = nan_buffer(C);
    batch_norm_stats_reference(g, x.data(), mean_ref.data(), var_ref.data());
    batch_norm_stats_cpu(g, x.data(), mean.data(), var.data());
    EXPECT_EQ(compare(mean, mean_ref, 1e-6f, 1e-6f), "") << "mean";
    EXPECT_EQ(compare(var, var_ref, 1e-4f, 1e-6f), "") << "var";
  }
}

TEST_P(NormKernels, ForwardAndBackwardMatchReference) {
  const auto [N, C, P] = GetParam();
  const BatchNormGeometry g{N, C, P};
  Generator gen(N * 7 + C * 100 + P);
  const Buffer x = random_buffer(g.numel(), gen), dy = random_buffer(g.numel(), gen);
  const Buffer mean = random_buffer(C, gen, 0.0f, 0.3f), w = random_buffer(C, gen, 1.0f, 0.5f),
               b = random_buffer(C, gen);
  Buffer invstd = random_buffer(C, gen);
  for (float& v : invstd) v = 0.5f + std::fabs(v);
  for (const bool affine : {false, true}) {
    const float* wp = affine ? w.data() : nullptr;
    const float* bp = affine ? b.data() : nullptr;
    SCOPED_TRACE(fmt::format("N={} C={} P={} affine={}", N, C, P, affine));
    Buffer y_ref = nan_buffer(g.numel()), y = nan_buffer(g.numel());
    batch_norm_forward_reference(g, x.data(), mean.data(), invstd.data(), wp, bp, y_ref.data());
    batch_norm_forward_cpu(g, x.data(), mean.data(), invstd.data(), wp, bp, y.data());
    EXPECT_EQ(compare(y, y_ref, 1e-5f, 1e-5f), "") << "y";
    for (const bool training : {false, true}) {
      SCOPED_TRACE(training ? "training" : "evaluation");
      Buffer dx_ref = nan_buffer(g.numel()), dw_ref = nan_buffer(C), db_ref = nan_buffer(C);
      Buffer dx = nan_buffer(g.numel()), dw = nan_buffer(C), db = nan_buffer(C);
      batch_norm_backward_reference(g, dy.data(), x.data(), mean.data(), invstd.data(), wp,
                                    training, dx_ref.data(), dw_ref.data(), db_ref.data());
      batch_norm_backward_cpu(g, dy.data(), x.data(), mean.data(), invstd.data(), wp, training,
                              dx.data(), dw.data(), db.data());
      EXPECT_EQ(compare(dx, dx_ref, 1e-4f, 1e-5f), "") << "dx";
      EXPECT_EQ(compare(dw, dw_ref, 1e-5f, 1e-4f), "") << "dw";
      EXPECT_EQ(compare(db, db_ref, 1e-5f, 1e-4f), "") << "db";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, NormKernels, ::testing::ValuesIn(kShapes));

}  // namespace
}  // namespace fovea::kernels
