// Bad arguments to the pooling ops raise errors at the door that name the op and the argument.
#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/pool.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

using testing::expect_error;

Tensor x4() {
  return Tensor::zeros({1, 2, 6, 6});
}

TEST(PoolErrors, WrongInputRank) {
  expect_error<ShapeError>(
      [] {
        F::max_pool2d(Tensor::zeros({6, 6}), {.kernel_size = 2});
      },
      {"max_pool2d:", "input", "4 dimensions", "[6, 6]"});
  expect_error<ShapeError>([] { F::avg_pool1d(x4(), {.kernel_size = 2}); },
                           {"avg_pool1d:", "input", "3 dimensions"});
  expect_error<ShapeError>(
      [] {
        F::adaptive_max_pool3d(x4().reshape({2, 6, 6}), 1);
      },
      {"adaptive_max_pool3d:", "input", "5 dimensions"});
  expect_error<ShapeError>(
      [] {
        F::max_pool2d_backward(Tensor::zeros({1, 2, 3, 3}), {6, 6}, {}, {.kernel_size = 2});
      },
      {"max_pool2d_backward:", "input_shape", "4 dimensions"});
}

TEST(PoolErrors, EmptySpatialAxis) {
  expect_error<ShapeError>(
      [] {
        F::max_pool1d(Tensor::zeros({1, 2, 0}), {.kernel_size = 1});
      },
      {"max_pool1d:", "input", "spatial sizes >= 1", "[1, 2, 0]"});
}

TEST(PoolErrors, UndefinedTensor) {
  expect_error<ValueError>([] { F::avg_pool2d(Tensor(), {.kernel_size = 2}); },
                           {"avg_pool2d:", "input", "undefined"});
  expect_error<ValueError>(
      [] {
        F::max_unpool2d(Tensor::zeros({1, 1, 2, 2}), Tensor(), {.kernel_size = 2});
      },
      {"max_unpool2d:", "indices", "undefined"});
}

TEST(PoolErrors, KernelSizeBelowOne) {
  expect_error<ValueError>(
      [] {
        F::max_pool2d(x4(), {.kernel_size = {2, 0}});
      },
      {"max_pool2d:", "kernel_size", ">= 1", "got 0"});
  expect_error<ValueError>(
      [] {
        F::max_unpool1d(Tensor::zeros({1, 1, 3}), Tensor::zeros({1, 1, 3}), {.kernel_size = 0});
      },
      {"max_unpool1d:", "kernel_size", "got 0"});
}

TEST(PoolErrors, StrideBelowOne) {
  expect_error<ValueError>([] { F::avg_pool2d(x4(), {.kernel_size = 2, .stride = 0}); },
                           {"avg_pool2d:", "stride", ">= 1", "got 0"});
  expect_error<ValueError>(
      [] {
        F::lp_pool1d(Tensor::zeros({1, 1, 5}), 2.0, {.kernel_size = 2, .stride = -1});
      },
      {"lp_pool1d:", "stride", "got -1"});
}

TEST(PoolErrors, DilationBelowOne) {
  expect_error<ValueError>(
      [] {
        F::max_pool3d(Tensor::zeros({1, 1, 4, 4, 4}), {.kernel_size = 2, .dilation = {1, 0, 1}});
      },
      {"max_pool3d:", "dilation", ">= 1", "got 0"});
}

TEST(PoolErrors, NegativePadding) {
  expect_error<ValueError>([] { F::max_pool2d(x4(), {.kernel_size = 2, .padding = -1}); },
                           {"max_pool2d:", "padding", ">= 0", "got -1"});
}

TEST(PoolErrors, PaddingOverHalfTheKernel) {
  expect_error<ValueError>([] { F::max_pool2d(x4(), {.kernel_size = 3, .padding = 2}); },
                           {"max_pool2d:", "padding", "half the kernel_size", "got 2"});
  expect_error<ValueError>(
      [] {
        F::avg_pool1d(Tensor::zeros({1, 1, 8}), {.kernel_size = 2, .padding = 2});
      },
      {"avg_pool1d:", "padding", "got 2"});
}

TEST(PoolErrors, InputSmallerThanTheWindow) {
  expect_error<ShapeError>(
      [] {
        F::max_pool2d(Tensor::zeros({1, 1, 2, 6}), {.kernel_size = 3});
      },
      {"max_pool2d:", "input", "kernel_size [3, 3]", "got [2, 6]", "output size would be [0, 2]"});
  expect_error<ShapeError>(
      [] {
        F::max_pool1d(Tensor::zeros({1, 1, 4}), {.kernel_size = 2, .dilation = 4});
      },
      {"max_pool1d:", "input", "dilation [4]"});
}

TEST(PoolErrors, WindowReadingOnlyPadding) {
  // Taps at -1 and 1 of a 1-element input: PyTorch answers -inf with index 1, outside the plane.
  expect_error<ShapeError>(
      [] {
        F::max_pool1d(Tensor::zeros({1, 1, 1}),
                      {.kernel_size = 2, .stride = 1, .padding = 1, .dilation = 2});
      },
      {"max_pool1d:", "input", "reads only padding", "dilation [2]"});
}

TEST(PoolErrors, DivisorOverrideZero) {
  expect_error<ValueError>([] { F::avg_pool2d(x4(), {.kernel_size = 2, .divisor_override = 0}); },
                           {"avg_pool2d:", "divisor_override", "nonzero", "got 0"});
}

