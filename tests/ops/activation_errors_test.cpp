// Bad arguments to the activations and softmax raise errors at the door that name the op and
// the argument.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/activation.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

using testing::expect_error;

TEST(ActivationErrors, UndefinedInput) {
  expect_error<ValueError>([] { F::relu(Tensor()); }, {"relu:", "input", "undefined"});
  expect_error<ValueError>([] { F::softmax(Tensor(), 0); }, {"softmax:", "input", "undefined"});
}

TEST(ActivationErrors, UndefinedSavedTensor) {
  expect_error<ValueError>([] { F::sigmoid_backward(Tensor::zeros({2}), Tensor()); },
                           {"sigmoid_backward:", "output", "undefined"});
  expect_error<ValueError>([] { F::silu_backward(Tensor::zeros({2}), Tensor()); },
                           {"silu_backward:", "input", "undefined"});
  expect_error<ValueError>([] { F::tanh_backward(Tensor(), Tensor::zeros({2})); },
                           {"tanh_backward:", "grad_output", "undefined"});
}

TEST(ActivationErrors, GradOutputShape) {
  expect_error<ShapeError>(
      [] {
        F::gelu_backward(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}));
      },
      {"gelu_backward:", "grad_output", "input's shape [3, 2]", "[2, 3]"});
  expect_error<ShapeError>(
      [] {
        F::relu_backward(Tensor::zeros({4}), Tensor::zeros({2, 2}));
      },
      {"relu_backward:", "grad_output", "output's shape [2, 2]", "[4]"});
  expect_error<ShapeError>(
      [] { F::log_softmax_backward(Tensor::zeros({4}), Tensor::zeros({5}), 0); },
      {"log_softmax_backward:", "grad_output", "[5]", "[4]"});
}

TEST(ActivationErrors, UnknownGeluApproximation) {
  expect_error<ValueError>([] { F::gelu(Tensor::zeros({2}), {.approximate = "erf"}); },
                           {"gelu:", "approximate", "'none' or 'tanh'", "'erf'"});
  expect_error<ValueError>(
      [] { F::gelu_backward(Tensor::zeros({2}), Tensor::zeros({2}), {.approximate = "Tanh"}); },
      {"gelu_backward:", "approximate", "'Tanh'"});
}

TEST(ActivationErrors, SoftmaxDimOutOfRange) {
  expect_error<ValueError>(
      [] {
        F::softmax(Tensor::zeros({2, 3}), 2);
      },
      {"softmax:", "dim", "[-2, 1]", "got 2"});
  expect_error<ValueError>(
      [] {
        F::log_softmax(Tensor::zeros({2, 3}), -3);
      },
      {"log_softmax:", "dim", "[-2, 1]", "got -3"});
  expect_error<ValueError>([] { F::softmax(Tensor::zeros({}), 1); },
                           {"softmax:", "dim", "[-1, 0]", "got 1"});
  expect_error<ValueError>([] { F::softmax_backward(Tensor::zeros({3}), Tensor::zeros({3}), 1); },
                           {"softmax_backward:", "dim", "[-1, 0]", "got 1"});
}

}  // namespace
}  // namespace fovea
