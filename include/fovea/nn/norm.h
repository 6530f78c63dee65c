// Batch normalization layers. Parameters "weight" (gamma) and "bias" (beta); buffers
// "running_mean", "running_var" and "num_batches_tracked", as in PyTorch. Training mode
// normalises with batch statistics and updates the running estimates; eval mode uses them.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "fovea/functional/fused_activation.h"
#include "fovea/nn/module.h"

namespace fovea::nn {

struct BatchNormOptions {
  int64_t num_features;
  double eps = 1e-5;
  // Weight of the newest batch in the running estimates; nullopt: a cumulative average
  // (1 / num_batches_tracked), as PyTorch's momentum=None.
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

// `rank` is the input rank it accepts: 1d takes (N, C) or (N, C, L), 2d (N, C, H, W), 3d
// (N, C, D, H, W).
class BatchNorm : public Module {
 public:
  BatchNorm(std::string type_name, const BatchNormOptions& options, std::vector<int64_t> ranks);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const BatchNormOptions& options() const { return options_; }
  // The eval-mode transform y = scale * x + shift per channel, from the running statistics.
  std::pair<std::vector<float>, std::vector<float>> eval_scale_shift() const;
  // After nn::fold_batch_norm moved this layer's transform into the preceding convolution:
  // forward passes its input through (and refuses to train).
  void mark_folded() { folded_ = true; }
  bool folded() const { return folded_; }
  // Makes this layer apply `activation` to its outputs as it stores them (nn::fuse_activations,
  // for the batch norms that were not folded, e.g. DenseNet's after a concatenation).
  void fuse_activation(functional::FusedActivation activation) { activation_ = activation; }
  functional::FusedActivation fused_activation() const { return activation_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  BatchNormOptions options_;
  std::vector<int64_t> ranks_;
  bool folded_ = false;
  functional::FusedActivation activation_ = functional::FusedActivation::kNone;
};

struct BatchNorm1d : BatchNorm {
  explicit BatchNorm1d(const BatchNormOptions& o) : BatchNorm("BatchNorm1d", o, {2, 3}) {}
};
struct BatchNorm2d : BatchNorm {
  explicit BatchNorm2d(const BatchNormOptions& o) : BatchNorm("BatchNorm2d", o, {4}) {}
};
struct BatchNorm3d : BatchNorm {
  explicit BatchNorm3d(const BatchNormOptions& o) : BatchNorm("BatchNorm3d", o, {5}) {}
};

}  // namespace fovea::nn
