// Interpolation on this CPU for 1-D and 2-D resampling (every kernel: nearest, nearest-exact,
// linear, cubic; align_corners either way; size or scale given): the contract of
// reference/interpolate_reference.h, the same taps (tabulated once per call from
// interpolation_taps), summed in another order, so results agree to float rounding.
//
// Separable, one row at a time, planes x rows split over OpenMP threads:
//   forward   output row oh:  t[iw] = sum_b wh_b x[ih_b][iw]        contiguous, vectorised
//                             y[ow] = sum_c ww_c[ow] t[iw_c[ow]]     a gather from t (in L1)
//   backward  input row ih:   t[ow] = sum over the output rows oh reading ih of wh * dy[oh][ow]
//                             dx[iw] = sum over the outputs ow reading iw of ww * t[ow]
// The backward uses the taps transposed (per input position, the outputs that read it, padded
// to a fixed count with a zero slot of t), so it writes each dx element once: no zero fill, no
// scatter.
#pragma once

#include <cstdint>

#include "kernels/reference/interpolate_reference.h"

namespace fovea::kernels {

// Whether the kernels below handle g: 1-D and 2-D calls (g.in[0] == g.out[0] == 1).
bool interpolate_cpu_supports(const InterpolateGeometry& g) noexcept;

void interpolate_forward_cpu(const InterpolateGeometry& g, const float* x, float* y) noexcept;
void interpolate_backward_cpu(const InterpolateGeometry& g, const float* dy, float* dx) noexcept;

// Internal to the kernels above: their row gather out[p] = sum_k weight[k][p] *
// src[index[k][p]] (entries with index == pad skipped) in AVX-512
// (interpolate_cpu_avx512.cpp), for tables where every block of 16 positions reads within
// the 32 elements from window_start[block]. src may be read up to src_length elements.
struct WindowGather {
  int64_t positions = 0;
  int taps = 0;
  const int32_t* index = nullptr;  // (taps, positions)
  const float* weight = nullptr;   // (taps, positions)
  const int32_t* window_start = nullptr;
  int32_t pad = -1;
  bool unit_weight = false;  // one tap, weight 1 everywhere (nearest): out = src[index]
};
void window_gather_row_avx512(const WindowGather& t, const float* src, int64_t src_length,
                              float* out) noexcept;

}  // namespace fovea::kernels
