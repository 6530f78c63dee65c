// The depthwise kernels (conv_depthwise.h) for CPUs with AVX2 and FMA but not AVX-512: the same
// padded plane P as the AVX-512 row (conv_depthwise_plane.h), filled by plain loops, read by
// 8-lane vectors along the output width:
//   forward / backward_data  tiles of up to 2 rows × 4 vectors accumulate every tap in
//                            registers (8 independent FMA chains), then add the bias, or the
//                            sum so far (backward_data's m > 1 output channels), and clamp;
//   backward_weight          one vector accumulator per tap over the rows of dy, reduced
//                            horizontally once per channel.
// Without this row these layers ran on direct_avx2, whose tiles are blocks of output channels
// (one per group here): MobileNet-v2's 144-channel 56×56 layer at 10 GFLOP/s, 0.4-0.6x PyTorch.
// Only the entry points leave this file; everything else has internal linkage, so no function
// compiled for AVX2 can be picked by the linker for code that runs before supports() said yes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/conv_depthwise_plane.h"
#include "kernels/rounding.h"

#pragma GCC target("avx2,fma")

namespace fovea::kernels {
namespace {

constexpr int64_t kLanes = 8;

// Lanes [0, n) of a vector, n clamped to [0, 8].
__m256i first_lanes(int64_t n) {
  const int k = static_cast<int>(n < 0 ? 0 : n > kLanes ? kLanes : n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// P from its source plane src (src_h × src_w): padded row r = off_h + ih·up_h, column
// c = off_w + iw·up_w, stored phase-split (conv_depthwise_plane.h). Positions P never takes a
// source value at stay as the thread zeroed them: every plane of a call writes the same ones.
void fill_plane(const DepthwisePlane& p, const float* src, float* plane) {
  const int64_t pitch = p.row_pitch();
  // Source columns [i_lo, i_hi) land inside [0, pitch).
  const int64_t i_lo = p.off_w >= 0 ? 0 : ceil_div(-p.off_w, p.up_w);
  const int64_t i_hi = std::min(p.src_w, ceil_div(std::max<int64_t>(pitch - p.off_w, 0), p.up_w));
  if (i_lo >= i_hi) return;
  const int64_t c_lo = p.off_w + i_lo * p.up_w;
  for (int64_t ih = 0; ih < p.src_h; ++ih) {
    const int64_t r = p.off_h + ih * p.up_h;
    if (r < 0) continue;
    if (r >= p.rows) break;
    const float* s = src + ih * p.src_w;
    float* row = plane + r * pitch;
    if (p.step_w == 1 && p.up_w == 1) {
      for (int64_t i = i_lo; i < i_hi; ++i) row[c_lo - i_lo + i] = s[i];  // vectorises
      continue;
    }
    // Column c at phase c % step_w, position c / step_w, both stepped along (no divisions).
    int64_t phase = c_lo % p.step_w, q = c_lo / p.step_w;
    for (int64_t i = i_lo; i < i_hi; ++i) {
      row[phase * p.cols + q] = s[i];
      for (phase += p.up_w; phase >= p.step_w; phase -= p.step_w) ++q;
    }
  }
}

// Output rows [oy, oy + R), vectors [x0, x0 + 8·V) of the row: every tap accumulated in
// registers; then `+ bias`, or with `accumulate` the output's current value, and the clamp.
// Lanes past the row's end are computed (P holds them) but not stored.
template <int R, int V>
void correlate_tile(const DepthwisePlane& p, const Taps& taps, const float* plane, const float* w,
                    float bias, bool accumulate, float lo, float hi, int64_t oy, int64_t x0,
                    float* out) {
  __m256 acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_set1_ps(bias);
  const int64_t K = p.k_h * p.k_w, row_step = p.step_h * p.row_pitch();
  const float* base = plane + oy * row_step + x0;
  for (int64_t k = 0; k < K; ++k) {
    const __m256 wk = _mm256_set1_ps(w[p.flip ? K - 1 - k : k]);
    const float* at = base + taps.off[k];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v)
        acc[r][v] = _mm256_fmadd_ps(_mm256_loadu_ps(at + r * row_step + v * kLanes), wk, acc[r][v]);
  }
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) {
      float* o = out + (oy + r) * p.out_w + x0 + v * kLanes;
      const int64_t lanes = p.out_w - x0 - v * kLanes;
      __m256 a = acc[r][v];
      // Masked moves only for the row's last vector: AMD's Zen 3 runs a masked store as
      // microcode, and one per vector made the 144-channel 56×56 forward 1.5x slower.
      if (lanes >= kLanes) {
        if (accumulate) a = _mm256_add_ps(a, _mm256_loadu_ps(o));
        // max/min return their second operand when either is NaN: a NaN stays NaN.
        _mm256_storeu_ps(o, _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)));
      } else {
        const __m256i m = first_lanes(lanes);
        if (accumulate) a = _mm256_add_ps(a, _mm256_maskload_ps(o, m));
        _mm256_maskstore_ps(o, m, _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)));
      }
    }
}

