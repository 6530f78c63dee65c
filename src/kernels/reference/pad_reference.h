// Reference padding of a tensor of rank <= 5 (leading axes set to size 1), forward and backward;
// it is the implementation.
//
// Along each axis, output position j has the "virtual" input position p = j - lo (lo < 0 crops)
// and reads, for an input of size n:
//   constant   x[p] when 0 <= p < n, else `value`
//   reflect    x[r] with r = -p for p < 0, 2(n - 1) - p for p >= n (mirror, edge not repeated)
//   replicate  x[clamp(p, 0, n - 1)]
//   circular   wraps around the part of the input that negative pads keep (the core: start
//              s = max(-lo, 0), size m = n - max(-lo, 0) - max(-hi, 0)):
//              x[s + ((j - max(lo, 0)) mod m)]; with pads >= 0 that is x[p mod n]
// which is PyTorch 1.13's behaviour for every mode, negative pads included. An element reads
// the input where every axis does; the backward pass adds dy there (borders that reflect,
// replicate or circular read twice get both gradients), and the input elements that negative
// pads crop get 0.
#pragma once

#include <array>
#include <cstdint>

namespace fovea::kernels {

enum class PadMode { kConstant, kReflect, kReplicate, kCircular };

struct PadGeometry {
  std::array<int64_t, 5> in{1, 1, 1, 1, 1}, out{1, 1, 1, 1, 1};
  std::array<int64_t, 5> lo{0, 0, 0, 0, 0};  // pad before each axis; out - in - lo after it
  PadMode mode = PadMode::kConstant;
  float value = 0;  // constant mode only

  int64_t in_numel() const { return in[0] * in[1] * in[2] * in[3] * in[4]; }
  int64_t out_numel() const { return out[0] * out[1] * out[2] * out[3] * out[4]; }
};

// x (in) -> y (out).
void pad_forward_reference(const PadGeometry& g, const float* x, float* y) noexcept;
// dy (out) -> dx (in), overwritten.
void pad_backward_reference(const PadGeometry& g, const float* dy, float* dx) noexcept;

}  // namespace fovea::kernels
