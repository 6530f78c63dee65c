// The pointwise kernels (conv_pointwise.h). Forward and backward_data are the same product per
// image,
//   C (M, P) = A (M, K) · B (K, P),  B and C the image's NCHW planes (row stride P),
// forward with A = w (C_out, C_in) read by rows, backward_data with A = wᵀ read by columns of w,
// so one register-tile kernel serves both: A is addressed by a row and a step stride. The
// weight gradient at batch 1 with few pixels is that product too (A = dy, B = xᵀ), else its
// own dot-product tiles (weight_product).
// This file holds supports(), workspace_floats(), the panels of sampled pixels (gathered,
// scattered, transposed) and the entry points; the product is in
// conv_pointwise_product_avx512.cpp, the weight gradient's tiles in
// conv_pointwise_weight_avx512.cpp, what they share in conv_pointwise_avx512.h.
// supports() and workspace_floats() come before the target pragma: they run on any CPU. Only
// the entry points and the plane and row samplers (called by im2col_gemm only after
// cpu_has_avx512()) leave this file (internal linkage below), and from the other two only
// multiply and weight_product (namespace pointwise_avx512, each defined once, called only by
// the entry points); what the header defines is inline, compiled for AVX-512 and included only
// by these three files. So no function compiled for AVX-512 can be picked by the linker for code
// that runs before supports() said yes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_pointwise.h"
#include "kernels/cpu/conv_pointwise_avx512.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_avx512.h"

