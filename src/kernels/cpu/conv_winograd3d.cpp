// 3D convolutions with a 3x3x3 kernel on the Winograd rows' 2D machinery.
//
// A weight (K, C, 3, 3, 3) is a 2D weight of 3C virtual input channels, one per (kd, c): output
// depth plane od is the 2D convolution of input planes od - pad_front + kd (zero outside
// [0, D)) with them. The kernel (winograd3d_conv_avx512) transforms each input plane of a block
// of tiles once and keeps the last ones in a ring, so output plane od's GEMMs read the 3C
// transformed planes it needs as consecutive rows of V; the weights are copied here with the
// virtual channels in that order, kd * C + c. (Gathering the 3C planes of each output plane and
// running the 2D kernel on them transformed each input plane three times: the suite's layer,
// F(4x4), one thread, forward 6.7-7.0 ms and backward data 7.7-8.4 ms, here 4.4-4.9 and 4.7-5.2.)
//
// Backward data is the forward of dy with the weights transposed and flipped in all three axes
// and depth padding 2 - pad_front: the 2D kernel's rotated weights flip (kh, kw) and swap the
// channels; the copy flips depth, virtual channel kd' * K + k holding w[k][c][2 - kd'].
#include "kernels/cpu/conv_winograd3d.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/conv_winograd_plan.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/rounding.h"

namespace fovea::kernels {
namespace {

// Units (image, chunk of output planes, 16 tiles) per thread below which the output planes are
// cut into chunks, each of which transforms two input planes more.
constexpr int64_t kUnitsPerThread = 4;
// Input planes kept transformed: a full ring moves its last two planes to its front.
constexpr int64_t kMaxRing = 8;

struct Layout {
  WinogradPlan plan;
  WinogradDepth depth;
  size_t weight_floats = 0;
  size_t total() const { return weight_floats + plan.workspace_floats(); }
};

// The 2D geometry of `images` output depth planes: 3C virtual channels on the pass's input side
// (backward data: C_out).
ConvGeometry plane_geometry(const ConvGeometry& g, ConvPass pass, int64_t images) {
  ConvGeometry plane = g;
  plane.N = images;
  plane.spatial_dims = 2;
  (pass == ConvPass::kBackwardData ? plane.C_out : plane.C_in) *= 3;
  plane.in[0] = plane.out[0] = plane.kernel[0] = 1;
  plane.pad_lo[0] = plane.pad_hi[0] = 0;
  return plane;
}

// The weight gradient: the 2D one over the N * OD output depth planes (virtual channel 3c + kd,
// dw's own layout), which stages their planes from x and dy itself.
WinogradPlan weight_plan(const ConvGeometry& g, int64_t tile) {
  WinogradPlan p = winograd_weight_plan(
      plane_geometry(g, ConvPass::kBackwardWeight, g.N * g.out[0]), tile, omp_get_max_threads());
  p.depth_out = g.out[0];
  p.depth_in = g.in[0];
  p.depth_pad = g.pad_lo[0];
  return p;
}

Layout layout(const ConvGeometry& g, ConvPass pass, int64_t tile) {
  const bool bwd = pass == ConvPass::kBackwardData;
  const Dims3 &in = bwd ? g.out : g.in, &out = bwd ? g.in : g.out;
  const int64_t threads = omp_get_max_threads();
  Layout l;
  WinogradPlan& p = l.plan;
  // One output depth plane of one image.
  p = winograd_plan(plane_geometry(g, pass, 1), pass, tile, 1, true);
  p.y_channel_stride = out[0] * p.OH * p.OW;
  WinogradDepth& d = l.depth;
  d.N = g.N;
  d.channels = bwd ? g.C_out : g.C_in;
  d.D = in[0];
  d.OD = out[0];
  d.pad_front = bwd ? 2 - g.pad_lo[0] : g.pad_lo[0];
  const int64_t groups = (p.tiles + 15) / 16;
  while (threads > 1 && d.N * groups * d.chunks < kUnitsPerThread * threads && d.chunks < d.OD)
    ++d.chunks;
  d.ring = std::min(ceil_div(d.OD, d.chunks) + 2, kMaxRing);
  // Each thread its own ring V and sums M.
  p.slots = threads;
  p.v_stride = d.ring * d.channels * p.block_tiles + 16;
  p.v_floats = p.points() * p.v_stride;
  l.weight_floats = round_up(g.C_out * g.C_in * 27, 16);
  return l;
}

// w (K, C, 3, 3, 3) with its virtual channels in the kernel's order: forward (K, 3, C, 3, 3),
// backward data (3, K, C, 3, 3) flipped in depth.
void order_weights(const ConvGeometry& g, ConvPass pass, const float* w, float* dst) {
  const bool bwd = pass == ConvPass::kBackwardData;
  const int64_t K = g.C_out, C = g.C_in;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t kd = 0; kd < 3; ++kd)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t to = bwd ? (kd * K + k) * C + c : (k * 3 + kd) * C + c;
        std::memcpy(dst + to * 9, w + ((k * C + c) * 3 + (bwd ? 2 - kd : kd)) * 9,
                    9 * sizeof(float));
      }
}

