#include "ops/fused_activation.h"

#include "fovea/functional/activation.h"

namespace fovea::ops {

using functional::FusedActivation;

ActivationClamp activation_clamp(FusedActivation a) {
  ActivationClamp c;
  if (a != FusedActivation::kNone) c.lo = 0.0f;
  if (a == FusedActivation::kRelu6) c.hi = 6.0f;
  return c;
}

Tensor apply_activation(const Tensor& y, FusedActivation a) {
  switch (a) {
    case FusedActivation::kNone:
      return y;
    case FusedActivation::kRelu:
      return functional::relu(y);
    case FusedActivation::kRelu6:
      return functional::relu6(y);
  }
  return y;
}

}  // namespace fovea::ops
