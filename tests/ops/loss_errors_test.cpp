// Bad arguments to the losses raise errors at the door that name the op and the argument;
// bad class indices also name the value and its position.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/loss.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::expect_error;

Tensor targets(Shape shape, std::initializer_list<float> values) {
  return Tensor::from_vector(std::move(shape), std::vector<float>(values));
}

TEST(LossErrors, TargetOutOfRange) {
  expect_error<ValueError>(
      [] {
        F::cross_entropy(Tensor::zeros({3, 4}), targets({3}, {0, 4, 1}));
      },
      {"cross_entropy:", "target", "[0, 4)", "got 4", "position [1]"});
  expect_error<ValueError>(
      [] {
        F::nll_loss(Tensor::zeros({2, 3, 2}), targets({2, 2}, {0, 1, 2, -1}));
      },
      {"nll_loss:", "target", "ignore_index -100", "got -1", "position [1, 1]"});
  expect_error<ValueError>(
      [] {
        F::cross_entropy_backward(Tensor::ones({}), Tensor::zeros({2, 3}), targets({2}, {7, 0}));
      },
      {"cross_entropy_backward:", "target", "got 7", "position [0]"});
}

TEST(LossErrors, TargetNotAnInteger) {
  expect_error<ValueError>(
      [] {
        F::cross_entropy(Tensor::zeros({2, 3}), targets({2}, {0, 1.5f}));
      },
      {"cross_entropy:", "target", "integer", "1.5", "position [1]"});
}

TEST(LossErrors, IgnoreIndexIsNotChecked) {
  EXPECT_NO_THROW(
      F::cross_entropy(Tensor::zeros({2, 3}), targets({2}, {255, 1}), {.ignore_index = 255}));
}

TEST(LossErrors, TargetShape) {
  expect_error<ShapeError>(
      [] {
        F::cross_entropy(Tensor::zeros({2, 3, 4}), targets({2}, {0, 1}));
      },
      {"cross_entropy:", "target", "[2, 4]", "got [2]"});
  expect_error<ShapeError>(
      [] {
        F::mse_loss(Tensor::zeros({2, 3}), Tensor::zeros({3}));
      },
      {"mse_loss:", "target", "[2, 3]", "got [3]"});
  expect_error<ShapeError>(
      [] {
        F::binary_cross_entropy_with_logits(Tensor::zeros({2, 3}), Tensor::zeros({2, 1}));
      },
      {"binary_cross_entropy_with_logits:", "target", "[2, 3]"});
}

TEST(LossErrors, ProbabilityTargets) {
  expect_error<UnsupportedError>(
      [] {
        F::cross_entropy(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}));
      },
      {"cross_entropy:", "target", "probabilities", "[2]"});
}

TEST(LossErrors, ZeroDimInput) {
  expect_error<ShapeError>([] { F::nll_loss(Tensor::zeros({}), Tensor::zeros({})); },
                           {"nll_loss:", "input", "(N, C, ...)"});
}

TEST(LossErrors, ClassWeightShape) {
  expect_error<ShapeError>(
      [] {
        F::cross_entropy(Tensor::zeros({2, 3}), targets({2}, {0, 1}),
                         {.weight = Tensor::ones({2})});
      },
      {"cross_entropy:", "weight", "[3]", "got [2]"});
}

TEST(LossErrors, LabelSmoothingOutOfRange) {
  expect_error<ValueError>(
      [] {
        F::cross_entropy(Tensor::zeros({2, 3}), targets({2}, {0, 1}), {.label_smoothing = 1.5f});
      },
      {"cross_entropy:", "label_smoothing", "[0, 1]", "1.5"});
}

TEST(LossErrors, PosWeightDoesNotBroadcast) {
  expect_error<ShapeError>(
      [] {
        F::binary_cross_entropy_with_logits(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}),
                                            {.pos_weight = Tensor::ones({2})});
      },
      {"binary_cross_entropy_with_logits:", "pos_weight", "[2, 3]", "got [2]"});
}

TEST(LossErrors, GradOutputShape) {
  expect_error<ShapeError>(
      [] { F::mse_loss_backward(Tensor::ones({1}), Tensor::zeros({2}), Tensor::zeros({2})); },
      {"mse_loss_backward:", "grad_output", "[]", "got [1]"});
  expect_error<ShapeError>(
      [] {
        F::nll_loss_backward(Tensor::ones({}), Tensor::zeros({2, 3}), targets({2}, {0, 1}),
                             {.reduction = F::Reduction::kNone});
      },
      {"nll_loss_backward:", "grad_output", "[2]", "got []"});
}

TEST(LossErrors, UndefinedTensor) {
  expect_error<ValueError>([] { F::mse_loss(Tensor(), Tensor::zeros({2})); },
                           {"mse_loss:", "input", "undefined"});
  expect_error<ValueError>(
      [] {
        F::cross_entropy(Tensor::zeros({2, 3}), Tensor());
      },
      {"cross_entropy:", "target", "undefined"});
}

}  // namespace
}  // namespace fovea
