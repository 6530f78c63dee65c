#include "kernels/cpu/conv_direct_plan.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/rounding.h"

#include <omp.h>

#include <algorithm>

namespace fovea::kernels {
namespace {

// The padded chunk of images is written once and then read by every output-channel block:
// it should stay in L2 (measured: 2.3 MB chunks make 7x7 layers a third slower). Backward
// weight chunks hold at least 1024 virtual outputs though, whose runs amortise the horizontal
// sums: on 7x7 planes that halves its time.
constexpr int64_t kChunkFloats = int64_t{1} << 17;
constexpr int64_t kMinWeightChunkOutputs = 1024;
// The forward with channels in the lanes packs the weights once per call, which pays from
// this many outputs per channel. Strided planes larger than kMaxLanePlane take the position
// kernel (see fwd_lanes), except on AMD with whole images per thread.
constexpr int64_t kMinLaneOutputs = 96;
// The AVX-512 forward from this many on a CPU that halves 512-bit FMAs (cpu_halves_avx512):
// there the position kernel's idle lanes on 7x7 planes (49 of 64 busy) cost more than the
// packing. ResNet-18 layer 4 at batch 1 on a Zen 4, 2 threads, 12 alternating runs, min / median:
// 3x3 forward 1.06 / 1.10 ms against 1.32 / 1.32, stride-2 forward 0.564 / 0.572 against 0.688 /
// 0.693 (one thread 2.45 against 2.64 and 1.14 against 1.35 ms, min). The AVX2 kernels keep 96:
// 49 of their 56 lanes are busy, and their lanes forward ran those rows 1.15x and 1.36x slower.
constexpr int64_t kMinLaneOutputsHalfRate = 48;
constexpr int64_t kMaxLanePlane = 196;
// Input channels per backward-weight work item with channels in the lanes: each pads them, for
// a chunk of images, into its thread's copy (32 x 27 KB on ResNet-18 layer 2 on 2 threads),
// and each tile's dy^T rows serve them all from L2.
constexpr int64_t kWeightLaneIcs = 64;
// Backward weight with channels in the lanes on at most kWeightLaneIcs input channels: the
// images in up to this many parts, each transposing its own chunks' dy (backward_weight_lanes).
// 2 threads on the Zen 5, 6 alternating runs, tenth percentile / median against one part (the
// whole dy^T transposed first): ResNet-18 layer 2's stride-2 layer at batch 16 4.00 / 4.29 ms
// against 4.08 / 4.67, layer 1 7.59 / 7.69 against 7.71 / 8.54, MobileNet-v2's 24 -> 144 1x1
// 1.19 / 1.27 against 2.52 / 3.59, the 4x4/2 transposed layer 7.65 / 7.93 against 8.16 / 8.89;
// the medians gain most where the host's writes slow down (7 GB/s instead of 33 in
// bench/core_probe), as the shared dy^T goes out to memory and back. Two parts measured the
// same as four; with more than 64 input channels (every channel per part, one part per
// thread), layers 3 and 4 ran 4-12% slower: dy is smaller there beside their sums.
constexpr int64_t kWeightImageParts = 4;
// Backward data reads its weights in place up to this many virtual outputs (direct_plan).
constexpr int64_t kInPlaceWeightOutputs = 256;

// DirectPlan::spans and span: padded position (jd, jh, jw) holds input (jd, jh, jw) - pad_lo
// where that lies inside the input. Without stride and with nothing cropped, the positions
// that hold inputs, in order, hold consecutive inputs, so a span's come from one run of at most
// 16: a load of 16 floats (moved back from the channel's end where need be) and a permute.
void plan_spans(DirectPlan& p) {
  const int64_t in_pixels = p.in_pixels();
  bool whole = p.phases == 1 && in_pixels >= 16 && p.plane <= 16 * kDirectMaxSpans;
  for (int a = 0; a < 3; ++a) whole = whole && p.pad_lo[a] >= 0 && p.q[a] >= p.pad_lo[a] + p.in[a];
  if (!whole) return;
  p.spans = static_cast<int>(p.plane / 16);
  // Position i = (jd * Hq + jh) * Wq + jw, walked in order without divisions.
  int64_t jd = 0, jh = 0, jw = 0;
  for (int s = 0; s < p.spans; ++s) {
    DirectSpan& span = p.span[s];
    int64_t at[16];
    int first = -1;
    for (int l = 0; l < 16; ++l) {
      const int64_t d = jd - p.pad_lo[0], h = jh - p.pad_lo[1], w = jw - p.pad_lo[2];
      const bool inside =
          jd < p.q[0] && d >= 0 && d < p.in[0] && h >= 0 && h < p.in[1] && w >= 0 && w < p.in[2];
      at[l] = inside ? (d * p.in[1] + h) * p.in[2] + w : -1;
      if (inside && first < 0) first = l;
      if (++jw == p.q[2]) {
        jw = 0;
        if (++jh == p.q[1]) jh = 0, ++jd;
      }
    }
    span.src = first < 0 ? 0 : std::min(at[first], in_pixels - 16);
    span.keep = 0;
    for (int l = 0; l < 16; ++l) {
      span.idx[l] = at[l] < 0 ? 0 : static_cast<int32_t>(at[l] - span.src);
      if (at[l] >= 0) span.keep = static_cast<uint16_t>(span.keep | 1u << l);
    }
  }
}

}  // namespace

bool direct_supports(const ConvGeometry& g, ConvPass pass) {
  if (g.kernel_pixels() > kDirectMaxTaps) return false;
  if (pass == ConvPass::kBackwardData)
    return g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
  return true;
}

size_t direct_workspace_floats(const ConvGeometry& g, ConvPass pass, int vector_lanes) {
  const DirectPlan p = direct_plan(g, pass, vector_lanes);
  int64_t floats = p.x_all_floats();
  if (p.fwd_lanes || p.transpose_weights) floats += p.C_out * p.cig * p.K;
  if (pass == ConvPass::kBackwardWeight) floats += p.dy_floats();
  if (p.weight_lanes) floats += p.dwt_all_floats();
  return static_cast<size_t>(floats);
}

DirectPlan direct_plan(const ConvGeometry& geometry, ConvPass pass, int vector_lanes) {
  ConvGeometry g = geometry;
  if (pass == ConvPass::kBackwardData) {
    // dx[i] = sum_k dy[i + pad_lo - k*dil] * w[k] = sum_k' dy[i - lo' + k'*dil] * w[K-1-k']
    // with lo' = (K-1)*dil - pad_lo: a forward convolution of dy, which may start inside dy
    // (lo' < 0) and reads zeros past its end.
    std::swap(g.C_in, g.C_out);
    std::swap(g.in, g.out);
    for (int a = 0; a < 3; ++a)
      g.pad_lo[a] = (geometry.kernel[a] - 1) * geometry.dilation[a] - geometry.pad_lo[a];
  }
  DirectPlan p;
  p.N = g.N;
  p.C_in = g.C_in;
  p.C_out = g.C_out;
  p.groups = g.groups;
  p.cig = g.C_in_per_group();
  p.cog = g.C_out_per_group();
  p.in = g.in;
  p.out = g.out;
  p.kernel = g.kernel;
  p.stride = g.stride;
  p.dilation = g.dilation;
  p.pad_lo = g.pad_lo;
  for (int a = 0; a < 3; ++a) {
    // The padded extent the outputs read; trailing inputs past it (pad_hi < 0) go unread.
    const int64_t span = (g.out[a] - 1) * g.stride[a] + (g.kernel[a] - 1) * g.dilation[a] + 1;
    p.q[a] = ceil_div(span, g.stride[a]);
  }
  p.phases = g.stride[0] * g.stride[1] * g.stride[2];
  // A multiple of 16, so that every phase and image starts a cache line: with 841-float
  // planes (ResNet-18 layer 2) the misaligned vector loads made the forward 13% slower.
  p.plane = ceil_div(p.q[0] * p.q[1] * p.q[2], 16) * 16;
  const int threads = omp_get_max_threads();
  p.by_groups = p.groups >= 2 * threads;
  // Split by groups, a thread's working set is one group's slice of the chunk.
  const int64_t ci = p.by_groups ? p.cig : p.C_in, co = p.by_groups ? p.cog : p.C_out;
  const int64_t per_image =
      ci * p.phases * p.plane + (pass == ConvPass::kBackwardWeight ? co * p.plane : 0);
  const int64_t min_images =
      pass == ConvPass::kBackwardWeight ? ceil_div(kMinWeightChunkOutputs, p.plane) : 1;
  p.images = std::clamp<int64_t>(std::max(kChunkFloats / per_image, min_images), 1, p.N);
  p.chan = p.phases * p.images * p.plane + kDirectSlack;
  // Whole chunks per thread where they balance: as many as the threads, or plenty.
  const int64_t chunks = ceil_div(p.N, p.images);
  p.by_images = !p.by_groups && pass != ConvPass::kBackwardWeight &&
                (chunks % threads == 0 || chunks >= 4 * threads);
  p.by_threads = !p.by_groups && !p.by_images && pass != ConvPass::kBackwardWeight && chunks == 1;
  // Output channels in the lanes: 1.3-1.9x the position kernel's speed on ResNet-18's strided
  // 3x3 layers and 1.15x on a 3x3x3 one, but 0.9x on the 3-channel 7x7 stem, whose long runs
  // of virtual outputs suit the position kernel. Not with groups: threads that split groups
  // (by_groups, which depends on the thread count) would take the other kernel, whose sums
  // run in another order.
  p.weight_lanes =
      pass == ConvPass::kBackwardWeight && p.groups == 1 && p.cog % 16 == 0 && p.cig >= 16;
  p.copies = p.by_images || p.by_threads || p.weight_lanes ? threads : 1;
  // Blocks of up to kWeightLaneIcs channels, at least one per thread; each block reads all of
  // dy^T, so no more than that. ResNet-18 at batch 16 on 2 threads, alternating rounds: layer
  // 2, 8 blocks of 8 against 4 of 16, best 4.49 ms against 4.33; 2 blocks of 32 against 4 of
  // 16 1.04x (1.02x on one thread), the 4x4 stride-2 transposed layer 1.12x; layers 3 / 4 in
  // blocks of 64 against 32 1.03 / 1.04-1.07x (one thread: 0.98 / 1.0x), of 32 against 16
  // 1.01 / 1.03x.
  p.copy_ics =
      p.weight_lanes ? std::clamp<int64_t>(ceil_div(p.C_in, threads), 1, kWeightLaneIcs) : p.C_in;
  // Up to kWeightImageParts parts of the images on at most kWeightLaneIcs input channels, where
  // dy outweighs the work per element the most; more threads than parts share out the input
  // channels too, each block transposing its chunks' dy again.
  if (p.weight_lanes && p.C_in <= kWeightLaneIcs && p.N >= 2) {
    p.image_parts = std::min(p.N, kWeightImageParts);
    p.copy_ics = ceil_div(p.C_in, ceil_div(threads, p.image_parts));
  }
  // Both forward kernels sum each output in the same order (bias, then ic-major, taps inner,
  // one FMA each), so which one runs may depend on the thread count. Measured faster than the
  // position kernel on planes of up to 14x14 (ResNet-18 layers 3-4 at batch 16: 1.1x), in 3D
  // (1.1x) and on larger planes without stride, not on larger strided ones. 2 threads on the
  // Ice Lake, 30 alternating runs, tenth percentile / median at batch 16: ResNet-18 layer 1
  // (56x56) forward 17.7 / 20.0 ms against 19.7 / 21.6, backward data 17.6 / 19.5 against
  // 18.7 / 22.2, the 1D layer (1024) 2.07 / 2.30 against 2.12 / 2.48; layer 2 and the dilated
  // layer (28x28) the same either way; layer 2's stride-2 3x3 (28x28 from 56x56) 10.2 / 12.7
  // against 9.7 / 11.7 (layer 3's 3x3 alongside: 14.4 / 17.4 against 14.9 / 16.5). Backward
  // data too, with at least two vectors of channels (its weight packed from where it lies): 2
  // threads on the Ice Lake, 30 alternating runs, tenth percentiles, ResNet-18 at batch 16
  // layer 4 25.1 ms against the position kernel's 35.1, layer 3 19.8 against 24.4, the
  // Fashion-MNIST CNN's second layer at batch 64 3.08 against 3.72; the 3x3x3 layer's 16
  // channels (one vector) 27.7 against 26.1.
  //
  // On one chunk of every image (by_threads), the threads share out the vectors of output
  // channels (at least one each), only where rows hold virtual outputs (the position kernel's
  // loss; a 1x1 layer without padding has none, and there the lanes kernel's calls are short:
  // MobileNet-v2's 24->144 forward at batch 1 took 2.2x as long). 2 threads on the Zen 5,
  // alternating runs (8 at batch 1, 6 at 2 and 4), tenth percentiles, against the position
  // kernel: ResNet-18 at batch 1 layer 2 forward 0.508 ms against 0.528, backward data 0.521
  // against 0.553, layer 3 forward 0.509 against 0.551 (backward data 0.589 against 0.593, 12
  // runs), layer 3's stride-2 forward 0.280 against 0.296, the dilated layer (28x28) forward
  // 0.506 against 0.559 and backward data 0.518 against 0.584; layer 1 the same; at batch 2
  // layer 3 forward 1.00 against 1.16, layer 4 (98 outputs) forward 1.17 against 1.57 and
  // backward data 1.41 against 1.79, while at batch 1 (49 outputs) its forward ran 1.12x
  // slower. With whole images per thread, layer 4 at batch 4 (196 outputs): forward 2.20
  // against 3.10 ms, backward data 3.26 against 4.99.
  //
  // Strided planes larger than kMaxLanePlane with whole images per thread, on AMD: there the
  // lanes kernel's long slices of weights (lane_weight_floats) make it the faster one. Zen 5,
  // 2 threads, 8 alternating runs, tenth percentiles at batch 16: layer 2's stride-2 forward
  // (28x28) 4.84 ms against 5.02, the 4x4 stride-2 transposed layer's backward data (a 56x56
  // forward) 9.03 against 9.56; on one chunk shared out by channels 1.03-1.07x slower.
  const bool virtual_outputs = p.q[2] > p.out[2];  // the position kernel's rows hold some
  // One group with at least one vector of output channels per thread: the channels can be
  // shared out (lanes_by_channels).
  const bool channels_share = p.groups == 1 && p.cog / 16 >= threads;
  const bool split_channels = p.by_threads && channels_share && virtual_outputs;
  const bool plane_suits = p.out[0] > 1 || p.out[1] * p.out[2] <= kMaxLanePlane || p.phases == 1 ||
                           (p.by_images && !cpu_is_intel() && virtual_outputs);
  const int64_t min_lane_outputs =
      pass == ConvPass::kForward && vector_lanes == 16 && cpu_halves_avx512()
          ? kMinLaneOutputsHalfRate
          : kMinLaneOutputs;
  p.fwd_lanes = pass != ConvPass::kBackwardWeight && (p.by_images || split_channels) &&
                p.cog % 16 == 0 && (pass == ConvPass::kForward || p.cog >= 32) && p.cig >= 16 &&
                p.N * p.out_pixels() >= min_lane_outputs && plane_suits;
  // Whole chunks per thread share the packed weights between the cores: each thread packs
  // some blocks and reads all. Where the weights outweigh twice the padded input of the
  // whole batch, the threads share out the channels instead, each padding every chunk itself: the
  // input is padded once per thread, but no packed weight passes between cores. That pays when
  // the host makes lines written by one core slow for the other (bench/core_probe: barrier
  // 0.4 µs, writes to the other core's lines 7 GB/s, a state that comes and goes for minutes)
  // and costs 3-4% when it does not (each thread pads every image). ResNet-18 layer 4 at batch 16
  // (9.4 MB of weights, 3.1 MB of padded input), 2 threads on the Zen 5, 11 short alternating runs
  // (bench/compare/ab_compare.py, 2 rounds each): in 9 in the slow state forward 8.16-8.75 ms
  // against 8.73-9.64 and backward data 8.38-8.89 against 8.79-9.52 (4-11% faster); in the 2
  // with the cores quick 8.12-8.31 against 7.88-8.01 and 8.41-8.42 against 8.07-8.14 (3-4%
  // slower). Layer 4's stride-2 forward (weights 1.1x its padded input) gained 3% in the slow
  // state and lost 4% in the quick one: not split.
  const bool weights_outweigh =
      p.C_out * p.cig * g.kernel_pixels() > 2 * p.N * p.C_in * p.phases * p.plane;
  const bool chunks_by_channels = p.by_images && threads > 1 && channels_share && weights_outweigh;
  p.lanes_by_channels = p.fwd_lanes && (split_channels || chunks_by_channels);
  p.virt = ((g.out[0] - 1) * p.q[1] + g.out[1] - 1) * p.q[2] + g.out[2];
  plan_spans(p);
  p.K = static_cast<int>(g.kernel_pixels());
  int k = 0;
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++k) {
        const int64_t dd = kd * g.dilation[0], dh = kh * g.dilation[1], dw = kw * g.dilation[2];
        const int64_t phase =
            ((dd % g.stride[0]) * g.stride[1] + dh % g.stride[1]) * g.stride[2] + dw % g.stride[2];
        p.tap[k] = phase * p.images * p.plane +
                   ((dd / g.stride[0]) * p.q[1] + dh / g.stride[1]) * p.q[2] + dw / g.stride[2];
      }
  // Backward data's weights: packed from where they lie by the kernel with channels in the
  // lanes (fwd_lanes), read in place where the position kernel passes over them a few times (one
  // chunk of all images, at most kInPlaceWeightOutputs virtual outputs: each tile of outputs
  // reads all of its block's weights), else copied transposed first. ResNet-18's 3x3 layers at
  // batch 1 on 2 threads, 20 alternating runs, tenth percentiles, in place against the copy:
  // layer 4 2.18 ms against 4.69 (the copy, a pass over 9.4 MB that reads 36-byte pieces a page
  // apart, took half the time), layer 3 1.47 against 1.82; layer 2 (838 virtual outputs) 1.60
  // against 1.24, and at batch 16 layers 2-4 9-19% slower, layer 1 the same (each pass over
  // rows a page apart costs TLB misses).
  const bool in_place = pass == ConvPass::kBackwardData &&
                        (p.fwd_lanes || (p.by_threads && p.virt_of(p.N) <= kInPlaceWeightOutputs));
  p.transpose_weights = pass == ConvPass::kBackwardData && !in_place;
  // The position kernel reads the weight in place with the taps reversed; forward_lanes packs
  // it with its taps reversed instead (weight k to tap K - 1 - k), so that its taps run over
  // each channel's rows downwards, as the forward's do: with the taps reversed, reading dy in
  // place (direct_unpadded_plan), ResNet-18 layer 1 at batch 16 ran 8.8-10.4 ms against
  // 7.9-8.0 padded; with them in order, 7.28 against 7.68.
  p.taps_reversed = in_place && !p.fwd_lanes;
  if (p.taps_reversed) std::reverse(p.tap.begin(), p.tap.begin() + p.K);
  p.w_oc = in_place ? p.K : p.cig * p.K;
  p.w_ic = in_place ? p.cog * p.K : p.K;
  return p;
}

