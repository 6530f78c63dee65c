// The plan shared by the Winograd rows F(4x4, 3x3) and F(2x2, 3x3) (conv_winograd.cpp: geometry
// mapping, workspace size) and their AVX-512 kernel (conv_winograd_avx512.cpp): one forward
// convolution
//   y (N, K, OH, OW) = corr(x (N, C, H, W), w) + b,   3x3 kernel, stride 1
// cut into m x m output tiles (m = plan.tile, 4 or 2), tile row ty reading input rows
// m*ty - pad_top + j, j < m + 2 (zero outside [0, H)), and likewise for columns. With dilation d
// the outputs of each phase (oy % d, ox % d) are an undilated convolution of the inputs d apart:
// a tile holds m x m outputs of one phase, d apart, and reads input rows oy0 - pad_top + d*j of
// its first output row oy0. Backward data is planned as this forward problem on dy with rotated
// weights; the weight gradient (both tile sizes) as the same tiling of the forward's dy and x.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

// The most output channels one GEMM panel (one micro-kernel call) covers.
inline constexpr int64_t kWinogradMaxPanelRows = 16;
// The most tiles one block of the weight gradient reduces over between two passes over M.
inline constexpr int64_t kWinogradWeightBlockTiles = 128;
// The buffer of one thread in the weight gradient: one work unit's sums (plan.unit_sums), 36
// planes of 6 x 64 a cache line apart.
inline constexpr int64_t kWinogradWeightScratchFloats = 36 * (6 * 64 + 16);

struct WinogradPlan {
  int64_t N = 0, C = 0, K = 0;  // C: the reduction channels, K: the output channels
  int64_t H = 0, W = 0, OH = 0, OW = 0, pad_top = 0, pad_left = 0;
  // Floats from one output channel's plane of y to the next: OH * OW, or (with N = 1) more
  // where y is one depth plane of a 3D output (conv_winograd3d.cpp).
  int64_t y_channel_stride = 0;
  int64_t dilation = 1;  // both axes
  // Outputs per tile side m: F(m x m, 3x3) on (m + 2)² points.
  int64_t tile = 4;
  // false: w is (K, C, 3, 3). true: w is (C, K, 3, 3) and each 3x3 is read rotated by 180
  // degrees (backward data: dx = forward of dy with the transposed, rotated weights).
  bool rotated = false;
  // Output tiles: per column and row of one phase (the largest, phase 0), and in all.
  // Tile t is image t / (d² tiles_h tiles_w), then tile row, row phase, column phase, tile
  // column: the phases that read the same input rows are neighbours.
  int64_t tiles_h = 0, tiles_w = 0, tiles = 0;
  // Tiles per block, a multiple of 16 (one AVX-512 lane per tile), at most 64 (forward) or
  // kWinogradWeightBlockTiles (weight gradient).
  int64_t block_tiles = 0;
  // Floats from one point ξ to the next in U, V and M: padded by a cache line so that the 36
  // (16) accesses of one transform do not all map to the same L1 set (4 KiB aliasing).
  int64_t u_stride = 0, v_stride = 0, m_stride = 0;
  // U[ξ]'s strides from one output channel (row) to the next and from one reduction channel
  // (column) to the next: (C, 1); fused, in blocks of 16 columns (the GEMM finds a column's rows
  // at fixed offsets from one pointer), (16, 16) from a block's first column; rotated weights
  // (C, K, 3, 3) are transformed 16 output channels at a time (their filters lie one after
  // another) and stored transposed: (1, K rounded up to 16), fused (1, 16).
  int64_t u_row = 0, u_col = 0;
  // true: every block is shared by the whole team (few tiles or weights too large to stream
  // once per thread); false: each thread takes a contiguous range of tiles with its own V, M.
  bool cooperative = false;
  // Weight gradient, shared blocks: each thread owns a range of M's columns (input channels),
  // transforms their x tiles and every dy tile into its own U, and runs without barriers.
  bool by_columns = false;
  // Weight gradient, shared blocks, one block in all: each work unit's sums M stay in its
  // thread's scratch from the GEMMs to the output transform; the whole M is never written.
  bool unit_sums = false;
  int64_t slots = 0;  // V, M buffers: one per thread, or one shared
  // One block in all (few tiles): each thread transforms the weights of its GEMM panel just
  // before using them, into its own U buffer of kWinogradMaxPanelRows rows, instead of the whole U
  // up front (which for 512 channels is 38 MB written to and read back from DRAM).
  bool fused_weights = false;
  // Private blocks with a small U (kPrivateUBytes in conv_winograd.cpp): each thread transforms
  // the whole U into a buffer of its own instead of half of a shared one, which the other
  // thread then read. Data crossing between the cores is at times far slower on this host
  // (bench/core_probe.cpp: writes to lines the other core read at 2-6 GB/s instead of 33-40); a
  // thread making its own U costs a few percent of its GEMMs.
  bool private_u = false;
  // U buffers: one whole, or one per thread (a panel with fused weights, all of U with
  // private_u); in the weight gradient,
  // one block's dy tiles, shared or per thread as V and M.
  int64_t u_slots = 0;
  size_t u_floats = 0, v_floats = 0, m_floats = 0;
  // Weight gradient only: C and K rounded up to a vector (the rows of V (36, T, c_pad), M (36, K,
  // c_pad) and U (36, T, k_pad)); row strides of U and V (at least k_pad, c_pad); each thread's
  // buffers (a unit's sums, one image's x and dy staged with 16 channels per vector) and all.
  int64_t c_pad = 0, k_pad = 0, u_ld = 0, v_ld = 0;
  size_t thread_scratch_floats = 0, scratch_floats = 0;
  // Weight gradient of a 3x3x3 layer (conv_winograd3d.cpp), else 0: the N images are the
  // depth_out output depth planes of each image of x (N / depth_out, C / 3, depth_in, H, W) and dy
  // (N / depth_out, K, depth_out, OH, OW); virtual channel 3c + kd is input plane
  // od - depth_pad + kd of channel c, zero outside [0, depth_in) (dw (K, C / 3, 3, 3, 3)).
  int64_t depth_out = 0, depth_in = 0, depth_pad = 0;