namespace fovea::kernels {

namespace {

// Whether the outputs sample the input sparsely (stride > 1, or trailing inputs left unread):
// the passes then go through a panel of the sampled pixels, (N, C_in, output pixels).
bool samples(const ConvGeometry& g) {
  return g.in != g.out;
}

// Whether each thread makes the whole panel (sampled, or transposed for the weight gradient)
// into one of its own: one image in one pixel chunk (kPointwisePanelFloats), whose product
// splits its rows, so that every thread reads all of the panel. Then no barrier separates the
// sampling from the product and no core reads planes the other sampled, for twice the sampling.
// ResNet-18's stride-2 1x1 layers at batch 1, 2 threads on the Zen 4, 16 alternating rounds (32
// calls each), median / tenth percentile: layer 2 0.081 / 0.077 ms against 0.091 / 0.080, layer 3
// 0.075 / 0.070 against 0.082 / 0.073; layer 4 (49 pixels) the same, 0.071 / 0.066 against 0.070 /
// 0.065. The weight gradient's transposed panel (weight_transposes) likewise: 2 threads, 10-12
// rounds, tenth percentiles, those layers 0.073 / 0.067 ms against 0.076 / 0.070 (layer 4 the
// same); MobileNet-v2's unstrided 32 -> 192 at 28x28 0.049 against 0.053, 96 -> 576 at 14x14
// 0.101 against 0.106, 160 -> 960 at 7x7 the same.
bool private_panels(const ConvGeometry& g) {
  return g.N == 1 && g.C_in * g.out_pixels() <= kPointwisePanelFloats;
}

// Floats of the panel each thread makes for itself in the forward (private_panels,
// splits_pixels): the planes on cache lines (panel_pitch).
int64_t own_panel_floats(const ConvGeometry& g) {
  return g.C_in * round_up(g.out_pixels(), 16);
}

// Whether a strided forward of one 1D or 2D image splits its pixels between the threads, each
// sampling x at its own pixels into its own panel and multiplying them by all of w: no pixel
// sampled twice (private_panels samples all of them on each thread), no barrier, no core
// reading what the other wrote. Only with enough pixels a thread for the product's register
// tiles. ResNet-18's stride-2 1x1 at batch 1, 2 threads on the Zen 4, 10 alternating rounds,
// min / median: layer 2 (400 and 384 pixels a thread) 0.0666 / 0.0696 ms against 0.0766 / 0.0786.
// With the threshold at 64, layer 3 (112 and 84 pixels) ran 0.0721 / 0.0735 against 0.0678 / 0.0699
// (12 rounds); split by rows, layer 4 (24 or 25) 0.0839 / 0.0868 against 0.0639 / 0.0656. Backward
// data split by rows (each thread spreading its own rows of dx, no barrier) ran layer 2 slower,
// 0.073-0.082 ms against 0.069-0.072: its threads' dy columns start mid-vector, and it wrote dx in
// 64 pieces a thread instead of 32 whole planes.
inline constexpr int64_t kSplitPixels = 256;  // the fewest a thread
bool splits_pixels(const ConvGeometry& g) {
  const int64_t threads = omp_get_max_threads();
  return threads > 1 && g.N == 1 && samples(g) && g.in[0] == 1 &&
         g.out_pixels() >= kSplitPixels * threads;
}

// Whether the weight gradient goes as a plain product dW = dy · xᵀ over a transposed panel of
// x's (sampled) pixels: one image, few pixels (the per-tile dot products of the other way
// would spend more on their horizontal sums than on the few vectors of pixels).
bool weight_transposes(const ConvGeometry& g) {
  return g.N == 1 && g.out_pixels() <= kPointwiseWeightTransposePixels;
}

// Floats from one plane of the panel of sampled pixels to the next. The forward's planes are
// rows of B in its product, read 16 pixels at a time: they start on a cache line, so no vector
// load of B splits across two. ResNet-18's 1x1/2 at batch 16, 2 threads, 60 alternating runs
// on the Ice Lake: layer 3 (14x14 outputs) median 1.91 -> 1.77 ms, tenth percentile 1.63 ->
// 1.44; layer 4 (7x7) 1.50 -> 1.47 and 1.39 -> 1.34. The same at batch 1.
int64_t panel_pitch(const ConvGeometry& g, ConvPass pass) {
  const int64_t P = g.out_pixels();
  return pass == ConvPass::kForward ? (P + 15) / 16 * 16 : P;
}

}  // namespace

bool conv_pointwise_supports(const ConvGeometry& g, ConvPass) {
  if (!cpu_has_avx512() || g.groups != 1) return false;
  // A 1×1 kernel whose every output reads an input pixel (no padding read).
  for (int a = 0; a < 3; ++a)
    if (g.kernel[a] != 1 || g.pad_lo[a] != 0 || (g.out[a] - 1) * g.stride[a] >= g.in[a])
      return false;
  return true;
}

size_t conv_pointwise_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  const int64_t threads = omp_get_max_threads();
  if (pass == ConvPass::kBackwardWeight && weight_transposes(g))
    return static_cast<size_t>((private_panels(g) ? threads : 1) * g.C_in * g.out_pixels() *
                               (samples(g) ? 2 : 1));
  if (pass == ConvPass::kForward && samples(g) && (splits_pixels(g) || private_panels(g)))
    return static_cast<size_t>(threads * own_panel_floats(g));
  const int64_t panel = samples(g) ? g.N * g.C_in * panel_pitch(g, pass) : 0;
  if (pass != ConvPass::kBackwardWeight ||
      g.out_pixels() <= pointwise_weight_chunk(g.C_out, g.C_in))
    return static_cast<size_t>(panel);
  // The weight gradient's accumulators between pixel slices, after the panel: R·C vectors
  // per register tile.
  const auto tiles = [](int64_t v, int64_t t) { return (v + t - 1) / t * t; };
  return static_cast<size_t>(panel + tiles(g.C_out, kPointwiseWeightRows) *
                                         tiles(g.C_in, kPointwiseWeightCols) * 16);
}

