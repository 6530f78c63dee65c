// Bad arguments to batch norm raise errors at the door that name the op and the argument.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/norm.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

using testing::expect_error;

const Tensor kX = Tensor::zeros({2, 3, 4});
const Tensor kStat = Tensor::ones({3});

TEST(NormErrors, UndefinedInput) {
  expect_error<ValueError>([] { F::batch_norm(Tensor(), kStat, kStat); },
                           {"batch_norm:", "input", "undefined"});
}

TEST(NormErrors, InputWithoutChannels) {
  expect_error<ShapeError>([] { F::batch_norm(Tensor::zeros({5}), kStat, kStat); },
                           {"batch_norm:", "input", "2 to 5 dimensions", "[5]"});
}

TEST(NormErrors, PerChannelTensorOfTheWrongSize) {
  expect_error<ShapeError>([] { F::batch_norm(kX, Tensor::zeros({4}), kStat); },
                           {"batch_norm:", "running_mean", "[3]", "[4]"});
  expect_error<ShapeError>(
      [] {
        F::batch_norm(kX, kStat, Tensor::zeros({3, 1}));
      },
      {"batch_norm:", "running_var", "[3]", "[3, 1]"});
  expect_error<ShapeError>([] { F::batch_norm(kX, kStat, kStat, Tensor::ones({2})); },
                           {"batch_norm:", "weight", "[3]", "[2]"});
  expect_error<ShapeError>([] { F::batch_norm(kX, kStat, kStat, {}, Tensor::ones({1})); },
                           {"batch_norm:", "bias", "[3]", "[1]"});
}

TEST(NormErrors, OnlyOneRunningEstimate) {
  expect_error<ValueError>([] { F::batch_norm(kX, kStat, Tensor(), {}, {}, {.training = true}); },
                           {"batch_norm:", "running_var", "undefined"});
}

TEST(NormErrors, EvaluationWithoutRunningEstimates) {
  expect_error<ValueError>([] { F::batch_norm(kX, Tensor(), Tensor()); },
                           {"batch_norm:", "running_mean", "evaluation"});
}

TEST(NormErrors, OneValuePerChannelWhenTraining) {
  expect_error<ValueError>(
      [] {
        F::batch_norm(Tensor::zeros({1, 3}), kStat, kStat, {}, {}, {.training = true});
      },
      {"batch_norm:", "input", "more than 1 value per channel", "[1, 3]"});
  expect_error<ValueError>(
      [] {
        F::batch_norm_backward(Tensor::zeros({1, 3, 1}), Tensor::zeros({1, 3, 1}), {}, kStat, kStat,
                               {.training = true});
      },
      {"batch_norm_backward:", "input", "more than 1 value per channel"});
}

TEST(NormErrors, MomentumOutsideZeroOne) {
  expect_error<ValueError>(
      [] { F::batch_norm(kX, kStat, kStat, {}, {}, {.training = true, .momentum = 1.5}); },
      {"batch_norm:", "momentum", "[0, 1]", "1.5"});
}

TEST(NormErrors, NegativeEps) {
  expect_error<ValueError>([] { F::batch_norm(kX, kStat, kStat, {}, {}, {.eps = -1e-5}); },
                           {"batch_norm:", "eps", ">= 0", "-1e-05"});
}

TEST(NormErrors, BackwardGradOutputShape) {
  expect_error<ShapeError>(
      [] {
        F::batch_norm_backward(Tensor::zeros({2, 3, 5}), kX, {}, kStat, kStat);
      },
      {"batch_norm_backward:", "grad_output", "[2, 3, 4]", "[2, 3, 5]"});
}

TEST(NormErrors, BackwardSavedStatisticsShape) {
  expect_error<ShapeError>([] { F::batch_norm_backward(kX, kX, {}, Tensor::zeros({2}), kStat); },
                           {"batch_norm_backward:", "save_mean", "[3]", "[2]"});
  expect_error<ValueError>([] { F::batch_norm_backward(kX, kX, {}, kStat, Tensor()); },
                           {"batch_norm_backward:", "save_invstd", "undefined"});
}

}  // namespace
}  // namespace fovea
