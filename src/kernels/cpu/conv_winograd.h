// Winograd F(4x4, 3x3) convolution (Lavin & Gray 2015) for 2D 3x3 stride-1 layers with enough
// channels, AVX-512 only. The output is cut into 4x4 tiles, each read from a 6x6 input tile:
//   U[ξ][k][c] = (G g[k,c] Gᵀ)[ξ]          weights, once per call (ξ: the 36 points of 6x6)
//   V[ξ][c][t] = (Bᵀ d[c,t] B)[ξ]           input tiles, a block of tiles at a time
//   M[ξ][k][t] = Σ_c U[ξ][k][c] V[ξ][c][t]   36 GEMMs
//   y[k, tile t] = Aᵀ M[·][k][t] A (+ b[k])  4x4 outputs
// with interpolation points 0, ±1, ±2 and ∞: 36 multiplies per tile and channel pair where a
// direct 3x3 convolution does 144. Dilated layers (dilation d on both axes) are tiled per
// phase (oy mod d, ox mod d): a tile's outputs and its input window are d apart.
//
// Passes: forward (with optional bias) and backward_data, which is the forward convolution of
// dy with the weights rotated 180 degrees, C_in and C_out swapped and padding 2d - pad per side.
//
// backward_weight is F(3x3, 4x4) on the same points (the transposition principle swaps the
// roles of the forward's matrices): per 4x4 tile of dy and its 6x6 window of x,
//   U[ξ][k][t] = (A dy[k,t] Aᵀ)[ξ]     A = (Aᵀ)ᵀ (6x4): dy read like a 4-tap kernel
//   V[ξ][c][t] = (Bᵀ x[c,t] B)[ξ]      as the forward's input
//   M[ξ][k][c] = Σ_t U[ξ][k][t] V[ξ][c][t]   36 GEMMs reducing over all N * tiles tiles
//   dw[k, c] = Gᵀ M[·][k][c] G         (3x3)
//
// Winograd F(2x2, 3x3), the row winograd_f2x3: the same algorithm and kernels (templates on the
// tile size) with 2x2 output tiles read from 4x4 input tiles, 16 points ξ (0, ±1 and ∞): 16
// multiplies per tile and channel pair where direct does 36. For small planes at batch 1: a 7x7
// image is 16 tiles, one full vector of lanes, where F(4x4) has 4. Every pass; the weight
// gradient is F(3x3, 2x2), whose M (16, K, C) is 1.8x the weights where F(4x4)'s is 4x:
//   U = A dy Aᵀ (A 4x2: rows (1 0), (1 1), (1 -1), (0 1); the last negated from (Aᵀ)ᵀ)
//   V = Bᵀ x B  (the forward's, with G's 1/2s), dw = Gᵀ M G (Gᵀ 3x4: rows (1 1 1 0),
//   (0 1 -1 0), (0 1 1 -1): G without its 1/2s, the -1 undoing A's sign); additions only.
//
// 3x3x3 layers (every pass, both tile sizes): conv_winograd3d.h, on the same kernels.
#pragma once

#include <cstddef>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

// The entry points of the rows on tiles of kTile x kTile outputs: winograd_f4x3 (kTile 4) and
// winograd_f2x3 (kTile 2), the two instantiations conv_winograd.cpp provides.
template <int kTile>
struct ConvWinograd {
  static bool supports(const ConvGeometry& g, ConvPass pass);
  static size_t workspace_floats(const ConvGeometry& g, ConvPass pass);
  static void forward(const ConvGeometry& g, const float* x, const float* w, const ConvEpilogue& ep,
                      float* y, float* workspace) noexcept;
  static void backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                            float* workspace) noexcept;
  static void backward_weight(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                              float* workspace) noexcept;
};

}  // namespace fovea::kernels