  int64_t points() const { return (tile + 2) * (tile + 2); }
  size_t workspace_floats() const {
    return u_slots * u_floats + slots * (v_floats + m_floats) + scratch_floats;
  }
};

// The forward or backward-data plan of a 2D geometry g for `threads` threads (weight gradient:
// not this one), as ConvWinograd plans it (conv_winograd.cpp); `whole_weights`: U made whole,
// never per panel (fused_weights false), for the 3D kernel, which reuses it for every depth plane.
WinogradPlan winograd_plan(const ConvGeometry& g, ConvPass pass, int64_t tile, int64_t threads,
                           bool whole_weights = false);

// The weight-gradient plan of a 2D geometry g for `threads` threads (conv_winograd.cpp).
WinogradPlan winograd_weight_plan(const ConvGeometry& g, int64_t tile, int64_t threads);

// A 3D convolution with a 3x3x3 kernel as the 2D plan of one output depth plane of one image,
// C = 3 x the channels of a depth plane (virtual channel kd * channels + c: tap kd of channel c).
// The kernel transforms each input plane once per block of tiles into a ring of `ring` planes of
// V (P, ring * channels, T) and runs the GEMMs of output plane od on its window of three; y's
// channels are plan.y_channel_stride apart. Threads take units of 16 tiles of one image and one
// of `chunks` ranges of output planes.
struct WinogradDepth {
  int64_t N = 0, channels = 0, D = 0, OD = 0, pad_front = 0, chunks = 1, ring = 3;
};

// Runs it: x (N, channels, D, H, W), w the plan's weights (channel kd * channels + c), y (N, K,
// OD, OH, OW). Workspace: plan.workspace_floats(), the plan with one V, M slot per thread.
void winograd3d_conv_avx512(const WinogradPlan& p, const WinogradDepth& depth, const float* x,
                            const float* w, const ConvEpilogue& ep, float* y,
                            float* workspace) noexcept;

// Runs the planned convolution (either tile size); `workspace` holds plan.workspace_floats()
// floats, and the plan was made for omp_get_max_threads() threads.
void winograd_conv_avx512(const WinogradPlan& p, const float* x, const float* w,
                          const ConvEpilogue& ep, float* y, float* workspace) noexcept;

// dw (K, C, 3, 3) = Σ_n corr(x, dy) for the planned forward problem, dy (N, K, OH, OW); same
// workspace and thread contract (conv_winograd_weight_avx512.cpp).
void winograd_weight_avx512(const WinogradPlan& p, const float* x, const float* dy, float* dw,
                            float* workspace) noexcept;

}  // namespace fovea::kernels