namespace {

// The kernel position (kd, kh, kw) that tap k of p stands for.
Dims3 tap_position(const DirectPlan& p, int k) {
  const int64_t pos = p.taps_reversed ? p.K - 1 - k : k;
  return {pos / (p.kernel[1] * p.kernel[2]), pos / p.kernel[2] % p.kernel[1], pos % p.kernel[2]};
}

}  // namespace

TapWindow direct_tap_window(const DirectPlan& p, int k) {
  const Dims3 along = tap_position(p, k);
  TapWindow w;
  for (int a = 0; a < 3; ++a) {
    // Output o reads input o * stride + shift.
    const int64_t shift = along[a] * p.dilation[a] - p.pad_lo[a], s = p.stride[a];
    w.lo[a] = std::clamp<int64_t>(shift >= 0 ? 0 : ceil_div(-shift, s), 0, p.out[a]);
    w.hi[a] = std::clamp<int64_t>(p.in[a] - shift <= 0 ? 0 : ceil_div(p.in[a] - shift, s), w.lo[a],
                                  p.out[a]);
  }
  return w;
}

std::vector<TapRange> direct_row_taps(const DirectPlan& p) {
  std::vector<TapRange> rows(p.out[0] * p.out[1], TapRange{0, 0});
  for (int k = p.K - 1; k >= 0; --k) {
    const TapWindow w = direct_tap_window(p, k);
    for (int64_t od = w.lo[0]; od < w.hi[0]; ++od)
      for (int64_t oh = w.lo[1]; oh < w.hi[1]; ++oh) {
        TapRange& r = rows[od * p.out[1] + oh];
        if (r.k1 == 0) r.k1 = k + 1;  // the row's last tap: the first met, counting down
        r.k0 = k;
      }
  }
  return rows;
}

