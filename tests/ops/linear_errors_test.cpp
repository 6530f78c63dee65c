// Bad arguments to linear raise errors at the door that name the op and the argument.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/linear.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::expect_error;

TEST(LinearErrors, ZeroDimInput) {
  expect_error<ShapeError>(
      [] {
        F::linear(Tensor::zeros({}), Tensor::zeros({2, 1}));
      },
      {"linear:", "input", "at least 1 dimension", "[]"});
}

TEST(LinearErrors, WeightNotTwoDimensional) {
  expect_error<ShapeError>(
      [] {
        F::linear(Tensor::zeros({2, 3}), Tensor::zeros({3}));
      },
      {"linear:", "weight", "2 dimensions", "[3]"});
}

TEST(LinearErrors, InFeaturesMismatch) {
  expect_error<ShapeError>(
      [] {
        F::linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
      },
      {"linear:", "weight", "in_features", "3", "[4, 5]"});
}

TEST(LinearErrors, BiasShape) {
  expect_error<ShapeError>(
      [] {
        F::linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 3}), Tensor::zeros({3}));
      },
      {"linear:", "bias", "[4]", "got [3]"});
}

TEST(LinearErrors, UndefinedTensor) {
  expect_error<ValueError>(
      [] {
        F::linear(Tensor(), Tensor::zeros({4, 3}));
      },
      {"linear:", "input", "undefined"});
  expect_error<ValueError>(
      [] {
        F::linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 3}), Tensor());
      },
      {"linear:", "bias", "undefined"});
}

TEST(LinearErrors, GradOutputShape) {
  expect_error<ShapeError>(
      [] {
        F::linear_backward(Tensor::zeros({2, 5}), Tensor::zeros({2, 3}), Tensor::zeros({4, 3}),
                           true);
      },
      {"linear_backward:", "grad_output", "[2, 4]", "got [2, 5]"});
}

}  // namespace
}  // namespace fovea
