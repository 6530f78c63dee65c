// VGG (Simonyan & Zisserman 2014) as torchvision 0.14 builds it, with its state-dict keys and
// shapes:
//   features.<i>.{weight,bias[,running_*]}   the convolutional stack, positions as in PyTorch
//   classifier.{0,3,6}.{weight,bias}         linear 25088 -> 4096 -> 4096 -> num_classes, each
//                                            but the last followed by ReLU and Dropout
// The features end in an adaptive average pool to 7x7, so inputs from 32x32 up work.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::zoo {

// VGG's configuration: output channels of each 3x3 convolution (padding 1, with bias, each
// followed by [BatchNorm2d and] ReLU), kVggMaxPool for a 2x2 max pool.
inline constexpr int64_t kVggMaxPool = 0;

class VGG : public nn::Module {
 public:
  VGG(const std::vector<int64_t>& config, bool batch_norm, int64_t num_classes = 1000,
      double dropout = 0.5);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> features_, avgpool_, classifier_;
};

std::shared_ptr<VGG> vgg11(int64_t num_classes = 1000);     // 132,863,336 parameters
std::shared_ptr<VGG> vgg11_bn(int64_t num_classes = 1000);  // 132,868,840
std::shared_ptr<VGG> vgg16(int64_t num_classes = 1000);     // 138,357,544
std::shared_ptr<VGG> vgg16_bn(int64_t num_classes = 1000);  // 138,365,992

}  // namespace fovea::zoo
