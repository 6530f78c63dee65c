// The GEMM linear kernels held equal to the reference loops on a sweep of shapes (empty,
// single row, single feature, shapes around oneDNN's blocking), outputs NaN-filled so any
// element a kernel forgets to write shows up.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "fovea/random.h"
#include "golden_helpers.h"
#include "kernels/cpu/linear_gemm.h"
#include "kernels/reference/linear_reference.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kRtol = 1e-5f, kAtol = 1e-5f;

void expect_equal(const Tensor& fast, const Tensor& reference, const LinearGeometry& g,
                  const char* pass) {
  EXPECT_EQ(testing::compare_tensors(fast, reference, kRtol, kAtol), "")
      << fmt::format("{} rows={} in={} out={}", pass, g.rows, g.in_features, g.out_features);
}

void check_geometry(const LinearGeometry& g, bool bias) {
  Generator gen(11);
  const Tensor x = Tensor::randn({g.rows, g.in_features}, &gen);
  const Tensor w = Tensor::randn({g.out_features, g.in_features}, &gen);
  const Tensor b = Tensor::randn({g.out_features}, &gen);
  const Tensor dy = Tensor::randn({g.rows, g.out_features}, &gen);
  const float* bp = bias ? b.data() : nullptr;

  Tensor y_ref = Tensor::full({g.rows, g.out_features}, kNaN), y = y_ref.clone();
  linear_forward_reference(g, x.data(), w.data(), bp, y_ref.data());
  linear_forward_gemm(g, x.data(), w.data(), bp, y.data());
  expect_equal(y, y_ref, g, bias ? "forward with bias" : "forward");

  Tensor dx_ref = Tensor::full({g.rows, g.in_features}, kNaN), dx = dx_ref.clone();
  linear_backward_data_reference(g, dy.data(), w.data(), dx_ref.data());
  linear_backward_data_gemm(g, dy.data(), w.data(), dx.data());
  expect_equal(dx, dx_ref, g, "backward data");

  Tensor dw_ref = Tensor::full({g.out_features, g.in_features}, kNaN), dw = dw_ref.clone();
  linear_backward_weight_reference(g, x.data(), dy.data(), dw_ref.data());
  linear_backward_weight_gemm(g, x.data(), dy.data(), dw.data());
  expect_equal(dw, dw_ref, g, "backward weight");
}

TEST(LinearKernels, GemmMatchesReference) {
  const std::vector<LinearGeometry> sweep = {
      {1, 1, 1},    {1, 7, 3},     {5, 1, 4},     {4, 6, 1}, {3, 17, 33}, {16, 64, 10},
      {31, 33, 65}, {64, 128, 96}, {100, 9, 200}, {0, 4, 3}, {4, 0, 3},   {4, 3, 0}};
  for (const LinearGeometry& g : sweep)
    for (bool bias : {false, true}) check_geometry(g, bias);
}

TEST(LinearKernels, BiasGradientSumsRows) {
  const LinearGeometry g{3, 2, 2};
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6};
  std::vector<float> db(2, kNaN);
  linear_backward_bias_reference(g, dy.data(), db.data());
  EXPECT_EQ(db, (std::vector<float>{9, 12}));
}

}  // namespace
}  // namespace fovea::kernels
