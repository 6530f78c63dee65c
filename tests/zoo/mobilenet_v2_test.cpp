// MobileNet-v2 after nn::optimize_for_inference runs its inverted-residual blocks through the
// fused kernel (ops/inverted_residual.h) where they qualify: the same outputs as the same
// optimized model run layer by layer.
#include "fovea/zoo/mobilenet_v2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/nn/fuse.h"
#include "fovea/nn/norm.h"
#include "fovea/random.h"
#include "kernels/cpu/cpu_features.h"
#include "thread_counts.h"

namespace fovea::zoo {
namespace {

// The output of every layer of `features` up to the last block (features.17; the 1x1
// convolution after it and the classifier are no blocks, and the ReLU6s saturate on random
// weights, hiding differences downstream), and how many convolutions ran as ops of their own.
struct Run {
  std::vector<Tensor> y;
  int convs = 0;
};

Run run(nn::Module& model, const Tensor& x) {
  Run r;
  autograd::OpObserverGuard count([&](const std::string& op, const std::vector<Tensor>&,
                                      const Tensor&) { r.convs += op == "conv2d" ? 1 : 0; });
  const auto& features = dynamic_cast<const nn::Sequential&>(*model.named_children().at(0).second);
  Tensor y = x;
  for (size_t i = 0; i + 1 < features.size(); ++i) r.y.push_back(y = (*features[i])(y).detach());
  return r;
}

// Batch norms far from the identity (the fresh ones fold to a scale of about 1), so the
// activations keep their size through the 17 blocks and a missing term shows.
void randomise_batch_norms(nn::Module& model, Generator& gen) {
  for (auto& [name, m] : model.named_modules()) {
    if (!dynamic_cast<nn::BatchNorm*>(m)) continue;
    for (auto& [key, t] : m->named_parameters(false)) {
      const Tensor v = key == "weight" ? Tensor::rand(t.shape(), 0.5f, 1.5f, &gen)
                                       : Tensor::rand(t.shape(), -0.5f, 0.5f, &gen);
      std::copy(v.data(), v.data() + v.numel(), t.data());
    }
    for (auto& [key, t] : m->named_buffers(false)) {
      if (key == "running_mean" || key == "running_var") {
        const Tensor v = key == "running_var" ? Tensor::rand(t.shape(), 0.5f, 2.0f, &gen)
                                              : Tensor::rand(t.shape(), -0.5f, 0.5f, &gen);
        std::copy(v.data(), v.data() + v.numel(), t.data());
      }
    }
  }
}

// Under grad mode with an input that requires a gradient the blocks take the layer-by-layer
// path (a graph is recorded); with no grad mode they take the fused one.
void expect_fused_equals_layers(const Shape& input, uint64_t seed) {
  SCOPED_TRACE(shape_str(input));
  Generator gen(seed);
  auto model = mobilenet_v2(10);
  randomise_batch_norms(*model, gen);
  model->eval();
  const Tensor x = Tensor::randn(input, &gen);
  nn::optimize_for_inference(*model, x);
  Tensor x_grad = x.clone();
  x_grad.requires_grad_();
  const Run layers = run(*model, x_grad);
  testing::with_one_and_two_threads([&] {
    autograd::NoGradGuard no_grad;
    const Run fused = run(*model, x);
    EXPECT_LT(fused.convs, layers.convs) << "no block took the fused path";
    for (size_t i = 0; i < fused.y.size(); ++i)
      EXPECT_TRUE(allclose(fused.y[i], layers.y[i], 1e-5f, 1e-5f)) << "features." << i;
  });
}

TEST(MobileNetV2, FusedBlocksGiveTheLayersOutputs) {
  if (!kernels::cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  expect_fused_equals_layers({1, 3, 64, 64}, 1);
  expect_fused_equals_layers({2, 3, 96, 96}, 2);
  expect_fused_equals_layers({1, 3, 128, 128}, 3);
}

}  // namespace
}  // namespace fovea::zoo
