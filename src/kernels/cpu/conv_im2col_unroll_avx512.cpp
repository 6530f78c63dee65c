// col2im's adds at stride 2 along W with AVX-512 (conv_im2col_unroll.h): the kernel taps along W
// that add into one line of dx go together, a vector of 16 dx pixels loaded and stored once for
// all of them. Each tap's values go to every other lane: a masked load of its contiguous col
// entries, permuted into the lanes of its pixels (vexpandps did the same at a third of the
// speed on Zen 5). Per pixel the taps add in their order, one rounding each, as the scalar
// loop does: the result is bitwise the same.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_im2col_unroll.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using avx512::first_lanes;

constexpr int64_t kLanes = 16;

// ceil(a / 2) for any sign.
int64_t ceil_half(int64_t a) {
  return (a + 1) >> 1;
}

// What one tap adds into the 16 dx pixels from q: col entries [o0, o0 + count) of the line
// (`load` their lanes) into `lanes` (every other lane).
struct TapPart {
  const float* src;
  __m512i index;  // lane p takes entry (p - first lane) / 2
  __mmask16 load, lanes;
};

// The lines' adds into the 16 dx pixels from q (those in m) of parts[0..kParts): a template on
// the count of taps that reach them, so the loop over the taps unrolls and their masks stay in
// registers across the lines.
template <int kParts>
void add_parts(const TapPart* parts, int64_t src_ld, __mmask16 m, int64_t lines, float* d,
               int64_t dst_ld) {
  TapPart p[kParts];
  std::copy_n(parts, kParts, p);
  for (int64_t j = 0; j < lines; ++j, d += dst_ld) {
    __m512 acc = _mm512_maskz_loadu_ps(m, d);
    for (int i = 0; i < kParts; ++i) {
      const __m512 v = _mm512_maskz_loadu_ps(p[i].load, p[i].src + j * src_ld);
      acc = _mm512_mask_add_ps(acc, p[i].lanes, acc,
                               _mm512_maskz_permutexvar_ps(p[i].lanes, p[i].index, v));
    }
    _mm512_mask_storeu_ps(d, m, acc);
  }
}

// add_parts<n> at [n - 1].
template <size_t... I>
constexpr auto part_adders(std::index_sequence<I...>) {
  return std::array{&add_parts<static_cast<int>(I) + 1>...};
}
constexpr auto kAddParts = part_adders(std::make_index_sequence<kCol2imTapGroup>());

}  // namespace

// Declared, with what it does, in conv_im2col_unroll.h.
void col2im_add_taps_stride2(const float* src, int64_t tap_ld, int64_t src_ld, const LineRange* w,
                             int64_t taps, int64_t lines, float* dst, int64_t dst_ld) noexcept {
  int64_t p_lo = INT64_MAX, p_hi = INT64_MIN;  // the dx pixels the taps reach
  for (int64_t t = 0; t < taps; ++t)
    if (w[t].lo < w[t].hi) {
      p_lo = std::min(p_lo, 2 * w[t].lo + w[t].off);
      p_hi = std::max(p_hi, 2 * w[t].hi - 1 + w[t].off);
    }
  TapPart parts[kCol2imTapGroup];
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Vectors of dx pixels outer, so each tap's lanes are worked out once for all the lines.
  for (int64_t q = p_lo; q < p_hi; q += kLanes) {
    int n = 0;
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t o0 = std::max(w[t].lo, ceil_half(q - w[t].off));
      const int64_t o1 = std::min(w[t].hi, ceil_half(q + kLanes - w[t].off));
      if (o0 >= o1) continue;
      const int64_t lane = 2 * o0 + w[t].off - q, count = o1 - o0;
      const uint32_t lanes = (0x5555u << lane) & ((1u << (lane + 2 * count - 1)) - 1);
      const __m512i index = _mm512_maskz_srli_epi32(
          0xFFFF, _mm512_sub_epi32(iota, _mm512_set1_epi32(static_cast<int>(lane))), 1);
      parts[n++] = {src + t * tap_ld + o0, index, first_lanes(count),
                    static_cast<__mmask16>(lanes)};
    }
    const __mmask16 m = first_lanes(p_hi - q);
    if (n > 0) kAddParts[n - 1](parts, src_ld, m, lines, dst + q, dst_ld);
  }
}

void transpose_columns_avx512(const float* src, int64_t rows, int64_t lds, float* dst,
                              int64_t ldd) noexcept {
  for (int64_t r = 0; r < rows; r += kLanes)
    avx512::transpose16x16(src + r * lds, lds, dst + r, ldd);
}

}  // namespace fovea::kernels
