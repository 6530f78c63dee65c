// The max pool forwards in AVX-512, a row of outputs in 16-lane blocks with masked edges.
//
// The 2x2 stride-2 forward with indices (VGG, LeNet, the fmnist-cnn): the generic kernel of
// pool_cpu.cpp sweeps each tap along an output row; on the short rows of small feature maps
// (14 or 28 outputs) that is mostly scalar loop tails, whose data-dependent branches
// mispredict. Here two input rows are loaded, split into even and odd columns, four taps
// compared in PyTorch's order.
//
// The forward of any window with W stride 1 or 2 and no W dilation (the ResNet stem's 3x3/2 pad
// 1, 2x2/2, 3x3/1), values only (inference) or with indices (training): each tap of each input
// row of the window is one vector of 16 outputs (stride 2: 32 consecutive inputs split into
// even and odd lanes), folded into the maximum in the reference's (d, h, w) order; with
// indices, a tap that wins moves its position into the argmax lanes. The average forward reads
// its taps the same way and adds them.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pool_cpu.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/rounding.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using avx512::first_lanes;

// Lane l of permutex2var(lo, even_lanes(), hi) is input 2l of the 32 in lo:hi; odd_lanes(), 2l+1.
__m512i even_lanes() {
  return _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}
__m512i odd_lanes() {
  return _mm512_add_epi32(even_lanes(), _mm512_set1_epi32(1));
}

// The reference's rule for a later tap: it wins when larger, or NaN.
__mmask16 takes(__m512 v, __m512 best) {
  return _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

// Up to 16 outputs from ow0 of the output row reading input rows r0 and r0 + W; pos0 is
// r0's position in the plane; n in [1, 16].
void pool_block(const float* r0, int64_t W, int64_t ow0, int64_t n, int32_t pos0, float* y,
                float* indices) {
  const __mmask16 out_mask = first_lanes(n);
  // 2n inputs from 2*ow0, in two 16-lane halves.
  const int64_t n_lo = std::min<int64_t>(2 * n, 16), n_hi = 2 * n - n_lo;
  const __mmask16 lo_mask = first_lanes(n_lo), hi_mask = first_lanes(n_hi);
  const __m512i even = even_lanes(), odd = odd_lanes();
  const float* p = r0 + 2 * ow0;
  const __m512 a_lo = _mm512_maskz_loadu_ps(lo_mask, p),
               a_hi = _mm512_maskz_loadu_ps(hi_mask, p + 16);
  const __m512 c_lo = _mm512_maskz_loadu_ps(lo_mask, p + W);
  const __m512 c_hi = _mm512_maskz_loadu_ps(hi_mask, p + W + 16);
  // Taps in (kh, kw) order: a = (0, 0), b = (0, 1), c = (1, 0), d = (1, 1).
  const __m512 taps[4] = {
      _mm512_permutex2var_ps(a_lo, even, a_hi), _mm512_permutex2var_ps(a_lo, odd, a_hi),
      _mm512_permutex2var_ps(c_lo, even, c_hi), _mm512_permutex2var_ps(c_lo, odd, c_hi)};
  const int32_t offsets[4] = {0, 1, static_cast<int32_t>(W), static_cast<int32_t>(W) + 1};
  // Position of tap a: pos0 + 2 * (ow0 + lane).
  const __m512i base =
      _mm512_add_epi32(_mm512_set1_epi32(pos0 + static_cast<int32_t>(2 * ow0)), even);
  // The first tap always stands: beating the initial -inf, or equal to it at the same position.
  __m512 best = taps[0];
  __m512i at = base;
  for (int t = 1; t < 4; ++t) {
    const __mmask16 m = takes(taps[t], best);
    best = _mm512_mask_mov_ps(best, m, taps[t]);
    at = _mm512_mask_add_epi32(at, m, base, _mm512_set1_epi32(offsets[t]));
  }
  _mm512_mask_storeu_ps(y + ow0, out_mask, best);
  if (indices == nullptr) return;  // values only (the compiler drops `at` then)
  // maskz_, not the plain conversion: GCC 12 warns about the latter's undefined source.
  _mm512_mask_storeu_ps(indices + ow0, out_mask, _mm512_maskz_cvtepi32_ps(out_mask, at));
}

// Kernel widths the row forward takes: its per-load column masks sit in fixed arrays.
constexpr int64_t kMaxKernelW = 16;

// The reference's step for a later value v: the maximum so far stays on ties (the earlier
// position wins) and when it is NaN; v replaces it when larger, or when v is NaN. max_ps(v, m)
// is v > m ? v : m, all of that but the NaN v, whose lanes keep v itself.
__m512 fold_max(__m512 m, __m512 v) {
  return _mm512_mask_max_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v, m);
}

