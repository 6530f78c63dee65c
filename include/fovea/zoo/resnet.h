// ResNet (He et al. 2015) as torchvision 0.14 builds it ("v1.5": a bottleneck's stride sits on
// its 3x3 convolution, not the first 1x1). State-dict keys and shapes equal torchvision's:
// conv1, bn1, layer1..layer4.<i>.{conv1,bn1,conv2,bn2[,conv3,bn3][,downsample.0,.1]}, fc.
//
//   stem   conv1 7x7/2 (64) - bn1 - relu - maxpool 3x3/2 pad 1              224 -> 56
//   layerK blocks of planes 64, 128, 256, 512; the first block of layers 2-4 has stride 2
//   head   adaptive average pool to 1x1 - flatten - fc (512 * expansion -> num_classes)
// A block adds its input (or downsample(input) = 1x1 conv + bn when the shape changes) before
// the last relu. Input (N, 3, H, W), any H, W >= 1 that survive the five halvings.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/module.h"
#include "fovea/nn/norm.h"

namespace fovea::zoo {

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), both convolutions 3x3. expansion 1.
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride = 1);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> conv1_, bn1_, relu_, conv2_, bn2_, downsample_;
};

// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)): 1x1 to planes, 3x3
// with the stride, 1x1 to planes * 4. expansion 4.
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> conv1_, bn1_, conv2_, bn2_, conv3_, bn3_, relu_, downsample_;
};

enum class ResNetBlock { kBasic, kBottleneck };

class ResNet : public nn::Module {
 public:
  // layers: blocks per stage, e.g. {2, 2, 2, 2} for ResNet-18.
  ResNet(ResNetBlock block, const std::array<int64_t, 4>& layers, int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> conv1_, bn1_, relu_, maxpool_, layer1_, layer2_, layer3_, layer4_,
      avgpool_, fc_;
};

std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000);  // 11,689,512 parameters
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000);  // 21,797,672
std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000);  // 25,557,032

}  // namespace fovea::zoo
