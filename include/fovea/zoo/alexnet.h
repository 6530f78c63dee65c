// AlexNet (Krizhevsky 2014's one-GPU variant, "One weird trick") as torchvision 0.14 builds
// it, with its state-dict keys and shapes (features.{0,3,6,8,10}, classifier.{1,4,6}):
//   features    conv 11x11/4 pad 2 (64) relu maxpool 3x3/2, conv 5x5 pad 2 (192) relu maxpool,
//               conv 3x3 (384) relu, conv 3x3 (256) relu, conv 3x3 (256) relu maxpool
//   avgpool     adaptive average pool to 6x6, so inputs from 63x63 up work
//   classifier  dropout, linear 9216 -> 4096, relu, dropout, linear 4096 -> 4096, relu,
//               linear 4096 -> num_classes
#pragma once

#include <cstdint>
#include <memory>

#include "fovea/nn/module.h"

namespace fovea::zoo {

class AlexNet : public nn::Module {
 public:
  explicit AlexNet(int64_t num_classes = 1000, double dropout = 0.5);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> features_, avgpool_, classifier_;
};

std::shared_ptr<AlexNet> alexnet(int64_t num_classes = 1000);  // 61,100,840 parameters

}  // namespace fovea::zoo
