// Small AVX-512 pieces that several kernels share: lane masks, the fused activation's clamp in
// registers, the horizontal sums of many vectors at once, and the 16 x 16 transpose. For AVX-512
// translation units only, included after their standard and project headers: everything here is
// compiled for AVX-512 (the target pragma below) and is called only after a row's supports() said
// yes.
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

// The lanes of v summed. (GCC 12 warns falsely inside _mm512_reduce_add_ps and the unmasked
// 512-to-256 casts and extracts.)
inline float horizontal_sum(__m512 v) {
  const __m256 half = _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xFF, v, 0),
                                    _mm512_maskz_extractf32x8_ps(0xFF, v, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

// Pixels past a product's last whole vector of pixels can go by dot products along its sums of
// K terms instead (the pointwise product, the fused inverted residual's GEMMs): at most
// kDotPixels of them, sums of at most kDotMaxK (their columns of B are copied to the stack).
inline constexpr int64_t kDotPixels = 4, kDotMaxK = 2048;
// Whether `left` such pixels cost less as dot products than as a masked vector: per row, left x
// (K/16 FMAs + a horizontal sum of about 16 FMAs' time) against K.
inline bool dots_pay(int64_t left, int64_t K) {
  return left > 0 && left <= kDotPixels && left * (K / 16 + 16) < K && K <= kDotMaxK;
}

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

// r[0..15], 16 rows of 16 floats, transposed in registers: r[j] becomes column j. Two unpack
// stages build 4x4 blocks within each 128-bit lane, two lane shuffles assemble the columns.
// (The zero-masked forms with every lane set: GCC 12 warns falsely inside the plain ones.)
[[gnu::always_inline]] inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[i], r[i + 1]);
  }
  // r[4g + k], lane L: column 4L + k of rows 4g .. 4g + 3.
  for (int g = 0; g < 16; g += 4) {
    const __m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 1]);
    const __m512d c = _mm512_castps_pd(t[g + 2]), d = _mm512_castps_pd(t[g + 3]);
    r[g] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, a, c));
    r[g + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, a, c));
    r[g + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, b, d));
    r[g + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, b, d));
  }
  // 0x88 takes lanes 0 and 2 of each operand, 0xdd lanes 1 and 3.
  for (int k = 0; k < 4; ++k) {
    const __m512 a0 = _mm512_maskz_shuffle_f32x4(0xFFFF, r[k], r[k + 4], 0x88);
    const __m512 a1 = _mm512_maskz_shuffle_f32x4(0xFFFF, r[k], r[k + 4], 0xdd);
    const __m512 b0 = _mm512_maskz_shuffle_f32x4(0xFFFF, r[k + 8], r[k + 12], 0x88);
    const __m512 b1 = _mm512_maskz_shuffle_f32x4(0xFFFF, r[k + 8], r[k + 12], 0xdd);
    t[k] = _mm512_maskz_shuffle_f32x4(0xFFFF, a0, b0, 0x88);
    t[k + 8] = _mm512_maskz_shuffle_f32x4(0xFFFF, a0, b0, 0xdd);
    t[k + 4] = _mm512_maskz_shuffle_f32x4(0xFFFF, a1, b1, 0x88);
    t[k + 12] = _mm512_maskz_shuffle_f32x4(0xFFFF, a1, b1, 0xdd);
  }
  std::copy_n(t, 16, r);
}

// r[0..7], 8 rows of 8 floats, transposed in registers: r[j] becomes column j, by the stages of
// transpose16x16 on 256-bit registers (24 shuffles).
[[gnu::always_inline]] inline void transpose8x8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_maskz_unpacklo_ps(0xFF, r[i], r[i + 1]);
    t[i + 1] = _mm256_maskz_unpackhi_ps(0xFF, r[i], r[i + 1]);
  }
  // u[4g + k], half H: column 4H + k of rows 4g .. 4g + 3.
  __m256 u[8];
  for (int g = 0; g < 8; g += 4) {
    u[g] = _mm256_maskz_shuffle_ps(0xFF, t[g], t[g + 2], 0x44);
    u[g + 1] = _mm256_maskz_shuffle_ps(0xFF, t[g], t[g + 2], 0xEE);
    u[g + 2] = _mm256_maskz_shuffle_ps(0xFF, t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm256_maskz_shuffle_ps(0xFF, t[g + 1], t[g + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
    r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
  }
}

// dst[j * ldd + i] = src[i * lds + j], i, j < 16: the 16 x 16 block at src (rows lds floats
// apart) transposed into dst (rows ldd apart) through registers, instead of 256 scalar moves.
inline void transpose16x16(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  transpose16x16(r);
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
}

}  // namespace fovea::kernels::avx512

#pragma GCC pop_options