bool direct_run_edges(const DirectPlan& p, int64_t w0, int64_t len, uint8_t* edges) {
  bool exact = true;
  for (int k = 0; k < p.K; ++k) {
    const TapWindow w = direct_tap_window(p, k);
    // The run's outputs before the window (their input before the row's first) and after it.
    const int64_t lead = std::clamp<int64_t>(w.lo[2] - w0, 0, len);
    const int64_t trail = std::clamp<int64_t>(w0 + len - w.hi[2], 0, len - lead);
    exact = exact && lead <= 1 && trail <= 1;
    edges[k] = lead <= 1 && trail <= 1 ? static_cast<uint8_t>(lead + 2 * trail) : 0;
  }
  return exact;
}

std::optional<DirectPlan> direct_unpadded_plan(const DirectPlan& p) {
  if (p.phases != 1 || p.in[0] != 1 || p.kernel[0] != 1 || p.taps_reversed) return std::nullopt;
  DirectPlan u = p;
  u.chan = p.in_pixels();
  u.plane = p.C_in * u.chan;
  u.q = p.in;
  for (int k = 0; k < p.K; ++k) {
    const Dims3 along = tap_position(p, k);
    u.tap[k] =
        (along[1] * p.dilation[1] - p.pad_lo[1]) * p.in[2] + along[2] * p.dilation[2] - p.pad_lo[2];
  }
  return u;
}

