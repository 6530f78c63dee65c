// GoogLeNet (Inception v1, Szegedy et al. 2014) as torchvision 0.14 builds it, with its
// state-dict keys and shapes, in the configuration its pretrained weights use at inference:
// no auxiliary classifiers (aux_logits=False; they only run in training) — 6,624,904
// parameters. As torchvision:
//   - every convolution is a BasicConv2d: conv (no bias) - bn (eps 0.001) - relu;
//   - the "5x5" branch of each Inception block uses a 3x3 convolution (a known difference
//     from the paper that torchvision keeps for its weights);
//   - max pools use ceil_mode.
// torchvision's transform_input (re-normalising ImageNet-normalised input to the [-1, 1] range
// the original weights expect) is not applied: normalise inputs as the weights you load expect.
//   conv1 7x7/2 (64) maxpool1 conv2 1x1 (64) conv3 3x3 (192) maxpool2 inception3a 3b maxpool3
//   inception4a..4e maxpool4 inception5a 5b  avgpool(1x1) dropout(0.2) fc(1024 -> classes)
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::zoo {

// relu(bn(conv(x))), conv without bias, bn with eps = 0.001.
class BasicConv2d : public nn::Module {
 public:
  BasicConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
              int64_t padding = 0);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> conv_, bn_;
};

// Four branches concatenated along channels: branch1 1x1; branch2 1x1 then 3x3; branch3 1x1
// then 3x3; branch4 3x3/1 max pool (pad 1) then 1x1.
struct InceptionOptions {
  int64_t in_channels;
  int64_t ch1x1;
  int64_t ch3x3red;
  int64_t ch3x3;
  int64_t ch5x5red;
  int64_t ch5x5;
  int64_t pool_proj;
};

class Inception : public nn::Module {
 public:
  explicit Inception(const InceptionOptions& options);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> branch1_, branch2_, branch3_, branch4_;
};

class GoogLeNet : public nn::Module {
 public:
  explicit GoogLeNet(int64_t num_classes = 1000, double dropout = 0.2);
  Tensor forward(const Tensor& x) override;

 private:
  // conv1 ... inception5b, avgpool: run one after the other.
  std::vector<std::shared_ptr<nn::Module>> body_;
  std::shared_ptr<nn::Module> dropout_, fc_;
};

std::shared_ptr<GoogLeNet> googlenet(int64_t num_classes = 1000);  // 6,624,904 parameters

}  // namespace fovea::zoo