template <int R>
void correlate_rows(const DepthwisePlane& p, const Taps& taps, const float* plane, const float* w,
                    float bias, bool accumulate, float lo, float hi, int64_t oy, float* out) {
  const int64_t vectors = (p.out_w + kLanes - 1) / kLanes;
  int64_t v = 0;
  for (; v + 4 <= vectors; v += 4)
    correlate_tile<R, 4>(p, taps, plane, w, bias, accumulate, lo, hi, oy, v * kLanes, out);
  const int64_t x0 = v * kLanes;
  switch (vectors - v) {
    case 3:
      return correlate_tile<R, 3>(p, taps, plane, w, bias, accumulate, lo, hi, oy, x0, out);
    case 2:
      return correlate_tile<R, 2>(p, taps, plane, w, bias, accumulate, lo, hi, oy, x0, out);
    case 1:
      return correlate_tile<R, 1>(p, taps, plane, w, bias, accumulate, lo, hi, oy, x0, out);
  }
}

// out (out_h × out_w) = clamp(corr(P, w) + bias), or += corr(P, w) with `accumulate`.
void correlate(const DepthwisePlane& p, const Taps& taps, const float* plane, const float* w,
               float bias, bool accumulate, float lo, float hi, float* out) {
  int64_t oy = 0;
  for (; oy + 2 <= p.out_h; oy += 2)
    correlate_rows<2>(p, taps, plane, w, bias, accumulate, lo, hi, oy, out);
  if (oy < p.out_h) correlate_rows<1>(p, taps, plane, w, bias, accumulate, lo, hi, oy, out);
}

// dw[k] += sum_o P[o·s + k·d] · dy[o] for every tap k of one plane, in part[k]'s lanes; the
// taps in registers, up to kSumTaps at a time. The row's last vector masks both loads: P's
// columns past the row may hold input values (an infinity times a zero of dy would be NaN).
constexpr int64_t kSumTaps = 9;

void sum_taps(const DepthwisePlane& p, const Taps& taps, const float* plane, const float* dy,
              __m256* part) {
  const int64_t K = p.k_h * p.k_w, row_step = p.step_h * p.row_pitch();
  for (int64_t k0 = 0; k0 < K; k0 += kSumTaps) {
    const int64_t taps_here = std::min(kSumTaps, K - k0);
    __m256 acc[kSumTaps];
    for (int64_t k = 0; k < kSumTaps; ++k) acc[k] = part[k0 + std::min(k, taps_here - 1)];
    for (int64_t oy = 0; oy < p.out_h; ++oy) {
      const float* at = plane + oy * row_step;
      const float* d_row = dy + oy * p.out_w;
      int64_t x0 = 0;
      for (; x0 + kLanes <= p.out_w; x0 += kLanes) {
        const __m256 d = _mm256_loadu_ps(d_row + x0);
        for (int64_t k = 0; k < kSumTaps; ++k)
          if (k < taps_here)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(at + taps.off[k0 + k] + x0), d, acc[k]);
      }
      if (x0 < p.out_w) {
        const __m256i m = first_lanes(p.out_w - x0);
        const __m256 d = _mm256_maskload_ps(d_row + x0, m);
        for (int64_t k = 0; k < kSumTaps; ++k)
          if (k < taps_here)
            acc[k] = _mm256_fmadd_ps(_mm256_maskload_ps(at + taps.off[k0 + k] + x0, m), d, acc[k]);
      }
    }
    for (int64_t k = 0; k < taps_here; ++k) part[k0 + k] = acc[k];
  }
}