TEST(PoolErrors, NormTypeZeroOrNotFinite) {
  expect_error<ValueError>([] { F::lp_pool2d(x4(), 0.0, {.kernel_size = 2}); },
                           {"lp_pool2d:", "norm_type", "nonzero", "got 0"});
  expect_error<ValueError>(
      [] {
        F::lp_pool2d_backward(Tensor::zeros({1, 2, 3, 3}), x4(),
                              std::numeric_limits<double>::infinity(), {.kernel_size = 2});
      },
      {"lp_pool2d_backward:", "norm_type", "finite"});
}

TEST(PoolErrors, AdaptiveOutputSizeBelowOne) {
  expect_error<ValueError>(
      [] {
        F::adaptive_avg_pool2d(x4(), {3, 0});
      },
      {"adaptive_avg_pool2d:", "output_size", ">= 1", "got 0"});
}

TEST(PoolErrors, GlobalPoolWantsABatchedInput) {
  expect_error<ShapeError>(
      [] {
        F::global_avg_pool(Tensor::zeros({4, 5}));
      },
      {"global_avg_pool:", "input", "3 to 5 dimensions", "[4, 5]"});
  expect_error<ShapeError>(
      [] {
        F::global_max_pool_backward(Tensor::zeros({1}), {1, 1, 1, 1, 1, 1}, Tensor());
      },
      {"global_max_pool_backward:", "input_shape", "3 to 5 dimensions"});
}

TEST(PoolErrors, GradOutputShape) {
  expect_error<ShapeError>(
      [] {
        F::avg_pool2d_backward(Tensor::zeros({1, 2, 3, 2}), {1, 2, 6, 6}, {.kernel_size = 2});
      },
      {"avg_pool2d_backward:", "grad_output", "[1, 2, 3, 3]", "got [1, 2, 3, 2]"});
  expect_error<ShapeError>(
      [] {
        const auto r = F::max_pool2d_with_indices(x4(), {.kernel_size = 2});
        F::max_pool2d_backward(Tensor::zeros({1, 2, 3}), {1, 2, 6, 6}, r.indices,
                               {.kernel_size = 2});
      },
      {"max_pool2d_backward:", "grad_output", "got [1, 2, 3]"});
  expect_error<ShapeError>(
      [] {
        F::adaptive_avg_pool2d_backward(Tensor::zeros({2, 2, 3}), {1, 2, 6, 6});
      },
      {"adaptive_avg_pool2d_backward:", "grad_output", "dimensions"});
  expect_error<ShapeError>(
      [] {
        F::max_unpool2d_backward(Tensor::zeros({1, 1, 3, 3}), Tensor::zeros({1, 1, 2, 2}),
                                 {.kernel_size = 2});
      },
      {"max_unpool2d_backward:", "grad_output", "[1, 1, 4, 4]", "got [1, 1, 3, 3]"});
}

TEST(PoolErrors, IndicesShape) {
  expect_error<ShapeError>(
      [] {
        F::max_pool2d_backward(Tensor::zeros({1, 2, 3, 3}), {1, 2, 6, 6},
                               Tensor::zeros({1, 2, 3, 2}), {.kernel_size = 2});
      },
      {"max_pool2d_backward:", "indices", "[1, 2, 3, 3]", "got [1, 2, 3, 2]"});
  expect_error<ShapeError>(
      [] {
        F::max_unpool2d(Tensor::zeros({1, 1, 2, 2}), Tensor::zeros({1, 1, 2, 3}),
                        {.kernel_size = 2});
      },
      {"max_unpool2d:", "indices", "input's shape"});
}

TEST(PoolErrors, IndicesOutsideThePlane) {
  expect_error<ValueError>(
      [] {
        F::max_pool1d_backward(Tensor::zeros({1, 1, 2}), {1, 1, 4}, Tensor::full({1, 1, 2}, 4.0f),
                               {.kernel_size = 2});
      },
      {"max_pool1d_backward:", "indices", "[0, 4)", "got 4"});
  expect_error<ValueError>(
      [] {
        F::max_unpool2d(Tensor::zeros({1, 1, 2, 2}), Tensor::full({1, 1, 2, 2}, -1.0f),
                        {.kernel_size = 2});
      },
      {"max_unpool2d:", "indices", "[0, 16)", "got -1"});
  expect_error<ValueError>(
      [] {
        F::max_unpool1d_backward(Tensor::zeros({1, 1, 4}), Tensor::full({1, 1, 2}, 1.5f),
                                 {.kernel_size = 2});
      },
      {"max_unpool1d_backward:", "indices", "integer", "got 1.5"});
}

TEST(PoolErrors, UnpoolOutputSize) {
  const Tensor x = Tensor::zeros({1, 1, 3, 3});
  expect_error<ValueError>(
      [&] {
        F::max_unpool2d(x, x, {.kernel_size = 2, .output_size = Shape{6, 6, 6}});
      },
      {"max_unpool2d:", "output_size", "2 or 4 values", "got 3"});
  // default 6: sizes 5 to 7 are allowed.
  expect_error<ValueError>(
      [&] {
        F::max_unpool2d(x, x, {.kernel_size = 2, .output_size = Shape{6, 8}});
      },
      {"max_unpool2d:", "output_size", "strictly between 4 and 8", "got 8"});
}

TEST(PoolErrors, PlaneTooLargeForFloatIndices) {
  expect_error<UnsupportedError>(
      [] {
        F::max_pool2d_backward(Tensor(), {1, 1, 4097, 4097}, Tensor(), {.kernel_size = 2});
      },
      {"max_pool2d_backward:", "input_shape", "2^24", "got 16785409"});
}

}  // namespace
}  // namespace fovea
