// Batch norm behaviour beyond the golden numbers: training and evaluation differ, the running
// estimates change in place only when training, every input rank works.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fovea/functional/norm.h"
#include "fovea/random.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

TEST(BatchNorm, TrainAndEvalGiveDifferentOutputsForTheSameInput) {
  Generator gen(3);
  Tensor x = Tensor::randn({4, 3, 5, 5}, &gen);
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 2.0f + 3.0f * x.data()[i];
  const Tensor running_mean = Tensor::zeros({3}), running_var = Tensor::ones({3});
  const Tensor train =
      F::batch_norm(x, running_mean.clone(), running_var.clone(), {}, {}, {.training = true});
  const Tensor eval = F::batch_norm(x, running_mean, running_var, {}, {}, {.training = false});
  EXPECT_FALSE(allclose(train, eval, 1e-2f, 1e-2f));
  // Evaluation with fresh estimates (mean 0, var 1) is x / sqrt(1 + eps).
  EXPECT_TRUE(allclose(eval, x, 1e-5f, 1e-5f));
  // Training normalises each channel to mean 0.
  double sum = 0.0;
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t p = 0; p < 25; ++p) sum += train.data()[(n * 3 + 1) * 25 + p];
  EXPECT_NEAR(sum / 100.0, 0.0, 1e-5);
}

TEST(BatchNorm, RunningEstimatesUpdateInPlaceOnlyWhenTraining) {
  const Tensor x = Tensor::from_vector({4, 1}, std::vector<float>{1, 2, 3, 6});
  Tensor running_mean = Tensor::zeros({1}), running_var = Tensor::ones({1});
  F::batch_norm(x, running_mean, running_var, {}, {}, {.training = false});
  EXPECT_EQ(running_mean(0), 0.0f);
  EXPECT_EQ(running_var(0), 1.0f);
  F::batch_norm(x, running_mean, running_var, {}, {}, {.training = true, .momentum = 0.5});
  // mean 3; unbiased variance (4 + 1 + 0 + 9) / 3
  EXPECT_FLOAT_EQ(running_mean(0), 1.5f);
  EXPECT_FLOAT_EQ(running_var(0), 0.5f + 0.5f * 14.0f / 3.0f);
}

TEST(BatchNorm, SavedStatisticsAreTheBatchsOrTheRunningOnes) {
  const Tensor x = Tensor::from_vector({2, 1, 2}, std::vector<float>{1, 3, 5, 7});
  const Tensor running_mean = Tensor::full({1}, 0.5f), running_var = Tensor::full({1}, 3.0f);
  const auto train =
      F::batch_norm_forward(x, Tensor(), Tensor(), {}, {}, {.training = true, .eps = 0.0});
  EXPECT_FLOAT_EQ(train.save_mean(0), 4.0f);
  EXPECT_FLOAT_EQ(train.save_invstd(0), 1.0f / std::sqrt(5.0f));
  const auto eval = F::batch_norm_forward(x, running_mean, running_var, {}, {}, {.eps = 1.0});
  EXPECT_FLOAT_EQ(eval.save_mean(0), 0.5f);
  EXPECT_FLOAT_EQ(eval.save_invstd(0), 0.5f);
}

TEST(BatchNorm, EveryRankFromTwoToFive) {
  Generator gen(5);
  for (const Shape& shape :
       {Shape{3, 2}, Shape{3, 2, 4}, Shape{3, 2, 4, 3}, Shape{3, 2, 2, 3, 2}}) {
    const Tensor x = Tensor::randn(shape, &gen);
    const Tensor w = Tensor::full({2}, 2.0f), b = Tensor::full({2}, 1.0f);
    const Tensor y = F::batch_norm(x, Tensor(), Tensor(), w, b, {.training = true});
    ASSERT_EQ(y.shape(), shape);
    // Per channel: mean b = 1, biased variance w^2 = 4 (up to eps).
    const int64_t P = x.numel() / (3 * 2);
    for (int64_t c = 0; c < 2; ++c) {
      double s1 = 0.0, s2 = 0.0;
      for (int64_t n = 0; n < 3; ++n)
        for (int64_t p = 0; p < P; ++p) {
          const double v = y.data()[(n * 2 + c) * P + p];
          s1 += v;
          s2 += v * v;
        }
      const double M = 3.0 * P, mean = s1 / M;
      EXPECT_NEAR(mean, 1.0, 1e-5);
      EXPECT_NEAR(s2 / M - mean * mean, 4.0, 1e-3);
    }
  }
}

}  // namespace
}  // namespace fovea
