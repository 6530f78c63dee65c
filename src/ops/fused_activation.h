// How an op applies a FusedActivation (fovea/functional/fused_activation.h): as a clamp inside
// its kernel where no gradient flows through the call, else as its own recorded op after it,
// whose backward then masks the gradient. Convolution, batch norm and add share these rules.
#pragma once

#include <limits>

#include "fovea/functional/fused_activation.h"
#include "fovea/tensor.h"

namespace fovea::ops {

// The clamp [lo, hi] an activation is inside a kernel: relu [0, inf), relu6 [0, 6], none
// (-inf, inf).
struct ActivationClamp {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};
ActivationClamp activation_clamp(functional::FusedActivation a);

// The activation as its own op on y (relu, relu6; y itself for kNone), recorded by autograd.
Tensor apply_activation(const Tensor& y, functional::FusedActivation a);

}  // namespace fovea::ops
