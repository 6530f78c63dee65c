#include "kernels/cpu/conv_winograd.h"

#include <omp.h>

#include <algorithm>
#include <limits>

#include "kernels/cpu/conv_winograd3d.h"
#include "kernels/cpu/conv_winograd_plan.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/rounding.h"

namespace fovea::kernels {
namespace {

// Below this many channels on either side the transforms outweigh the saved multiplies:
// measured (one thread, 56x56) Winograd beats im2col_gemm from 4 channels in and out on, but
// loses to it with 1-3 input channels (3 -> 64: 0.057 vs 0.049 ms) and to direct_avx512 with
// 1-3 output channels.
constexpr int64_t kMinChannels = 4;
// Weights larger than this are streamed from DRAM/L3 once per block: share blocks among the
// threads, splitting the GEMMs over output channels, so each streams once for the team.
constexpr size_t kSharedWeightsBytes = 16 << 20;
// The weight gradient's M (P, K, C) up to this size is kept once per thread (ResNet layers
// 1 and 2: F(4x4) 0.6 and 2.4 MB, F(2x2) 1 MB at layer 2); larger ones (layers 3 and 4: 9.4 and
// 38 MB, F(2x2) 4.2 and 17 MB) are shared.
constexpr size_t kPrivateWeightSumBytes = 4 << 20;
// A weight gradient's U (dy tiles) up to this size is made once per thread when that spares
// the barriers (WinogradPlan::by_columns): ResNet layer 2 at batch 1, 1.2 MB (F(4x4)), not
// layer 4 at batch 16, 4.7 MB.
constexpr size_t kColumnsUBytes = 2 << 20;
// Private blocks with U up to this size make it per thread (WinogradPlan::private_u): ResNet
// layer 1's 0.6 MB (64 channels, F(4x4)), not layer 2's 2.4 MB at batch 16. At batch 1 on 2
// threads, layer 1 alone: 0.19-0.21 ms either way with the cores passing data quickly, 0.24-0.25
// instead of 0.30 when they pass it slowly; resnet18 0.98x its time then, unchanged otherwise.
constexpr size_t kPrivateUBytes = 1 << 20;

bool in_range(int64_t v, int64_t lo, int64_t hi) {
  return v >= lo && v <= hi;
}

// The grid of m x m tiles (m = p.tile) of the planned output (OH, OW) with dilation d.
void tile(WinogradPlan& p, int64_t d) {
  p.dilation = d;
  p.tiles_h = ((p.OH + d - 1) / d + p.tile - 1) / p.tile;
  p.tiles_w = ((p.OW + d - 1) / d + p.tile - 1) / p.tile;
  p.tiles = p.N * d * d * p.tiles_h * p.tiles_w;
}

}  // namespace

WinogradPlan winograd_plan(const ConvGeometry& g, ConvPass pass, int64_t tile_size, int64_t threads,
                           bool whole_weights) {
  WinogradPlan p;
  p.tile = tile_size;
  const bool bwd = pass == ConvPass::kBackwardData;
  p.N = g.N;
  p.C = bwd ? g.C_out : g.C_in;
  p.K = bwd ? g.C_in : g.C_out;
  p.H = bwd ? g.out[1] : g.in[1];
  p.W = bwd ? g.out[2] : g.in[2];
  p.OH = bwd ? g.in[1] : g.out[1];
  p.OW = bwd ? g.in[2] : g.out[2];
  p.y_channel_stride = p.OH * p.OW;
  // Backward data reads dy with the full-correlation padding 2d - pad ((kernel - 1) d - pad).
  const int64_t d = g.dilation[1];
  p.pad_top = bwd ? 2 * d - g.pad_lo[1] : g.pad_lo[1];
  p.pad_left = bwd ? 2 * d - g.pad_lo[2] : g.pad_lo[2];
  p.rotated = bwd;
  tile(p, d);
  const int64_t groups = (p.tiles + 15) / 16;
  const size_t u_bytes = p.points() * sizeof(float) * p.C * p.K;
  const bool one_block = p.tiles <= 64;
  p.cooperative =
      threads > 1 && (groups < 2 * threads || u_bytes > kSharedWeightsBytes || one_block);
  // 64 tiles (4 vectors) keep the GEMM micro-kernel's loads few per FMA; V[ξ] of one block
  // (C x 64) still fits L2, which is what the GEMM reuses.
  p.block_tiles = std::min<int64_t>(64, groups * 16);
  p.slots = p.cooperative ? 1 : threads;
  constexpr int64_t kLinePad = 16;
  p.fused_weights = one_block && !whole_weights;
  // 3x3x3 layers (whole_weights) share one U: their driver lays out the workspace so.
  p.private_u = !whole_weights && !p.cooperative && threads > 1 && u_bytes <= kPrivateUBytes;
  p.u_slots = p.fused_weights || p.private_u ? threads : 1;
  // Fused: one panel's rows (at most 16), in blocks of 16 columns.
  const int64_t u_rows = p.fused_weights ? kWinogradMaxPanelRows
                         : p.rotated     ? round_up(p.K, 16)
                                         : p.K;
  const int64_t u_cols = p.fused_weights ? round_up(p.C, 16) : p.C;
  p.u_row = p.rotated ? 1 : (p.fused_weights ? 16 : p.C);
  p.u_col = p.rotated ? u_rows : (p.fused_weights ? 16 : 1);
  p.u_stride = u_rows * u_cols + kLinePad;
  p.v_stride = p.C * p.block_tiles + kLinePad;
  p.m_stride = p.K * p.block_tiles + kLinePad;
  p.u_floats = p.points() * p.u_stride;
  p.v_floats = p.points() * p.v_stride;
  p.m_floats = p.points() * p.m_stride;
  return p;
}

// The weight gradient: the forward's tiling of x and dy, and M (P, K, C) summed over blocks
// of tiles.
WinogradPlan winograd_weight_plan(const ConvGeometry& g, int64_t tile_size, int64_t threads) {
  WinogradPlan p;
  p.tile = tile_size;
  p.N = g.N;
  p.C = g.C_in;
  p.K = g.C_out;
  p.H = g.in[1];
  p.W = g.in[2];
  p.OH = g.out[1];
  p.OW = g.out[2];
  p.pad_top = g.pad_lo[1];
  p.pad_left = g.pad_lo[2];
  tile(p, g.dilation[1]);
  // Equal blocks: every pass over M (read and written once per block) sums as many tiles.
  const int64_t blocks = (p.tiles + kWinogradWeightBlockTiles - 1) / kWinogradWeightBlockTiles;
  p.block_tiles = round_up((p.tiles + blocks - 1) / blocks, 16);
  p.c_pad = round_up(p.C, 16);
  p.k_pad = round_up(p.K, 16);
  constexpr int64_t kLinePad = 16;
  p.m_stride = p.K * p.c_pad + kLinePad;
  // Blocks of its own per thread (no barriers, no idling at the end of a block) where there
  // are tiles for all and M is small enough to keep one per thread; shared blocks otherwise.
  // Summing the private Ms costs about as much as 8 tiles' GEMMs, hence 4 groups per thread
  // (ResNet layer 2 at batch 1, 49 tiles: 0.61-0.67 ms shared, 0.79 private).
  const int64_t groups = (p.tiles + 15) / 16;
  const size_t m_bytes = p.points() * sizeof(float) * p.m_stride;
  p.cooperative = threads == 1 || groups < 4 * threads || m_bytes > kPrivateWeightSumBytes;
  // One shared block: M (16.8 MB for F(2x2) at ResNet layer 4) only per work unit, in cache.
  p.unit_sums = p.cooperative && blocks == 1;
  // Rows of U and V a cache line longer where they would be a multiple of 256 bytes: a GEMM
  // walks down 6 floats of U's rows and 64 of V's for each tile, which at such strides map to
  // a few L1 sets (at 1 KB, 4 of the 64) and evict each other.
  p.u_ld = p.k_pad % 64 == 0 ? p.k_pad + kLinePad : p.k_pad;
  p.v_ld = p.c_pad % 64 == 0 ? p.c_pad + kLinePad : p.c_pad;
  p.u_stride = p.block_tiles * p.u_ld + kLinePad;
  p.v_stride = p.block_tiles * p.v_ld + kLinePad;
  p.u_floats = p.points() * p.u_stride;
  p.v_floats = p.points() * p.v_stride;
  p.m_floats = p.unit_sums ? 0 : p.points() * p.m_stride;
  // One shared block with at least four 16-channel groups per thread and a U that fits L2 is
  // split by M's columns: no barriers, for every dy tile transformed on each thread. Per-thread
  // work (one thread timing half the team's share) against shared blocks: 5-10% more at ResNet
  // layers 2 and 3 (batch 1, F(4x4)), 10-14% more with U or blocks larger (batch 16), but on
  // the shared, loaded machine 2 threads took 0.38 ms instead of 0.49-0.55 (layer 2) and
  // 0.42-0.46 instead of 0.60 (layer 3).
  p.by_columns = p.unit_sums && threads > 1 && p.c_pad / 16 >= 4 * threads &&
                 p.u_floats * sizeof(float) <= kColumnsUBytes;
  p.slots = p.cooperative ? 1 : threads;
  p.u_slots = p.by_columns ? threads : p.slots;
  // Per thread: a unit's sums, then one image's x and dy staged, their planes' pixels rounded
  // up to a vector (whole transposed vectors are stored).
  p.thread_scratch_floats = kWinogradWeightScratchFloats + p.c_pad * round_up(p.H * p.W, 16) +
                            p.k_pad * round_up(p.OH * p.OW, 16);
  p.scratch_floats = threads * p.thread_scratch_floats;
  return p;
}

namespace {

WinogradPlan plan_for(const ConvGeometry& g, ConvPass pass, int64_t tile_size) {
  if (pass == ConvPass::kBackwardWeight)
    return winograd_weight_plan(g, tile_size, omp_get_max_threads());
  return winograd_plan(g, pass, tile_size, omp_get_max_threads());
}

// The same shapes for every pass and both tile sizes: backward data and the weight gradient
// tile like the forward, dilated layers too (backward data of a dilated convolution is again
// one, with the same d).
bool shape_supported(const ConvGeometry& g) {
  if (!cpu_has_avx512()) return false;
  // 2D: the depth axis is a single plane, read once.
  if (g.in[0] != 1 || g.kernel[0] != 1 || g.pad_lo[0] != 0 || g.pad_hi[0] != 0) return false;
  if (g.groups != 1 || g.C_in < kMinChannels || g.C_out < kMinChannels) return false;
  const int64_t d = g.dilation[1];
  if (d < 1 || g.dilation[2] != d) return false;
  for (int a = 1; a < 3; ++a) {
    if (g.kernel[a] != 3 || g.stride[a] != 1) return false;
    // 0..2d per side maps backward data to a forward convolution with padding 0..2d too.
    if (!in_range(g.pad_lo[a], 0, 2 * d) || !in_range(g.pad_hi[a], 0, 2 * d)) return false;
  }
  // The kernel indexes x and y with 32-bit gather/scatter offsets.
  constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max() / 2;
  return g.N * g.C_in * g.in_pixels() < kMaxIndex && g.N * g.C_out * g.out_pixels() < kMaxIndex;
}

}  // namespace

template <int kTile>
bool ConvWinograd<kTile>::supports(const ConvGeometry& g, ConvPass pass) {
  if (winograd3d_geometry(g)) return winograd3d_supports(g, pass);
  return shape_supported(g);
}

template <int kTile>
size_t ConvWinograd<kTile>::workspace_floats(const ConvGeometry& g, ConvPass pass) {
  if (winograd3d_geometry(g)) return winograd3d_workspace_floats(g, pass, kTile);
  return plan_for(g, pass, kTile).workspace_floats();
}

template <int kTile>
void ConvWinograd<kTile>::forward(const ConvGeometry& g, const float* x, const float* w,
                                  const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  if (winograd3d_geometry(g)) return winograd3d_forward(g, kTile, x, w, ep, y, workspace);
  winograd_conv_avx512(plan_for(g, ConvPass::kForward, kTile), x, w, ep, y, workspace);
}

template <int kTile>
void ConvWinograd<kTile>::backward_data(const ConvGeometry& g, const float* dy, const float* w,
                                        float* dx, float* workspace) noexcept {
  if (winograd3d_geometry(g)) return winograd3d_backward_data(g, kTile, dy, w, dx, workspace);
  winograd_conv_avx512(plan_for(g, ConvPass::kBackwardData, kTile), dy, w, {}, dx, workspace);
}

template <int kTile>
void ConvWinograd<kTile>::backward_weight(const ConvGeometry& g, const float* x, const float* dy,
                                          float* dw, float* workspace) noexcept {
  if (winograd3d_geometry(g)) return winograd3d_backward_weight(g, kTile, x, dy, dw, workspace);
  winograd_weight_avx512(plan_for(g, ConvPass::kBackwardWeight, kTile), x, dy, dw, workspace);
}

template struct ConvWinograd<4>;
template struct ConvWinograd<2>;

}  // namespace fovea::kernels
