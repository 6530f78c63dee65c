// Finite-difference gradient checking, for every differentiable op's tests.
//
// For a function y = f(inputs) and a fixed probe tensor r of y's shape, the scalar
//     L(inputs) = sum_i y[i] * r[i]
// has gradient dL/dinputs[k] = the op's backward applied to grad_output = r. check_gradients
// compares each element of the analytic gradients the caller computed that way with the
// central difference
//     (L(.., v + eps, ..) - L(.., v - eps, ..)) / (2 eps),
// perturbing one input element v at a time (L accumulated in double). An element passes when
//     |analytic - numeric| <= atol + rtol * |numeric|.
// The truncation error of the central difference is O(eps^2); on float32 inputs the rounding
// error of f is amplified by 1/eps, so eps ~1e-2 with atol/rtol ~1e-2 suits float32 ops whose
// outputs are O(1..10). Multilinear ops (conv, linear) have no truncation error at all.
//
// Usage:
//   Tensor x = Tensor::randn({2, 3, 5, 5}), w = Tensor::randn({4, 3, 3, 3});
//   Tensor r = Tensor::randn(F::conv2d(x, w).shape());
//   auto g = F::conv2d_backward(r, x, w, false);
//   EXPECT_EQ(check_gradients([](const std::vector<Tensor>& in) { return F::conv2d(in[0], in[1]);
//   },
//                             {x, w}, {g.input, g.weight}, r), "");
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::testing {

// The op under test: inputs (in the order given to check_gradients) -> output.
using DifferentiableFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;

struct GradcheckOptions {
  float eps = 1e-2f;   // central-difference step, applied to each input element in turn
  float atol = 1e-2f;  // absolute tolerance per element
  float rtol = 1e-2f;  // tolerance relative to |numeric| per element
  // Check at most this many elements per input, spread evenly over it (the first and the last
  // always included); 0 checks every element. Bounds the cost (two calls of f per element).
  int64_t max_elements_per_input = 0;
  // Names of the inputs for messages ("input", "weight", ...); missing names read "input k".
  std::vector<std::string> names;
};

// Checks analytic_grads[k] (the gradient of L above with respect to inputs[k]) element by
// element against central differences. An undefined analytic_grads[k] skips inputs[k] (an
// input that is not differentiated). Returns "" when every checked element passes, else a
// description of the worst element (input, index, analytic, numeric) and how many failed;
// also reports mismatched counts or shapes. The caller's input tensors are never modified:
// f sees perturbed clones.
std::string check_gradients(const DifferentiableFn& f, std::vector<Tensor> inputs,
                            const std::vector<Tensor>& analytic_grads, const Tensor& r,
                            const GradcheckOptions& options = {});

// L = sum(y * r) in double: the scalar check_gradients differentiates.
double weighted_sum(const Tensor& y, const Tensor& r);

}  // namespace fovea::testing
