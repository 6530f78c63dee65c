// The 2x2 stride-2 max pool forward (VGG, LeNet, the fmnist-cnn) in AVX-512. The generic
// kernel of pool_cpu.cpp sweeps each tap along an output row; on the short rows of small
// feature maps (14 or 28 outputs) that is mostly scalar loop tails, whose data-dependent
// branches mispredict. Here one output row is whole 16-lane blocks with a masked tail: two
// input rows loaded, split into even and odd columns, four taps compared in PyTorch's order.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pool_cpu.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

// Below this many outputs a call stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelOutputs = int64_t{1} << 13;

// The reference's rule for a later tap: it wins when larger, or NaN.
// The lowest n bits set, n clamped to [0, 16].
__mmask16 first_lanes(int64_t n) {
  return static_cast<__mmask16>((1u << std::clamp<int64_t>(n, 0, 16)) - 1);
}

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
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
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
  // maskz_, not the plain conversion: GCC 12 warns about the latter's undefined source.
  _mm512_mask_storeu_ps(indices + ow0, out_mask, _mm512_maskz_cvtepi32_ps(out_mask, at));
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
#pragma omp parallel for schedule(static) if (rows * OW >= kMinParallelOutputs)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t plane = r / OH, oh = r % OH;
    const float* r0 = x + (plane * H + 2 * oh) * W;
    const int32_t pos0 = static_cast<int32_t>(2 * oh * W);
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 16)
      pool_block(r0, W, ow0, std::min<int64_t>(16, OW - ow0), pos0, y + r * OW, indices + r * OW);
  }
}

}  // namespace fovea::kernels
