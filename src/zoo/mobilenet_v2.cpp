#include "fovea/zoo/mobilenet_v2.h"

#include <algorithm>

#include "fovea/functional/elementwise.h"
#include "fovea/functional/pool.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/zoo/layers.h"
#include "ops/inverted_residual.h"

namespace fovea::zoo {
namespace {

namespace F = functional;

std::shared_ptr<nn::Module> relu6() {
  return std::make_shared<nn::ReLU6>();
}

}  // namespace

InvertedResidual::InvertedResidual(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio)
    : Module("InvertedResidual"), use_res_connect_(stride == 1 && inp == oup), stride_(stride) {
  const int64_t hidden = inp * expand_ratio;
  auto conv = std::make_shared<nn::Sequential>();
  // Conv2dNormActivation's convolution and norm, remembered for the fused forward.
  auto add_conv_norm = [&](const ConvNormActivationOptions& o) {
    auto block = conv_norm_activation(o, relu6());
    norms_.push_back(&dynamic_cast<const nn::BatchNorm&>(*(*block)[1]));
    conv->push_back(block);
    return &dynamic_cast<nn::Conv2d&>(*(*block)[0]);
  };
  if (expand_ratio != 1)
    expand_ = add_conv_norm({.in_channels = inp, .out_channels = hidden, .kernel_size = 1});
  depthwise_ = add_conv_norm(
      {.in_channels = hidden, .out_channels = hidden, .stride = stride, .groups = hidden});
  auto project = std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
      .in_channels = hidden, .out_channels = oup, .kernel_size = 1, .bias = false});
  project_ = project.get();
  auto norm = batch_norm2d(oup);
  norms_.push_back(norm.get());
  conv->push_back(project);
  conv->push_back(norm);
  conv_ = register_module("conv", conv);
}

Tensor InvertedResidual::fused_forward(const Tensor& x) {
  using functional::FusedActivation;
  if (is_training() || !std::ranges::all_of(norms_, &nn::BatchNorm::folded) ||
      (expand_ && expand_->fused_activation() != FusedActivation::kRelu6) ||
      depthwise_->fused_activation() != FusedActivation::kRelu6 ||
      project_->fused_activation() != FusedActivation::kNone)
    return {};
  return ops::fused_inverted_residual(x, {.expand_w = expand_ ? expand_->weight : Tensor(),
                                          .expand_b = expand_ ? expand_->bias : Tensor(),
                                          .dw_w = depthwise_->weight,
                                          .dw_b = depthwise_->bias,
                                          .project_w = project_->weight,
                                          .project_b = project_->bias,
                                          .stride = stride_,
                                          .residual = use_res_connect_});
}

Tensor InvertedResidual::forward(const Tensor& x) {
  if (Tensor y = fused_forward(x); y.defined()) return y;
  return use_res_connect_ ? F::add(x, (*conv_)(x)) : (*conv_)(x);
}

MobileNetV2::MobileNetV2(int64_t num_classes, double dropout) : Module("MobileNetV2") {
  struct Stage {
    int64_t t, c, n, s;
  };
  constexpr Stage kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                               {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  constexpr int64_t kLastChannel = 1280;
  auto features = std::make_shared<nn::Sequential>();
  int64_t channels = 32;
  features->push_back(
      conv_norm_activation({.in_channels = 3, .out_channels = channels, .stride = 2}, relu6()));
  for (const Stage& st : kStages) {
    for (int64_t i = 0; i < st.n; ++i) {
      features->push_back(
          std::make_shared<InvertedResidual>(channels, st.c, i == 0 ? st.s : 1, st.t));
      channels = st.c;
    }
  }
  features->push_back(conv_norm_activation(
      {.in_channels = channels, .out_channels = kLastChannel, .kernel_size = 1}, relu6()));
  features_ = register_module("features", features);
  classifier_ = register_module(
      "classifier", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                        std::make_shared<nn::Dropout>(dropout),
                        std::make_shared<nn::Linear>(kLastChannel, num_classes)}));
  init_conv_kaiming_normal(*this, nn::init::FanMode::kFanOut);
  init_linear(*this, [](Tensor& w) { nn::init::normal_(w, 0.0f, 0.01f); });
}

Tensor MobileNetV2::forward(const Tensor& x) {
  // torchvision pools with the function, not a module.
  return (*classifier_)(F::flatten(F::adaptive_avg_pool2d((*features_)(x), 1), 1));
}

std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes) {
  return std::make_shared<MobileNetV2>(num_classes);
}

}  // namespace fovea::zoo
