// Dropout: the identity in evaluation, inverted scaling in training, the statistics of the
// mask, determinism under a seed, and the backward through the same mask.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fovea/functional/dropout.h"
#include "fovea/random.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

bool equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (a.data()[i] != b.data()[i]) return false;
  return true;
}

TEST(Dropout, EvaluationAndZeroProbabilityAreTheIdentity) {
  const Tensor x = Tensor::randn({4, 5});
  for (const F::DropoutOptions o : {F::DropoutOptions{.p = 0.5, .training = false},
                                    F::DropoutOptions{.p = 0.0, .training = true}}) {
    const F::DropoutForward f = F::dropout(x, o);
    EXPECT_TRUE(f.output.is_same(x));
    EXPECT_FALSE(f.mask.defined());
    const Tensor dy = Tensor::randn({4, 5});
    EXPECT_TRUE(F::dropout_backward(dy, f.mask).is_same(dy));
  }
}

TEST(Dropout, TrainAndEvalGiveDifferentOutputsForTheSameInput) {
  Generator gen(8);
  const Tensor x = Tensor::ones({100});
  const Tensor train = F::dropout(x, {.p = 0.5}, &gen).output;
  const Tensor eval = F::dropout(x, {.p = 0.5, .training = false}, &gen).output;
  EXPECT_FALSE(equal(train, eval));
  EXPECT_TRUE(equal(eval, x));
}

TEST(Dropout, ProbabilityOneZeroesEverything) {
  const F::DropoutForward f = F::dropout(Tensor::randn({3, 4}), {.p = 1.0});
  for (float v : f.output.span()) EXPECT_EQ(v, 0.0f);
  for (float v : f.mask.span()) EXPECT_EQ(v, 0.0f);
}

TEST(Dropout, SurvivorsAreScaledAndTheMaskIsTheRatio) {
  Generator gen(9);
  const Tensor x = Tensor::randn({1000}, &gen);
  const F::DropoutForward f = F::dropout(x, {.p = 0.2}, &gen);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float m = f.mask.data()[i];
    EXPECT_TRUE(m == 0.0f || m == 1.0f / 0.8f) << m;
    EXPECT_EQ(f.output.data()[i], x.data()[i] * m);
  }
}

TEST(Dropout, DropsAFractionPAndPreservesTheMean) {
  constexpr int64_t kN = 200000;
  Generator gen(10);
  for (const double p : {0.1, 0.5, 0.9}) {
    SCOPED_TRACE(p);
    const F::DropoutForward f = F::dropout(Tensor::ones({kN}), {.p = p}, &gen);
    int64_t dropped = 0;
    double sum = 0.0;
    for (float v : f.output.span()) {
      dropped += v == 0.0f;
      sum += v;
    }
    // Within 5 standard deviations: the count is binomial(kN, p); the mean of the outputs
    // has standard deviation sqrt(p / (1 - p) / kN).
    EXPECT_NEAR(static_cast<double>(dropped) / kN, p, 5.0 * std::sqrt(p * (1 - p) / kN));
    EXPECT_NEAR(sum / kN, 1.0, 5.0 * std::sqrt(p / (1 - p) / kN));
  }
}

TEST(Dropout, TheSeedFixesTheMask) {
  const Tensor x = Tensor::randn({64, 8});
  Generator a(42), b(42), c(43);
  const Tensor mask_a = F::dropout(x, {}, &a).mask;
  EXPECT_TRUE(equal(mask_a, F::dropout(x, {}, &b).mask));
  EXPECT_FALSE(equal(mask_a, F::dropout(x, {}, &c).mask));
  // The next call draws new numbers.
  EXPECT_FALSE(equal(mask_a, F::dropout(x, {}, &a).mask));
  // The global generator, seeded like torch.manual_seed.
  manual_seed(42);
  EXPECT_TRUE(equal(mask_a, F::dropout(x).mask));
}

TEST(Dropout, BackwardMultipliesByTheMask) {
  Generator gen(12);
  const Tensor x = Tensor::randn({2, 3, 4}, &gen), dy = Tensor::randn({2, 3, 4}, &gen);
  const F::DropoutForward f = F::dropout(x, {.p = 0.3}, &gen);
  const Tensor dx = F::dropout_backward(dy, f.mask);
  for (int64_t i = 0; i < dy.numel(); ++i) EXPECT_EQ(dx.data()[i], dy.data()[i] * f.mask.data()[i]);
}

}  // namespace
}  // namespace fovea
