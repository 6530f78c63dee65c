// MobileNet v1 (Howard et al. 2017, Table 1; width 1.0, resolution 224), which torchvision
// does not provide. Written the way torchvision writes its MobileNets, so the state-dict keys
// read like theirs:
//   features.0            Conv2dNormActivation 3x3/2, 3 -> 32 (conv, bn, relu)
//   features.1..13        depthwise-separable block: "0" 3x3 depthwise Conv2dNormActivation
//                         (with the stride), "1" 1x1 pointwise Conv2dNormActivation
//                         e.g. features.1.0.0.weight (32, 1, 3, 3), features.1.1.0.weight
//                         (64, 32, 1, 1), features.1.1.1.running_var (64)
//   avgpool, classifier   adaptive average pool to 1x1, linear 1024 -> num_classes
// Pointwise widths (stride): 64 (1), 128 (2), 128, 256 (2), 256, 512 (2), 5 x 512, 1024 (2),
// 1024. Activations are ReLU as in the paper (not ReLU6). Convolutions have no bias; 4,231,976
// parameters for 1000 classes (the paper's 4.2 million; Keras's "trainable params").
#pragma once

#include <cstdint>
#include <memory>

#include "fovea/nn/module.h"

namespace fovea::zoo {

class MobileNetV1 : public nn::Module {
 public:
  explicit MobileNetV1(int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> features_, avgpool_, classifier_;
};

std::shared_ptr<MobileNetV1> mobilenet_v1(int64_t num_classes = 1000);  // 4,231,976 parameters

}  // namespace fovea::zoo
