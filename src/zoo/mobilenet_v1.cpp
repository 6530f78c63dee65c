#include "fovea/zoo/mobilenet_v1.h"

#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/pool.h"
#include "fovea/zoo/layers.h"

namespace fovea::zoo {

MobileNetV1::MobileNetV1(int64_t num_classes) : Module("MobileNetV1") {
  struct Block {
    int64_t out, stride;
  };
  constexpr Block kBlocks[] = {{64, 1},  {128, 2},  {128, 1}, {256, 2}, {256, 1},
                               {512, 2}, {512, 1},  {512, 1}, {512, 1}, {512, 1},
                               {512, 1}, {1024, 2}, {1024, 1}};
  auto relu = [] { return std::make_shared<nn::ReLU>(); };
  auto features = std::make_shared<nn::Sequential>();
  int64_t c = 32;
  features->push_back(
      conv_norm_activation({.in_channels = 3, .out_channels = c, .stride = 2}, relu()));
  for (const Block& b : kBlocks) {
    features->push_back(std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        conv_norm_activation({.in_channels = c, .out_channels = c, .stride = b.stride, .groups = c},
                             relu()),
        conv_norm_activation({.in_channels = c, .out_channels = b.out, .kernel_size = 1},
                             relu())}));
    c = b.out;
  }
  features_ = register_module("features", features);
  avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  classifier_ = register_module("classifier", std::make_shared<nn::Linear>(c, num_classes));
  // MobileNet v2's initialisation in torchvision.
  init_conv_kaiming_normal(*this, nn::init::FanMode::kFanOut);
  init_linear(*this, [](Tensor& w) { nn::init::normal_(w, 0.0f, 0.01f); });
}

Tensor MobileNetV1::forward(const Tensor& x) {
  return (*classifier_)(functional::flatten((*avgpool_)((*features_)(x)), 1));
}

std::shared_ptr<MobileNetV1> mobilenet_v1(int64_t num_classes) {
  return std::make_shared<MobileNetV1>(num_classes);
}

}  // namespace fovea::zoo
