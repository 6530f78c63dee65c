// Small networks written the way a user would: nn::Module subclasses that register their
// layers by name and join paths with F::add and F::cat inside forward(). Names follow
// torchvision's ResNet, DenseNet and GoogLeNet, so the state dicts match the PyTorch twins in
// tests/golden/gen_networks.py key for key. All take (N, 1, H, W) images.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fovea/error.h"
#include "fovea/functional/activation.h"
#include "fovea/functional/elementwise.h"
#include "fovea/functional/pool.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/module.h"
#include "fovea/nn/norm.h"
#include "fovea/nn/pool.h"

namespace fovea::testing {

namespace small_networks_detail {

inline std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel_size,
                                        int64_t stride = 1, int64_t padding = 0) {
  return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = in,
                                                        .out_channels = out,
                                                        .kernel_size = kernel_size,
                                                        .stride = stride,
                                                        .padding = padding,
                                                        .bias = false});
}

inline std::shared_ptr<nn::Conv2d> conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return conv(in, out, 3, stride, 1);
}

inline std::shared_ptr<nn::BatchNorm2d> batch_norm(int64_t channels, double eps = 1e-5) {
  return std::make_shared<nn::BatchNorm2d>(
      nn::BatchNormOptions{.num_features = channels, .eps = eps});
}

}  // namespace small_networks_detail

// torchvision.models.resnet.BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
// the shortcut the identity or, when the shape changes, downsample = 1x1 conv + batch norm.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride = 1) : Module("BasicBlock") {
    using namespace small_networks_detail;
    conv1_ = register_module("conv1", conv3x3(in, out, stride));
    bn1_ = register_module("bn1", batch_norm(out));
    conv2_ = register_module("conv2", conv3x3(out, out));
    bn2_ = register_module("bn2", batch_norm(out));
    if (stride != 1 || in != out)
      downsample_ = register_module(
          "downsample", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                            conv(in, out, 1, stride), batch_norm(out)}));
  }

  Tensor forward(const Tensor& x) override { return forward_paths(x, x); }

  // The block with the residual branch and the shortcut fed separately; forward(x) feeds x
  // to both. Lets a test follow the gradient along each path.
  Tensor forward_paths(const Tensor& branch_input, const Tensor& shortcut_input) {
    namespace F = functional;
    const Tensor out = (*bn2_)((*conv2_)(F::relu((*bn1_)((*conv1_)(branch_input)))));
    const Tensor identity = downsample_ ? (*downsample_)(shortcut_input) : shortcut_input;
    return F::relu(F::add(out, identity));
  }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::Sequential> downsample_;
};

// A ResNet stem (conv1, bn1, relu; no max pool) and one stage, layer1, of two blocks: 8 -> 8
// channels, then 8 -> 16 at stride 2 with a projection shortcut; global average pool, fc.
class SmallResNet : public nn::Module {
 public:
  explicit SmallResNet(int64_t classes = 10) : Module("SmallResNet") {
    using namespace small_networks_detail;
    conv1_ = register_module("conv1", conv3x3(1, 8));
    bn1_ = register_module("bn1", batch_norm(8));
    layer1_ = register_module(
        "layer1", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                      std::make_shared<BasicBlock>(8, 8), std::make_shared<BasicBlock>(8, 16, 2)}));
    fc_ = register_module("fc", std::make_shared<nn::Linear>(16, classes));
  }

  Tensor forward(const Tensor& x) override {
    namespace F = functional;
    const Tensor features = (*layer1_)(F::relu((*bn1_)((*conv1_)(x))));
    return (*fc_)(F::flatten(F::global_avg_pool(features)));
  }

 private:
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::Sequential> layer1_;
  std::shared_ptr<nn::Linear> fc_;
};