PlaneSampler::PlaneSampler(const ConvGeometry& g) : g_(g) {
  const int64_t P = g.out_pixels(), in = g.in_pixels();
  if (g.out[2] > kSamplerMaxRow || P > 16 * kSamplerMaxSpans || in < 32) return;
  const int spans = static_cast<int>(ceil_div(P, 16));
  int64_t od = 0, oh = 0, ow = 0;  // output 16·s + l, counted along
  for (int s = 0; s < spans; ++s) {
    Span& sp = span_[s];
    int64_t at[16] = {}, left = 0;  // lanes' inputs; the first not in window a
    const int lanes = static_cast<int>(std::min<int64_t>(16, P - 16 * s));
    for (int l = 0; l < lanes; ++l) {
      at[l] = ((od * g.stride[0] * g.in[1]) + oh * g.stride[1]) * g.in[2] + ow * g.stride[2];
      if (++ow == g.out[2]) {
        ow = 0;
        if (++oh == g.out[1]) oh = 0, ++od;
      }
    }
    // Each window starts at its first lane's input, or earlier where that would read past the
    // plane.
    const int64_t a = std::min(at[0], in - 32);
    while (left < lanes && at[left] < a + 32) ++left;
    const int64_t b = left < lanes ? std::min(at[left], in - 32) : 0;
    if (left < lanes && at[lanes - 1] >= b + 32) return;  // a third window: row by row
    sp.a = static_cast<int32_t>(a);
    sp.b = static_cast<int32_t>(b);
    for (int l = 0; l < lanes; ++l) {
      if (l < left) {
        sp.from_a[l] = static_cast<int32_t>(at[l] - a);
      } else {
        sp.from_b[l] = static_cast<int32_t>(at[l] - b);
        sp.in_b |= static_cast<uint16_t>(1u << l);
      }
    }
    sp.outputs = static_cast<uint16_t>((1u << lanes) - 1);
  }
  spans_ = spans;
}

}  // namespace fovea::kernels

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using namespace pointwise_avx512;
using avx512::first_lanes;

// A row of the source's W axis at stride s: dst[i] = src[i·s] for i < n.
void gather_row(const float* src, int64_t s, int64_t n, float* dst) {
  if (s == 1) {
    std::copy_n(src, n, dst);
    return;
  }
  if (s != 2) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * s];
    return;
  }
  // Stride 2: the even lanes of two vectors; the source row holds at least 2n - 1 floats.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t i = 0; i < n; i += kLanes) {
    const int64_t in = 2 * (n - i) - 1;  // source floats left from src + 2i
    const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(in), src + 2 * i);
    const __m512 hi = in > kLanes
                          ? _mm512_maskz_loadu_ps(first_lanes(in - kLanes), src + 2 * i + kLanes)
                          : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(dst + i, first_lanes(n - i), _mm512_permutex2var_ps(lo, even, hi));
  }
}

// Pixels [p0, p1) of a 1D or 2D plane's sampled pixels (g.out's, row by row) from the plane of x at
// src, into dst: row by row, the first and last in part.
void sample_pixels(const ConvGeometry& g, const float* src, int64_t p0, int64_t p1, float* dst) {
  const int64_t W = g.out[2], row = g.stride[1] * g.in[2];
  for (int64_t p = p0, n = 0; p < p1; p += n) {
    const int64_t oh = p / W, ow = p % W;
    n = std::min(W - ow, p1 - p);
    gather_row(src + oh * row + ow * g.stride[2], g.stride[2], n, dst + (p - p0));
  }
}

// A row of dx's W axis from its sampled values at stride s, into a row of zeros: dst[i·s] = src[i]
// for i < n; the floats between may be written (with zeros), none past dst[(n - 1)·s].
void place_row(const float* src, int64_t s, int64_t n, float* dst) {
  if (s != 2) {
    for (int64_t i = 0; i < n; ++i) dst[i * s] = src[i];
    return;
  }
  // Stride 2: 16 values at a time, spread into the even lanes of two vectors by permutes that
  // zero the odd lanes.
  const __m512i lo = _mm512_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0);
  const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
  const int64_t span = 2 * n - 1;
  for (int64_t j = 0; j < n; j += kLanes) {
    const __m512 v = _mm512_maskz_loadu_ps(first_lanes(n - j), src + j);
    _mm512_mask_storeu_ps(dst + 2 * j, first_lanes(span - 2 * j),
                          _mm512_maskz_permutexvar_ps(0x5555, lo, v));
    if (span - 2 * j > kLanes)
      _mm512_mask_storeu_ps(dst + 2 * j + kLanes, first_lanes(span - 2 * j - kLanes),
                            _mm512_maskz_permutexvar_ps(0x5555, hi, v));
  }
}

}  // namespace

// Declared, with what they do, in conv_pointwise.h.
void strided_gather_rows(const float* src, int64_t src_ld, int64_t s, int64_t n, int64_t lines,
                         float* dst, int64_t dst_ld) noexcept {
  for (int64_t j = 0; j < lines; ++j) gather_row(src + j * src_ld, s, n, dst + j * dst_ld);
}

