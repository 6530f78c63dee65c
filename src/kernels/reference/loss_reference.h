// Reference loss kernels: per-element losses and their gradients, plain loops of the formulas
// in include/fovea/functional/loss.h. The reduction happens at the door: forward kernels
// write one loss per element, backward kernels take the upstream gradient of each element's
// loss as scale[i * scale_stride] (stride 0 for a reduced loss: one value, already divided by
// the mean's denominator). Losses see only the classifier's output, O(N·C) work, so these
// loops are the implementation, except cross-entropy over contiguous classes, which runs the
// fused kernels of cpu/loss_cpu.h.
#pragma once

#include <cstdint>

namespace fovea::kernels {

// Classification: input (N, C, inner) (inner = the product of any extra axes), target
// (N, inner) holding class indices the door has checked lie in [0, C) or equal ignore_index.
// weight (C) may be null (all ones).
struct ClassLossGeometry {
  int64_t N = 1, C = 1, inner = 1;
  int64_t ignore_index = -100;
  float label_smoothing = 0.0f;
  int64_t elements() const { return N * inner; }
};

// loss[i] = -w[t_i] * lp[i, t_i], 0 where ignored.
void nll_loss_forward_reference(const ClassLossGeometry& g, const float* lp, const float* target,
                                const float* weight, float* loss) noexcept;
// dlp[i, c] = -scale_i * w[t_i] for c = t_i, else 0.
void nll_loss_backward_reference(const ClassLossGeometry& g, const float* target,
                                 const float* weight, const float* scale, int64_t scale_stride,
                                 float* dlp) noexcept;

// loss[i] = (1 - eps) * -w[t] log p[i, t] + eps/C * sum_c -w[c] log p[i, c], p = softmax(x[i, :]).
void cross_entropy_forward_reference(const ClassLossGeometry& g, const float* x,
                                     const float* target, const float* weight,
                                     float* loss) noexcept;
// dx[i, c] = scale_i * ((1 - eps) * w[t] * (p[c] - [c = t]) + eps/C * (p[c] * sum_k w[k] - w[c])).
void cross_entropy_backward_reference(const ClassLossGeometry& g, const float* x,
                                      const float* target, const float* weight, const float* scale,
                                      int64_t scale_stride, float* dx) noexcept;

// Elementwise losses over n elements.
// loss[i] = (x[i] - y[i])^2;  dx[i] = scale_i * 2 (x[i] - y[i]).
void mse_loss_forward_reference(int64_t n, const float* x, const float* y, float* loss) noexcept;
void mse_loss_backward_reference(int64_t n, const float* x, const float* y, const float* scale,
                                 int64_t scale_stride, float* dx) noexcept;

// loss[i] = weight[i] * ((1 - y) x + (1 + (pos_weight[i] - 1) y) softplus(-x));
// dx[i] = scale_i * weight[i] * ((1 + (pos_weight[i] - 1) y) sigmoid(x) - pos_weight[i] y).
// weight and pos_weight hold n elements (already broadcast) or are null (all ones).
void binary_cross_entropy_with_logits_forward_reference(int64_t n, const float* x, const float* y,
                                                        const float* weight,
                                                        const float* pos_weight,
                                                        float* loss) noexcept;
void binary_cross_entropy_with_logits_backward_reference(int64_t n, const float* x, const float* y,
                                                         const float* weight,
                                                         const float* pos_weight,
                                                         const float* scale, int64_t scale_stride,
                                                         float* dx) noexcept;

}  // namespace fovea::kernels
