// F::add with a fused activation: with no gradient to record, one pass that gives exactly
// activation(a + b); under autograd the same values and the gradients of add then activation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/functional/activation.h"
#include "fovea/functional/elementwise.h"
#include "fovea/random.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using F::FusedActivation;

Tensor unfused(const Tensor& a, const Tensor& b, FusedActivation act) {
  const Tensor s = F::add(a, b);
  return act == FusedActivation::kRelu ? F::relu(s) : F::relu6(s);
}

// Equal element by element, NaN where the other has NaN.
void expect_same(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const float u = actual.data()[i], v = expected.data()[i];
    if (std::isnan(v))
      EXPECT_TRUE(std::isnan(u)) << "element " << i;
    else
      EXPECT_EQ(u, v) << "element " << i;
  }
}

TEST(AddActivation, InferenceEqualsAddThenActivation) {
  Generator gen(11);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 8, 5, 5}, {2, 8, 5, 5}},  // a residual join
      {{2, 8, 5, 5}, {1, 8, 1, 1}},  // broadcast per channel
      {{3, 70000}, {3, 70000}},      // longer than one parallel chunk
      {{4}, {}},                     // scalar operand
  };
  for (const auto& [sa, sb] : shapes)
    for (FusedActivation act : {FusedActivation::kRelu, FusedActivation::kRelu6}) {
      Tensor a = F::mul(Tensor::randn(sa, &gen), 5.0f);  // past relu6's upper bound too
      const Tensor b = Tensor::randn(sb, &gen);
      a.data()[0] = std::numeric_limits<float>::quiet_NaN();
      autograd::NoGradGuard no_grad;
      const Tensor y = F::add(a, b, act);
      EXPECT_FALSE(y.requires_grad());
      expect_same(y, unfused(a, b, act));
      EXPECT_TRUE(std::isnan(y.data()[0])) << "NaN must survive the activation";
    }
  autograd::NoGradGuard no_grad;
  const Tensor a = Tensor::randn({2, 3}, &gen), b = Tensor::randn({3}, &gen);
  expect_same(F::add(a, b, FusedActivation::kNone), F::add(a, b));
}

TEST(AddActivation, RecordedAddGivesTheGradientsOfAddThenActivation) {
  Generator gen(12);
  for (FusedActivation act : {FusedActivation::kRelu, FusedActivation::kRelu6}) {
    Tensor a = F::mul(Tensor::randn({2, 3, 4}, &gen), 5.0f).requires_grad_();
    Tensor b = Tensor::randn({3, 1}, &gen).requires_grad_();
    Tensor a2 = a.detach().clone().requires_grad_(), b2 = b.detach().clone().requires_grad_();
    const Tensor r = Tensor::randn({2, 3, 4}, &gen);
    const Tensor y = F::add(a, b, act);
    ASSERT_TRUE(y.requires_grad());
    expect_same(y, unfused(a2, b2, act));
    F::sum(F::mul(y, r)).backward();
    F::sum(F::mul(unfused(a2, b2, act), r)).backward();
    expect_same(a.grad(), a2.grad());
    expect_same(b.grad(), b2.grad());
    // The activation masks the gradient: somewhere it must be zero, somewhere not.
    const Tensor ga = a.grad();
    int zeros = 0;
    for (float g : ga.span()) zeros += g == 0.0f;
    EXPECT_GT(zeros, 0);
    EXPECT_LT(zeros, a.numel());
  }
}

}  // namespace
}  // namespace fovea
