// Bad arguments to interpolate raise errors at the door that name the op and the argument.
#include <gtest/gtest.h>

#include <limits>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/interpolate.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using Mode = F::InterpolateMode;
using testing::expect_error;

const Tensor& x3() {
  static const Tensor x = Tensor::zeros({1, 2, 4});
  return x;
}
const Tensor& x4() {
  static const Tensor x = Tensor::zeros({1, 2, 4, 4});
  return x;
}

TEST(InterpolateErrors, InputRankOutsideThreeToFive) {
  expect_error<ShapeError>(
      [] {
        F::interpolate(Tensor::zeros({4, 4}), F::InterpolateOptions<1>{.size = 8});
      },
      {"interpolate:", "input", "3, 4 or 5 dimensions", "[4, 4]"});
}

TEST(InterpolateErrors, ModeNeedsItsRank) {
  expect_error<ShapeError>(
      [] { F::interpolate(x3(), F::InterpolateOptions<1>{.size = 8, .mode = Mode::kBilinear}); },
      {"interpolate:", "input", "4 dimensions", "bilinear", "[1, 2, 4]"});
  expect_error<ShapeError>(
      [] { F::interpolate(x4(), F::InterpolateOptions<2>{.size = 8, .mode = Mode::kTrilinear}); },
      {"interpolate:", "input", "5 dimensions", "trilinear"});
  expect_error<ShapeError>(
      [] { F::interpolate(x4(), F::InterpolateOptions<2>{.size = 8, .mode = Mode::kLinear}); },
      {"interpolate:", "input", "3 dimensions", "linear"});
}

TEST(InterpolateErrors, OptionsRankDiffersFromInput) {
  expect_error<ShapeError>([] { F::interpolate(x3(), F::InterpolateOptions<2>{.size = 8}); },
                           {"interpolate:", "input", "InterpolateOptions<2>", "[1, 2, 4]"});
}

TEST(InterpolateErrors, SizeAndScaleFactorBothOrNeither) {
  expect_error<ValueError>(
      [] { F::interpolate(x4(), F::InterpolateOptions<2>{.size = 8, .scale_factor = 2.0}); },
      {"interpolate:", "size and scale_factor", "both"});
  expect_error<ValueError>([] { F::interpolate(x4(), F::InterpolateOptions<2>{}); },
                           {"interpolate:", "size and scale_factor", "neither"});
}

TEST(InterpolateErrors, RecomputeScaleFactorWithSize) {
  expect_error<ValueError>(
      [] {
        F::interpolate(x4(), F::InterpolateOptions<2>{.size = 8, .recompute_scale_factor = true});
      },
      {"interpolate:", "recompute_scale_factor"});
}

TEST(InterpolateErrors, AlignCornersWithNearest) {
  expect_error<ValueError>(
      [] { F::interpolate(x4(), F::InterpolateOptions<2>{.size = 8, .align_corners = false}); },
      {"interpolate:", "align_corners", "nearest"});
  expect_error<ValueError>(
      [] {
        F::interpolate(x4(), F::InterpolateOptions<2>{
                                 .size = 8, .mode = Mode::kNearestExact, .align_corners = true});
      },
      {"interpolate:", "align_corners", "nearest-exact"});
}

TEST(InterpolateErrors, SizeBelowOne) {
  expect_error<ValueError>(
      [] {
        F::interpolate(x4(), F::InterpolateOptions<2>{.size = {4, 0}});
      },
      {"interpolate:", "size", ">= 1", "0"});
}

TEST(InterpolateErrors, ScaleFactorNotPositiveOrNotFinite) {
  for (double s : {-2.0, 0.0, std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::infinity()}) {
    SCOPED_TRACE(s);
    expect_error<ValueError>(
        [s] {
          F::interpolate(x4(), F::InterpolateOptions<2>{.scale_factor = {1.0, s}});
        },
        {"interpolate:", "scale_factor", "finite values > 0"});
  }
}

TEST(InterpolateErrors, ScaleFactorGivesEmptyOutput) {
  expect_error<ValueError>(
      [] {
        F::interpolate(x3(), F::InterpolateOptions<1>{.scale_factor = 0.2, .mode = Mode::kLinear});
      },
      {"interpolate:", "scale_factor", "floor(4 * 0.2) = 0"});
}

TEST(InterpolateErrors, EmptySpatialInput) {
  expect_error<ShapeError>(
      [] {
        F::interpolate(Tensor::zeros({1, 2, 0}), F::InterpolateOptions<1>{.size = 3});
      },
      {"interpolate:", "input", "spatial sizes >= 1", "[1, 2, 0]"});
}

TEST(InterpolateErrors, UndefinedTensors) {
  expect_error<ValueError>([] { F::interpolate(Tensor(), F::InterpolateOptions<1>{.size = 3}); },
                           {"interpolate:", "input"});
  expect_error<ValueError>(
      [] {
        F::interpolate_backward(Tensor(), {1, 2, 4}, F::InterpolateOptions<1>{.size = 3});
      },
      {"interpolate_backward:", "grad_output"});
}

TEST(InterpolateErrors, BackwardGradOutputShape) {
  expect_error<ShapeError>(
      [] {
        F::interpolate_backward(Tensor::zeros({1, 2, 7}), {1, 2, 4},
                                F::InterpolateOptions<1>{.scale_factor = 2.0});
      },
      {"interpolate_backward:", "grad_output", "[1, 2, 8]", "[1, 2, 7]"});
}

TEST(InterpolateErrors, BackwardChecksInputShapeAndOptions) {
  expect_error<ShapeError>(
      [] {
        F::interpolate_backward(Tensor::zeros({1, 2, 8}), {2, 4},
                                F::InterpolateOptions<1>{.size = 8});
      },
      {"interpolate_backward:", "input", "[2, 4]"});
  expect_error<ValueError>(
      [] {
        F::interpolate_backward(Tensor::zeros({1, 2, 8}), {1, 2, 4},
                                F::InterpolateOptions<1>{.size = -8});
      },
      {"interpolate_backward:", "size", "-8"});
}

}  // namespace
}  // namespace fovea
