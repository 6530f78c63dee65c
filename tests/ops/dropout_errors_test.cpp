// Bad arguments to dropout raise errors at the door that name the op and the argument.
#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/dropout.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

using testing::expect_error;

TEST(DropoutErrors, ProbabilityOutsideZeroOne) {
  for (const double p : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()})
    expect_error<ValueError>([p] { F::dropout(Tensor::zeros({3}), {.p = p}); },
                             {"dropout:", "p", "[0, 1]"});
  // Even in evaluation, where p is otherwise unused, as PyTorch.
  expect_error<ValueError>([] { F::dropout(Tensor::zeros({3}), {.p = 2.0, .training = false}); },
                           {"dropout:", "p", "got 2"});
}

TEST(DropoutErrors, UndefinedInput) {
  expect_error<ValueError>([] { F::dropout(Tensor()); }, {"dropout:", "input", "undefined"});
  expect_error<ValueError>([] { F::dropout_backward(Tensor(), Tensor::ones({2})); },
                           {"dropout_backward:", "grad_output", "undefined"});
}

TEST(DropoutErrors, BackwardMaskShape) {
  expect_error<ShapeError>(
      [] {
        F::dropout_backward(Tensor::zeros({2, 3}), Tensor::ones({6}));
      },
      {"dropout_backward:", "grad_output", "mask's shape [6]", "[2, 3]"});
}

}  // namespace
}  // namespace fovea
