// Reference interpolation (resampling) of N×C×D×H×W tensors, written to reproduce PyTorch
// 1.13's CPU float32 arithmetic index for index: the specification, and the implementation of
// 3-D calls (1-D and 2-D run cpu/interpolate_cpu.h, which tabulates interpolation_taps below).
//
// Separable: each spatial axis maps output position o to a few taps (input index i_k,
// weight w_k), and
//   y[n, c, od, oh, ow] = sum_a wd_a * (sum_b wh_b * (sum_c ww_c * x[n, c, id_a, ih_b, iw_c]))
// (that nesting order is PyTorch's). Per axis, with `scale` the source step per output step:
//   scale = align_corners ? (out > 1 ? (in - 1) / (out - 1) : 0)          (float)
//                         : scale_factor > 0 ? float(1 / scale_factor) : in / out
//   nearest        i = min(floor(o * scale), in - 1)                          1 tap
//   nearest-exact  i = min(floor((o + 0.5) * scale), in - 1)                  1 tap
//   linear   (out == in: the identity) src = align_corners ? o * scale
//            : max(0, (o + 0.5) * scale - 0.5); i0 = floor(src), i1 = min(i0 + 1, in - 1),
//            w1 = src - i0, w0 = 1 - w1                                       2 taps
//   cubic    src as linear but not clamped at 0; i = floor(src), t = src - i;
//            taps i-1..i+2 clamped to [0, in-1], Keys weights with a = -0.75   4 taps
// align_corners is false for the nearest modes (the door ensures it). Axes that the op does not
// resample (the leading ones of 1-D and 2-D calls, in = out = 1) are the identity.
//
// The backward pass is the exact adjoint: dx[i_taps] += weights * dy.
#pragma once

#include <array>
#include <cstdint>

namespace fovea::kernels {

enum class InterpolationKernel { kNearest, kNearestExact, kLinear, kCubic };

struct InterpolateGeometry {
  int64_t N = 1, C = 1;
  int spatial_dims = 2;  // 1, 2 or 3: the resampled axes are the last spatial_dims of (D, H, W)
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1};
  InterpolationKernel kernel = InterpolationKernel::kNearest;
  bool align_corners = false;
  // The user's scale factor per axis, used for the coordinate mapping (as PyTorch does) when
  // > 0; 0 derives the mapping from the sizes (size given, or recompute_scale_factor).
  std::array<double, 3> scale_factor{0, 0, 0};

  int64_t in_pixels() const { return in[0] * in[1] * in[2]; }
  int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
};

// The taps of output position o along a resampled axis (0, 1, 2 = D, H, W) by the rules above;
// axes not resampled take the default, the identity. Fast kernels tabulate these, so they map
// coordinates exactly as the reference does.
struct InterpolationTaps {
  int count = 1;
  int64_t index[4] = {0, 0, 0, 0};
  float weight[4] = {1, 0, 0, 0};
};
InterpolationTaps interpolation_taps(const InterpolateGeometry& g, int axis, int64_t o);

// x (N, C, in...) -> y (N, C, out...).
void interpolate_forward_reference(const InterpolateGeometry& g, const float* x, float* y) noexcept;
// dy (N, C, out...) -> dx (N, C, in...), overwritten.
void interpolate_backward_reference(const InterpolateGeometry& g, const float* dy,
                                    float* dx) noexcept;

}  // namespace fovea::kernels
