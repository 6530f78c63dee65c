// Reference elementwise activations, forward and backward, computed in double from the
// definitions below; the specification cpu/activation_cpu.h is tested against.
//
//   relu        max(x, 0)                      relu'  = y > 0
//   relu6       min(max(x, 0), 6)              relu6' = 0 < y < 6
//   leaky_relu  x > 0 ? x : alpha*x            ' = x > 0 ? 1 : alpha
//   elu         x > 0 ? x : alpha*(e^x - 1)    ' = x > 0 ? 1 : alpha*e^x
//   gelu        x * Phi(x)                     ' = Phi(x) + x*phi(x)   (phi the normal pdf)
//   gelu_tanh   x/2 * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3)
//   silu        x * sigmoid(x)                 ' = s * (1 + x*(1 - s)), s = sigmoid(x)
//   sigmoid     1 / (1 + e^-x)                 ' = y * (1 - y)
//   tanh        tanh(x)                        ' = 1 - y^2
//   hardswish   x * relu6(x + 3) / 6           ' = x < -3 ? 0 : x < 3 ? x/3 + 1/2 : 1
//   hardsigmoid relu6(x + 3) / 6               ' = -3 < x < 3 ? 1/6 : 0
// At the kinks the derivative is PyTorch's: relu'(0) = 0, relu6'(0) = relu6'(6) = 0,
// leaky_relu'(0) = alpha, elu'(0) = alpha, hardswish'(-3) = -1/2, hardswish'(3) = 1,
// hardsigmoid'(+-3) = 0. (PyTorch 1.13's hardswish'(3) is 1 in its vectorised loop and 3/2 in
// the scalar loop over a tensor's last few elements; we take 1, what nearly every element
// gets.) NaN inputs give NaN outputs.
#pragma once

#include <cstdint>

#include "kernels/activation_function.h"

namespace fovea::kernels {

// y (n) = f(x (n)).
void activation_forward_reference(const Activation& a, int64_t n, const float* x,
                                  float* y) noexcept;

// dx (n) = dy * f'(x); saved is the forward's output y where backward_reads_output(a.kind),
// else its input x.
void activation_backward_reference(const Activation& a, int64_t n, const float* dy,
                                   const float* saved, float* dx) noexcept;

}  // namespace fovea::kernels
