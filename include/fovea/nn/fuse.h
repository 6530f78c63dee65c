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

// Fuses each ReLU/ReLU6 module that directly follows a convolution, or a batch norm that was
// not folded, into that layer: the layer applies the activation as its kernel stores the
// outputs (ConvNd/BatchNorm::fuse_activation) and the activation module becomes a
// pass-through (FusableActivation::fused). The same tracing rules as fold_batch_norm pick the
// pairs; run it after folding, so conv -> batch norm -> activation chains fuse into the
// convolution. An activation module called more than once fuses only when every call follows
// such a layer. Returns the number of calls fused. Fused layers still train correctly: under
// autograd the layer runs the activation as its own op.
int fuse_activations(Module& model, const Tensor& example);

// fold_batch_norm, then fuse_activations: the inference rewrites PyTorch's
// torch.jit.optimize_for_inference makes for convolutions. Returns the layers merged.
int optimize_for_inference(Module& model, const Tensor& example);

}  // namespace fovea::nn
