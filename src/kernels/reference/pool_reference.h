// Reference pooling kernels: the plain loops of PyTorch's definitions (see pool_geometry.h).
// They are the specification the fast kernels (cpu/pool_cpu.h) are tested against, and the
// implementation of the rarer pools (adaptive, lp, unpool). Each overwrites its output.
#pragma once

#include "kernels/pool_geometry.h"

namespace fovea::kernels {

// y[o] = max over the window's positions i of x[i]; indices[o] = that i. Ties go to the first
// position in (d, h, w) order; a NaN wins over any number and a later NaN over an earlier one.
// A window holding only -inf reports its first position.
void max_pool_forward_reference(const PoolGeometry& g, const float* x, float* y,
                                float* indices) noexcept;
// dx[indices[o]] += dy[o] in each plane, dx zero elsewhere: the backward of max_pool and of
// adaptive_max_pool (it reads only g.in and g.out).
void max_pool_backward_reference(const PoolGeometry& g, const float* dy, const float* indices,
                                 float* dx) noexcept;

// y[o] = sum of x over the window's positions / divisor, where the divisor is
//   divisor_override                                   when set, else
//   prod over axes of (min(start + k, in + pad) - start)  with count_include_pad
//   the number of positions inside the input              without it
// for start = o*stride - pad (so ceil_mode's extra windows never count beyond the padding).
void avg_pool_forward_reference(const PoolGeometry& g, const float* x, float* y) noexcept;
// dx[i] = sum over the windows o holding i of dy[o] / divisor(o).
void avg_pool_backward_reference(const PoolGeometry& g, const float* dy, float* dx) noexcept;

// Power-average pooling, as PyTorch computes it (padding 0, count_include_pad):
//   a = avg_pool(x^p),  y = (K * sign(a) * relu(|a|))^(1/p),  K = prod(kernel)
// so for a window inside the input y = (sum x^p)^(1/p). Negative a (odd or fractional p with
// negative x) gives NaN as in PyTorch, and a = 0 gives y = 0 with zero gradient.
// workspace: N*C*in_pixels floats.
void lp_pool_forward_reference(const PoolGeometry& g, float p, const float* x, float* y,
                               float* workspace) noexcept;
// dx = p x^(p-1) * avg_pool_backward(dy * [a != 0] * (1/p) (K a)^(1/p - 1) * K).
// workspace: N*C*out_pixels floats.
void lp_pool_backward_reference(const PoolGeometry& g, float p, const float* x, const float* dy,
                                float* dx, float* workspace) noexcept;

// Adaptive windows [floor(o*in/out), ceil((o+1)*in/out)) along each axis.
void adaptive_avg_pool_forward_reference(const PoolGeometry& g, const float* x, float* y) noexcept;
void adaptive_avg_pool_backward_reference(const PoolGeometry& g, const float* dy,
                                          float* dx) noexcept;
// Max and argmax with max_pool's rules over the adaptive windows.
void adaptive_max_pool_forward_reference(const PoolGeometry& g, const float* x, float* y,
                                         float* indices) noexcept;

// y = 0 except y[indices[i]] = x[i] in each plane (x and indices (N*C, in), y (N*C, out)); a
// position named twice keeps the later element.
void max_unpool_forward_reference(const PoolGeometry& g, const float* x, const float* indices,
                                  float* y) noexcept;
// dx[i] = dy[indices[i]] in each plane: the gather PyTorch uses as max_unpool's gradient.
void max_unpool_backward_reference(const PoolGeometry& g, const float* dy, const float* indices,
                                   float* dx) noexcept;

}  // namespace fovea::kernels
