#include "fovea/zoo/vgg.h"

#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/pool.h"
#include "fovea/zoo/layers.h"

namespace fovea::zoo {
namespace {

constexpr int64_t M = kVggMaxPool;
// torchvision's cfgs "A" (VGG-11) and "D" (VGG-16).
const std::vector<int64_t> kVgg11 = {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
const std::vector<int64_t> kVgg16 = {64, 64,  M,   128, 128, M,   256, 256, 256,
                                     M,  512, 512, 512, M,   512, 512, 512, M};

std::shared_ptr<nn::Sequential> make_features(const std::vector<int64_t>& config, bool batch_norm) {
  auto features = std::make_shared<nn::Sequential>();
  int64_t in = 3;
  for (const int64_t v : config) {
    if (v == kVggMaxPool) {
      features->push_back(
          std::make_shared<nn::MaxPool2d>(functional::MaxPool2dOptions{.kernel_size = 2}));
      continue;
    }
    features->push_back(std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = in, .out_channels = v, .kernel_size = 3, .padding = 1}));
    if (batch_norm) features->push_back(batch_norm2d(v));
    features->push_back(std::make_shared<nn::ReLU>());
    in = v;
  }
  return features;
}

}  // namespace

VGG::VGG(const std::vector<int64_t>& config, bool batch_norm, int64_t num_classes, double dropout)
    : Module("VGG") {
  features_ = register_module("features", make_features(config, batch_norm));
  avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(7));
  classifier_ = register_module(
      "classifier",
      std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
          std::make_shared<nn::Linear>(512 * 7 * 7, 4096), std::make_shared<nn::ReLU>(),
          std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(4096, 4096),
          std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(dropout),
          std::make_shared<nn::Linear>(4096, num_classes)}));
  init_conv_kaiming_normal(*this, nn::init::FanMode::kFanOut);
  init_linear(*this, [](Tensor& w) { nn::init::normal_(w, 0.0f, 0.01f); });
}

Tensor VGG::forward(const Tensor& x) {
  return (*classifier_)(functional::flatten((*avgpool_)((*features_)(x)), 1));
}

std::shared_ptr<VGG> vgg11(int64_t num_classes) {
  return std::make_shared<VGG>(kVgg11, false, num_classes);
}
std::shared_ptr<VGG> vgg11_bn(int64_t num_classes) {
  return std::make_shared<VGG>(kVgg11, true, num_classes);
}
std::shared_ptr<VGG> vgg16(int64_t num_classes) {
  return std::make_shared<VGG>(kVgg16, false, num_classes);
}
std::shared_ptr<VGG> vgg16_bn(int64_t num_classes) {
  return std::make_shared<VGG>(kVgg16, true, num_classes);
}

}  // namespace fovea::zoo
