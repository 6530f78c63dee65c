// Reference batch normalisation: the plain loops of the definition, in double, held equal to
// PyTorch by the golden tests and the specification the fast kernels (cpu/batch_norm_cpu.h)
// are tested against. x, y, dy, dx are (N, C, P) (see batch_norm_geometry.h); the statistics
// and parameters are (C). w and b may be null, meaning w = 1 and b = 0.
//
//   mean[c]   = 1/M sum_{n,p} x[n,c,p]                      M = N*P
//   var[c]    = 1/M sum_{n,p} (x[n,c,p] - mean[c])^2        (biased: the batch's own spread)
//   xhat      = (x - mean[c]) * invstd[c]                   invstd = 1/sqrt(var + eps)
//   y         = xhat * w[c] + b[c]
#pragma once

#include "kernels/batch_norm_geometry.h"

namespace fovea::kernels {

// The batch statistics of each channel: mean and biased variance (two passes).
void batch_norm_stats_reference(const BatchNormGeometry& g, const float* x, float* mean,
                                float* var) noexcept;

void batch_norm_forward_reference(const BatchNormGeometry& g, const float* x, const float* mean,
                                  const float* invstd, const float* w, const float* b,
                                  float* y) noexcept;

// Gradients of y = xhat*w + b with mean and invstd either the batch statistics (training:
// they depend on x) or constants (evaluation: the running estimates):
//   db[c] = sum dy                dw[c] = sum dy * xhat
//   training:  dx = w*invstd * (dy - db/M - xhat * dw/M)
//   eval:      dx = w*invstd * dy
void batch_norm_backward_reference(const BatchNormGeometry& g, const float* dy, const float* x,
                                   const float* mean, const float* invstd, const float* w,
                                   bool training, float* dx, float* dw, float* db) noexcept;

// The running estimates after one training step, in place, as PyTorch updates them: the
// variance estimate uses the unbiased batch variance var * M/(M-1) (M >= 2).
//   running = (1 - momentum) * running + momentum * batch_statistic
void batch_norm_update_running_reference(int64_t C, int64_t M, double momentum, const float* mean,
                                         const float* var, float* running_mean,
                                         float* running_var) noexcept;

}  // namespace fovea::kernels