// The lanes l < lanes of a load from row position start that lie inside the row [0, W).
uint32_t lanes_in_row(int64_t start, int64_t W, int64_t lanes) {
  const int64_t lo = std::clamp<int64_t>(-start, 0, lanes);
  const int64_t hi = std::clamp<int64_t>(W - start, lo, lanes);
  return static_cast<uint32_t>(((uint64_t{1} << hi) - 1) & ~((uint64_t{1} << lo) - 1));
}

// The loads of one input row that give the window taps of 16 outputs from ow0 (W stride kS):
// where each starts in the row and which of its lanes (lo: the first 16, hi: with stride 2 the
// next 16) lie inside it, the same on every row of the window. A load gives 16 outputs' tap
// (stride 1), or with the next 16 inputs two taps (stride 2).
template <int kS>
struct RowLoads {
  int64_t loads;
  int64_t start[kMaxKernelW];
  __mmask16 lo[kMaxKernelW], hi[kMaxKernelW];

  RowLoads(const PoolGeometry& g, int64_t ow0)
      : loads(kS == 1 ? g.kernel[2] : (g.kernel[2] + 1) / 2) {
    for (int64_t l = 0; l < loads; ++l) {
      start[l] = kS * (ow0 + l) - g.pad[2];
      const uint32_t inside = lanes_in_row(start[l], g.in[2], 16 * kS);
      lo[l] = static_cast<__mmask16>(inside);
      hi[l] = static_cast<__mmask16>(inside >> 16);
    }
  }

  // f(tap values, kw) for the taps of `row` in kw order; lanes outside the row read `outside`.
  template <class F>
  void for_each_tap(const float* row, int64_t kw, __m512 outside, F&& f) const {
    for (int64_t l = 0; l < loads; ++l) {
      const __m512 a = _mm512_mask_loadu_ps(outside, lo[l], row + start[l]);
      if constexpr (kS == 1) {
        f(a, l);
      } else {
        const __m512 b = _mm512_mask_loadu_ps(outside, hi[l], row + start[l] + 16);
        f(_mm512_permutex2var_ps(a, even_lanes(), b), 2 * l);
        if (2 * l + 1 < kw) f(_mm512_permutex2var_ps(a, odd_lanes(), b), 2 * l + 1);
      }
    }
  }
};

// One output row of the forward, W stride kS (1 or 2), with its argmax positions when kIndices.
// Lanes outside the input row load -inf: padding, which never changes a maximum nor takes the
// argmax (the reference skips it and starts at -inf), or inputs of outputs past the row's end,
// which are not stored.
template <int kS, bool kIndices>
void max_row(const PoolGeometry& g, const float* xp, int64_t od, int64_t oh, float* y,
             float* indices) {
  const int64_t OW = g.out[2];
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  // Lane l's window starts kS * l after lane 0's. (The zero-masked shift: GCC 12 warns falsely
  // inside the plain one in the sanitizer build.)
  const __m512i lane_step =
      kS == 1 ? _mm512_maskz_srli_epi32(0xFFFF, even_lanes(), 1) : even_lanes();
  for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
    const RowLoads<kS> loads(g, ow0);
    // The window starts of the 16 outputs in the row (the position of tap kw = 0); a window
    // that nothing beats keeps its first position inside the input (see the reference).
    const __m512i w0 =
        _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(loads.start[0])), lane_step);
    __m512i at = _mm512_setzero_si512();
    bool first_row = true;
    // Taps in the reference's (kd, kh, kw) order.
    __m512 m = ninf;
    for_each_window_row(g, od, oh, [&](int64_t pos_row) {
      if (kIndices && first_row)
        at = _mm512_add_epi32(_mm512_maskz_max_epi32(0xFFFF, w0, _mm512_setzero_si512()),
                              _mm512_set1_epi32(static_cast<int32_t>(pos_row)));
      first_row = false;
      // Folds tap k (at w0 + k in the row) into the maximum, and its position into `at`.
      loads.for_each_tap(xp + pos_row, g.kernel[2], ninf, [&](__m512 v, int64_t k) {
        if constexpr (kIndices) {
          const __mmask16 take = takes(v, m);
          m = _mm512_mask_mov_ps(m, take, v);
          at = _mm512_mask_add_epi32(at, take, w0,
                                     _mm512_set1_epi32(static_cast<int32_t>(pos_row + k)));
        } else {
          m = fold_max(m, v);
        }
      });
    });
    const __mmask16 out = first_lanes(OW - ow0);
    _mm512_mask_storeu_ps(y + ow0, out, m);
    if constexpr (kIndices)
      _mm512_mask_storeu_ps(indices + ow0, out, _mm512_maskz_cvtepi32_ps(out, at));
  }
}