float horizontal_sum(__m256 v) {
  alignas(32) float lanes[kLanes];
  _mm256_store_ps(lanes, v);
  float sum = 0.0f;
  for (float f : lanes) sum += f;
  return sum;
}

// The calling thread's P, zeroed.
float* thread_plane(const DepthwisePlane& p, float* workspace) {
  float* plane = workspace + omp_get_thread_num() * p.floats();
  for (int64_t i = 0; i < p.floats(); ++i) plane[i] = 0.0f;
  return plane;
}

}  // namespace

void conv_forward_depthwise_avx2(const ConvGeometry& g, const float* x, const float* w,
                                 const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  const DepthwisePlane p = depthwise_plane(g, ConvPass::kForward);
  const Taps taps(p);
  const int64_t m = g.C_out / g.C_in, K = g.kernel_pixels(), P = g.out_pixels();
  const int64_t items = g.N * g.C_in;
#pragma omp parallel if (items > 1)
  {
    float* plane = thread_plane(p, workspace);
    // One (image, input channel) per item: its plane filled once, read by its m outputs.
#pragma omp for schedule(static)
    for (int64_t i = 0; i < items; ++i) {
      fill_plane(p, x + i * g.in_pixels(), plane);
      const int64_t n = i / g.C_in, ic = i % g.C_in;
      for (int64_t oc = ic * m; oc < (ic + 1) * m; ++oc)
        correlate(p, taps, plane, w + oc * K, ep.bias ? ep.bias[oc] : 0.0f, false, ep.lo, ep.hi,
                  y + (n * g.C_out + oc) * P);
    }
  }
}

void conv_backward_data_depthwise_avx2(const ConvGeometry& g, const float* dy, const float* w,
                                       float* dx, float* workspace) noexcept {
  const DepthwisePlane p = depthwise_plane(g, ConvPass::kBackwardData);
  const Taps taps(p);
  const int64_t m = g.C_out / g.C_in, K = g.kernel_pixels(), P = g.out_pixels();
  const int64_t items = g.N * g.C_in;
  constexpr float kInf = __builtin_inff();
#pragma omp parallel if (items > 1)
  {
    float* plane = thread_plane(p, workspace);
    // dx[n, ic] sums its m output channels in order j = 0 .. m-1, whatever the threads.
#pragma omp for schedule(static)
    for (int64_t i = 0; i < items; ++i)
      for (int64_t j = 0; j < m; ++j) {
        const int64_t oc = i % g.C_in * m + j;
        fill_plane(p, dy + (i / g.C_in * g.C_out + oc) * P, plane);
        correlate(p, taps, plane, w + oc * K, 0.0f, j > 0, -kInf, kInf, dx + i * g.in_pixels());
      }
  }
}

void conv_backward_weight_depthwise_avx2(const ConvGeometry& g, const float* x, const float* dy,
                                         float* dw, float* workspace) noexcept {
  const DepthwisePlane p = depthwise_plane(g, ConvPass::kBackwardWeight);
  const Taps taps(p);
  const int64_t m = g.C_out / g.C_in, K = g.kernel_pixels(), P = g.out_pixels();
  // Threads own output channels and sum the images in order: one order for any team.
#pragma omp parallel if (g.C_out > 1)
  {
    float* plane = thread_plane(p, workspace);
    __m256 part[kDepthwiseMaxKernel * kDepthwiseMaxKernel];
#pragma omp for schedule(static)
    for (int64_t oc = 0; oc < g.C_out; ++oc) {
      for (int64_t k = 0; k < K; ++k) part[k] = _mm256_setzero_ps();
      for (int64_t n = 0; n < g.N; ++n) {
        fill_plane(p, x + (n * g.C_in + oc / m) * g.in_pixels(), plane);
        sum_taps(p, taps, plane, dy + (n * g.C_out + oc) * P, part);
      }
      for (int64_t k = 0; k < K; ++k) dw[oc * K + k] = horizontal_sum(part[k]);
    }
  }
}

}  // namespace fovea::kernels
