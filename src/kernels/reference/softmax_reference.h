// Reference softmax and log-softmax along one axis, forward and backward. The tensor is seen
// as (outer, size, inner): the axis has `size` elements, `inner` apart, so one kernel serves
// every dim of every rank. The specification: what runs is cpu/softmax_cpu.h, held equal to
// these loops (computed in double) by tests/kernels/softmax_kernels_test.cpp.
//
//   softmax      y_k = e^(x_k - m) / sum_j e^(x_j - m)     m = max_j x_j (no overflow)
//   log_softmax  y_k = x_k - m - log sum_j e^(x_j - m)
//   backward, from the output y and upstream gradient g:
//   softmax      dx_k = y_k * (g_k - sum_j g_j y_j)
//   log_softmax  dx_k = g_k - e^(y_k) * sum_j g_j
#pragma once

#include <cstdint>

namespace fovea::kernels {

struct SoftmaxGeometry {
  int64_t outer = 1, size = 1, inner = 1;
  bool log = false;  // log_softmax instead of softmax
};

void softmax_forward_reference(const SoftmaxGeometry& g, const float* x, float* y) noexcept;
void softmax_backward_reference(const SoftmaxGeometry& g, const float* dy, const float* y,
                                float* dx) noexcept;

}  // namespace fovea::kernels
