#include "fovea/nn/fuse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>

#include "expect_error.h"
#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/norm.h"
#include "fovea/nn/spec.h"
#include "fovea/random.h"
#include "fovea/zoo/zoo.h"
#include "golden_helpers.h"

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

// The eval-mode output of m on x, no graph recorded.
Tensor infer(Module& m, const Tensor& x) {
  autograd::NoGradGuard no_grad;
  return m(x);
}

// A zoo network in eval mode with batch norms far from the identity, a batch of `images`
// inputs for it, and its output before any rewrite.
struct Prepared {
  SpecModel m;
  Tensor x, before;
};

Prepared prepare(const std::string& name, const Shape& input, int64_t images, uint64_t seed) {
  Generator gen(seed);
  Prepared p{zoo::build_model(name, input), {}, {}};
  randomise_batch_norms(*p.m.model, gen);
  p.m.model->eval();
  Shape batch{images};
  batch.insert(batch.end(), input.begin(), input.end());
  p.x = Tensor::randn(batch, &gen);
  p.before = infer(*p.m.model, p.x);
  return p;
}

TEST(FoldBatchNorm, ResNetGivesTheSameOutputsWithEveryBatchNormFolded) {
  auto [m, x, before] = prepare("resnet18", {3, 64, 64}, 1, 3);
  EXPECT_EQ(fold_batch_norm(*m.model, x), 20) << "ResNet-18 has 20 conv + batch-norm pairs";
  EXPECT_TRUE(allclose(infer(*m.model, x), before, 1e-4f, 1e-4f));
  EXPECT_EQ(fold_batch_norm(*m.model, x), 0) << "folding twice must not fold again";
}