void run(const ConvGeometry& g, ConvPass pass, int64_t tile, const float* x, const float* w,
         const ConvEpilogue& ep, float* y, float* workspace) {
  const Layout l = layout(g, pass, tile);
  order_weights(g, pass, w, workspace);
  winograd3d_conv_avx512(l.plan, l.depth, x, workspace, ep, y, workspace + l.weight_floats);
}

}  // namespace

bool winograd3d_geometry(const ConvGeometry& g) {
  return g.kernel[0] != 1;
}

bool winograd3d_supports(const ConvGeometry& g, ConvPass pass) {
  if (!cpu_has_avx512() || g.groups != 1) return false;
  // The weight gradient transforms each x plane three times and sums over every tile: with
  // fewer than 4 channels on a side it loses to direct_avx512 (1 thread, 2 images of 16x56x56:
  // 1 -> 16 1.35 vs 0.56 ms, 16 -> 1 2.2 vs 1.1, 3 -> 16 1.4 vs 1.4; 16 -> 32 5.4 vs 11.7).
  if (pass == ConvPass::kBackwardWeight && std::min(g.C_in, g.C_out) < 4) return false;
  for (int a = 0; a < 3; ++a) {
    if (g.kernel[a] != 3 || g.stride[a] != 1 || g.dilation[a] != 1) return false;
    // 0..2 per side: backward data's padding 2 - pad is then 0..2 too.
    if (g.pad_lo[a] < 0 || g.pad_lo[a] > 2 || g.pad_hi[a] < 0 || g.pad_hi[a] > 2) return false;
  }
  return true;
}

size_t winograd3d_workspace_floats(const ConvGeometry& g, ConvPass pass, int64_t tile) {
  if (!winograd3d_supports(g, pass)) return 0;
  if (pass == ConvPass::kBackwardWeight) return weight_plan(g, tile).workspace_floats();
  return layout(g, pass, tile).total();
}

void winograd3d_forward(const ConvGeometry& g, int64_t tile, const float* x, const float* w,
                        const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  run(g, ConvPass::kForward, tile, x, w, ep, y, workspace);
}

void winograd3d_backward_data(const ConvGeometry& g, int64_t tile, const float* dy, const float* w,
                              float* dx, float* workspace) noexcept {
  run(g, ConvPass::kBackwardData, tile, dy, w, {}, dx, workspace);
}

void winograd3d_backward_weight(const ConvGeometry& g, int64_t tile, const float* x,
                                const float* dy, float* dw, float* workspace) noexcept {
  winograd_weight_avx512(weight_plan(g, tile), x, dy, dw, workspace);
}

}  // namespace fovea::kernels
