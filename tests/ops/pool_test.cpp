// Pooling behaviour worth spelling out by hand: the course-notes example, PyTorch's edge rules
// (ceil_mode's divisor, NaN, ties), and how the ops fit together.
#include "fovea/functional/pool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "fovea/autograd.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

TEST(MaxPool2d, CourseNotesExample) {
  const float image[] = {12, 20, 30, 0, 8, 12, 2, 0, 34, 70, 37, 4, 112, 100, 25, 12};
  const Tensor x = Tensor::from_vector({1, 1, 4, 4}, image);
  const auto [y, indices] = F::max_pool2d_with_indices(x, {.kernel_size = 2, .stride = 2});
  const float expected[] = {20, 30, 112, 37};
  EXPECT_TRUE(allclose(y, Tensor::from_vector({1, 1, 2, 2}, expected), 0, 0)) << y;
  const float where[] = {1, 2, 12, 10};  // (0,1), (0,2), (3,0), (2,2) in the 4x4 plane
  EXPECT_TRUE(allclose(indices, Tensor::from_vector({1, 1, 2, 2}, where), 0, 0)) << indices;

  // Each output's gradient lands exactly on the element it came from; zero elsewhere.
  const float dy[] = {1, 2, 3, 4};
  const Tensor dx = F::max_pool2d_backward(Tensor::from_vector({1, 1, 2, 2}, dy), x.shape(),
                                           indices, {.kernel_size = 2});
  const float expected_dx[] = {0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 0, 0};
  EXPECT_TRUE(allclose(dx, Tensor::from_vector({1, 1, 4, 4}, expected_dx), 0, 0)) << dx;
}

TEST(MaxPool2d, StrideDefaultsToKernelAndOptionsExpand) {
  const Tensor x = Tensor::randn({2, 3, 9, 8});
  EXPECT_EQ(F::max_pool2d(x, {.kernel_size = 3}).shape(), (Shape{2, 3, 3, 2}));
  EXPECT_EQ(F::max_pool2d(x, {.kernel_size = {3, 2}, .stride = {2, 1}}).shape(),
            (Shape{2, 3, 4, 7}));
  EXPECT_EQ(F::max_pool2d(x, {.kernel_size = 3, .stride = 2, .padding = 1}).shape(),
            (Shape{2, 3, 5, 4}));
}

TEST(MaxPool2d, UnbatchedInputGivesUnbatchedOutput) {
  const Tensor x = Tensor::randn({3, 6, 6});
  const Tensor y = F::max_pool2d(x, {.kernel_size = 2});
  EXPECT_EQ(y.shape(), (Shape{3, 3, 3}));
  EXPECT_TRUE(allclose(y.reshape({1, 3, 3, 3}),
                       F::max_pool2d(x.reshape({1, 3, 6, 6}), {.kernel_size = 2}), 0, 0));
}

TEST(MaxPool1d, NanWinsAndTiesGoToTheFirstPosition) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float v[] = {1, 3, 3, nan, 2, 2};
  const auto [y, indices] =
      F::max_pool1d_with_indices(Tensor::from_vector({1, 1, 6}, v), {.kernel_size = 3});
  EXPECT_EQ(y(0, 0, 0), 3.0f);
  EXPECT_EQ(indices(0, 0, 0), 1.0f);  // the first of the two 3s
  EXPECT_TRUE(std::isnan(y(0, 0, 1)));
  EXPECT_EQ(indices(0, 0, 1), 3.0f);
}

