#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pool_global_avg.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

// Below this many input elements a call stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelElements = int64_t{1} << 14;

}  // namespace

bool global_avg_pool_avx512_supports(const PoolGeometry& g) noexcept {
  return g.out_pixels() == 1 && cpu_has_avx512();
}

void global_avg_pool_forward_avx512(const PoolGeometry& g, const float* x, float* y) noexcept {
  const int64_t P = g.in_pixels(), planes = g.planes(), groups = (planes + 15) / 16;
  // Lane l reads plane l of the group: offsets l * P, below 2^31 as the door keeps planes
  // under 2^24 elements.
  const __m512i lane_offsets =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(P)));
  const __m512 count = _mm512_set1_ps(static_cast<float>(P));
#pragma omp parallel for schedule(static) if (planes * P >= kMinParallelElements)
  for (int64_t grp = 0; grp < groups; ++grp) {
    const int64_t p0 = grp * 16;
    const __mmask16 lanes = static_cast<__mmask16>((1u << std::min<int64_t>(16, planes - p0)) - 1);
    const float* xp = x + p0 * P;
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < P; ++i)
      sum = _mm512_add_ps(
          sum, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, lane_offsets, xp + i, 4));
    _mm512_mask_storeu_ps(y + p0, lanes, _mm512_div_ps(sum, count));
  }
}

}  // namespace fovea::kernels
