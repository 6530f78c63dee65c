// Elementwise activations for training on this CPU: the contracts of
// reference/activation_reference.h in float, one vectorised loop per activation (the
// transcendental ones through cpu/vector_math.h), split over OpenMP threads for large tensors.
#pragma once

#include <cstdint>

#include "kernels/activation_function.h"

namespace fovea::kernels {

void activation_forward_cpu(const Activation& a, int64_t n, const float* x, float* y) noexcept;

void activation_backward_cpu(const Activation& a, int64_t n, const float* dy, const float* saved,
                             float* dx) noexcept;

}  // namespace fovea::kernels