// Inference (no indices asked for, nothing to record) computes the values alone: the same bits
// as the forward with indices, NaN and -inf included, in 1-D, 2-D and 3-D; with a gradient to
// record, the indices are kept for the backward.
TEST(MaxPool, InferenceGivesTheValuesOfTheForwardWithIndices) {
  Tensor x = Tensor::randn({2, 5, 23, 37});
  x.data()[7] = std::numeric_limits<float>::quiet_NaN();
  x.data()[37 * 4] = -std::numeric_limits<float>::infinity();
  x.data()[x.numel() - 1] = std::numeric_limits<float>::quiet_NaN();
  const auto same_bits = [](const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.numel())) == 0;
  };
  const F::MaxPool2dOptions options[] = {
      {.kernel_size = 3, .stride = 2, .padding = 1},
      {.kernel_size = 2},
      {.kernel_size = 3, .stride = 1, .padding = 1, .ceil_mode = true},
      {.kernel_size = {3, 2}, .stride = {2, 3}, .padding = {1, 0}, .dilation = 2}};
  const Tensor x1 = x.reshape({10, 23, 37}), x3 = x.reshape({2, 5, 23, 37, 1});
  for (const F::MaxPool2dOptions& o : options) {
    const Tensor expected = F::max_pool2d_with_indices(x, o).output;
    autograd::NoGradGuard no_grad;
    EXPECT_TRUE(same_bits(F::max_pool2d(x, o), expected));
  }
  {
    autograd::NoGradGuard no_grad;
    const F::MaxPool1dOptions o1{.kernel_size = 3, .stride = 2, .padding = 1};
    EXPECT_TRUE(same_bits(F::max_pool1d(x1, o1), F::max_pool1d_with_indices(x1, o1).output));
    const F::MaxPool3dOptions o3{
        .kernel_size = {3, 3, 1}, .stride = {2, 2, 1}, .padding = {1, 1, 0}};
    EXPECT_TRUE(same_bits(F::max_pool3d(x3, o3), F::max_pool3d_with_indices(x3, o3).output));
  }
  Tensor leaf = Tensor::randn({1, 2, 8, 8}).requires_grad_();
  const F::MaxPool2dOptions o{.kernel_size = 3, .stride = 2, .padding = 1};
  F::max_pool2d(leaf, o).backward(Tensor::full({1, 2, 4, 4}, 1.0f));
  const Tensor indices = F::max_pool2d_with_indices(leaf.detach(), o).indices;
  EXPECT_TRUE(allclose(
      leaf.grad(),
      F::max_pool2d_backward(Tensor::full({1, 2, 4, 4}, 1.0f), leaf.shape(), indices, o), 0, 0));
}

TEST(MaxPool2d, CeilModeDropsAWindowStartingInTheRightPadding) {
  // in 5, kernel 2, stride 3, padding 1: ceil gives 3 windows, but the third would start at
  // 6 - 1 = 5 >= in, so PyTorch keeps 2.
  const Tensor x = Tensor::randn({1, 1, 5, 5});
  EXPECT_EQ(
      F::max_pool2d(x, {.kernel_size = 2, .stride = 3, .padding = 1, .ceil_mode = true}).shape(),
      (Shape{1, 1, 2, 2}));
}

TEST(AvgPool1d, CeilModeWindowDividesByItsPartOfThePaddedInput) {
  const float v[] = {1, 2, 3, 4, 5};
  const Tensor y =
      F::avg_pool1d(Tensor::from_vector({1, 1, 5}, v), {.kernel_size = 2, .ceil_mode = true});
  const float expected[] = {1.5f, 3.5f, 5.0f};  // the last window [4, 6) holds only 5
  EXPECT_TRUE(allclose(y, Tensor::from_vector({1, 1, 3}, expected))) << y;
}

TEST(AvgPool2d, CountIncludePadChoosesTheDivisor) {
  const Tensor x = Tensor::ones({1, 1, 2, 2});
  const Tensor with = F::avg_pool2d(x, {.kernel_size = 3, .stride = 1, .padding = 1});
  const Tensor without =
      F::avg_pool2d(x, {.kernel_size = 3, .stride = 1, .padding = 1, .count_include_pad = false});
  EXPECT_FLOAT_EQ(with(0, 0, 0, 0), 4.0f / 9.0f);
  EXPECT_FLOAT_EQ(without(0, 0, 0, 0), 1.0f);
  const Tensor fixed =
      F::avg_pool2d(x, {.kernel_size = 3, .stride = 1, .padding = 1, .divisor_override = 2});
  EXPECT_FLOAT_EQ(fixed(0, 0, 0, 0), 2.0f);
}