void PlaneSampler::operator()(const float* src, float* dst) const noexcept {
  const ConvGeometry& g = g_;
  if (spans_ == 0) {
    for (int64_t od = 0; od < g.out[0]; ++od)
      strided_gather_rows(src + od * g.stride[0] * g.in[1] * g.in[2], g.stride[1] * g.in[2],
                          g.stride[2], g.out[2], g.out[1], dst + od * g.out[1] * g.out[2],
                          g.out[2]);
    return;
  }
  auto window = [&](int32_t at, const int32_t* from) {
    return _mm512_permutex2var_ps(_mm512_loadu_ps(src + at), _mm512_loadu_si512(from),
                                  _mm512_loadu_ps(src + at + kLanes));
  };
  for (int s = 0; s < spans_; ++s) {
    const Span& sp = span_[s];
    __m512 v = window(sp.a, sp.from_a);
    if (sp.in_b) v = _mm512_mask_blend_ps(sp.in_b, v, window(sp.b, sp.from_b));
    _mm512_mask_storeu_ps(dst + s * kLanes, sp.outputs, v);
  }
}

void pointwise_spread_plane(const ConvGeometry& g, const float* src, float* dst) noexcept {
  // Zeros first, in one pass over the plane (at 7 to 28 pixels a row, a fill per unread row cost
  // more than the rows' values), then each sampled row's values in place.
  std::fill_n(dst, g.in_pixels(), 0.0f);
  for (int64_t od = 0; od < g.out[0]; ++od)
    for (int64_t oh = 0; oh < g.out[1]; ++oh)
      place_row(src + (od * g.out[1] + oh) * g.out[2], g.stride[2], g.out[2],
                dst + (od * g.stride[0] * g.in[1] + oh * g.stride[1]) * g.in[2]);
}

namespace {

// Every plane of x (N·C_in planes of g.in), its sampled pixels into the panel's plane (N·C_in
// planes of g.out at stride `pitch`), or back: dx's planes from the panel's. Threads split the
// planes; `last` as for run_tasks.
void resample(const ConvGeometry& g, bool to_panel, const float* src, float* dst, int64_t pitch,
              bool team, bool last = false) {
  const int64_t in_plane = g.in_pixels();
  if (to_panel) {
    const PlaneSampler sample(g);
    run_tasks(
        g.N * g.C_in, team, [&](int64_t i) { sample(src + i * in_plane, dst + i * pitch); }, last);
  } else {
    run_tasks(
        g.N * g.C_in, team,
        [&](int64_t i) { pointwise_spread_plane(g, src + i * pitch, dst + i * in_plane); }, last);
  }
}

// Channels [c0, c0 + 16) of panel (P, C) = src (C, P, rows at stride P)ᵀ, in blocks of 16
// pixels × 16 channels transposed in registers.
void transpose_channels(const float* src, int64_t C, int64_t P, int64_t c0, float* panel) {
  for (int64_t p0 = 0; p0 < P; p0 += kLanes) {
    const __mmask16 pixels = first_lanes(P - p0);
    __m512 v[kLanes];
    for (int64_t r = 0; r < kLanes; ++r)
      v[r] =
          c0 + r < C ? _mm512_maskz_loadu_ps(pixels, src + (c0 + r) * P + p0) : _mm512_setzero_ps();
    avx512::transpose16x16(v);
    for (int64_t j = 0; j < std::min(kLanes, P - p0); ++j)
      _mm512_mask_storeu_ps(panel + (p0 + j) * C + c0, first_lanes(C - c0), v[j]);
  }
}

}  // namespace

