// The per-element loops of the optimizers and of gradient clipping: raw float arrays, options
// already resolved to float scalars, no validation. They run once per parameter per training
// step, so each is a single pass the compiler vectorises (one instantiation per variant, no
// branches inside), split across OpenMP threads for large tensors.
//
// They sit here rather than under src/kernels because nothing else uses them and their only
// reference is PyTorch itself (tests/golden/gen_optim.py).
#pragma once

#include <cstdint>

namespace fovea::kernels {

// See fovea/optim/sgd.h for the formula.
struct SgdStep {
  float lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first = false;  // the momentum buffer is uninitialised: set it to the gradient
};

// buf (n) is the momentum buffer, null when momentum == 0.
void sgd_step(const SgdStep& s, float* p, const float* g, float* buf, int64_t n) noexcept;

// See fovea/optim/adam.h for the formula; scalars already include the bias corrections.
struct AdamStep {
  float beta1 = 0, beta2 = 0, eps = 0;
  float l2 = 0;          // Adam: weight_decay (0: none)
  float decay = 1;       // AdamW: 1 - lr * weight_decay (1: none)
  float step_size = 0;   // lr / (1 - beta1^t)
  float bias2_sqrt = 1;  // sqrt(1 - beta2^t)
};

// m, v (n): the moments; v_max (n): AMSGrad's running maximum, null without amsgrad.
void adam_step(const AdamStep& s, float* p, const float* g, float* m, float* v, float* v_max,
               int64_t n) noexcept;

// sum |x|^p in double (p = 1 and 2 without pow); max |x| for p = inf.
double sum_abs_pow(const float* x, int64_t n, double p) noexcept;
float max_abs(const float* x, int64_t n) noexcept;
// x *= scale.
void scale(float* x, int64_t n, float scale) noexcept;
// x = min(max(x, lo), hi).
void clamp(float* x, int64_t n, float lo, float hi) noexcept;

}  // namespace fovea::kernels
