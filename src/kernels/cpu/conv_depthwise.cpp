// The plain (not AVX-512, not AVX2) half of the depthwise kernels: what they support and the
// layout of the plane they read. Kept out of the SIMD files so that nothing here is compiled to
// instructions a CPU without AVX-512 (or AVX2) would fault on before supports() has said no.
#include <omp.h>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/conv_depthwise_plane.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/rounding.h"

namespace fovea::kernels {
namespace {

// Outputs from this size on bypass the cache (half the 32 MiB L3 of the machine we tune on:
// bigger, they would evict the inputs they are computed from anyway).
constexpr int64_t kStreamBytes = int64_t{16} << 20;

// 1D and 2D only: the D axis must be the trivial one (one input, one output, kernel 1).
bool depthwise_shape(const ConvGeometry& g) {
  return g.groups == g.C_in && g.C_out % g.C_in == 0 && g.in[0] == 1 && g.out[0] == 1 &&
         g.kernel[0] == 1 && g.pad_lo[0] == 0 && g.kernel[1] <= kDepthwiseMaxKernel &&
         g.kernel[2] <= kDepthwiseMaxKernel;
}

}  // namespace

bool conv_depthwise_supports(const ConvGeometry& g, ConvPass) {
  return cpu_has_avx512() && depthwise_shape(g);
}

bool conv_depthwise_avx2_supports(const ConvGeometry& g, ConvPass) {
  return cpu_has_avx2_fma() && depthwise_shape(g);
}

DepthwisePlane depthwise_plane(const ConvGeometry& g, ConvPass pass) {
  DepthwisePlane p{};
  p.k_h = g.kernel[1], p.k_w = g.kernel[2];
  p.dil_h = g.dilation[1], p.dil_w = g.dilation[2];
  if (pass == ConvPass::kBackwardData) {
    // dx[i] = sum_k dy[o] · w[k] over o·s = i + pad_lo - k·d: with k = K-1-k', a stride-1
    // correlation of dy upsampled by s, shifted by (K-1)·d - pad_lo, with the flipped kernel.
    p.src_h = g.out[1], p.src_w = g.out[2];
    p.up_h = g.stride[1], p.up_w = g.stride[2];
    p.off_h = (p.k_h - 1) * p.dil_h - g.pad_lo[1];
    p.off_w = (p.k_w - 1) * p.dil_w - g.pad_lo[2];
    p.out_h = g.in[1], p.out_w = g.in[2];
    p.step_h = p.step_w = 1;
    p.flip = true;
  } else {
    p.src_h = g.in[1], p.src_w = g.in[2];
    p.up_h = p.up_w = 1;
    p.off_h = g.pad_lo[1], p.off_w = g.pad_lo[2];
    p.out_h = g.out[1], p.out_w = g.out[2];
    p.step_h = g.stride[1], p.step_w = g.stride[2];
    p.flip = false;
  }
  // Vectors computed, valid or not, by each tiling; ties go to rows (fewer partial vectors).
  const int64_t vectors_w = ceil_div(p.out_w, kDepthwiseLanes);
  const int64_t row_tiles = round_up(p.out_h, kDepthwiseTile) * vectors_w;
  const int64_t col_tiles = p.out_h * round_up(vectors_w, kDepthwiseTile);
  p.by_rows = row_tiles <= col_tiles;
  const int64_t tile_w = p.by_rows ? 1 : kDepthwiseTile;
  // Rows for whole kTile-row tiles even when tiling by columns: backward_weight reads P a few
  // rows at a time whatever the tiling.
  p.rows = (round_up(p.out_h, kDepthwiseTile) - 1) * p.step_h + (p.k_h - 1) * p.dil_h + 1;
  // Columns 16 at a time, so that the phase split works in whole vectors and a row's vectors
  // start 64-byte aligned when P does; a tap past column 0 reads the next vector too.
  p.cols = round_up(round_up(p.out_w, kDepthwiseLanes * tile_w) + (p.k_w - 1) * p.dil_w / p.step_w,
                    kDepthwiseLanes);
  const int64_t out_floats = pass == ConvPass::kForward        ? g.N * g.C_out * g.out_pixels()
                             : pass == ConvPass::kBackwardData ? g.N * g.C_in * g.in_pixels()
                                                               : 0;
  p.stream_out = out_floats * static_cast<int64_t>(sizeof(float)) >= kStreamBytes;
  return p;
}

size_t conv_depthwise_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  int64_t floats = depthwise_plane(g, pass).thread_floats() * omp_get_max_threads();
  if (pass == ConvPass::kBackwardWeight) floats += g.C_out * g.kernel_pixels() * kDepthwiseLanes;
  return static_cast<size_t>(floats);
}

size_t conv_depthwise_avx2_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  return static_cast<size_t>(depthwise_plane(g, pass).floats() * omp_get_max_threads());
}

}  // namespace fovea::kernels