void conv_forward_pointwise(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  if (!samples(g)) {
    multiply({g.N, g.C_out, g.C_in, g.out_pixels(), w, g.C_in, 1, x, y, ep}, false);
    return;
  }
  if (splits_pixels(g)) {
    with_team([&](bool) {
      // This thread's pixels [p0, p1) of y, whole vectors but for the image's last: the
      // product's vectors, and its dot products past the last, are the single thread's.
      const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t P = g.out_pixels(), share = round_up(ceil_div(P, T), kLanes);
      const int64_t p0 = std::min(P, t * share), p1 = std::min(P, p0 + share);
      const int64_t pitch = round_up(p1 - p0, kLanes);
      float* panel = workspace + t * own_panel_floats(g);
      // Shares rounded up to whole vectors can leave the last threads of a large team none.
      if (p1 == p0) return;
      for (int64_t c = 0; c < g.C_in; ++c)
        sample_pixels(g, x + c * g.in_pixels(), p0, p1, panel + c * pitch);
      multiply({1, g.C_out, g.C_in, p1 - p0, w, g.C_in, 1, panel, y + p0, ep, pitch, P}, false);
    });
    return;
  }
  const int64_t pitch = panel_pitch(g, ConvPass::kForward);
  if (private_panels(g)) {
    with_team([&](bool team) {
      float* panel = workspace + (team ? omp_get_thread_num() : 0) * own_panel_floats(g);
      const PlaneSampler sample(g);
      for (int64_t c = 0; c < g.C_in; ++c) sample(x + c * g.in_pixels(), panel + c * pitch);
      multiply({1, g.C_out, g.C_in, g.out_pixels(), w, g.C_in, 1, panel, y, ep, pitch}, team);
    });
    return;
  }
  with_team([&](bool team) {
    resample(g, true, x, workspace, pitch, team);
    multiply({g.N, g.C_out, g.C_in, g.out_pixels(), w, g.C_in, 1, workspace, y, ep, pitch}, team);
  });
}

void conv_backward_data_pointwise(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float* workspace) noexcept {
  if (!samples(g)) {
    multiply({g.N, g.C_in, g.C_out, g.out_pixels(), w, 1, g.C_in, dy, dx, ConvEpilogue{}}, false);
    return;
  }
  with_team([&](bool team) {
    multiply({g.N, g.C_in, g.C_out, g.out_pixels(), w, 1, g.C_in, dy, workspace, ConvEpilogue{}},
             team, false);
    resample(g, false, workspace, dx, g.out_pixels(), team, true);
  });
}

void conv_backward_weight_pointwise(const ConvGeometry& g, const float* x, const float* dy,
                                    float* dw, float* workspace) noexcept {
  if (weight_transposes(g)) {
    // dW (C_out, C_in) = dy (C_out, P) · panel (P, C_in), the panel transposed from x or from
    // its sampled pixels (after it in the workspace).
    // With private panels (private_panels) each thread makes all of one of its own; else the
    // threads split the channels, 16 at a time, each sampling and then transposing its own: one
    // barrier before the product, not one after each step, and the transpose reads what its own
    // core just wrote.
    const bool own = private_panels(g);
    const int64_t floats = g.C_in * g.out_pixels() * (samples(g) ? 2 : 1);
    with_team([&](bool team) {
      float* panel = workspace + (own && team ? omp_get_thread_num() : 0) * floats;
      float* sampled = panel + g.C_in * g.out_pixels();
      const PlaneSampler sample(g);
      auto channels = [&](int64_t j) {
        const int64_t c0 = j * kLanes;
        if (samples(g))
          for (int64_t c = c0; c < std::min(g.C_in, c0 + kLanes); ++c)
            sample(x + c * g.in_pixels(), sampled + c * g.out_pixels());
        transpose_channels(samples(g) ? sampled : x, g.C_in, g.out_pixels(), c0, panel);
      };
      if (own) {
        for (int64_t j = 0; j < ceil_div(g.C_in, kLanes); ++j) channels(j);
      } else {
        run_tasks(ceil_div(g.C_in, kLanes), team, channels);
      }
      multiply(
          {1, g.C_out, g.out_pixels(), g.C_in, dy, g.out_pixels(), 1, panel, dw, ConvEpilogue{}},
          team);
    });
    return;
  }
  const int64_t panel = samples(g) ? g.N * g.C_in * g.out_pixels() : 0;
  with_team([&](bool team) {
    if (panel > 0) resample(g, true, x, workspace, g.out_pixels(), team);
    weight_product(g.N, g.C_out, g.C_in, g.out_pixels(), dy, panel > 0 ? workspace : x, dw,
                   workspace + panel, team);
  });
}

}  // namespace fovea::kernels
