#include "fovea/zoo/googlenet.h"

#include <utility>

#include "fovea/functional/activation.h"
#include "fovea/functional/elementwise.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/pool.h"
#include "fovea/zoo/layers.h"

namespace fovea::zoo {
namespace {

namespace F = functional;

std::shared_ptr<nn::MaxPool2d> max_pool(int64_t kernel_size, int64_t stride, int64_t padding = 0) {
  return std::make_shared<nn::MaxPool2d>(F::MaxPool2dOptions{
      .kernel_size = kernel_size, .stride = stride, .padding = padding, .ceil_mode = true});
}

std::shared_ptr<nn::Sequential> sequential(std::shared_ptr<nn::Module> a,
                                           std::shared_ptr<nn::Module> b) {
  return std::make_shared<nn::Sequential>(
      std::vector<std::shared_ptr<nn::Module>>{std::move(a), std::move(b)});
}

}  // namespace

BasicConv2d::BasicConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                         int64_t stride, int64_t padding)
    : Module("BasicConv2d") {
  conv_ = register_module(
      "conv", std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = in_channels,
                                                             .out_channels = out_channels,
                                                             .kernel_size = kernel_size,
                                                             .stride = stride,
                                                             .padding = padding,
                                                             .bias = false}));
  bn_ = register_module("bn", batch_norm2d(out_channels, 0.001));
}

Tensor BasicConv2d::forward(const Tensor& x) {
  // torchvision applies F.relu here, not a module: there is no "relu" child to hook.
  return F::relu((*bn_)((*conv_)(x)));
}

Inception::Inception(const InceptionOptions& o) : Module("Inception") {
  auto basic = [](int64_t in, int64_t out, int64_t k) {
    return std::make_shared<BasicConv2d>(in, out, k, 1, k / 2);
  };
  branch1_ = register_module("branch1", basic(o.in_channels, o.ch1x1, 1));
  branch2_ = register_module(
      "branch2", sequential(basic(o.in_channels, o.ch3x3red, 1), basic(o.ch3x3red, o.ch3x3, 3)));
  // torchvision's "5x5" branch has a 3x3 kernel.
  branch3_ = register_module(
      "branch3", sequential(basic(o.in_channels, o.ch5x5red, 1), basic(o.ch5x5red, o.ch5x5, 3)));
  branch4_ = register_module("branch4",
                             sequential(max_pool(3, 1, 1), basic(o.in_channels, o.pool_proj, 1)));
}

Tensor Inception::forward(const Tensor& x) {
  return F::cat({(*branch1_)(x), (*branch2_)(x), (*branch3_)(x), (*branch4_)(x)}, 1);
}

GoogLeNet::GoogLeNet(int64_t num_classes, double dropout) : Module("GoogLeNet") {
  auto inception = [](InceptionOptions o) { return std::make_shared<Inception>(o); };
  const std::pair<const char*, std::shared_ptr<nn::Module>> body[] = {
      {"conv1", std::make_shared<BasicConv2d>(3, 64, 7, 2, 3)},
      {"maxpool1", max_pool(3, 2)},
      {"conv2", std::make_shared<BasicConv2d>(64, 64, 1)},
      {"conv3", std::make_shared<BasicConv2d>(64, 192, 3, 1, 1)},
      {"maxpool2", max_pool(3, 2)},
      {"inception3a", inception({192, 64, 96, 128, 16, 32, 32})},
      {"inception3b", inception({256, 128, 128, 192, 32, 96, 64})},
      {"maxpool3", max_pool(3, 2)},
      {"inception4a", inception({480, 192, 96, 208, 16, 48, 64})},
      {"inception4b", inception({512, 160, 112, 224, 24, 64, 64})},
      {"inception4c", inception({512, 128, 128, 256, 24, 64, 64})},
      {"inception4d", inception({512, 112, 144, 288, 32, 64, 64})},
      {"inception4e", inception({528, 256, 160, 320, 32, 128, 128})},
      {"maxpool4", max_pool(2, 2)},
      {"inception5a", inception({832, 256, 160, 320, 32, 128, 128})},
      {"inception5b", inception({832, 384, 192, 384, 48, 128, 128})},
      {"avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1)},
  };
  for (const auto& [name, module] : body) body_.push_back(register_module(name, module));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(dropout));
  fc_ = register_module("fc", std::make_shared<nn::Linear>(1024, num_classes));
  // torchvision: trunc_normal_(std=0.01, a=-2, b=2) on convolution and linear weights; a
  // truncation at 200 standard deviations never happens, so plain N(0, 0.01^2).
  for_each_module<nn::Conv2d>(*this, [](nn::Conv2d& c) { nn::init::normal_(c.weight, 0, 0.01f); });
  for_each_module<nn::Linear>(*this, [](nn::Linear& l) { nn::init::normal_(l.weight, 0, 0.01f); });
}

Tensor GoogLeNet::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& module : body_) y = (*module)(y);
  return (*fc_)((*dropout_)(F::flatten(y, 1)));
}

std::shared_ptr<GoogLeNet> googlenet(int64_t num_classes) {
  return std::make_shared<GoogLeNet>(num_classes);
}

}  // namespace fovea::zoo
