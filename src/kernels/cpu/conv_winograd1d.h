// Winograd F(6, 3) for 1D convolutions with a 3-tap kernel, stride 1, dilation 1, any
// padding, AVX-512 only (Lavin & Gray 2015, points 0, ±1, ±2, ±1/2 and ∞). The output row is
// cut into tiles of 6, each read from an 8-element input window:
//   U[ξ][k][c] = (G g[k,c])[ξ]                  weights, once per call (ξ: the 8 points)
//   V[ξ][c][t] = (Bᵀ d[c,t])[ξ]                  input windows, a block of tiles at a time
//   M[ξ][k][t] = Σ_c U[ξ][k][c] V[ξ][c][t]       8 GEMMs
//   y[k, 6t .. 6t+5] = Aᵀ M[·][k][t] (+ b[k], clamp)
// 8 multiplies per 6 outputs and channel pair where a direct convolution does 18.
//
// Backward data is the forward convolution of dy with the weights reversed, C_in and C_out
// swapped and the window starting 2 - pad_lo before each output.
//
// The weight gradient is F(3, 6) on the same points (the transposition principle): per tile
// of 6 dy values and its 8-element x window,
//   U[ξ][k][t] = (A dy[k,t])[ξ]   A = (Aᵀ)ᵀ (8x6)
//   V[ξ][c][t] = (Bᵀ x[c,t])[ξ]   as the forward's input
//   M[ξ][k][c] = Σ_t U[ξ][k][t] V[ξ][c][t]   8 GEMMs reducing over all N * tiles tiles
//   dw[k, c] = Gᵀ M[·][k][c]  (3 taps)
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

bool conv_winograd1d_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_winograd1d_workspace_floats(const ConvGeometry& g, ConvPass pass);

void conv_forward_winograd1d(const ConvGeometry& g, const float* x, const float* w,
                             const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_winograd1d(const ConvGeometry& g, const float* dy, const float* w,
                                   float* dx, float* workspace) noexcept;
void conv_backward_weight_winograd1d(const ConvGeometry& g, const float* x, const float* dy,
                                     float* dw, float* workspace) noexcept;

// The plan shared by the row (conv_winograd1d.cpp) and its AVX-512 kernels
// (conv_winograd1d_avx512.cpp): one forward problem
//   y (N, K, L_out) = corr(x (N, C, L_in), w) [+ epilogue]
// whose tile t of image n holds outputs 6t .. 6t+5 and reads x[6t - pad .. 6t - pad + 7]
// (zero outside [0, L_in)). 16 tiles, one per lane, make a group; groups never span images.
struct Winograd1dPlan {
  static constexpr int kPoints = 8, kTile = 6, kLanes = 16;
  // Forward blocks hold at most this many groups (GEMM columns: 4 vectors); the weight
  // gradient's blocks, reduced over in one GEMM call, at most kWeightBlockGroups.
  static constexpr int64_t kBlockGroups = 4, kWeightBlockGroups = 8;
  // The most output channels one GEMM panel covers (with one vector of columns).
  static constexpr int64_t kMaxPanelRows = 16;

  int64_t N = 0, C = 0, K = 0;  // C: the reduction channels, K: the output channels
  int64_t L_in = 0, L_out = 0, pad = 0;
  // false: w is (K, C, 3). true: w is (C, K, 3) read reversed (backward data).
  bool rotated = false;
  int64_t groups = 0;  // per image
  int64_t blocks = 0;  // per image: consecutive groups, as equal as can be
  int threads = 1;     // the team the workspace was sized for
  // Floats from one point ξ to the next (padded by a cache line against 4 KiB aliasing) and
  // of one buffer. Forward: U (8, K, C) shared; per thread V (8, C, 16 * groups of a block)
  // and M (8, panel rows, ...). Weight gradient, per thread: U (8, K, tiles of a block),
  // V (8, tiles, c_pad), the transposing scratch (8, 16, 16) and the sum M (8, K, c_pad).
  int64_t u_stride = 0, v_stride = 0, m_stride = 0;
  size_t u_floats = 0, v_floats = 0, m_floats = 0, scratch_floats = 0;
  int64_t c_pad = 0;  // weight gradient: C rounded up to a vector
  bool weight = false;

  size_t workspace_floats() const {
    const size_t per_thread = v_floats + m_floats + scratch_floats + (weight ? u_floats : 0);
    return (weight ? 0 : u_floats) + static_cast<size_t>(threads) * per_thread;
  }
};

// Runs the planned forward (or backward data); `workspace` holds plan.workspace_floats().
void winograd1d_forward_avx512(const Winograd1dPlan& p, const float* x, const float* w,
                               const ConvEpilogue& ep, float* y, float* workspace) noexcept;

// dw (K, C, 3) = Σ_n corr(x, dy) for the planned forward problem, dy (N, K, L_out).
void winograd1d_weight_avx512(const Winograd1dPlan& p, const float* x, const float* dy, float* dw,
                              float* workspace) noexcept;

}  // namespace fovea::kernels
