// Bad arguments to the conv ops raise errors at the door that name the op and the argument.
#include <gtest/gtest.h>

#include <string>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/conv.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

using testing::expect_error;

Tensor x4() {
  return Tensor::zeros({1, 4, 6, 6});
}

TEST(ConvErrors, WrongInputRank) {
  expect_error<ShapeError>(
      [] {
        F::conv2d(Tensor::zeros({6, 6}), Tensor::zeros({2, 1, 3, 3}));
      },
      {"conv2d:", "input", "4 dimensions", "[6, 6]"});
  expect_error<ShapeError>(
      [] {
        F::conv1d(Tensor::zeros({1, 1, 1, 6}), Tensor::zeros({2, 1, 3}));
      },
      {"conv1d:", "input", "3 dimensions"});
  expect_error<ShapeError>(
      [] {
        F::conv_transpose3d(Tensor::zeros({1, 1, 3}), Tensor::zeros({1, 1, 2, 2, 2}));
      },
      {"conv_transpose3d:", "input", "5 dimensions"});
}

TEST(ConvErrors, WrongWeightRank) {
  expect_error<ShapeError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3}));
      },
      {"conv2d:", "weight", "4 dimensions", "[2, 4, 3]"});
  expect_error<ShapeError>(
      [] {
        F::conv_transpose2d(x4(), Tensor::zeros({4, 2, 3, 3, 3}));
      },
      {"conv_transpose2d:", "weight", "4 dimensions"});
}

TEST(ConvErrors, OutChannelsNotDivisibleByGroups) {
  expect_error<ValueError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({3, 2, 3, 3}), {}, {.groups = 2});
      },
      {"conv2d:", "groups", "out_channels"});
}

TEST(ConvErrors, InChannelsNotDivisibleByGroups) {
  // 3 input channels cannot split into 2 groups: no weight fits.
  expect_error<Error>(
      [] {
        F::conv2d(Tensor::zeros({1, 3, 6, 6}), Tensor::zeros({4, 1, 3, 3}), {}, {.groups = 2});
      },
      {"conv2d:", "groups", "3"});
  expect_error<ValueError>(
      [] {
        F::conv_transpose2d(Tensor::zeros({1, 3, 6, 6}), Tensor::zeros({3, 1, 3, 3}), {},
                            {.groups = 2});
      },
      {"conv_transpose2d:", "groups", "in_channels"});
}

TEST(ConvErrors, ZeroGroups) {
  expect_error<ValueError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3, 3}), {}, {.groups = 0});
      },
      {"conv2d:", "groups", ">= 1"});
}

TEST(ConvErrors, InputChannelsDoNotMatchWeight) {
  expect_error<ShapeError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 3, 3, 3}));
      },
      {"conv2d:", "weight", "input channels", "input has 4"});
  expect_error<ShapeError>(
      [] {
        F::conv3d(Tensor::zeros({1, 4, 3, 3, 3}), Tensor::zeros({4, 1, 1, 1, 1}), {},
                  {.groups = 2});
      },
      {"conv3d:", "weight", "groups=2"});
}

TEST(ConvErrors, KernelLargerThanPaddedInput) {
  expect_error<ShapeError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 7, 3}));
      },
      {"conv2d:", "kernel", "padded input"});
  // Dilation 3 makes a 3-tap kernel span 7 pixels; the padded input has only 4 + 1 + 1.
  expect_error<ShapeError>(
      [] {
        F::conv1d(Tensor::zeros({1, 1, 4}), Tensor::zeros({1, 1, 3}), {},
                  {.padding = 1, .dilation = 3});
      },
      {"conv1d:", "kernel", "padded input"});
}

TEST(ConvErrors, ZeroStride) {
  expect_error<ValueError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3, 3}), {}, {.stride = {1, 0}});
      },
      {"conv2d:", "stride", ">= 1", "got 0"});
  expect_error<ValueError>(
      [] {
        F::conv_transpose1d(Tensor::zeros({1, 2, 5}), Tensor::zeros({2, 1, 3}), {}, {.stride = 0});
      },
      {"conv_transpose1d:", "stride", "got 0"});
}

TEST(ConvErrors, ZeroDilation) {
  expect_error<ValueError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3, 3}), {}, {.dilation = 0});
      },
      {"conv2d:", "dilation", ">= 1", "got 0"});
  expect_error<ValueError>(
      [] {
        F::conv_transpose2d(x4(), Tensor::zeros({4, 1, 3, 3}), {}, {.dilation = {0, 1}});
      },
      {"conv_transpose2d:", "dilation", "got 0"});
}

TEST(ConvErrors, NegativePadding) {
  expect_error<ValueError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3, 3}), {}, {.padding = {1, -1}});
      },
      {"conv2d:", "padding", ">= 0", "-1"});
  expect_error<ValueError>(
      [] {
        F::conv1d(Tensor::zeros({1, 1, 6}), Tensor::zeros({1, 1, 3}), {},
                  {.padding = Padding<1>::asymmetric({0}, {-2})});
      },
      {"conv1d:", "padding", "-2"});
  expect_error<ValueError>(
      [] {
        F::conv_transpose2d(x4(), Tensor::zeros({4, 1, 3, 3}), {}, {.padding = -1});
      },
      {"conv_transpose2d:", "padding", "-1"});
}