// torchvision's _DenseLayer (bn-relu-conv1x1 bottleneck to bn_size * growth channels, then
// bn-relu-conv3x3 to growth channels), returning its input with the new channels appended.
class DenseLayer : public nn::Module {
 public:
  DenseLayer(int64_t in, int64_t growth, int64_t bn_size) : Module("DenseLayer") {
    using namespace small_networks_detail;
    norm1_ = register_module("norm1", batch_norm(in));
    conv1_ = register_module("conv1", conv(in, bn_size * growth, 1));
    norm2_ = register_module("norm2", batch_norm(bn_size * growth));
    conv2_ = register_module("conv2", conv3x3(bn_size * growth, growth));
  }

  Tensor forward(const Tensor& x) override {
    namespace F = functional;
    const Tensor bottleneck = (*conv1_)(F::relu((*norm1_)(x)));
    const Tensor new_features = (*conv2_)(F::relu((*norm2_)(bottleneck)));
    return F::cat({x, new_features}, 1);
  }

 private:
  std::shared_ptr<nn::BatchNorm2d> norm1_, norm2_;
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
};

// features = conv0, norm0, relu0, denseblock1 (three dense layers, growth 4: 8 -> 20
// channels), transition1 (norm, relu, 1x1 conv halving the channels, 2x2 average pool), norm5;
// then relu, global average pool and the classifier, as torchvision's DenseNet.
class SmallDenseNet : public nn::Module {
 public:
  explicit SmallDenseNet(int64_t classes = 10) : Module("SmallDenseNet") {
    using namespace small_networks_detail;
    constexpr int64_t kStem = 8, kGrowth = 4, kBnSize = 2, kLayers = 3;
    auto block = std::make_shared<nn::Sequential>();
    int64_t channels = kStem;
    for (int64_t i = 1; i <= kLayers; ++i, channels += kGrowth)
      block->push_back("denselayer" + std::to_string(i),
                       std::make_shared<DenseLayer>(channels, kGrowth, kBnSize));
    auto transition = std::make_shared<nn::Sequential>();
    transition->push_back("norm", batch_norm(channels))
        .push_back("relu", std::make_shared<nn::ReLU>())
        .push_back("conv", conv(channels, channels / 2, 1))
        .push_back("pool",
                   std::make_shared<nn::AvgPool2d>(functional::AvgPool2dOptions{.kernel_size = 2}));
    features_ = register_module("features", std::make_shared<nn::Sequential>());
    features_->push_back("conv0", conv3x3(1, kStem))
        .push_back("norm0", batch_norm(kStem))
        .push_back("relu0", std::make_shared<nn::ReLU>())
        .push_back("denseblock1", block)
        .push_back("transition1", transition)
        .push_back("norm5", batch_norm(channels / 2));
    classifier_ =
        register_module("classifier", std::make_shared<nn::Linear>(channels / 2, classes));
  }

  Tensor forward(const Tensor& x) override {
    namespace F = functional;
    return (*classifier_)(F::flatten(F::global_avg_pool(F::relu((*features_)(x)))));
  }

 private:
  std::shared_ptr<nn::Sequential> features_;
  std::shared_ptr<nn::Linear> classifier_;
};

// torchvision.models.googlenet.BasicConv2d: relu(bn(conv(x))), batch norm eps 0.001.
class BasicConv2d : public nn::Module {
 public:
  BasicConv2d(int64_t in, int64_t out, int64_t kernel_size, int64_t padding = 0)
      : Module("BasicConv2d") {
    using namespace small_networks_detail;
    conv_ = register_module("conv", conv(in, out, kernel_size, 1, padding));
    bn_ = register_module("bn", batch_norm(out, 0.001));
  }
  Tensor forward(const Tensor& x) override { return functional::relu((*bn_)((*conv_)(x))); }

 private:
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::BatchNorm2d> bn_;
};

struct InceptionOptions {
  int64_t in, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj;
};

