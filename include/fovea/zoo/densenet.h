// DenseNet-BC (Huang et al. 2016) as torchvision 0.14 builds it, with its state-dict keys and
// shapes: features.{conv0,norm0,relu0,pool0}, features.denseblock<b>.denselayer<l>.{norm1,
// conv1,norm2,conv2}, features.transition<b>.{norm,conv} (b = 1..3), features.norm5,
// classifier.
//   stem        conv0 7x7/2 (64, no bias) norm0 relu0 pool0 (max 3x3/2 pad 1)
//   denseblock  layer l sees the concatenation of the block input and all earlier layers'
//               outputs: norm1 relu conv1 1x1 (bn_size * growth_rate) norm2 relu conv2 3x3
//               (growth_rate); the block outputs the full concatenation
//   transition  norm relu conv 1x1 (halving the channels) avgpool 2x2/2
//   head        norm5, relu, adaptive average pool to 1x1, flatten, classifier linear
// Dropout between layers (drop_rate) is 0 in every torchvision DenseNet and is not provided;
// memory_efficient (gradient checkpointing) changes no result and is not provided either.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::zoo {

class DenseLayer : public nn::Module {
 public:
  DenseLayer(int64_t num_input_features, int64_t growth_rate, int64_t bn_size);
  // x: the concatenated features so far; returns only this layer's growth_rate new channels.
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> norm1_, relu1_, conv1_, norm2_, relu2_, conv2_;
};

class DenseBlock : public nn::Module {
 public:
  DenseBlock(int64_t num_layers, int64_t num_input_features, int64_t bn_size, int64_t growth_rate);
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<nn::Module>> layers_;
};

struct DenseNetOptions {
  int64_t growth_rate = 32;
  std::array<int64_t, 4> block_config = {6, 12, 24, 16};
  int64_t num_init_features = 64;
  int64_t bn_size = 4;
  int64_t num_classes = 1000;
};

class DenseNet : public nn::Module {
 public:
  explicit DenseNet(const DenseNetOptions& options = {});
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> features_, classifier_;
};

std::shared_ptr<DenseNet> densenet121(int64_t num_classes = 1000);  // 7,978,856 parameters

}  // namespace fovea::zoo
