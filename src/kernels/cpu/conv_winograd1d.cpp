#include "kernels/cpu/conv_winograd1d.h"

#include <omp.h>

#include <algorithm>
#include <limits>

#include "kernels/cpu/cpu_features.h"
#include "kernels/rounding.h"

namespace fovea::kernels {
namespace {

using Plan = Winograd1dPlan;

// A cache line between the planes of one point ξ and the next.
constexpr int64_t kLinePad = 16;

// The tiling shared by every pass: the forward problem's rows, tiles and groups.
Plan tiling(const ConvGeometry& g, bool backward_data) {
  Plan p;
  p.N = g.N;
  p.C = backward_data ? g.C_out : g.C_in;
  p.K = backward_data ? g.C_in : g.C_out;
  p.L_in = backward_data ? g.out[2] : g.in[2];
  p.L_out = backward_data ? g.in[2] : g.out[2];
  // Backward data reads dy from 2 - pad_lo before each dx element (the full correlation).
  p.pad = backward_data ? 2 - g.pad_lo[2] : g.pad_lo[2];
  p.rotated = backward_data;
  p.groups = ceil_div(ceil_div(p.L_out, Plan::kTile), Plan::kLanes);
  p.threads = omp_get_max_threads();
  return p;
}

// Blocks per image: the fewest of at most max_groups groups each, or, where the team's units
// (N * blocks) would not split evenly, the next count that does while blocks keep 2+ groups
// (one image of 11 groups on 2 threads: 4 blocks, not 1 + 2 of 3).
int64_t blocks_per_image(const Plan& p, int64_t max_groups) {
  const int64_t fewest = ceil_div(p.groups, max_groups);
  for (int64_t b = fewest; b <= p.groups / 2; ++b)
    if (p.N * b % p.threads == 0) return b;
  return fewest;
}

Plan forward_plan(const ConvGeometry& g, bool backward_data) {
  Plan p = tiling(g, backward_data);
  p.blocks = blocks_per_image(p, Plan::kBlockGroups);
  const int64_t block_groups = ceil_div(p.groups, p.blocks);
  const int64_t columns = block_groups * Plan::kLanes;
  p.u_stride = p.K * p.C + kLinePad;
  p.v_stride = p.C * columns + kLinePad;
  p.m_stride = Plan::kMaxPanelRows * columns + kLinePad;
  p.u_floats = Plan::kPoints * p.u_stride;
  p.v_floats = Plan::kPoints * p.v_stride;
  p.m_floats = Plan::kPoints * p.m_stride;
  return p;
}

Plan weight_plan(const ConvGeometry& g) {
  Plan p = tiling(g, false);
  p.weight = true;
  p.blocks = blocks_per_image(p, Plan::kWeightBlockGroups);
  const int64_t tiles = ceil_div(p.groups, p.blocks) * Plan::kLanes;
  p.c_pad = ceil_div(p.C, Plan::kLanes) * Plan::kLanes;
  p.u_stride = p.K * tiles + kLinePad;
  p.v_stride = tiles * p.c_pad + kLinePad;
  p.m_stride = p.K * p.c_pad + kLinePad;
  p.u_floats = Plan::kPoints * p.u_stride;
  p.v_floats = Plan::kPoints * p.v_stride;
  p.m_floats = Plan::kPoints * p.m_stride;
  p.scratch_floats = Plan::kPoints * Plan::kLanes * Plan::kLanes;
  return p;
}

Plan plan_for(const ConvGeometry& g, ConvPass pass) {
  if (pass == ConvPass::kBackwardWeight) return weight_plan(g);
  return forward_plan(g, pass == ConvPass::kBackwardData);
}

}  // namespace

// Every pass of a 1D (or 1 x W) 3-tap stride-1 undilated convolution without groups; any
// padding (windows are loaded masked to the row) and any channel counts.
bool conv_winograd1d_supports(const ConvGeometry& g, ConvPass) {
  if (!cpu_has_avx512() || g.groups != 1) return false;
  for (int a = 0; a < 2; ++a)
    if (g.in[a] != 1 || g.kernel[a] != 1 || g.pad_lo[a] != 0 || g.pad_hi[a] != 0) return false;
  // The weight transform gathers with 32-bit offsets, up to 45 times the channel count.
  constexpr int64_t kMaxChannels = std::numeric_limits<int32_t>::max() / 64;
  if (g.C_in > kMaxChannels || g.C_out > kMaxChannels) return false;
  return g.kernel[2] == 3 && g.stride[2] == 1 && g.dilation[2] == 1;
}

size_t conv_winograd1d_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  return plan_for(g, pass).workspace_floats();
}

void conv_forward_winograd1d(const ConvGeometry& g, const float* x, const float* w,
                             const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  winograd1d_forward_avx512(plan_for(g, ConvPass::kForward), x, w, ep, y, workspace);
}

void conv_backward_data_winograd1d(const ConvGeometry& g, const float* dy, const float* w,
                                   float* dx, float* workspace) noexcept {
  winograd1d_forward_avx512(plan_for(g, ConvPass::kBackwardData), dy, w, {}, dx, workspace);
}

void conv_backward_weight_winograd1d(const ConvGeometry& g, const float* x, const float* dy,
                                     float* dw, float* workspace) noexcept {
  winograd1d_weight_avx512(plan_for(g, ConvPass::kBackwardWeight), x, dy, dw, workspace);
}

}  // namespace fovea::kernels