TEST(ConvErrors, SameWithStrideTwo) {
  expect_error<ValueError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3, 3}), {}, {.stride = {1, 2}, .padding = Same{}});
      },
      {"conv2d:", "padding", "same", "stride"});
}

TEST(ConvErrors, MismatchedBiasShape) {
  expect_error<ShapeError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3, 3}), Tensor::zeros({3}));
      },
      {"conv2d:", "bias", "[2]", "[3]"});
  expect_error<ShapeError>(
      [] {
        F::conv2d(x4(), Tensor::zeros({2, 4, 3, 3}), Tensor::zeros({1, 2}));
      },
      {"conv2d:", "bias", "[1, 2]"});
  // A transposed conv's bias has one value per output channel: weight size 1 times groups.
  expect_error<ShapeError>(
      [] {
        F::conv_transpose2d(x4(), Tensor::zeros({4, 3, 3, 3}), Tensor::zeros({4}));
      },
      {"conv_transpose2d:", "bias", "[3]", "[4]"});
}

TEST(ConvErrors, UndefinedTensors) {
  const Tensor w = Tensor::zeros({2, 4, 3, 3});
  expect_error<Error>([&] { F::conv2d(Tensor(), w); }, {"conv2d:", "input", "undefined"});
  expect_error<Error>([] { F::conv2d(x4(), Tensor()); }, {"conv2d:", "weight", "undefined"});
  expect_error<Error>([&] { F::conv2d(x4(), w, Tensor()); }, {"conv2d:", "bias", "undefined"});
  expect_error<Error>([&] { F::conv2d_backward(Tensor(), x4(), w, true); },
                      {"conv2d_backward:", "grad_output", "undefined"});
  expect_error<Error>(
      [&] {
        F::conv2d_backward(Tensor::zeros({1, 2, 4, 4}), Tensor(), w, true);
      },
      {"conv2d_backward:", "input", "undefined"});
  expect_error<Error>(
      [] {
        F::conv_transpose1d(Tensor::zeros({1, 2, 3}), Tensor());
      },
      {"conv_transpose1d:", "weight", "undefined"});
}

TEST(ConvErrors, GradOutputOfWrongShape) {
  const Tensor w = Tensor::zeros({2, 4, 3, 3});
  expect_error<ShapeError>(
      [&] {
        F::conv2d_backward(Tensor::zeros({1, 2, 4, 5}), x4(), w, true);
      },
      {"conv2d_backward:", "grad_output", "[1, 2, 4, 4]", "[1, 2, 4, 5]"});
  // Transposed: the forward output of (1, 4, 6, 6) with a 3x3 kernel is (1, 2, 8, 8).
  expect_error<ShapeError>(
      [] {
        F::conv_transpose2d_backward(Tensor::zeros({1, 2, 6, 6}), x4(), Tensor::zeros({4, 2, 3, 3}),
                                     false);
      },
      {"conv_transpose2d_backward:", "grad_output", "[1, 2, 8, 8]"});
}

TEST(ConvErrors, OutputPaddingTooLarge) {
  expect_error<ValueError>(
      [] {
        F::conv_transpose2d(x4(), Tensor::zeros({4, 2, 3, 3}), {},
                            {.stride = 2, .output_padding = {1, 2}});
      },
      {"conv_transpose2d:", "output_padding", "stride", "got 2"});
  // With stride 1, output_padding must stay below dilation.
  expect_error<ValueError>(
      [] {
        F::conv_transpose1d(Tensor::zeros({1, 2, 5}), Tensor::zeros({2, 1, 3}), {},
                            {.output_padding = 2, .dilation = 2});
      },
      {"conv_transpose1d:", "output_padding", "dilation"});
}

TEST(ConvErrors, TransposedWeightSizeZeroNotInputChannels) {
  expect_error<ShapeError>(
      [] {
        F::conv_transpose2d(x4(), Tensor::zeros({3, 2, 3, 3}));
      },
      {"conv_transpose2d:", "weight", "in_channels", "4", "got 3"});
}

TEST(ConvErrors, UnknownAlgorithmNameListsTheNames) {
  try {
    set_conv_algorithm("winograd_f99");
    ADD_FAILURE() << "did not throw";
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("set_conv_algorithm:"), std::string::npos) << message;
    EXPECT_NE(message.find("name"), std::string::npos) << message;
    EXPECT_NE(message.find("winograd_f99"), std::string::npos) << message;
    for (const std::string& name : conv_algorithm_names())
      EXPECT_NE(message.find(name), std::string::npos) << message << " lacks " << name;
  }
  EXPECT_EQ(conv_algorithm(), "") << "a rejected name must leave the choice unchanged";
}

}  // namespace
}  // namespace fovea
