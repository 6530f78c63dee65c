// Bad arguments to pad raise errors at the door that name the op and the argument.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/pad.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using Mode = F::PadMode;
using testing::expect_error;

const Tensor& x3() {
  static const Tensor x = Tensor::zeros({1, 2, 5});
  return x;
}

TEST(PadErrors, OddNumberOfAmounts) {
  expect_error<ValueError>([] { F::pad(x3(), {1, 1, 1}); }, {"pad:", "pad", "even", "got 3"});
}

TEST(PadErrors, MoreAmountsThanDimensions) {
  expect_error<ValueError>(
      [] {
        F::pad(Tensor::zeros({4}), {1, 1, 1, 1});
      },
      {"pad:", "pad", "at most 2 values per input dimension", "got 4"});
}

TEST(PadErrors, ValueWithNonConstantMode) {
  expect_error<ValueError>(
      [] {
        F::pad(x3(), {1, 1}, Mode::kReflect, 1.5f);
      },
      {"pad:", "value", "reflect", "1.5"});
}

TEST(PadErrors, NonConstantModePadsOneToThreeAxes) {
  expect_error<UnsupportedError>(
      [] {
        F::pad(Tensor::zeros({1, 1, 2, 2, 2}), {1, 1, 1, 1, 1, 1, 1, 1}, Mode::kReplicate);
      },
      {"pad:", "pad", "2, 4 or 6 values", "replicate", "got 8"});
  expect_error<UnsupportedError>([] { F::pad(x3(), {}, Mode::kCircular); },
                                 {"pad:", "pad", "circular", "got 0"});
}

TEST(PadErrors, NonConstantModeInputRank) {
  expect_error<ShapeError>(
      [] {
        F::pad(Tensor::zeros({1, 1, 2, 5}), {1, 1}, Mode::kReflect);
      },
      {"pad:", "input", "2 or 3 dimensions", "reflect", "[1, 1, 2, 5]"});
}

TEST(PadErrors, ReflectAmountNotBelowInputSize) {
  expect_error<ValueError>(
      [] {
        F::pad(x3(), {5, 0}, Mode::kReflect);
      },
      {"pad:", "pad", "smaller than the input size", "(5, 0)", "dimension 2"});
}

TEST(PadErrors, EmptyOutput) {
  expect_error<ValueError>(
      [] {
        F::pad(x3(), {-3, -2}, Mode::kReplicate);
      },
      {"pad:", "pad", "output size >= 1", "(-3, -2)"});
  expect_error<ValueError>(
      [] {
        F::pad(x3(), {-3, -2}, Mode::kReflect);
      },
      {"pad:", "pad", "output size >= 1"});
}

TEST(PadErrors, ConstantCropLargerThanInput) {
  expect_error<ValueError>(
      [] {
        F::pad(x3(), {-6, 2});
      },
      {"pad:", "pad", "crops no larger than the input", "(-6, 2)"});
}

TEST(PadErrors, CircularWrapsMoreThanOnce) {
  expect_error<ValueError>(
      [] {
        F::pad(x3(), {6, 0}, Mode::kCircular);
      },
      {"pad:", "pad", "circular", "wrapping", "(6, 0)"});
  expect_error<ValueError>(
      [] {
        F::pad(x3(), {-5, 1}, Mode::kCircular);
      },
      {"pad:", "pad", "circular", "keep at least one", "(-5, 1)"});
}

TEST(PadErrors, NonConstantModeEmptyAxis) {
  expect_error<ShapeError>(
      [] {
        F::pad(Tensor::zeros({1, 2, 0}), {0, 0}, Mode::kReplicate);
      },
      {"pad:", "input", "size >= 1", "[1, 2, 0]"});
}

TEST(PadErrors, UndefinedTensors) {
  expect_error<ValueError>([] { F::pad(Tensor(), {1, 1}); }, {"pad:", "input"});
  expect_error<ValueError>(
      [] {
        F::pad_backward(Tensor(), {1, 2, 5}, {1, 1});
      },
      {"pad_backward:", "grad_output"});
}

TEST(PadErrors, BackwardGradOutputShape) {
  expect_error<ShapeError>(
      [] {
        F::pad_backward(Tensor::zeros({1, 2, 6}), {1, 2, 5}, {1, 1}, Mode::kReflect);
      },
      {"pad_backward:", "grad_output", "[1, 2, 7]", "[1, 2, 6]"});
}

TEST(PadErrors, BackwardInputShape) {
  expect_error<ShapeError>(
      [] {
        F::pad_backward(Tensor::zeros({1}), {1, 1, 1, 1, 1, 1}, {0, 0});
      },
      {"pad_backward:", "input", "at most 5 dimensions", "[1, 1, 1, 1, 1, 1]"});
  expect_error<ShapeError>(
      [] {
        F::pad_backward(Tensor::zeros({1}), {-1, 3}, {0, 0});
      },
      {"pad_backward:", "input", "sizes >= 0", "[-1, 3]"});
}

}  // namespace
}  // namespace fovea