void direct_transpose_weights(const DirectPlan& p, const float* w, int64_t grp, int64_t oc0,
                              int64_t oc1, float* dst) {
  const int64_t K = p.K;
  for (int64_t ic = 0; ic < p.cig; ++ic) {
    const float* src = w + (grp * p.cig + ic) * p.cog * K;  // row ic of w's group: (cog, K)
    for (int64_t oc = oc0; oc < oc1; ++oc) {
      float* out = dst + ((grp * p.cog + oc) * p.cig + ic) * K;
      for (int64_t k = 0; k < K; ++k) out[k] = src[oc * K + K - 1 - k];
    }
  }
}

int direct_segments(const DirectPlan& p, int64_t q0, int64_t q1, DirectSegment* seg) {
  int count = 0;
  const int64_t image_floats = p.C_out * p.out_pixels();
  // Image, row (od, oh) and column of position q: divisions once, then walk row by row.
  int64_t n = q0 / p.plane, local = q0 % p.plane;
  int64_t row = local / p.q[2], ow = local % p.q[2];
  int64_t oh = row % p.q[1], od = row / p.q[1];
  for (int64_t q = q0; q < q1;) {
    if (local >= p.virt) {  // past the image's last output: go to the next image
      q += p.plane - local;
      ++n;
      local = ow = oh = od = 0;
      continue;
    }
    if (oh < p.out[1] && ow < p.out[2]) {
      const int64_t len = std::min(p.out[2] - ow, q1 - q);
      seg[count++] = {q - q0, n * image_floats + (od * p.out[1] + oh) * p.out[2] + ow, len};
    }
    q += p.q[2] - ow;
    local += p.q[2] - ow;
    ow = 0;
    if (++oh == p.q[1]) oh = 0, ++od;
  }
  return count;
}

}  // namespace fovea::kernels
