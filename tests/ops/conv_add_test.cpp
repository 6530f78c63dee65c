// F::conv2d_add: activation(conv2d + residual). With no gradient to record it gives exactly the
// bits of the convolution, then add with the activation, under every algorithm (those that fuse
// the residual add it to the same stored sums); under autograd the same values and gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "expect_error.h"
#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/functional/conv.h"
#include "fovea/functional/elementwise.h"
#include "fovea/random.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using F::FusedActivation;

Tensor unfused(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r,
               F::Conv2dOptions o) {
  const FusedActivation act = o.activation;
  o.activation = FusedActivation::kNone;
  return F::add(F::conv2d(x, w, b, o), r, act);
}

// Equal bit for bit, NaN where the other has NaN.
void expect_same(const Tensor& actual, const Tensor& expected, const std::string& where) {
  ASSERT_EQ(actual.shape(), expected.shape()) << where;
  int64_t differ = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const float u = actual.data()[i], v = expected.data()[i];
    differ += std::isnan(v) ? !std::isnan(u) : u != v;
  }
  EXPECT_EQ(differ, 0) << where;
}

struct Case {
  Shape x, w;
  F::Conv2dOptions options;
};

// A 3x3 stride-1 layer (the Winograd rows fuse it), a dilated one, and a 1x1 one (added after).
const Case kCases[] = {
    {{2, 16, 12, 13}, {16, 16, 3, 3}, {.padding = 1}},
    {{1, 8, 11, 11}, {8, 8, 3, 3}, {.padding = 2, .dilation = 2}},
    {{1, 24, 7, 7}, {32, 24, 1, 1}, {}},
};

TEST(ConvAdd, InferenceEqualsConvThenAddThenActivationUnderEveryAlgorithm) {
  Generator gen(21);
  for (const Case& c : kCases) {
    const Tensor x = Tensor::randn(c.x, &gen), w = Tensor::randn(c.w, &gen);
    const Tensor b = Tensor::randn({c.w[0]}, &gen);
    Tensor r = F::mul(Tensor::randn(F::conv2d(x, w, b, c.options).shape(), &gen), 8.0f);
    r.data()[1] = std::numeric_limits<float>::quiet_NaN();
    for (const std::string& algo : conv_algorithm_names())
      for (FusedActivation act :
           {FusedActivation::kNone, FusedActivation::kRelu, FusedActivation::kRelu6}) {
        ConvAlgorithmGuard guard(algo);
        autograd::NoGradGuard no_grad;
        F::Conv2dOptions o = c.options;
        o.activation = act;
        const Tensor y = F::conv2d_add(x, w, b, r, o);
        const std::string where =
            algo + " " + shape_str(c.x) + " activation " + std::to_string(static_cast<int>(act));
        expect_same(y, unfused(x, w, b, r, o), where);
        EXPECT_TRUE(std::isnan(y.data()[1])) << where << ": a NaN residual must survive";
      }
  }
}

TEST(ConvAdd, RecordedCallGivesTheGradientsOfConvThenAdd) {
  Generator gen(22);
  const Case& c = kCases[0];
  Tensor x = Tensor::randn(c.x, &gen).requires_grad_(),
         w = Tensor::randn(c.w, &gen).requires_grad_();
  Tensor b = Tensor::randn({c.w[0]}, &gen).requires_grad_();
  Tensor r = F::mul(Tensor::randn({2, 16, 12, 13}, &gen), 4.0f).detach().requires_grad_();
  const auto twin = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  Tensor x2 = twin(x), w2 = twin(w), b2 = twin(b), r2 = twin(r);
  F::Conv2dOptions o = c.options;
  o.activation = FusedActivation::kRelu;
  const Tensor y = F::conv2d_add(x, w, b, r, o);
  ASSERT_TRUE(y.requires_grad());
  const Tensor y2 = unfused(x2, w2, b2, r2, o);
  expect_same(y, y2, "values");
  const Tensor probe = Tensor::randn(y.shape(), &gen);
  F::sum(F::mul(y, probe)).backward();
  F::sum(F::mul(y2, probe)).backward();
  expect_same(x.grad(), x2.grad(), "input");
  expect_same(w.grad(), w2.grad(), "weight");
  expect_same(b.grad(), b2.grad(), "bias");
  expect_same(r.grad(), r2.grad(), "residual");
  // The relu masks the residual's gradient: somewhere zero, somewhere not.
  const Tensor gr = r.grad();
  int64_t zeros = 0;
  for (float g : gr.span()) zeros += g == 0.0f;
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, r.numel());
}

TEST(ConvAdd, ResidualOfAnotherShapeIsAnError) {
  const Tensor x = Tensor::zeros({1, 4, 5, 5}), w = Tensor::zeros({4, 4, 3, 3});
  testing::expect_error<ShapeError>(
      [&] {
        F::conv2d_add(x, w, std::nullopt, Tensor::zeros({1, 4, 5, 4}), {.padding = 1});
      },
      {"conv2d_add:", "residual", "output's shape [1, 4, 5, 5]", "[1, 4, 5, 4]"});
  testing::expect_error<ValueError>(
      [&] { F::conv2d_add(x, w, std::nullopt, Tensor(), {.padding = 1}); },
      {"conv2d_add:", "residual"});
}

}  // namespace
}  // namespace fovea
