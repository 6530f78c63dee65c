// Which elementwise activation a kernel applies, with its one parameter, decided at the door
// and shared by the reference and the fast kernels.
#pragma once

namespace fovea::kernels {

enum class ActivationKind {
  kRelu,
  kRelu6,
  kLeakyRelu,  // alpha = negative_slope
  kElu,        // alpha = alpha
  kGelu,       // exact: x * Phi(x), Phi the standard normal CDF
  kGeluTanh,   // PyTorch's approximate = "tanh"
  kSilu,
  kSigmoid,
  kTanh,
  kHardswish,
  kHardsigmoid,
};

struct Activation {
  ActivationKind kind = ActivationKind::kRelu;
  float alpha = 0.0f;  // leaky_relu's negative_slope or elu's alpha; unused otherwise
};

// Whether the backward kernels read the forward's output (true) or its input (false): the
// tensor the autograd must save.
constexpr bool backward_reads_output(ActivationKind kind) {
  return kind == ActivationKind::kRelu || kind == ActivationKind::kRelu6 ||
         kind == ActivationKind::kSigmoid || kind == ActivationKind::kTanh;
}

}  // namespace fovea::kernels
