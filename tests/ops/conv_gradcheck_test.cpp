// Conv and transposed conv backward held equal to central differences of the forward, on
// tiny shapes, for input, weight and bias, under every algorithm.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "conv_dispatch.h"
#include "fovea/functional/conv.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

// x and w random, r random of the output's shape; checks dL/dx, dL/dw and (when has_bias)
// dL/db of L = sum(conv(x, w, b) * r) under every algorithm. Options is ConvOptions<D> or
// ConvTransposeOptions<D>.
template <class Options>
void check_conv_gradients(const Shape& x_shape, const Shape& w_shape, bool has_bias,
                          const Options& o) {
  constexpr int kDims = decltype(o.stride)::size();
  for (const std::string& algo : conv_algorithm_names()) {
    SCOPED_TRACE("algorithm " + algo);
    ConvAlgorithmGuard guard(algo);
    Generator gen(1234);
    const Tensor x = Tensor::randn(x_shape, &gen), w = Tensor::randn(w_shape, &gen);
    const auto f = [&](const std::vector<Tensor>& in) {
      return testing::conv(in[0], in[1], has_bias ? std::optional(in[2]) : std::nullopt, o);
    };
    std::vector<Tensor> inputs = {x, w};
    if (has_bias) {  // one bias per output channel
      const Tensor y = testing::conv(x, w, std::nullopt, o);
      inputs.push_back(Tensor::randn({y.size(-kDims - 1)}, &gen));
    }
    const Tensor r = Tensor::randn(f(inputs).shape(), &gen);
    const F::ConvGradients g = testing::conv_backward(r, x, w, has_bias, o);
    std::vector<Tensor> grads = {g.input, g.weight};
    if (has_bias) grads.push_back(g.bias);
    EXPECT_EQ(testing::check_gradients(f, inputs, grads, r, {.names = {"input", "weight", "bias"}}),
              "");
  }
}

TEST(ConvGradcheck, Conv1d) {
  check_conv_gradients({2, 2, 7}, {3, 2, 3}, true, F::Conv1dOptions{.padding = 1});
}

TEST(ConvGradcheck, Conv2d) {
  check_conv_gradients({1, 2, 5, 4}, {3, 2, 3, 2}, true, F::Conv2dOptions{.padding = {1, 0}});
}

TEST(ConvGradcheck, Conv3d) {
  check_conv_gradients({1, 2, 3, 4, 3}, {2, 2, 2, 3, 2}, true, F::Conv3dOptions{.padding = 1});
}

TEST(ConvGradcheck, Strided) {
  check_conv_gradients({2, 2, 7, 6}, {2, 2, 3, 3}, true,
                       F::Conv2dOptions{.stride = {2, 3}, .padding = 1});
}

TEST(ConvGradcheck, Dilated) {
  check_conv_gradients({1, 2, 9}, {2, 2, 3}, true,
                       F::Conv1dOptions{.stride = 2, .padding = 2, .dilation = 3});
  check_conv_gradients({1, 1, 6, 6}, {2, 1, 2, 3}, false, F::Conv2dOptions{.dilation = {2, 1}});
}

TEST(ConvGradcheck, Grouped) {
  check_conv_gradients({2, 4, 5, 5}, {6, 2, 3, 3}, true,
                       F::Conv2dOptions{.padding = 1, .groups = 2});
}

TEST(ConvGradcheck, Depthwise) {
  check_conv_gradients({1, 3, 6, 5}, {3, 1, 3, 3}, true,
                       F::Conv2dOptions{.padding = Same{}, .groups = 3});
  // Channel multiplier 2.
  check_conv_gradients({1, 2, 6}, {4, 1, 3}, true, F::Conv1dOptions{.stride = 2, .groups = 2});
}

TEST(ConvGradcheck, AsymmetricPadding) {
  check_conv_gradients({1, 2, 4, 5}, {2, 2, 3, 3}, true,
                       F::Conv2dOptions{.padding = Padding<2>::asymmetric({0, 2}, {2, 1})});
  check_conv_gradients({1, 1, 3, 3, 3}, {2, 1, 2, 2, 2}, false,
                       F::Conv3dOptions{.padding = Padding<3>::asymmetric({1, 0, 2}, {0, 1, 0})});
}

TEST(ConvGradcheck, SameWithEvenKernel) {
  check_conv_gradients({1, 2, 6}, {2, 2, 4}, true, F::Conv1dOptions{.padding = Same{}});
}

TEST(ConvGradcheck, FullPadding) {
  check_conv_gradients({1, 1, 3, 4}, {2, 1, 2, 3}, true,
                       F::Conv2dOptions{.padding = Full{}, .dilation = {1, 2}});
}

TEST(ConvGradcheck, FlipKernel) {
  check_conv_gradients(
      {1, 2, 5, 4}, {2, 2, 3, 2}, true,
      F::Conv2dOptions{.padding = Padding<2>::asymmetric({1, 0}, {0, 1}), .flip_kernel = true});
  check_conv_gradients({1, 1, 3, 3, 4}, {1, 1, 2, 2, 3}, false,
                       F::Conv3dOptions{.stride = {1, 1, 2}, .flip_kernel = true});
}

TEST(ConvGradcheck, Unbatched) {
  check_conv_gradients({2, 5, 5}, {3, 2, 3, 3}, true, F::Conv2dOptions{.stride = 2});
}

TEST(ConvTransposeGradcheck, ConvTranspose1d) {
  check_conv_gradients({2, 2, 4}, {2, 3, 3}, true,
                       F::ConvTranspose1dOptions{.stride = 2, .padding = 1});
}

TEST(ConvTransposeGradcheck, ConvTranspose2dWithOutputPadding) {
  // output_padding below and above padding (extra trailing pixels no input reaches).
  check_conv_gradients({1, 2, 3, 3}, {2, 2, 3, 3}, true,
                       F::ConvTranspose2dOptions{.stride = 2, .padding = 1, .output_padding = 1});
  check_conv_gradients({1, 1, 2, 3}, {1, 2, 2, 2}, true,
                       F::ConvTranspose2dOptions{.stride = {3, 2}, .output_padding = {2, 1}});
}

TEST(ConvTransposeGradcheck, ConvTranspose3d) {
  check_conv_gradients({1, 2, 2, 3, 2}, {2, 1, 2, 2, 2}, true,
                       F::ConvTranspose3dOptions{.stride = {1, 2, 2}, .output_padding = {0, 1, 1}});
}

TEST(ConvTransposeGradcheck, DilatedWithOutputPadding) {
  check_conv_gradients({1, 2, 4}, {2, 2, 3}, false,
                       F::ConvTranspose1dOptions{.output_padding = 1, .dilation = 2});
}

TEST(ConvTransposeGradcheck, Grouped) {
  check_conv_gradients({2, 4, 3, 3}, {4, 1, 3, 3}, true,
                       F::ConvTranspose2dOptions{.stride = 2, .padding = 1, .groups = 2});
}

TEST(ConvTransposeGradcheck, Depthwise) {
  check_conv_gradients({1, 3, 3, 3}, {3, 2, 2, 2}, true,
                       F::ConvTranspose2dOptions{.stride = 2, .groups = 3});
}

}  // namespace
}  // namespace fovea