// torchvision.models.googlenet.Inception: four parallel branches on the same input,
// concatenated along the channels: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 (torchvision's "5x5");
// 3x3 max pool (stride 1) -> 1x1.
class Inception : public nn::Module {
 public:
  explicit Inception(const InceptionOptions& o) : Module("Inception") {
    using Seq = std::vector<std::shared_ptr<nn::Module>>;
    branch1_ = register_module("branch1", std::make_shared<BasicConv2d>(o.in, o.ch1x1, 1));
    branch2_ = register_module(
        "branch2", std::make_shared<nn::Sequential>(
                       Seq{std::make_shared<BasicConv2d>(o.in, o.ch3x3_reduce, 1),
                           std::make_shared<BasicConv2d>(o.ch3x3_reduce, o.ch3x3, 3, 1)}));
    branch3_ = register_module(
        "branch3", std::make_shared<nn::Sequential>(
                       Seq{std::make_shared<BasicConv2d>(o.in, o.ch5x5_reduce, 1),
                           std::make_shared<BasicConv2d>(o.ch5x5_reduce, o.ch5x5, 3, 1)}));
    branch4_ = register_module(
        "branch4", std::make_shared<nn::Sequential>(
                       Seq{std::make_shared<nn::MaxPool2d>(functional::MaxPool2dOptions{
                               .kernel_size = 3, .stride = 1, .padding = 1, .ceil_mode = true}),
                           std::make_shared<BasicConv2d>(o.in, o.pool_proj, 1)}));
  }

  Tensor forward(const Tensor& x) override {
    return functional::cat({(*branch1_)(x), (*branch2_)(x), (*branch3_)(x), (*branch4_)(x)}, 1);
  }

 private:
  std::shared_ptr<BasicConv2d> branch1_;
  std::shared_ptr<nn::Sequential> branch2_, branch3_, branch4_;
};

// A GoogLeNet stem conv, a 3x3/2 max pool, inception3a (8 -> 4 + 6 + 4 + 4 = 18 channels),
// global average pool, fc.
class SmallInception : public nn::Module {
 public:
  explicit SmallInception(int64_t classes = 10) : Module("SmallInception") {
    conv1_ = register_module("conv1", std::make_shared<BasicConv2d>(1, 8, 3, 1));
    maxpool1_ =
        register_module("maxpool1", std::make_shared<nn::MaxPool2d>(functional::MaxPool2dOptions{
                                        .kernel_size = 3, .stride = 2, .ceil_mode = true}));
    inception3a_ = register_module("inception3a",
                                   std::make_shared<Inception>(InceptionOptions{.in = 8,
                                                                                .ch1x1 = 4,
                                                                                .ch3x3_reduce = 4,
                                                                                .ch3x3 = 6,
                                                                                .ch5x5_reduce = 2,
                                                                                .ch5x5 = 4,
                                                                                .pool_proj = 4}));
    fc_ = register_module("fc", std::make_shared<nn::Linear>(18, classes));
  }

  Tensor forward(const Tensor& x) override {
    namespace F = functional;
    const Tensor features = (*inception3a_)((*maxpool1_)((*conv1_)(x)));
    return (*fc_)(F::flatten(F::global_avg_pool(features)));
  }

 private:
  std::shared_ptr<BasicConv2d> conv1_;
  std::shared_ptr<nn::MaxPool2d> maxpool1_;
  std::shared_ptr<Inception> inception3a_;
  std::shared_ptr<nn::Linear> fc_;
};

// The network named as in the golden cases' config: "small_resnet", "small_densenet" or
// "small_inception".
inline std::shared_ptr<nn::Module> make_small_network(const std::string& name,
                                                      int64_t classes = 10) {
  if (name == "small_resnet") return std::make_shared<SmallResNet>(classes);
  if (name == "small_densenet") return std::make_shared<SmallDenseNet>(classes);
  if (name == "small_inception") return std::make_shared<SmallInception>(classes);
  throw ValueError(
      "make_small_network: name expects small_resnet, small_densenet or "
      "small_inception, got " +
      name);
}

}  // namespace fovea::testing
