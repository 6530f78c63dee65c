// Loss behaviour at the edges, beyond the golden cases: every target ignored, logits far
// beyond exp's range, an empty batch.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fovea/functional/loss.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

TEST(Loss, EveryTargetIgnoredGivesNaNMeanAndZeroGradient) {
  const Tensor x = Tensor::randn({3, 4}), t = Tensor::full({3}, -100.0f);
  for (float eps : {0.0f, 0.1f}) {
    const F::CrossEntropyOptions o{.label_smoothing = eps};
    EXPECT_TRUE(std::isnan(F::cross_entropy(x, t, o).data()[0])) << "eps " << eps;
    const Tensor dx = F::cross_entropy_backward(Tensor::ones({}), x, t, o);
    for (float v : dx.span()) EXPECT_EQ(v, 0.0f) << "eps " << eps;
  }
  EXPECT_EQ(F::cross_entropy(x, t, {.reduction = F::Reduction::kSum}).data()[0], 0.0f);
}

TEST(Loss, HugeLogitsStayFinite) {
  const Tensor x = Tensor::from_vector({2, 3}, std::vector<float>{1000, -1000, 0, -500, 500, 0});
  const Tensor t = Tensor::from_vector({2}, std::vector<float>{0, 0});
  const Tensor loss = F::cross_entropy(x, t, {.reduction = F::Reduction::kNone});
  EXPECT_FLOAT_EQ(loss.data()[0], 0.0f);
  EXPECT_FLOAT_EQ(loss.data()[1], 1000.0f);
  const Tensor z = Tensor::from_vector({2}, std::vector<float>{100, -100});
  const Tensor y = Tensor::from_vector({2}, std::vector<float>{0, 1});
  const Tensor bce = F::binary_cross_entropy_with_logits(z, y, {.reduction = F::Reduction::kNone});
  EXPECT_FLOAT_EQ(bce.data()[0], 100.0f);
  EXPECT_FLOAT_EQ(bce.data()[1], 100.0f);
  const Tensor grad = F::binary_cross_entropy_with_logits_backward(Tensor::ones({}), z, y);
  for (float v : grad.span()) EXPECT_TRUE(std::isfinite(v));
}

TEST(Loss, EmptyBatchMeanIsNaN) {
  EXPECT_TRUE(std::isnan(F::cross_entropy(Tensor::zeros({0, 4}), Tensor::zeros({0})).data()[0]));
  EXPECT_TRUE(std::isnan(F::mse_loss(Tensor::zeros({0}), Tensor::zeros({0})).data()[0]));
}

}  // namespace
}  // namespace fovea
