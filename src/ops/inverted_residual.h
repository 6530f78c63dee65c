// The door of the fused inverted-residual kernel (kernels/cpu/inverted_residual.h): MobileNet-v2's
// block after nn::optimize_for_inference, run as one pass where the kernel takes it.
#pragma once

#include <cstdint>

#include "fovea/tensor.h"

namespace fovea::ops {

// The convolutions of one block, PyTorch's shapes: expand (C_mid, C_in, 1, 1) with relu6, or
// undefined weight when the block has none; depthwise (C_mid, 1, 3, 3), padding 1, with relu6;
// project (C_out, C_mid, 1, 1), no activation. Biases (C_mid) / (C_out) or undefined.
struct InvertedResidualConvs {
  Tensor expand_w, expand_b, dw_w, dw_b, project_w, project_b;
  int64_t stride = 1;
  bool residual = false;  // y = x + project(...)
};

// y of the block for x (N, C_in, H, W) through the fused kernel; an undefined tensor where it
// does not take the call (a gradient would be recorded, or shapes it refuses), and the caller
// runs the layers one by one.
Tensor fused_inverted_residual(const Tensor& x, const InvertedResidualConvs& c);

}  // namespace fovea::ops
