#include "fovea/zoo/efficientnet.h"

#include <algorithm>
#include <cmath>

#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/pool.h"
#include "fovea/zoo/layers.h"

namespace fovea::zoo {
namespace {

namespace F = functional;

std::shared_ptr<nn::Module> silu() {
  return std::make_shared<nn::SiLU>();
}

struct Stage {
  int64_t expand_ratio, kernel_size, stride, input_channels, out_channels, num_layers;
};
constexpr Stage kB0Stages[] = {{1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},
                               {6, 3, 2, 40, 80, 3},  {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4},
                               {6, 3, 1, 192, 320, 1}};

}  // namespace

MBConv::MBConv(const MBConvOptions& o)
    : Module("MBConv"), use_res_connect_(o.stride == 1 && o.input_channels == o.out_channels) {
  const int64_t expanded = o.input_channels * o.expand_ratio;
  auto block = std::make_shared<nn::Sequential>();
  if (expanded != o.input_channels)
    block->push_back(conv_norm_activation(
        {.in_channels = o.input_channels, .out_channels = expanded, .kernel_size = 1}, silu()));
  block->push_back(conv_norm_activation({.in_channels = expanded,
                                         .out_channels = expanded,
                                         .kernel_size = o.kernel_size,
                                         .stride = o.stride,
                                         .groups = expanded},
                                        silu()));
  block->push_back(std::make_shared<SqueezeExcitation>(
      expanded, std::max<int64_t>(1, o.input_channels / 4), silu()));
  block->push_back(conv_norm_activation(
      {.in_channels = expanded, .out_channels = o.out_channels, .kernel_size = 1}, nullptr));
  block_ = register_module("block", block);
  stochastic_depth_ = register_module("stochastic_depth",
                                      std::make_shared<StochasticDepth>(o.stochastic_depth_prob));
}

Tensor MBConv::forward(const Tensor& x) {
  const Tensor result = (*block_)(x);
  return use_res_connect_ ? F::add((*stochastic_depth_)(result), x) : result;
}

EfficientNet::EfficientNet(int64_t num_classes, double dropout, double stochastic_depth_prob)
    : Module("EfficientNet") {
  auto features = std::make_shared<nn::Sequential>();
  features->push_back(conv_norm_activation(
      {.in_channels = 3, .out_channels = kB0Stages[0].input_channels, .stride = 2}, silu()));
  int64_t total_blocks = 0;
  for (const Stage& s : kB0Stages) total_blocks += s.num_layers;
  int64_t block_id = 0;
  for (const Stage& s : kB0Stages) {
    auto stage = std::make_shared<nn::Sequential>();
    for (int64_t i = 0; i < s.num_layers; ++i, ++block_id) {
      stage->push_back(std::make_shared<MBConv>(MBConvOptions{
          .expand_ratio = s.expand_ratio,
          .kernel_size = s.kernel_size,
          .stride = i == 0 ? s.stride : 1,
          .input_channels = i == 0 ? s.input_channels : s.out_channels,
          .out_channels = s.out_channels,
          .stochastic_depth_prob = stochastic_depth_prob * static_cast<double>(block_id) /
                                   static_cast<double>(total_blocks)}));
    }
    features->push_back(stage);
  }
  const int64_t last_in = std::end(kB0Stages)[-1].out_channels, last_out = 4 * last_in;
  features->push_back(conv_norm_activation(
      {.in_channels = last_in, .out_channels = last_out, .kernel_size = 1}, silu()));
  features_ = register_module("features", features);
  avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  classifier_ = register_module(
      "classifier", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                        std::make_shared<nn::Dropout>(dropout),
                        std::make_shared<nn::Linear>(last_out, num_classes)}));
  init_conv_kaiming_normal(*this, nn::init::FanMode::kFanOut);
  init_linear(*this, [](Tensor& w) {
    const float range = 1.0f / std::sqrt(static_cast<float>(w.size(0)));
    nn::init::uniform_(w, -range, range);
  });
}

Tensor EfficientNet::forward(const Tensor& x) {
  return (*classifier_)(F::flatten((*avgpool_)((*features_)(x)), 1));
}

std::shared_ptr<EfficientNet> efficientnet_b0(int64_t num_classes) {
  return std::make_shared<EfficientNet>(num_classes);
}

}  // namespace fovea::zoo
