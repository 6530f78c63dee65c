#include "fovea/zoo/resnet.h"

#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/norm.h"
#include "fovea/nn/pool.h"
#include "fovea/zoo/layers.h"

namespace fovea::zoo {
namespace {

namespace F = functional;

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel_size, int64_t stride) {
  return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = in,
                                                        .out_channels = out,
                                                        .kernel_size = kernel_size,
                                                        .stride = stride,
                                                        .padding = kernel_size / 2,
                                                        .bias = false});
}

// The shortcut's projection when the block changes the shape, else null (the identity).
std::shared_ptr<nn::Module> downsample(int64_t inplanes, int64_t outplanes, int64_t stride) {
  if (stride == 1 && inplanes == outplanes) return nullptr;
  return std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      conv(inplanes, outplanes, 1, stride), batch_norm2d(outplanes)});
}

// relu(bn(conv(out)) + shortcut), a block's last steps, the shortcut made by `shortcut()`. With
// bn folded into conv (nn::fold_batch_norm) and no forward hook watching the layers, conv adds
// the shortcut and applies the relu as it stores its outputs (Conv2d::forward_add): one pass
// over the block's output instead of three. Otherwise the layers run one by one, in
// PyTorch's order, and the join in one pass where no gradient is recorded. The block's ReLU
// module is called only after its other batch norms, where fuse_activations can fold it into
// the convolutions.
template <class Shortcut>
Tensor residual_join(nn::Module& conv, nn::Module& bn, const Tensor& out, Shortcut&& shortcut) {
  auto& c = static_cast<nn::Conv2d&>(conv);
  if (static_cast<nn::BatchNorm&>(bn).folded() &&
      c.fused_activation() == F::FusedActivation::kNone && !nn::ForwardHookGuard::installed())
    return c.forward_add(out, shortcut(), F::FusedActivation::kRelu);
  const Tensor y = bn(conv(out));
  return F::add(y, shortcut(), F::FusedActivation::kRelu);
}

// One stage: `blocks` blocks, the first with the stride; advances inplanes.
template <class Block>
std::shared_ptr<nn::Sequential> make_stage(int64_t& inplanes, int64_t planes, int64_t blocks,
                                           int64_t stride) {
  auto stage = std::make_shared<nn::Sequential>();
  for (int64_t i = 0; i < blocks; ++i) {
    stage->push_back(std::make_shared<Block>(inplanes, planes, i == 0 ? stride : 1));
    inplanes = planes * Block::kExpansion;
  }
  return stage;
}

}  // namespace

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride) : Module("BasicBlock") {
  conv1_ = register_module("conv1", conv(inplanes, planes, 3, stride));
  bn1_ = register_module("bn1", batch_norm2d(planes));
  relu_ = register_module("relu", std::make_shared<nn::ReLU>());
  conv2_ = register_module("conv2", conv(planes, planes, 3, 1));
  bn2_ = register_module("bn2", batch_norm2d(planes));
  if (auto d = downsample(inplanes, planes * kExpansion, stride))
    downsample_ = register_module("downsample", d);
}

Tensor BasicBlock::forward(const Tensor& x) {
  const Tensor out = (*relu_)((*bn1_)((*conv1_)(x)));
  return residual_join(*conv2_, *bn2_, out, [&] { return downsample_ ? (*downsample_)(x) : x; });
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride) : Module("Bottleneck") {
  conv1_ = register_module("conv1", conv(inplanes, planes, 1, 1));
  bn1_ = register_module("bn1", batch_norm2d(planes));
  conv2_ = register_module("conv2", conv(planes, planes, 3, stride));
  bn2_ = register_module("bn2", batch_norm2d(planes));
  conv3_ = register_module("conv3", conv(planes, planes * kExpansion, 1, 1));
  bn3_ = register_module("bn3", batch_norm2d(planes * kExpansion));
  relu_ = register_module("relu", std::make_shared<nn::ReLU>());
  if (auto d = downsample(inplanes, planes * kExpansion, stride))
    downsample_ = register_module("downsample", d);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = (*relu_)((*bn1_)((*conv1_)(x)));
  out = (*relu_)((*bn2_)((*conv2_)(out)));
  return residual_join(*conv3_, *bn3_, out, [&] { return downsample_ ? (*downsample_)(x) : x; });
}

ResNet::ResNet(ResNetBlock block, const std::array<int64_t, 4>& layers, int64_t num_classes)
    : Module("ResNet") {
  conv1_ = register_module("conv1", conv(3, 64, 7, 2));
  bn1_ = register_module("bn1", batch_norm2d(64));
  relu_ = register_module("relu", std::make_shared<nn::ReLU>());
  maxpool_ =
      register_module("maxpool", std::make_shared<nn::MaxPool2d>(functional::MaxPool2dOptions{
                                     .kernel_size = 3, .stride = 2, .padding = 1}));
  int64_t inplanes = 64;
  auto stage = [&](int64_t planes, int64_t blocks, int64_t stride) {
    return block == ResNetBlock::kBasic ? make_stage<BasicBlock>(inplanes, planes, blocks, stride)
                                        : make_stage<Bottleneck>(inplanes, planes, blocks, stride);
  };
  layer1_ = register_module("layer1", stage(64, layers[0], 1));
  layer2_ = register_module("layer2", stage(128, layers[1], 2));
  layer3_ = register_module("layer3", stage(256, layers[2], 2));
  layer4_ = register_module("layer4", stage(512, layers[3], 2));
  avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  fc_ = register_module("fc", std::make_shared<nn::Linear>(inplanes, num_classes));
  init_conv_kaiming_normal(*this, nn::init::FanMode::kFanOut);
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor y = (*maxpool_)((*relu_)((*bn1_)((*conv1_)(x))));
  y = (*layer4_)((*layer3_)((*layer2_)((*layer1_)(y))));
  return (*fc_)(F::flatten((*avgpool_)(y), 1));
}

std::shared_ptr<ResNet> resnet18(int64_t num_classes) {
  return std::make_shared<ResNet>(ResNetBlock::kBasic, std::array<int64_t, 4>{2, 2, 2, 2},
                                  num_classes);
}

std::shared_ptr<ResNet> resnet34(int64_t num_classes) {
  return std::make_shared<ResNet>(ResNetBlock::kBasic, std::array<int64_t, 4>{3, 4, 6, 3},
                                  num_classes);
}

std::shared_ptr<ResNet> resnet50(int64_t num_classes) {
  return std::make_shared<ResNet>(ResNetBlock::kBottleneck, std::array<int64_t, 4>{3, 4, 6, 3},
                                  num_classes);
}

}  // namespace fovea::zoo
