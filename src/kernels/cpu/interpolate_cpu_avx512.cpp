// The row gather of the CPU interpolation kernels in AVX-512, for tables whose 16-position
// blocks each read within 32 consecutive elements (upsampling, and downsampling down to about
// half): two loads and one two-source permute per tap replace a 16-element gather, which is
// several times slower on the CPUs here.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/interpolate_cpu.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using avx512::first_lanes;

}  // namespace

void window_gather_row_avx512(const WindowGather& t, const float* src, int64_t src_length,
                              float* out) noexcept {
  // Copies, so the stores to out need not reload them.
  const int64_t P = t.positions;
  const int taps = t.taps;
  const int32_t* index = t.index;
  const float* weight = t.weight;
  const __m512i pad = _mm512_set1_epi32(t.pad);
  for (int64_t p0 = 0; p0 < P; p0 += 16) {
    const int32_t start = t.window_start[p0 / 16];
    // Whole blocks with the window inside src (nearly all) skip the masks' arithmetic.
    const bool whole = p0 + 16 <= P && start + 32 <= src_length;
    const __mmask16 m = whole ? 0xffff : first_lanes(P - p0);
    const __m512 lo = whole ? _mm512_loadu_ps(src + start)
                            : _mm512_maskz_loadu_ps(first_lanes(src_length - start), src + start);
    const __m512 hi =
        whole ? _mm512_loadu_ps(src + start + 16)
              : _mm512_maskz_loadu_ps(first_lanes(src_length - start - 16), src + start + 16);
    const __m512i s = _mm512_set1_epi32(start);
    __m512 acc = _mm512_setzero_ps();
    for (int k = 0; k < taps; ++k) {
      const __m512i i = _mm512_maskz_loadu_epi32(m, index + k * P + p0);
      const __m512 v = _mm512_permutex2var_ps(lo, _mm512_sub_epi32(i, s), hi);
      if (t.unit_weight) {  // nearest: one tap of weight 1
        acc = v;
        break;
      }
      // Padding entries add nothing (not 0 * value: the value may be infinite).
      const __mmask16 live = _mm512_mask_cmpneq_epi32_mask(m, i, pad);
      acc = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, weight + k * P + p0), v, acc, live);
    }
    _mm512_mask_storeu_ps(out + p0, m, acc);
  }
}

}  // namespace fovea::kernels
