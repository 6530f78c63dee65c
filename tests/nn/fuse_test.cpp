#include "fovea/nn/fuse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "expect_error.h"
#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/nn/norm.h"
#include "fovea/random.h"
#include "fovea/zoo/zoo.h"

namespace fovea::nn {
namespace {

// Running statistics and affine parameters far from the identity, so a fold that forgot
// any of them changes the output.
void assign(Tensor& t, const Tensor& value) {
  std::copy(value.data(), value.data() + value.numel(), t.data());
}

void randomise_batch_norms(Module& m, Generator& gen) {
  for (auto& [name, t] : m.named_buffers()) {
    if (name.ends_with("running_mean")) assign(t, Tensor::randn(t.shape(), &gen));
    if (name.ends_with("running_var")) assign(t, Tensor::rand(t.shape(), 0.5f, 2.0f, &gen));
  }
  for (auto& [name, t] : m.named_parameters())
    if (name.find("bn") != std::string::npos || name.find("norm") != std::string::npos)
      assign(t, Tensor::rand(t.shape(), 0.5f, 1.5f, &gen));
}

TEST(FoldBatchNorm, ResNetGivesTheSameOutputsWithEveryBatchNormFolded) {
  Generator gen(3);
  const Shape example_shape{1, 3, 64, 64};
  SpecModel m = zoo::build_model("resnet18", {3, 64, 64});
  randomise_batch_norms(*m.model, gen);
  m.model->eval();
  const Tensor x = Tensor::randn(example_shape, &gen);
  Tensor before;
  {
    autograd::NoGradGuard no_grad;
    before = (*m.model)(x);
  }
  EXPECT_EQ(fold_batch_norm(*m.model, x), 20) << "ResNet-18 has 20 conv + batch-norm pairs";
  autograd::NoGradGuard no_grad;
  const Tensor after = (*m.model)(x);
  EXPECT_TRUE(allclose(after, before, 1e-4f, 1e-4f));
  EXPECT_EQ(fold_batch_norm(*m.model, x), 0) << "folding twice must not fold again";
}

// In DenseNet a convolution's output is concatenated and normalised by later layers: those
// batch norms follow a cat, not the convolution, and must stay.
TEST(FoldBatchNorm, LeavesBatchNormsThatDoNotDirectlyFollowAConvolution) {
  Generator gen(4);
  SpecModel m = zoo::build_model("densenet121", {3, 32, 32});
  randomise_batch_norms(*m.model, gen);
  m.model->eval();
  const Tensor x = Tensor::randn({1, 3, 32, 32}, &gen);
  Tensor before;
  {
    autograd::NoGradGuard no_grad;
    before = (*m.model)(x);
  }
  const int folded = fold_batch_norm(*m.model, x);
  EXPECT_GE(folded, 1);
  EXPECT_LT(folded, 121);
  autograd::NoGradGuard no_grad;
  EXPECT_TRUE(allclose((*m.model)(x), before, 1e-4f, 1e-4f));
}

TEST(FoldBatchNorm, RefusesTrainingModeAndFoldedLayersRefuseToTrain) {
  SpecModel m = zoo::build_model("fmnist-cnn", {1, 28, 28});
  const Tensor x = Tensor::randn({2, 1, 28, 28});
  testing::expect_error<fovea::ValueError>([&] { fold_batch_norm(*m.model, x); },
                                           {"fold_batch_norm", "eval mode"});
  m.model->eval();
  EXPECT_EQ(fold_batch_norm(*m.model, x), 2);
  m.model->train();
  testing::expect_error<fovea::ValueError>([&] { (*m.model)(x); }, {"BatchNorm2d", "folded"});
}

}  // namespace
}  // namespace fovea::nn
