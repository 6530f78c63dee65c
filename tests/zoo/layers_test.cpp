// The zoo's building blocks (StochasticDepth, SqueezeExcitation, Conv2dNormActivation) and
// training through zoo models: train-mode forward and backward reach every parameter.
#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/elementwise.h"
#include "fovea/functional/loss.h"
#include "fovea/zoo/layers.h"
#include "fovea/zoo/zoo.h"

namespace fovea {
namespace {

namespace F = functional;

TEST(StochasticDepth, IdentityInEvalAndForZeroP) {
  const Tensor x = Tensor::randn({4, 3, 2, 2});
  zoo::StochasticDepth drop(0.7);
  drop.eval();
  EXPECT_TRUE(drop(x).is_same(x));
  zoo::StochasticDepth keep(0.0);
  EXPECT_TRUE(keep(x).is_same(x));
}

TEST(StochasticDepth, DropsWholeRowsAndScalesTheRest) {
  Generator gen(3);
  zoo::StochasticDepth drop(0.5, &gen);
  const Tensor x = Tensor::ones({64, 2, 3});
  const Tensor y = drop(x);
  int dropped = 0;
  for (int64_t n = 0; n < 64; ++n) {
    const float first = y(n, 0, 0);
    EXPECT_TRUE(first == 0.0f || first == 2.0f) << first;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(y(n, c, i), first) << "row " << n;
    dropped += first == 0.0f;
  }
  EXPECT_GT(dropped, 16);
  EXPECT_LT(dropped, 48);
  EXPECT_EQ(drop.to_string(), "StochasticDepth(p=0.5, mode=row)");
}

TEST(StochasticDepth, GradientFollowsTheMask) {
  Generator gen(5);
  zoo::StochasticDepth drop(0.5, &gen);
  Tensor x = Tensor::randn({8, 3});
  x.requires_grad_(true);
  const Tensor y = drop(x);
  F::sum(y).backward();
  for (int64_t n = 0; n < 8; ++n)
    for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(x.grad()(n, c), y(n, c) == 0.0f ? 0.0f : 2.0f);
}

TEST(StochasticDepth, RejectsBadP) {
  testing::expect_error<ValueError>([] { zoo::StochasticDepth(1.5); },
                                    {"StochasticDepth", "p", "1.5"});
}

TEST(SqueezeExcitation, ScalesEachChannelBySigmoid) {
  zoo::SqueezeExcitation se(4, 2);
  EXPECT_EQ(se.named_parameters().size(), 4u);  // fc1 and fc2, weight and bias
  const Tensor x = Tensor::randn({2, 4, 3, 3});
  const Tensor y = se(x);
  ASSERT_EQ(y.shape(), x.shape());
  // Per (n, c) the ratio y / x is one number in (0, 1).
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 4; ++c) {
      const float s = y(n, c, 0, 0) / x(n, c, 0, 0);
      EXPECT_GT(s, 0.0f);
      EXPECT_LT(s, 1.0f);
      for (int64_t i = 0; i < 3; ++i) EXPECT_NEAR(y(n, c, i, 2), s * x(n, c, i, 2), 1e-5f);
    }
}

TEST(ConvNormActivation, NamesAndPadding) {
  auto block = zoo::conv_norm_activation(
      {.in_channels = 8, .out_channels = 8, .kernel_size = 5, .stride = 2, .groups = 8}, nullptr);
  EXPECT_EQ(block->size(), 2u);
  const nn::NamedTensors state = block->state_dict();
  EXPECT_EQ(state[0].first, "0.weight");
  EXPECT_EQ(state[0].second.shape(), (Shape{8, 1, 5, 5}));
  EXPECT_EQ(state[1].first, "1.weight");
  EXPECT_EQ((*block)(Tensor::zeros({1, 8, 9, 9})).shape(), (Shape{1, 8, 5, 5}));
}

// A training step's backward reaches every parameter of models with residual adds, SE blocks
// and stochastic depth, concatenation and the spec path.
class ZooTrainStep : public ::testing::TestWithParam<const char*> {};

TEST_P(ZooTrainStep, GradientReachesEveryParameter) {
  const std::string name = GetParam();
  // Stochastic depth draws from the global generator: seeded, and with 8 examples a residual
  // branch gets no gradient only if all 8 drop it (probability <= 0.19^8 per block).
  manual_seed(1);
  auto model = zoo::create_model(name, 3);
  const Shape input = name == "lenet5" ? Shape{8, 1, 28, 28} : Shape{8, 3, 32, 32};
  const Tensor x = Tensor::randn(input);
  const Tensor labels = Tensor::from_vector({8}, std::vector<float>{0, 1, 2, 0, 1, 2, 0, 1});
  const Tensor loss = F::cross_entropy((*model)(x), labels);
  ASSERT_TRUE(std::isfinite(loss.data()[0]));
  loss.backward();
  for (const auto& [key, p] : model->named_parameters()) {
    const Tensor grad = p.grad();
    ASSERT_TRUE(grad.defined()) << key;
    double norm = 0.0;
    for (float g : grad.span()) norm += static_cast<double>(g) * g;
    EXPECT_TRUE(std::isfinite(norm)) << key;
    EXPECT_GT(norm, 0.0) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooTrainStep,
                         ::testing::Values("resnet18", "densenet121", "efficientnet_b0",
                                           "googlenet", "lenet5"));

}  // namespace
}  // namespace fovea