TEST(LpPool2d, IsThePNormOfEachWindow) {
  const Tensor x = Tensor::randn({2, 2, 4, 6});
  const Tensor l2 = F::lp_pool2d(x, 2.0, {.kernel_size = 2});
  const Tensor l1 = F::lp_pool2d(x, 1.0, {.kernel_size = 2});
  Tensor sum = F::avg_pool2d(x, {.kernel_size = 2});
  for (int64_t i = 0; i < sum.numel(); ++i) sum.data()[i] *= 4.0f;
  EXPECT_TRUE(allclose(l1, sum, 1e-5f, 1e-6f));
  float s = 0.0f;
  for (int h = 0; h < 2; ++h)
    for (int w = 0; w < 2; ++w) s += x(1, 1, 2 + h, 4 + w) * x(1, 1, 2 + h, 4 + w);
  EXPECT_FLOAT_EQ(l2(1, 1, 1, 2), std::sqrt(s));
}

TEST(AdaptivePool, WindowsCoverTheInputWhenSizesDoNotDivide) {
  const float v[] = {1, 2, 3, 4, 5};
  const Tensor x = Tensor::from_vector({1, 1, 5}, v);
  // out 3 of in 5: windows [0, 2), [1, 4), [3, 5).
  const float avg[] = {1.5f, 3.0f, 4.5f};
  EXPECT_TRUE(allclose(F::adaptive_avg_pool1d(x, 3), Tensor::from_vector({1, 1, 3}, avg)));
  const auto [y, indices] = F::adaptive_max_pool1d_with_indices(x, 3);
  const float where[] = {1, 3, 4};
  EXPECT_TRUE(allclose(indices, Tensor::from_vector({1, 1, 3}, where), 0, 0)) << indices;
}

TEST(GlobalPool, IsAdaptivePoolingToOne) {
  const Tensor x = Tensor::randn({2, 3, 5, 4});
  EXPECT_EQ(F::global_avg_pool(x).shape(), (Shape{2, 3, 1, 1}));
  EXPECT_TRUE(allclose(F::global_avg_pool(x), F::adaptive_avg_pool2d(x, 1), 0, 0));
  EXPECT_TRUE(allclose(F::global_max_pool(x), F::max_pool2d(x, {.kernel_size = {5, 4}}), 0, 0));
  EXPECT_EQ(F::global_max_pool(Tensor::randn({2, 3, 7})).shape(), (Shape{2, 3, 1}));
}

TEST(MaxUnpool2d, PutsEachMaximumBackWhereItCameFrom) {
  const Tensor x = Tensor::rand({2, 3, 6, 5}, 0.5f, 1.5f);  // positive: beats unpool's zeros
  const F::MaxPool2dOptions pool{.kernel_size = 2};
  const auto [y, indices] = F::max_pool2d_with_indices(x, pool);
  const Tensor u = F::max_unpool2d(y, indices, {.kernel_size = 2, .output_size = x.shape()});
  ASSERT_EQ(u.shape(), x.shape());
  // Unpooling then pooling again gives the pooled values back.
  EXPECT_TRUE(allclose(F::max_pool2d(u, pool), y, 0, 0));
  int64_t nonzero = 0;
  for (float v : u.span()) nonzero += v != 0.0f;
  EXPECT_EQ(nonzero, y.numel());
  // Without output_size the default (in - 1)*stride - 2*padding + kernel_size: the odd
  // column is lost, so that max_pool input needs output_size; an even one does not.
  const Tensor even = Tensor::randn({2, 3, 4, 6});
  const auto [ye, ie] = F::max_pool2d_with_indices(even, pool);
  EXPECT_EQ(F::max_unpool2d(ye, ie, {.kernel_size = 2}).shape(), even.shape());
}

}  // namespace
}  // namespace fovea