// In DenseNet a convolution's output is concatenated and normalised by later layers: those
// batch norms follow a cat, not the convolution, and must stay.
TEST(FoldBatchNorm, LeavesBatchNormsThatDoNotDirectlyFollowAConvolution) {
  auto [m, x, before] = prepare("densenet121", {3, 32, 32}, 1, 4);
  const int folded = fold_batch_norm(*m.model, x);
  EXPECT_GE(folded, 1);
  EXPECT_LT(folded, 121);
  EXPECT_TRUE(allclose(infer(*m.model, x), before, 1e-4f, 1e-4f));
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

// MobileNet-v2: every ReLU6 follows conv -> batch norm, so after folding all 35 fuse.
TEST(FuseActivations, MobileNetGivesTheSameOutputsWithEveryReLU6Fused) {
  auto [m, x, before] = prepare("mobilenet_v2", {3, 64, 64}, 2, 5);
  EXPECT_EQ(optimize_for_inference(*m.model, x), 52 + 35) << "52 batch norms, 35 ReLU6";
  int fused = 0;
  for (const auto& [name, child] : m.model->named_modules())
    if (auto* act = dynamic_cast<const FusableActivation*>(child)) fused += act->fused() ? 1 : 0;
  EXPECT_EQ(fused, 35);
  EXPECT_TRUE(allclose(infer(*m.model, x), before, 1e-4f, 1e-4f));
  EXPECT_EQ(fuse_activations(*m.model, x), 0) << "fusing twice must not fuse again";
}

// ResNet's blocks join the shortcut with a fused add + relu, so the block's ReLU module runs
// only after its batch norms: after folding it fuses into those convolutions. BasicBlock calls
// it once (ResNet-18: the stem and 8 blocks), Bottleneck twice (ResNet-50: the stem and 16
// blocks of 2), and every call fuses.
TEST(FuseActivations, FusesResNetBlockActivationsCalledOnceOrTwice) {
  for (const auto& [name, folds, fuses] :
       {std::tuple{"resnet18", 20, 1 + 8}, std::tuple{"resnet50", 53, 1 + 16 * 2}}) {
    auto [m, x, before] = prepare(name, {3, 32, 32}, 1, 6);
    EXPECT_EQ(fold_batch_norm(*m.model, x), folds) << name;
    EXPECT_EQ(fuse_activations(*m.model, x), fuses) << name;
    // ResNet-50's outputs, through 53 batch norms far from the identity, are large: rounding
    // is measured against the largest of them.
    EXPECT_EQ(testing::compare_tensors(infer(*m.model, x), before, 1e-4f, 1e-4f), "") << name;
  }
}

// Once a block's last batch norm is folded, its convolution joins the shortcut and applies the
// ReLU as it stores its outputs (F::conv2d_add): ResNet-18's 8 blocks call no add. With a
// forward hook installed the layers run one by one instead, so tools see each of them. The
// reference row fuses residuals on every machine.
TEST(ResidualJoin, FoldedResNetBlocksJoinTheShortcutInTheirLastConvolution) {
  auto [m, x, before] = prepare("resnet18", {3, 32, 32}, 1, 8);
  ASSERT_EQ(fold_batch_norm(*m.model, x), 20);
  ConvAlgorithmGuard reference("reference");
  const auto count_ops = [&, &m = m, &x = x](const std::string& op) {
    int calls = 0;
    autograd::OpObserverGuard observer([&](const std::string& name, const std::vector<Tensor>&,
                                           const Tensor&) { calls += name == op; });
    const Tensor y = infer(*m.model, x);
    EXPECT_EQ(testing::compare_tensors(y, before, 1e-4f, 1e-4f), "") << op;
    return calls;
  };
  EXPECT_EQ(count_ops("conv2d_add"), 8);
  EXPECT_EQ(count_ops("add"), 0);
  int hooked = 0;
  ForwardHookGuard hook([&](const Module&, const Tensor&, const Tensor&) { ++hooked; });
  EXPECT_EQ(count_ops("conv2d_add"), 0);
  EXPECT_EQ(count_ops("add"), 8);
  EXPECT_GT(hooked, 0);
}

// One ReLU module called after a convolution and again after an add: it cannot become a
// pass-through for one call only, so it stays, and the convolution keeps no activation.
struct SharedReLU : Module {
  std::shared_ptr<Conv2d> conv = register_module(
      "conv", std::make_shared<Conv2d>(Conv2dOptions{
                  .in_channels = 2, .out_channels = 2, .kernel_size = 3, .padding = 1}));
  std::shared_ptr<ReLU> relu = register_module("relu", std::make_shared<ReLU>());
  SharedReLU() : Module("SharedReLU") {}
  Tensor forward(const Tensor& x) override {
    return (*relu)(functional::add((*relu)((*conv)(x)), x));
  }
};

TEST(FuseActivations, LeavesAnActivationSharedWithACallAfterAnAdd) {
  SharedReLU m;
  m.eval();
  const Tensor x = Tensor::randn({1, 2, 5, 5});
  const Tensor before = infer(m, x);
  EXPECT_EQ(fuse_activations(m, x), 0);
  EXPECT_FALSE(m.relu->fused());
  EXPECT_EQ(m.conv->fused_activation(), functional::FusedActivation::kNone);
  EXPECT_TRUE(allclose(infer(m, x), before, 0.0f, 0.0f));
}

// Fused layers keep training: under autograd the layer runs the activation as its own op, so
// every gradient (and the batch norm's running statistics) match the unfused network's.
TEST(FuseActivations, FusedNetworkTrainsWithTheSameGradients) {
  Generator gen(7);
  // A batch norm first (fed by the input, so not folded: its ReLU fuses into it), then convs.
  const std::string spec =
      "bn relu conv(6,3,pad=1) relu conv(8,3,stride=2) relu6 flatten linear(3)";
  SpecModel fused = build_from_spec(spec, {2, 9, 9});
  SpecModel plain = build_from_spec(spec, {2, 9, 9});
  plain.model->load_state_dict(fused.model->state_dict());
  const Tensor x = Tensor::randn({4, 2, 9, 9}, &gen);
  fused.model->eval();
  plain.model->eval();
  EXPECT_EQ(fuse_activations(*fused.model, x), 3);
  EXPECT_NE(fused.model->to_string().find("ReLU6(fused)"), std::string::npos)
      << fused.model->to_string();
  EXPECT_TRUE(allclose(infer(*fused.model, x), infer(*plain.model, x), 1e-6f, 1e-6f));
  fused.model->train();
  plain.model->train();
  // A loss whose gradient differs per output element, so a missing activation mask shows.
  auto loss = [&](Module& m) {
    const Tensor y = m(x);
    return functional::sum(functional::mul(y, y));
  };
  loss(*fused.model).backward();
  loss(*plain.model).backward();
  const auto fused_params = fused.model->named_parameters();
  const auto plain_params = plain.model->named_parameters();
  ASSERT_EQ(fused_params.size(), plain_params.size());
  for (size_t i = 0; i < fused_params.size(); ++i)
    EXPECT_TRUE(
        allclose(fused_params[i].second.grad(), plain_params[i].second.grad(), 1e-5f, 1e-5f))
        << fused_params[i].first;
}

// DenseNet normalises concatenations (batch norm -> ReLU -> conv): those batch norms cannot
// fold, and their ReLUs fuse into them instead.
TEST(FuseActivations, DenseNetFusesReLUsIntoTheBatchNormsThatStay) {
  auto [m, x, before] = prepare("densenet121", {3, 32, 32}, 1, 8);
  const int folded = fold_batch_norm(*m.model, x);
  EXPECT_GT(fuse_activations(*m.model, x), 100);
  int into_batch_norms = 0;
  for (const auto& [name, child] : m.model->named_modules())
    if (auto* bn = dynamic_cast<const BatchNorm*>(child))
      into_batch_norms += bn->fused_activation() != functional::FusedActivation::kNone;
  // All 121 but norm5, whose ReLU is a function call in DenseNet's forward, not a module.
  EXPECT_EQ(into_batch_norms + folded, 120) << "each batch norm is folded or takes its ReLU";
  EXPECT_TRUE(allclose(infer(*m.model, x), before, 1e-4f, 1e-4f));
}

TEST(FuseActivations, RefusesTrainingMode) {
  SpecModel m = build_from_spec("conv(2,3) relu", {1, 5, 5});
  testing::expect_error<fovea::ValueError>(
      [&] {
        fuse_activations(*m.model, Tensor::randn({1, 1, 5, 5}));
      },
      {"fuse_activations", "eval mode"});
}

}  // namespace
}  // namespace fovea::nn
