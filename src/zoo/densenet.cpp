#include "fovea/zoo/densenet.h"

#include <fmt/format.h>

#include "fovea/functional/activation.h"
#include "fovea/functional/elementwise.h"
#include "fovea/functional/pool.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/pool.h"
#include "fovea/zoo/layers.h"

namespace fovea::zoo {
namespace {

namespace F = functional;

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel_size, int64_t stride = 1,
                                 int64_t padding = 0) {
  return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = in,
                                                        .out_channels = out,
                                                        .kernel_size = kernel_size,
                                                        .stride = stride,
                                                        .padding = padding,
                                                        .bias = false});
}

std::shared_ptr<nn::Sequential> transition(int64_t in, int64_t out) {
  auto t = std::make_shared<nn::Sequential>();
  t->push_back("norm", batch_norm2d(in));
  t->push_back("relu", std::make_shared<nn::ReLU>());
  t->push_back("conv", conv(in, out, 1));
  t->push_back("pool", std::make_shared<nn::AvgPool2d>(F::AvgPool2dOptions{.kernel_size = 2}));
  return t;
}

}  // namespace

DenseLayer::DenseLayer(int64_t num_input_features, int64_t growth_rate, int64_t bn_size)
    : Module("DenseLayer") {
  norm1_ = register_module("norm1", batch_norm2d(num_input_features));
  relu1_ = register_module("relu1", std::make_shared<nn::ReLU>());
  conv1_ = register_module("conv1", conv(num_input_features, bn_size * growth_rate, 1));
  norm2_ = register_module("norm2", batch_norm2d(bn_size * growth_rate));
  relu2_ = register_module("relu2", std::make_shared<nn::ReLU>());
  conv2_ = register_module("conv2", conv(bn_size * growth_rate, growth_rate, 3, 1, 1));
}

Tensor DenseLayer::forward(const Tensor& x) {
  const Tensor bottleneck = (*conv1_)((*relu1_)((*norm1_)(x)));
  return (*conv2_)((*relu2_)((*norm2_)(bottleneck)));
}

DenseBlock::DenseBlock(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                       int64_t growth_rate)
    : Module("DenseBlock") {
  for (int64_t i = 0; i < num_layers; ++i)
    layers_.push_back(register_module(
        fmt::format("denselayer{}", i + 1),
        std::make_shared<DenseLayer>(num_input_features + i * growth_rate, growth_rate, bn_size)));
}

Tensor DenseBlock::forward(const Tensor& x) {
  // torchvision keeps the list of feature maps and concatenates it inside every layer; growing
  // one concatenation gives each layer the same input with one copy per layer.
  Tensor features = x;
  for (const auto& layer : layers_) features = F::cat({features, (*layer)(features)}, 1);
  return features;
}

DenseNet::DenseNet(const DenseNetOptions& o) : Module("DenseNet") {
  auto features = std::make_shared<nn::Sequential>();
  features->push_back("conv0", conv(3, o.num_init_features, 7, 2, 3));
  features->push_back("norm0", batch_norm2d(o.num_init_features));
  features->push_back("relu0", std::make_shared<nn::ReLU>());
  features->push_back("pool0", std::make_shared<nn::MaxPool2d>(F::MaxPool2dOptions{
                                   .kernel_size = 3, .stride = 2, .padding = 1}));
  int64_t channels = o.num_init_features;
  for (size_t b = 0; b < o.block_config.size(); ++b) {
    const int64_t layers = o.block_config[b];
    features->push_back(fmt::format("denseblock{}", b + 1),
                        std::make_shared<DenseBlock>(layers, channels, o.bn_size, o.growth_rate));
    channels += layers * o.growth_rate;
    if (b + 1 < o.block_config.size()) {
      features->push_back(fmt::format("transition{}", b + 1), transition(channels, channels / 2));
      channels /= 2;
    }
  }
  features->push_back("norm5", batch_norm2d(channels));
  features_ = register_module("features", features);
  classifier_ =
      register_module("classifier", std::make_shared<nn::Linear>(channels, o.num_classes));
  // torchvision: kaiming_normal_ (fan_in) on convolutions, zero linear bias.
  init_conv_kaiming_normal(*this, nn::init::FanMode::kFanIn);
  init_linear(*this, nullptr);
}

Tensor DenseNet::forward(const Tensor& x) {
  // torchvision applies the last relu and the pool as functions (no child modules).
  const Tensor y = F::adaptive_avg_pool2d(F::relu((*features_)(x)), 1);
  return (*classifier_)(F::flatten(y, 1));
}

std::shared_ptr<DenseNet> densenet121(int64_t num_classes) {
  return std::make_shared<DenseNet>(DenseNetOptions{.num_classes = num_classes});
}

}  // namespace fovea::zoo