// One output row of the average forward, W stride kS: the sum from +0 over the taps inside the
// input in the reference's (kd, kh, kw) order, divided by the window's divisor (dh, the row's
// factor, times col_div[ow], both exact integers in float, so their product is the reference's
// divisor rounded once). Lanes outside the input row load +0, which leaves every sum as the
// reference's skipping them does: a sum that starts at +0 is never -0.
template <int kS>
void avg_row(const PoolGeometry& g, const float* xp, int64_t od, int64_t oh, float dh,
             const float* col_div, float* y) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t ow0 = 0; ow0 < g.out[2]; ow0 += 16) {
    const RowLoads<kS> loads(g, ow0);
    __m512 sum = zero;
    for_each_window_row(g, od, oh, [&](int64_t pos_row) {
      loads.for_each_tap(xp + pos_row, g.kernel[2], zero,
                         [&](__m512 v, int64_t) { sum = _mm512_add_ps(sum, v); });
    });
    const __mmask16 out = first_lanes(g.out[2] - ow0);
    const __m512 div = _mm512_mul_ps(_mm512_set1_ps(dh), _mm512_maskz_loadu_ps(out, col_div + ow0));
    _mm512_mask_storeu_ps(y + ow0, out, _mm512_maskz_div_ps(out, sum, div));
  }
}

// The forwards prefetch their input kPrefetchRows output rows ahead, kPrefetchStep rows at a
// time. A pool's input is the output of the layer before, which other threads wrote in another
// split, or which left the caches (a batch): the hardware prefetchers alone, the loads of a row
// interleaving three input rows, left the 3x3/2 forward of 1 x 64 x 112² 2.3x slower on input
// written by the other core, and of 16 x 64 x 112² (from DRAM) 3x slower.
constexpr int64_t kPrefetchRows = 8, kPrefetchStep = 4;

// The input position just past the last row that output row r of a 2-D pool reads.
int64_t input_end(const PoolGeometry& g, int64_t r) {
  const int64_t last = r % g.out[1] * g.stride[1] - g.pad[1] + (g.kernel[1] - 1) * g.dilation[1];
  return r / g.out[1] * g.in_pixels() + std::clamp<int64_t>(last + 1, 0, g.in[1]) * g.in[2];
}

// At every kPrefetchStep-th output row r (of `rows`), prefetches the input rows that the rows
// kPrefetchRows later read, a contiguous range (2-D pools; 3-D ones have none). Always inlined:
// a call to it has no effect GCC sees, and it drops such calls.
[[gnu::always_inline]] inline void prefetch_input(const PoolGeometry& g, const float* x, int64_t r,
                                                  int64_t rows) {
  if (r % kPrefetchStep != 0 || g.in[0] != 1) return;
  const int64_t from = input_end(g, std::min(r + kPrefetchRows, rows) - 1);
  const int64_t to = input_end(g, std::min(r + kPrefetchRows + kPrefetchStep, rows) - 1);
  for (int64_t i = from / 16 * 16; i < to; i += 16)
    _mm_prefetch(reinterpret_cast<const char*>(x + i), _MM_HINT_T0);
}

// Every output row (plane, od, oh) of the forward, the rows split over the threads.
template <int kS, bool kIndices>
void max_rows(const PoolGeometry& g, const float* x, float* y, float* indices) {
  const int64_t per_plane = g.out[0] * g.out[1], rows = g.planes() * per_plane;
#pragma omp parallel for schedule(static) if (rows * g.out[2] >= kPoolMinParallelOutputs)
  for (int64_t r = 0; r < rows; ++r) {
    prefetch_input(g, x, r, rows);
    max_row<kS, kIndices>(g, x + r / per_plane * g.in_pixels(), r % per_plane / g.out[1],
                          r % g.out[1], y + r * g.out[2],
                          kIndices ? indices + r * g.out[2] : nullptr);
  }
}

