// MobileNet v2 (Sandler et al. 2018) as torchvision 0.14 builds it (width 1.0), with its
// state-dict keys and shapes: features.0 (Conv2dNormActivation 3 -> 32, stride 2),
// features.1..17 (InvertedResidual, each "conv": [1x1 expand] - 3x3 depthwise - 1x1 project
// - bn), features.18 (1x1 to 1280), classifier.1 (linear; classifier.0 is Dropout(0.2)).
// Activations are ReLU6; the projection is linear. A block adds its input when stride is 1
// and the channels are unchanged.
//   (t, c, n, s) per stage: (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2)
//   (6,320,1,1): expansion t, output channels c, n blocks, first stride s.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fovea/nn/conv.h"
#include "fovea/nn/module.h"
#include "fovea/nn/norm.h"

namespace fovea::zoo {

// In eval mode with no gradient to record, once nn::optimize_for_inference folded its batch
// norms and fused its ReLU6s into the convolutions, the block runs as one fused kernel that keeps
// the expanded tensor in cache (ops/inverted_residual.h; forward hooks and op observers then see
// the block, not its layers); otherwise layer by layer.
class InvertedResidual : public nn::Module {
 public:
  InvertedResidual(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio);
  Tensor forward(const Tensor& x) override;

 private:
  // y through the fused kernel, or undefined where the block is not in its inference form.
  Tensor fused_forward(const Tensor& x);

  std::shared_ptr<nn::Module> conv_;
  bool use_res_connect_;
  int64_t stride_;
  // The layers inside conv_: expand (null without expansion), depthwise, project and their norms.
  nn::Conv2d *expand_ = nullptr, *depthwise_ = nullptr, *project_ = nullptr;
  std::vector<const nn::BatchNorm*> norms_;
};

class MobileNetV2 : public nn::Module {
 public:
  explicit MobileNetV2(int64_t num_classes = 1000, double dropout = 0.2);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> features_, classifier_;
};

std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes = 1000);  // 3,504,872 parameters

}  // namespace fovea::zoo
