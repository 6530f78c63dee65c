// The losses' input gradients held equal to central differences of the forward on tiny
// cases, under each reduction and with weights, ignored targets and label smoothing.
#include <gtest/gtest.h>

#include <vector>

#include "fovea/functional/loss.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::check_gradients;

// Checks dL/dinput of L = sum(loss(input) * r) for a loss of the input alone (targets and
// options captured by the callers' lambdas).
template <class Forward, class Backward>
void check_loss(const Tensor& x, Forward forward, Backward backward) {
  Generator gen(7);
  const Tensor r = Tensor::randn(forward(x).shape(), &gen);
  EXPECT_EQ(check_gradients([&](const std::vector<Tensor>& in) { return forward(in[0]); }, {x},
                            {backward(r, x)}, r),
            "");
}

Tensor class_targets(Shape shape, std::vector<float> values) {
  return Tensor::from_vector(std::move(shape), values);
}

void check_cross_entropy(const Tensor& x, const Tensor& t, const F::CrossEntropyOptions& o) {
  check_loss(
      x, [&](const Tensor& in) { return F::cross_entropy(in, t, o); },
      [&](const Tensor& r, const Tensor& in) { return F::cross_entropy_backward(r, in, t, o); });
}

void check_nll_loss(const Tensor& x, const Tensor& t, const F::NllLossOptions& o) {
  check_loss(
      x, [&](const Tensor& in) { return F::nll_loss(in, t, o); },
      [&](const Tensor& r, const Tensor& in) { return F::nll_loss_backward(r, in, t, o); });
}

TEST(LossGradcheck, CrossEntropy) {
  Generator gen(1);
  const Tensor x = Tensor::randn({4, 3}, &gen), t = class_targets({4}, {0, 2, 1, 2});
  const Tensor w = Tensor::from_vector({3}, std::vector<float>{0.5f, 1.0f, 2.0f});
  for (F::Reduction r : {F::Reduction::kNone, F::Reduction::kMean, F::Reduction::kSum}) {
    check_cross_entropy(x, t, {.reduction = r});
    check_cross_entropy(x, t, {.weight = w, .reduction = r, .label_smoothing = 0.2f});
  }
}

TEST(LossGradcheck, CrossEntropyIgnoredAndSpatial) {
  Generator gen(2);
  const Tensor x = Tensor::randn({2, 3, 2, 2}, &gen);
  const Tensor t = class_targets({2, 2, 2}, {0, 1, 2, 255, 2, 255, 1, 0});
  const Tensor w = Tensor::from_vector({3}, std::vector<float>{1.5f, 0.5f, 1.0f});
  check_cross_entropy(x, t, {.weight = w, .ignore_index = 255, .label_smoothing = 0.1f});
  check_cross_entropy(x, t, {.ignore_index = 255, .reduction = F::Reduction::kNone});
}

TEST(LossGradcheck, NllLoss) {
  Generator gen(3);
  const Tensor x = Tensor::randn({5, 4}, &gen), t = class_targets({5}, {3, 0, -100, 1, 3});
  const Tensor w = Tensor::from_vector({4}, std::vector<float>{1, 2, 3, 4});
  check_nll_loss(x, t, {});
  check_nll_loss(x, t, {.weight = w, .reduction = F::Reduction::kSum});
  check_nll_loss(x, t, {.reduction = F::Reduction::kNone});
}

TEST(LossGradcheck, MseLoss) {
  Generator gen(4);
  const Tensor x = Tensor::randn({3, 4}, &gen), y = Tensor::randn({3, 4}, &gen);
  for (F::Reduction r : {F::Reduction::kNone, F::Reduction::kMean, F::Reduction::kSum})
    check_loss(
        x, [&](const Tensor& in) { return F::mse_loss(in, y, {.reduction = r}); },
        [&](const Tensor& g, const Tensor& in) {
          return F::mse_loss_backward(g, in, y, {.reduction = r});
        });
}

TEST(LossGradcheck, BinaryCrossEntropyWithLogits) {
  Generator gen(5);
  const Tensor x = Tensor::randn({3, 4}, &gen), y = Tensor::rand({3, 4}, 0, 1, &gen);
  const Tensor pw = Tensor::rand({4}, 0.5f, 3.0f, &gen), w = Tensor::rand({3, 1}, 0.5f, 2.0f, &gen);
  for (F::Reduction r : {F::Reduction::kNone, F::Reduction::kMean, F::Reduction::kSum}) {
    const F::BinaryCrossEntropyWithLogitsOptions o{.weight = w, .reduction = r, .pos_weight = pw};
    check_loss(
        x, [&](const Tensor& in) { return F::binary_cross_entropy_with_logits(in, y, o); },
        [&](const Tensor& g, const Tensor& in) {
          return F::binary_cross_entropy_with_logits_backward(g, in, y, o);
        });
  }
}

}  // namespace
}  // namespace fovea
