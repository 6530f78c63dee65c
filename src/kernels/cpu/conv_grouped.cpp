// The plain (not AVX-512) half of the grouped kernels: what they support and the plan they
// follow. Kept out of the AVX-512 file so that nothing here is compiled to instructions a CPU
// without AVX-512 would fault on before supports() has said no.
#include <omp.h>

#include "kernels/cpu/conv_grouped.h"
#include "kernels/cpu/conv_grouped_plan.h"
#include "kernels/cpu/cpu_features.h"

namespace fovea::kernels {

bool conv_grouped_supports(const ConvGeometry& g, ConvPass) {
  // 1D and 2D (the D axis trivial), stride 1, outputs as wide as the inputs: then output
  // position q and source element q + off[k] share the row pitch W.
  return cpu_has_avx512() && g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 &&
         g.pad_lo[0] == 0 && g.stride[1] == 1 && g.stride[2] == 1 && g.out[2] == g.in[2] &&
         g.kernel_pixels() <= kGroupedMaxTaps && g.C_in_per_group() <= kGroupedMaxChannels &&
         g.C_out_per_group() <= kGroupedMaxChannels;
}

GroupedPlan grouped_plan(const ConvGeometry& g, ConvPass pass) {
  GroupedPlan p;
  p.N = g.N;
  p.groups = g.groups;
  p.width = g.in[2];
  p.K = static_cast<int>(g.kernel_pixels());
  const int64_t cig = g.C_in_per_group(), cog = g.C_out_per_group(), K = p.K;
  const bool data = pass == ConvPass::kBackwardData;
  // Backward data is the forward of dy with the taps reversed: dx[i] = sum_k dy[i + lo -
  // k·d]·w[k], i.e. with k = K-1-k', source shift k'·d - ((K-1)·d - lo).
  p.src_ch = data ? cog : cig;
  p.dst_ch = data ? cig : cog;
  p.src_h = data ? g.out[1] : g.in[1];
  p.dst_h = data ? g.in[1] : g.out[1];
  p.src_pixels = p.src_h * p.width;
  p.dst_pixels = p.dst_h * p.width;
  p.vectors = (p.dst_pixels + kGroupedLanes - 1) / kGroupedLanes;
  const int64_t lo_h = data ? (g.kernel[1] - 1) * g.dilation[1] - g.pad_lo[1] : g.pad_lo[1];
  const int64_t lo_w = data ? (g.kernel[2] - 1) * g.dilation[2] - g.pad_lo[2] : g.pad_lo[2];
  for (int64_t kh = 0, k = 0; kh < g.kernel[1]; ++kh)
    for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++k) {
      p.dh[k] = kh * g.dilation[1] - lo_h;
      p.dw[k] = kw * g.dilation[2] - lo_w;
      p.off[k] = p.dh[k] * p.width + p.dw[k];
    }
  // Within a group's weights (cog, cig, K): forward weight (oc, ic, k), backward data's
  // (ic, oc, k') = w[oc, ic, K-1-k'].
  p.dst_stride = data ? K : cig * K;
  p.src_stride = data ? cig * K : K;
  p.tap0 = data ? K - 1 : 0;
  p.tap_step = data ? -1 : 1;
  return p;
}

size_t conv_grouped_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  const GroupedPlan p = grouped_plan(g, pass);
  // The masks, then each thread's part (packed weights, or the weight gradient's sums and
  // copies), the first aligned to a cache line (the workspace itself may not be: 16 floats of
  // room).
  const int64_t part =
      pass == ConvPass::kBackwardWeight ? p.weight_thread_floats() : p.packed_floats();
  return static_cast<size_t>(p.thread_offset() + omp_get_max_threads() * part);
}

}  // namespace fovea::kernels
