// Activation and softmax behaviour beyond the golden numbers: any shape, NaN propagation,
// softmax stability and normalisation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "fovea/functional/activation.h"
#include "fovea/random.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

TEST(Activation, KeepsAnyShapeFromScalarToRankFive) {
  Generator gen(1);
  for (const Shape& shape : {Shape{}, Shape{0}, Shape{7}, Shape{2, 0, 3}, Shape{2, 1, 2, 3, 2}}) {
    const Tensor x = Tensor::randn(shape, &gen);
    EXPECT_EQ(F::gelu(x).shape(), shape);
    EXPECT_EQ(F::relu_backward(x, F::relu(x)).shape(), shape);
    EXPECT_EQ(F::softmax(x, -1).shape(), shape);
  }
}

TEST(Activation, NanPropagatesThroughEveryActivation) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::full({3}, nan);
  for (const Tensor& y : {F::relu(x), F::relu6(x), F::leaky_relu(x), F::elu(x), F::gelu(x),
                          F::gelu(x, {.approximate = "tanh"}), F::silu(x), F::sigmoid(x),
                          F::tanh(x), F::hardswish(x), F::hardsigmoid(x)})
    EXPECT_TRUE(std::isnan(y(1)));
}

TEST(Activation, ReluGradientAtZeroIsZero) {
  const Tensor x = Tensor::from_vector({3}, std::vector<float>{-1, 0, 1});
  const Tensor dx = F::relu_backward(Tensor::ones({3}), F::relu(x));
  EXPECT_EQ(dx(0), 0.0f);
  EXPECT_EQ(dx(1), 0.0f);
  EXPECT_EQ(dx(2), 1.0f);
}

TEST(Softmax, RowsSumToOneEvenForHugeLogits) {
  const Tensor x = Tensor::from_vector({2, 3}, std::vector<float>{1000, 1001, 1002, -1e4, 0, 1e4});
  const Tensor y = F::softmax(x, 1), log_y = F::log_softmax(x, -1);
  for (int64_t r = 0; r < 2; ++r) {
    EXPECT_NEAR(y(r, 0) + y(r, 1) + y(r, 2), 1.0f, 1e-6f);
    for (int64_t c = 0; c < 3; ++c) {
      EXPECT_TRUE(std::isfinite(log_y(r, c)));
      EXPECT_NEAR(std::exp(log_y(r, c)), y(r, c), 1e-6f);
    }
  }
  EXPECT_NEAR(log_y(0, 2), -std::log(1.0f + std::exp(-1.0f) + std::exp(-2.0f)), 1e-6f);
  EXPECT_EQ(y(1, 2), 1.0f);
  EXPECT_EQ(log_y(1, 0), -2e4f);
}

TEST(Softmax, OfAScalarIsOne) {
  EXPECT_EQ(F::softmax(Tensor::full({}, 5.0f), 0).data()[0], 1.0f);
  EXPECT_EQ(F::log_softmax(Tensor::full({}, 5.0f), -1).data()[0], 0.0f);
}

}  // namespace
}  // namespace fovea