// Every output row of the average forward, split over the threads as the max's; row_div and
// col_div: the divisor's factors per (od, oh) row and per output column.
template <int kS>
void avg_rows(const PoolGeometry& g, const float* x, const float* row_div, const float* col_div,
              float* y) {
  const int64_t per_plane = g.out[0] * g.out[1], rows = g.planes() * per_plane;
#pragma omp parallel for schedule(static) if (rows * g.out[2] >= kPoolMinParallelOutputs)
  for (int64_t r = 0; r < rows; ++r) {
    prefetch_input(g, x, r, rows);
    const int64_t in_plane = r % per_plane;
    avg_row<kS>(g, x + r / per_plane * g.in_pixels(), in_plane / g.out[1], in_plane % g.out[1],
                row_div[in_plane], col_div, y + r * g.out[2]);
  }
}

// For each input i along axis a, the outputs [first, last] whose windows (no dilation) hold
// it: once per call, not two integer divisions per input row of every plane.
std::vector<std::pair<int64_t, int64_t>> covering(const PoolGeometry& g, int a) {
  std::vector<std::pair<int64_t, int64_t>> range;
  for (int64_t i = 0; i < g.in[a]; ++i) {
    const int64_t s = g.stride[a], from = i + g.pad[a] - g.kernel[a] + 1;
    range.emplace_back(from <= 0 ? 0 : ceil_div(from, s),
                       std::min((i + g.pad[a]) / s, g.out[a] - 1));
  }
  return range;
}

// The share load of tap kw for the 16 input columns from iw0 (the same on every row): from
// s_row + base under mask, then for stride 2 spread by spread[odd] into the lanes of parity
// `odd` (lane 0's output position kS * ow is iw0 + pad - kw; odd when that is).
struct ShareLoad {
  int64_t base;
  __mmask16 mask;
  int odd;
};

template <int kS>
std::vector<ShareLoad> share_loads(const PoolGeometry& g) {
  std::vector<ShareLoad> loads;
  for (int64_t iw0 = 0; iw0 < g.in[2]; iw0 += 16)
    for (int64_t kw = g.kernel[2] - 1; kw >= 0; --kw) {
      const int64_t t0 = iw0 + g.pad[2] - kw;
      const int64_t base = kS == 1 ? t0 : (t0 >= 0 ? t0 / 2 : -((1 - t0) / 2));  // floor
      loads.push_back({base, static_cast<__mmask16>(lanes_in_row(base, g.out[2], 16)),
                       static_cast<int>(t0 - kS * base)});
    }
  return loads;
}

// What every plane of the average backward reads: the outputs covering each input slice (D)
// and row (H), and the share loads.
struct BackwardPlan {
  std::vector<std::pair<int64_t, int64_t>> rows[2];
  std::vector<ShareLoad> loads;
};

// One plane of the average backward in gather form: each input element sums the shares
// (dy / divisor, `share`, one per output) of the outputs whose windows hold it, from +0 and in
// output order (od, oh, then ow ascending, which is kw descending: share_loads' order), as the
// reference's scatter adds them; 16 input columns a vector. Stride 2: tap kw's outputs fill
// every other lane, from 8 consecutive shares spread by a permute.
template <int kS>
void avg_backward_plane(const PoolGeometry& g, const BackwardPlan& plan, const float* share,
                        float* dxp) {
  const ShareLoad* loads = plan.loads.data();
  const int64_t W = g.in[2], OW = g.out[2], K = g.kernel[2];
  // Lane l of a spread reads share l / 2 (lane 0's position even) or (l + 1) / 2 (odd); the
  // lanes of the other parity hold no output.
  // (Zero-masked shifts, as in max_row: GCC 12 warns falsely on the unmasked ones.)
  const __m512i spread[2] = {
      _mm512_maskz_srli_epi32(0xFFFF, even_lanes(), 2),
      _mm512_maskz_srli_epi32(0xFFFF, _mm512_add_epi32(even_lanes(), _mm512_set1_epi32(2)), 2)};
  const __mmask16 parity[2] = {0x5555, 0xAAAA};
  for (int64_t id = 0; id < g.in[0]; ++id) {
    const auto [od0, od1] = plan.rows[0][id];
    for (int64_t ih = 0; ih < g.in[1]; ++ih) {
      const auto [oh0, oh1] = plan.rows[1][ih];
      float* dx_row = dxp + (id * g.in[1] + ih) * W;
      for (int64_t iw0 = 0; iw0 < W; iw0 += 16) {
        const ShareLoad* block = loads + iw0 / 16 * K;
        __m512 sum = _mm512_setzero_ps();
        for (int64_t od = od0; od <= od1; ++od)
          for (int64_t oh = oh0; oh <= oh1; ++oh) {
            const float* s_row = share + (od * g.out[1] + oh) * OW;
            for (int64_t k = 0; k < K; ++k) {
              const ShareLoad& l = block[k];
              const __m512 v = _mm512_maskz_loadu_ps(l.mask, s_row + l.base);
              sum = _mm512_add_ps(
                  sum, kS == 1 ? v : _mm512_maskz_permutexvar_ps(parity[l.odd], spread[l.odd], v));
            }
          }
        _mm512_mask_storeu_ps(dx_row + iw0, first_lanes(W - iw0), sum);
      }
    }
  }
}

}  // namespace

