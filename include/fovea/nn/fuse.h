// Inference-time rewrites of a trained network, as PyTorch's torch.jit.freeze and
// optimize_for_inference do: same outputs (up to rounding), less work per forward.
#pragma once

#include "fovea/nn/module.h"

namespace fovea::nn {

// Folds each eval-mode batch norm that directly follows a convolution into that convolution:
// conv weights scaled per output channel, the bias shifted, the batch norm turned into a
// pass-through (BatchNorm::folded). A pair is folded only where the convolution's output
// feeds nothing but the batch norm, found by tracing one forward pass of `example`. Returns
// the number of batch norms folded. The model must be in eval mode and stays an inference
// model: a folded batch norm refuses to train.
int fold_batch_norm(Module& model, const Tensor& example);

}  // namespace fovea::nn
