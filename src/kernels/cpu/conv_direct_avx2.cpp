// The direct convolution kernels (conv_direct_kernels.h) compiled for AVX2 with FMA: the
// fallback for x86-64 CPUs without AVX-512.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_direct_plan.h"
#include "kernels/cpu/cpu_features.h"

#pragma GCC target("avx2,fma")

namespace fovea::kernels {
namespace {

struct Avx2 {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  // 4 x 3 = 12 accumulators, 3 input vectors and a broadcast weight: all 16 registers.
  static constexpr int kOcBlock = 4;
  static constexpr int kPixelVecs = 3;
  // 2 x 5 = 10 accumulators, 2 dy vectors and one input vector.
  static constexpr int kWeightOcs = 2;
  static constexpr int kWeightTaps = 5;
  // Backward weight with channels in the lanes: most (input channel, tap) pairs per block for
  // 1..2 vectors of channels (6 x 2 = 12 accumulators, 2 dy vectors and a broadcast input).
  static constexpr std::array<int, 2> kLanePairs = {6, 6};
  // Most outputs per forward tile with channels in the lanes for 1..2 vectors of channels (6 x 2
  // = 12 accumulators, 2 weight vectors and a broadcast input).
  static constexpr std::array<int, 2> kLaneOuts = {6, 6};

  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  // Not _mm256_broadcast_ss: GCC 12 then stores every accumulator to the stack on each tap.
  static Vec broadcast(const float* p) { return _mm256_set1_ps(*p); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  // max/min return their second operand when either is NaN: a NaN stays NaN.
  static Vec clamp(Vec v, float lo, float hi) {
    return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), v));
  }
  static Vec in_register(Vec v) {
    __asm__("" : "+x"(v));
    return v;
  }
  static void sum_each(const Vec* v, int n, float* out) {
    for (int i = 0; i < n; ++i) {
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(v[i]), _mm256_extractf128_ps(v[i], 1));
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      out[i] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
  }
  // Lanes [0, n) of a vector, n < kLanes.
  static __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static void zero_n(float* dst, int64_t n) {
    for (; n >= kLanes; n -= kLanes, dst += kLanes) store(dst, zero());
    if (n > 0) _mm256_maskstore_ps(dst, first(n), zero());
  }
  static void copy_n(const float* src, float* dst, int64_t n) {
    for (; n >= kLanes; n -= kLanes, src += kLanes, dst += kLanes) store(dst, load(src));
    if (n > 0) _mm256_maskstore_ps(dst, first(n), _mm256_maskload_ps(src, first(n)));
  }
  // dst[j] = src[2 j], j < n, reading no further than src[2 n - 2]: whole vectors while the
  // next one's first source float exists, the rest one by one.
  static void copy_even_n(const float* src, float* dst, int64_t n) {
    for (; n > kLanes; n -= kLanes, src += 2 * kLanes, dst += kLanes) {
      // Lanes a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs in order.
      const __m256 pairs = _mm256_shuffle_ps(load(src), load(src + kLanes), 0x88);
      store(dst, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs), 0xD8)));
    }
    for (int64_t j = 0; j < n; ++j) dst[j] = src[2 * j];
  }
  // dst[q * ldd + l] = src[l * ld + q], l, q < kLanes (element by element: the fallback).
  static void transpose_block(const float* src, int64_t ld, float* dst, int64_t ldd) {
    for (int q = 0; q < kLanes; ++q)
      for (int l = 0; l < kLanes; ++l) dst[q * ldd + l] = src[l * ld + q];
  }
  // dst[j * ldd + i] = src[i * k + j] for i < kLanes, j < k (0 < k < kLanes), element by
  // element.
  class PieceTranspose {
   public:
    explicit PieceTranspose(int k) : k_(k) {}
    void operator()(const float* src, float* dst, int64_t ldd) const {
      for (int j = 0; j < k_; ++j)
        for (int i = 0; i < kLanes; ++i) dst[j * ldd + i] = src[i * k_ + j];
    }

   private:
    int k_;
  };
  // Lanes [lo, hi) of v to dst[0, hi - lo).
  static void store_lanes(float* dst, Vec v, int lo, int hi) {
    alignas(32) float lanes[kLanes];
    store(lanes, v);
    for (int i = lo; i < hi; ++i) dst[i - lo] = lanes[i];
  }
};

#include "kernels/cpu/conv_direct_kernels.h"

}  // namespace

bool conv_direct_avx2_supports(const ConvGeometry& g, ConvPass pass) {
  return cpu_has_avx2_fma() && direct_supports(g, pass);
}

size_t conv_direct_avx2_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  return direct_workspace_floats(g, pass, Avx2::kLanes);
}

void conv_forward_direct_avx2(const ConvGeometry& g, const float* x, const float* w,
                              const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  run_forward<Avx2>(g, x, w, ep, y, workspace);
}

void conv_backward_data_direct_avx2(const ConvGeometry& g, const float* dy, const float* w,
                                    float* dx, float* workspace) noexcept {
  run_backward_data<Avx2>(g, dy, w, dx, workspace);
}

void conv_backward_weight_direct_avx2(const ConvGeometry& g, const float* x, const float* dy,
                                      float* dw, float* workspace) noexcept {
  run_backward_weight<Avx2>(g, x, dy, dw, workspace);
}

}  // namespace fovea::kernels