bool max_pool_2x2_avx512_supports(const PoolGeometry& g) noexcept {
  // 2-D, full windows only (floor mode, or ceil mode that adds no window), no padding or dilation.
  return cpu_has_avx512() && g.in[0] == 1 && g.kernel[0] == 1 && g.kernel[1] == 2 &&
         g.kernel[2] == 2 && g.stride[1] == 2 && g.stride[2] == 2 && g.pad[1] == 0 &&
         g.pad[2] == 0 && g.dilation[1] == 1 && g.dilation[2] == 1 && 2 * g.out[1] <= g.in[1] &&
         2 * g.out[2] <= g.in[2];
}

void max_pool_2x2_forward_avx512(const PoolGeometry& g, const float* x, float* y,
                                 float* indices) noexcept {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int64_t rows = g.planes() * OH;
#pragma omp parallel for schedule(static) if (rows * OW >= kPoolMinParallelOutputs)
  for (int64_t r = 0; r < rows; ++r) {
    prefetch_input(g, x, r, rows);
    const int64_t plane = r / OH, oh = r % OH;
    const float* r0 = x + (plane * H + 2 * oh) * W;
    const int32_t pos0 = static_cast<int32_t>(2 * oh * W);
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 16)
      pool_block(r0, W, ow0, std::min<int64_t>(16, OW - ow0), pos0, y + r * OW,
                 indices ? indices + r * OW : nullptr);
  }
}

bool max_pool_avx512_supports(const PoolGeometry& g) noexcept {
  return cpu_has_avx512() && (g.stride[2] == 1 || g.stride[2] == 2) && g.dilation[2] == 1 &&
         g.kernel[2] <= kMaxKernelW;
}

void max_pool_forward_avx512(const PoolGeometry& g, const float* x, float* y,
                             float* indices) noexcept {
  const bool s1 = g.stride[2] == 1;
  if (indices == nullptr)
    s1 ? max_rows<1, false>(g, x, y, nullptr) : max_rows<2, false>(g, x, y, nullptr);
  else
    s1 ? max_rows<1, true>(g, x, y, indices) : max_rows<2, true>(g, x, y, indices);
}

void avg_pool_forward_avx512(const PoolGeometry& g, const float* x, const float* row_div,
                             const float* col_div, float* y) noexcept {
  g.stride[2] == 1 ? avg_rows<1>(g, x, row_div, col_div, y)
                   : avg_rows<2>(g, x, row_div, col_div, y);
}

bool avg_pool_avx512_supports(const PoolGeometry& g) noexcept {
  return max_pool_avx512_supports(g) && g.dilation[0] == 1 && g.dilation[1] == 1;
}

void avg_pool_backward_avx512(const PoolGeometry& g, const float* dy, const float* row_div,
                              const float* col_div, float* dx) noexcept {
  const int64_t rows = g.out[0] * g.out[1], OW = g.out[2];
  const bool s1 = g.stride[2] == 1;
  const BackwardPlan plan{{covering(g, 0), covering(g, 1)},
                          s1 ? share_loads<1>(g) : share_loads<2>(g)};
#pragma omp parallel
  {
    std::vector<float> share(rows * OW);
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < g.planes(); ++plane) {
      // The reference's shares, dy / divisor (whose factors multiply exactly, see avg_row).
      const float* dy_plane = dy + plane * rows * OW;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
          const __mmask16 m = first_lanes(OW - ow0);
          const __m512 div =
              _mm512_mul_ps(_mm512_set1_ps(row_div[r]), _mm512_maskz_loadu_ps(m, col_div + ow0));
          _mm512_mask_storeu_ps(
              share.data() + r * OW + ow0, m,
              _mm512_maskz_div_ps(m, _mm512_maskz_loadu_ps(m, dy_plane + r * OW + ow0), div));
        }
      float* dxp = dx + plane * g.in_pixels();
      s1 ? avg_backward_plane<1>(g, plan, share.data(), dxp)
         : avg_backward_plane<2>(g, plan, share.data(), dxp);
    }
  }
}

}  // namespace fovea::kernels
