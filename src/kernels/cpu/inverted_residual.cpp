// The portable half of the fused inverted-residual block (inverted_residual.h): which shapes it
// takes and how it splits them; the kernel itself is in inverted_residual_avx512.cpp.
#include "kernels/cpu/inverted_residual.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/cpu_features.h"
#include "kernels/rounding.h"

namespace fovea::kernels {
namespace {

// Bytes of E and D per thread a band may fill: half of Zen 5's 1 MiB L2, so x's rows, the
// weights and y's stores still fit beside them.
constexpr int64_t kBandBytes = 512 * 1024;

// Output pixels a thread's range of rows must hold for the split by rows; smaller parts split
// the channels instead. MobileNet-v2's 14 x 14 blocks (98 pixels a thread) go by rows: split by
// channels, each thread's projection reads the depthwise outputs the other core wrote, and
// while this host's cores pass data slowly (bench/core_probe.cpp) the whole network took 2.45
// ms instead of 2.23 (2 threads, alternating runs, 7 pairs), against 1.64 and 1.65 when they
// pass it quickly. Its 7 x 7 blocks (24 pixels) stay split by channels: by rows, 1% slower.
constexpr int64_t kMinPartPixels = 64;

}  // namespace

int64_t InvertedResidualPlan::thread_floats(int64_t C_mid) const {
  return C_mid * (lde + ldd);
}

int64_t InvertedResidualPlan::workspace_floats(int64_t C_mid, int threads) const {
  return thread_floats(C_mid) * (by_channels ? 1 : threads);
}

InvertedResidualPlan inverted_residual_plan(const InvertedResidualGeometry& g, int threads) {
  InvertedResidualPlan p;
  const int64_t oh = g.out_h(), ow = g.out_w();
  // E rows a band of b output rows reads: (b - 1) * stride + 3.
  auto e_rows = [&](int64_t b) { return g.expand ? std::min(g.H, (b - 1) * g.stride + 3) : 0; };
  auto bytes = [&](int64_t b) { return g.C_mid * 4 * (e_rows(b) * g.W + b * ow); };
  // Images split into `threads` parts unless they divide evenly among the threads (3 images on
  // 2 threads: 6 parts, 3 each, not 2 images against 1).
  p.parts = std::min<int64_t>(g.N % threads == 0 ? 1 : threads, oh);
  // A forced band (tests) keeps the split by rows.
  p.by_channels = p.parts > 1 && g.max_band == 0 && oh * ow / p.parts < kMinPartPixels;
  if (p.by_channels) p.band = oh, p.parts = 1;
  const int64_t most = g.max_band > 0 ? std::min(g.max_band, oh) : oh;
  while (p.band < most && bytes(p.band + 1) <= kBandBytes) ++p.band;
  // Below kMinPartPixels output pixels, more than one part means the split by channels, and
  // one band holds the plane whenever bytes(oh) fits: whole planes for any thread count.
  p.pixel_dots = oh * ow < kMinPartPixels && g.max_band == 0 && bytes(oh) <= kBandBytes;
  p.e_rows = e_rows(p.band);
  p.lde = round_up(p.e_rows * g.W, 16);
  p.ldd = round_up(p.band * ow, 16);
  return p;
}

bool inverted_residual_supports(const InvertedResidualGeometry& g) {
  return cpu_has_avx512() && (g.stride == 1 || g.stride == 2) && g.N >= 1 && g.C_in >= 1 &&
         g.C_mid >= 1 && g.C_out >= 1 && g.H >= 1 && g.W >= 1 && (g.expand || g.C_mid == g.C_in) &&
         (!g.residual || (g.stride == 1 && g.C_in == g.C_out)) &&
         g.out_w() <= kInvertedResidualMaxWidth;
}

size_t inverted_residual_workspace_floats(const InvertedResidualGeometry& g) {
  const int threads = omp_get_max_threads();
  return static_cast<size_t>(inverted_residual_plan(g, threads).workspace_floats(g.C_mid, threads));
}

}  // namespace fovea::kernels
