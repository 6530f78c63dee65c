// EfficientNet-B0 (Tan & Le 2019) as torchvision 0.14 builds it, with its state-dict keys and
// shapes: features.0 (Conv2dNormActivation 3x3/2, 3 -> 32, SiLU), features.1..7 (stages of
// MBConv), features.8 (1x1 to 1280, SiLU), classifier.1 (linear; classifier.0 is
// Dropout(0.2)).
//   MBConv "block": [1x1 expand (SiLU), when expand_ratio != 1] - kxk depthwise with the stride
//   (SiLU) - SqueezeExcitation (squeeze to max(1, in/4), SiLU, Sigmoid) - 1x1 project (no
//   activation). When stride is 1 and channels are unchanged, the input is added back after
//   stochastic depth, whose drop probability grows linearly over the 16 blocks from 0 to
//   0.2 * 15/16 (row mode; identity in evaluation).
//   (expand, kernel, stride, in, out, layers) per stage: (1,3,1,32,16,1) (6,3,2,16,24,2)
//   (6,5,2,24,40,2) (6,3,2,40,80,3) (6,5,1,80,112,3) (6,5,2,112,192,4) (6,3,1,192,320,1).
#pragma once

#include <cstdint>
#include <memory>

#include "fovea/nn/module.h"

namespace fovea::zoo {

struct MBConvOptions {
  int64_t expand_ratio;
  int64_t kernel_size;
  int64_t stride;
  int64_t input_channels;
  int64_t out_channels;
  double stochastic_depth_prob = 0.0;
};

class MBConv : public nn::Module {
 public:
  explicit MBConv(const MBConvOptions& options);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> block_, stochastic_depth_;
  bool use_res_connect_;
};

class EfficientNet : public nn::Module {
 public:
  // The B0 network; dropout before the classifier, the largest stochastic-depth probability.
  explicit EfficientNet(int64_t num_classes = 1000, double dropout = 0.2,
                        double stochastic_depth_prob = 0.2);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> features_, avgpool_, classifier_;
};

std::shared_ptr<EfficientNet> efficientnet_b0(int64_t num_classes = 1000);  // 5,288,548

}  // namespace fovea::zoo
