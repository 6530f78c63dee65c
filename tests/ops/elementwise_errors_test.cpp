// Bad arguments to the shape and elementwise ops raise errors at the door that name the op and
// the argument.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/elementwise.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::expect_error;

TEST(ElementwiseErrors, ShapesThatDoNotBroadcast) {
  expect_error<ShapeError>(
      [] {
        F::add(Tensor::zeros({2, 3}), Tensor::zeros({4}));
      },
      {"add:", "broadcast", "[2, 3]", "[4]"});
  expect_error<ShapeError>(
      [] {
        F::mul(Tensor::zeros({2, 3, 4, 4}), Tensor::zeros({1, 2, 1, 1}));
      },
      {"mul:", "broadcast", "[1, 2, 1, 1]"});
}

TEST(ElementwiseErrors, UndefinedOperand) {
  expect_error<ValueError>([] { F::sub(Tensor::zeros({2}), Tensor()); },
                           {"sub:", "b", "undefined"});
  expect_error<ValueError>([] { F::mul(Tensor(), 2.0f); }, {"mul:", "a", "undefined"});
}

TEST(ElementwiseErrors, BackwardGradOutputShape) {
  expect_error<ShapeError>(
      [] {
        F::add_backward(Tensor::zeros({2, 2}), {2, 3}, {3});
      },
      {"add_backward:", "grad_output", "[2, 3]", "got [2, 2]"});
  expect_error<ShapeError>(
      [] {
        F::mul_backward(Tensor::zeros({3}), Tensor::zeros({2, 3}), Tensor::zeros({3}));
      },
      {"mul_backward:", "grad_output", "[2, 3]"});
  expect_error<ShapeError>(
      [] {
        F::sum_backward(Tensor::zeros({2}), {2, 3}, {1}, true);
      },
      {"sum_backward:", "grad_output", "[2, 1]", "got [2]"});
}

TEST(ElementwiseErrors, ReduceDimOutOfRange) {
  expect_error<ValueError>(
      [] {
        F::sum(Tensor::zeros({2, 3}), 2);
      },
      {"sum:", "dim", "[-2, 2)", "got 2"});
  expect_error<ValueError>(
      [] {
        F::mean(Tensor::zeros({2, 3}), {-3});
      },
      {"mean:", "dim", "got -3"});
}

TEST(ElementwiseErrors, ReduceDimRepeated) {
  expect_error<ValueError>(
      [] {
        F::sum(Tensor::zeros({2, 3}), {1, -1});
      },
      {"sum:", "dim", "twice"});
}

TEST(ElementwiseErrors, FlattenDims) {
  expect_error<ValueError>(
      [] {
        F::flatten(Tensor::zeros({2, 3, 4}), 2, 1);
      },
      {"flatten:", "start_dim", "end_dim"});
  expect_error<ValueError>([] { F::flatten(Tensor::zeros({2}), 1); },
                           {"flatten:", "start_dim", "got 1"});
  expect_error<ShapeError>(
      [] {
        F::flatten_backward(Tensor::zeros({2, 5}), {2, 3});
      },
      {"flatten_backward:", "grad_output", "6 elements"});
}

TEST(ElementwiseErrors, CatNothing) {
  expect_error<ValueError>([] { F::cat({}, 0); }, {"cat:", "tensors", "at least one"});
}

TEST(ElementwiseErrors, CatMismatchedShapes) {
  expect_error<ShapeError>(
      [] {
        F::cat({Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 5, 5})}, 1);
      },
      {"cat:", "tensors[1]", "[2, *, 4]", "[2, 5, 5]"});
  expect_error<ShapeError>(
      [] {
        F::cat({Tensor::zeros({2, 3}), Tensor::zeros({2, 3, 1})}, 0);
      },
      {"cat:", "tensors[1]", "[2, 3, 1]"});
  expect_error<ShapeError>([] { F::cat({Tensor::zeros({})}, 0); }, {"cat:", "0-dim"});
}

TEST(ElementwiseErrors, CatDimOutOfRange) {
  expect_error<ValueError>(
      [] {
        F::cat({Tensor::zeros({2, 3})}, 2);
      },
      {"cat:", "dim", "[-2, 2)", "got 2"});
}

TEST(ElementwiseErrors, CatBackwardSizes) {
  expect_error<ShapeError>(
      [] {
        F::cat_backward(Tensor::zeros({2, 5}), {2, 2}, 1);
      },
      {"cat_backward:", "sizes", "total of 5", "[2, 2]"});
  expect_error<ValueError>(
      [] {
        F::cat_backward(Tensor::zeros({2, 5}), {6, -1}, 1);
      },
      {"cat_backward:", "sizes", "got -1"});
}

}  // namespace
}  // namespace fovea
