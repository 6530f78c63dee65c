// Small AVX-512 pieces that several kernels share: lane masks, the fused activation's clamp in
// registers, and the horizontal sums of many vectors at once. For AVX-512 translation units
// only, included after their standard and project headers: everything here is compiled for
// AVX-512 (the target pragma below) and is called only after a row's supports() said yes.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/conv_algorithm.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::avx512 {

// The lowest n lanes, n clamped to [0, 16].
inline __mmask16 first_lanes(int64_t n) {
  return static_cast<__mmask16>((1u << std::clamp<int64_t>(n, 0, 16)) - 1);
}

// The forward's clamp, applied in registers before the store. max/min return their second
// operand when either is NaN, so a NaN sum stays NaN, as std::min(std::max(v, lo), hi) keeps it;
// the zero-masked forms because the plain ones trip GCC 12's -Wmaybe-uninitialized.
struct Clamp {
  bool on = false;
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();

  Clamp() = default;
  explicit Clamp(const ConvEpilogue& ep)
      : on(ep.clamps()), lo(_mm512_set1_ps(ep.lo)), hi(_mm512_set1_ps(ep.hi)) {}

  __m512 operator()(__m512 v) const {
    return _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, v));
  }
};

// out[i] = the sum of the lanes of v[i], i < n, 16 vectors at a time through a tree of shuffles
// (33 instructions, not 16 reductions of 8): every vector's lanes are added in one fixed order,
// wherever it stands. Masked forms (all lanes) throughout: GCC 12 warns (-Wuninitialized) inside
// the unmasked ones, which pass _mm512_undefined_*().
inline void sum_each(const __m512* v, int64_t n, float* out) {
  constexpr __mmask16 all = 0xFFFF;
  for (int64_t i0 = 0; i0 < n; i0 += 16) {
    __m512 a[16], b[8], c[4];
    for (int i = 0; i < 16; ++i) a[i] = i0 + i < n ? v[i0 + i] : _mm512_setzero_ps();
    // Per 128-bit lane: pairs, then quads of vectors share a register.
    for (int j = 0; j < 8; ++j)
      b[j] = _mm512_add_ps(_mm512_mask_unpacklo_ps(a[0], all, a[2 * j], a[2 * j + 1]),
                           _mm512_mask_unpackhi_ps(a[0], all, a[2 * j], a[2 * j + 1]));
    for (int k = 0; k < 4; ++k) {
      const __m512d lo = _mm512_castps_pd(b[2 * k]), hi = _mm512_castps_pd(b[2 * k + 1]);
      c[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_mask_unpacklo_pd(lo, 0xFF, lo, hi)),
                           _mm512_castpd_ps(_mm512_mask_unpackhi_pd(lo, 0xFF, lo, hi)));
    }
    // Across the 128-bit lanes: lane 4k + i of the result holds vector 4k + i.
    auto fold = [&](__m512 x, __m512 y) {
      return _mm512_add_ps(_mm512_mask_shuffle_f32x4(x, all, x, y, 0x88),
                           _mm512_mask_shuffle_f32x4(x, all, x, y, 0xDD));
    };
    _mm512_mask_storeu_ps(out + i0, first_lanes(n - i0), fold(fold(c[0], c[1]), fold(c[2], c[3])));
  }
}

}  // namespace fovea::kernels::avx512

#pragma GCC pop_options
