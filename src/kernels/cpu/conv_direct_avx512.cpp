// The direct convolution kernels (conv_direct_kernels.h) compiled for AVX-512.
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
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

// dst[j * ldd + i] = src[i * k + j] for i < 16, j < k: a piece of 16 rows of k floats (0 < k <
// 16) laid one after another, transposed. The piece is k whole vectors; row j of dst takes its
// lane i from vector (k i + j) / 16, by two-source permutes of consecutive pairs of them, one
// per pair, blended by masks worked out once per k. Backward data's weight, packed from where
// it lies (forward_lanes), is such pieces. The packing loop alone on ResNet-18 layer 4's 9.4 MB
// (k = 9), one thread, best of 30: 0.60 ms so, 1.78 ms element by element, 2.0 ms by the
// 16 x 16 register transpose of rows loaded k floats apart (masked loads).
class PieceTranspose {
 public:
  explicit PieceTranspose(int k)
      : run_(runs(std::make_index_sequence<kMaxK>{})[k - 1]), pairs_((k + 1) / 2) {
    for (int j = 0; j < k; ++j)
      for (int s = 0; s < pairs_; ++s) {
        alignas(64) int32_t idx[16];
        unsigned lanes = 0;
        for (int i = 0; i < 16; ++i) {
          idx[i] = (k * i + j) % 32;
          if ((k * i + j) / 32 == s) lanes |= 1u << i;
        }
        idx_[j][s] = _mm512_load_si512(idx);
        from_[j][s] = static_cast<__mmask16>(lanes);
      }
  }
  void operator()(const float* src, float* dst, int64_t ldd) const { run_(*this, src, dst, ldd); }

 private:
  static constexpr int kMaxK = 15;
  using Run = void (*)(const PieceTranspose&, const float*, float*, int64_t);
  template <int K>
  static void run(const PieceTranspose& t, const float* src, float* dst, int64_t ldd) {
    constexpr int kPairs = (K + 1) / 2;
    __m512 v[2 * kPairs];
    // Unrolled: as a loop, GCC 12 made the loads a call to memcpy into the stack (576 bytes
    // per piece at k = 9), then loaded from there.
#pragma GCC unroll 16
    for (int i = 0; i < K; ++i) v[i] = _mm512_loadu_ps(src + 16 * i);
    if constexpr (K % 2 == 1) v[K] = _mm512_setzero_ps();
    for (int j = 0; j < K; ++j) {
      __m512 row = _mm512_permutex2var_ps(v[0], t.idx_[j][0], v[1]);
      for (int s = 1; s < kPairs; ++s)
        row = _mm512_mask_blend_ps(t.from_[j][s], row,
                                   _mm512_permutex2var_ps(v[2 * s], t.idx_[j][s], v[2 * s + 1]));
      _mm512_storeu_ps(dst + j * ldd, row);
    }
  }
  template <size_t... I>
  static constexpr std::array<Run, sizeof...(I)> runs(std::index_sequence<I...>) {
    return {&run<static_cast<int>(I) + 1>...};
  }

  Run run_;
  int pairs_;
  __m512i idx_[kMaxK][(kMaxK + 1) / 2];
  __mmask16 from_[kMaxK][(kMaxK + 1) / 2];
};

struct Avx512 {
  using Vec = __m512;
  static constexpr int kLanes = 16;
  // 8 x 3 = 24 accumulators, 3 input vectors and a broadcast weight: 28 of 32 registers.
  static constexpr int kOcBlock = 8;
  static constexpr int kPixelVecs = 3;
  // 4 x 6 = 24 accumulators, 4 dy vectors and one input vector.
  static constexpr int kWeightOcs = 4;
  static constexpr int kWeightTaps = 6;
  // Backward weight with channels in the lanes: most (input channel, tap) pairs per block for
  // 1..4 vectors of channels, J x R accumulators, J dy vectors and a broadcast input. Blocks of
  // 4 x 6 (8 vectors in two, not 3 + 3 + 2: 18 broadcasts and 12 dy loads per 72 FMAs instead
  // of 27 and 8): ResNet-18's 3x3 weight gradients at batch 16, 2 threads, 8 alternating runs,
  // tenth percentiles, layer 2 6.93 ms against 7.20, layer 4 6.94 against 7.25, the stride-2
  // layers 2-4 2-3% faster, layer 3 and the dilated layer within ±1.5%.
  static constexpr std::array<int, 4> kLanePairs = {16, 14, 9, 6};
  // Forward with channels in the lanes: most outputs per tile for 1..3 vectors of channels,
  // J x R accumulators, J weight vectors and a broadcast input: up to 31 registers (4 x 7
  // left GCC spilling accumulators on every tap).
  static constexpr std::array<int, 3> kLaneOuts = {16, 14, 9};

  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  // max/min return their second operand when either is NaN: a NaN stays NaN. Zero-masked
  // forms: the plain ones trip GCC 12's -Wmaybe-uninitialized.
  static Vec clamp(Vec v, float lo, float hi) {
    return _mm512_maskz_min_ps(0xFFFF, _mm512_set1_ps(hi),
                               _mm512_maskz_max_ps(0xFFFF, _mm512_set1_ps(lo), v));
  }
  static Vec in_register(Vec v) {
    __asm__("" : "+v"(v));
    return v;
  }
  static void sum_each(const Vec* v, int n, float* out) { avx512::sum_each(v, n, out); }
  static void zero_n(float* dst, int64_t n) {
    for (; n >= kLanes; n -= kLanes, dst += kLanes) store(dst, zero());
    if (n > 0) _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << n) - 1), zero());
  }
  static void copy_n(const float* src, float* dst, int64_t n) {
    for (; n >= kLanes; n -= kLanes, src += kLanes, dst += kLanes) store(dst, load(src));
    if (n > 0) {
      const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
      _mm512_mask_storeu_ps(dst, m, _mm512_maskz_loadu_ps(m, src));
    }
  }
  // dst[j] = src[2 j], j < n, reading no further than src[2 n - 2]: the stride-2 phase split
  // of a padded row, two loads and a permute per vector (the scalar loop was 10% of ResNet-18
  // layer 2's forward).
  static void copy_even_n(const float* src, float* dst, int64_t n) {
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (; n > 0; n -= kLanes, src += 2 * kLanes, dst += kLanes) {
      const int64_t c = std::min<int64_t>(n, kLanes), e = 2 * c - 1;  // source floats read
      const __mmask16 lo = e >= kLanes ? 0xFFFF : static_cast<__mmask16>((1u << e) - 1);
      const __mmask16 hi = e > kLanes ? static_cast<__mmask16>((1u << (e - kLanes)) - 1) : 0;
      const __mmask16 out = c == kLanes ? 0xFFFF : static_cast<__mmask16>((1u << c) - 1);
      _mm512_mask_storeu_ps(dst, out,
                            _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, src), even,
                                                   _mm512_maskz_loadu_ps(hi, src + kLanes)));
    }
  }
  // The two stride-2 column phases of one padded row, P[c] = src[c - lo] where 0 <= c - lo < n
  // and 0 elsewhere: even[j] = P[2 j], odd[j] = P[2 j + 1], j < m. Two masked loads, two
  // permutes and two stores per 32 padded columns, zeros included. One phase at a time
  // (copy_even_n, the zeros stored apart), padding was 10-13% of ResNet-18 layer 2's forward
  // and weight gradient and layer 4's forward at batch 16, so 8-11%.
  static void split_row_pair(const float* src, int64_t n, int64_t lo, float* even, float* odd,
                             int64_t m) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // Lanes l of a vector of source elements from s0 with 0 <= s0 + l < n.
    auto valid = [n](int64_t s0) {
      const int64_t a = std::clamp<int64_t>(-s0, 0, kLanes),
                    b = std::clamp<int64_t>(n - s0, 0, kLanes);
      return b <= a ? __mmask16{0} : static_cast<__mmask16>(((1u << b) - 1) & ~((1u << a) - 1));
    };
    // Addressed as integers: the first vector may start before src (those lanes masked off).
    const auto base = reinterpret_cast<uintptr_t>(src);
    for (int64_t j = 0; j < m; j += kLanes) {
      const int64_t s0 = 2 * j - lo;
      const auto* a = reinterpret_cast<const float*>(base + static_cast<uintptr_t>(s0 * 4));
      const Vec lo_v = _mm512_maskz_loadu_ps(valid(s0), a);
      const Vec hi_v = _mm512_maskz_loadu_ps(valid(s0 + kLanes), a + kLanes);
      const int64_t c = std::min<int64_t>(m - j, kLanes);
      const __mmask16 out = c == kLanes ? 0xFFFF : static_cast<__mmask16>((1u << c) - 1);
      _mm512_mask_storeu_ps(even + j, out, _mm512_permutex2var_ps(lo_v, ie, hi_v));
      _mm512_mask_storeu_ps(odd + j, out, _mm512_permutex2var_ps(lo_v, io, hi_v));
    }
  }
  // Span s of a small padded plane (DirectPlan::spans) from its channel's input at src.
  static void pad_span(const float* src, const DirectSpan& s, float* dst) {
    _mm512_storeu_ps(dst, _mm512_maskz_permutexvar_ps(s.keep, _mm512_loadu_si512(s.idx),
                                                      _mm512_loadu_ps(src + s.src)));
  }
  // dst[q * ldd + l] = src[l * ld + q], l, q < kLanes.
  static void transpose_block(const float* src, int64_t ld, float* dst, int64_t ldd) {
    avx512::transpose16x16(src, ld, dst, ldd);
  }
  using PieceTranspose = fovea::kernels::PieceTranspose;
  // Lanes [lo, hi) of v to dst[0, hi - lo).
  static void store_lanes(float* dst, Vec v, int lo, int hi) {
    const __mmask16 m = static_cast<__mmask16>((1u << (hi - lo)) - 1);
    if (lo > 0) v = _mm512_maskz_compress_ps(static_cast<__mmask16>(m << lo), v);
    _mm512_mask_storeu_ps(dst, m, v);
  }
};

#include "kernels/cpu/conv_direct_kernels.h"

}  // namespace

bool conv_direct_avx512_supports(const ConvGeometry& g, ConvPass pass) {
  return cpu_has_avx512() && direct_supports(g, pass);
}

size_t conv_direct_avx512_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  return direct_workspace_floats(g, pass, Avx512::kLanes);
}

void conv_forward_direct_avx512(const ConvGeometry& g, const float* x, const float* w,
                                const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  run_forward<Avx512>(g, x, w, ep, y, workspace);
}

void conv_backward_data_direct_avx512(const ConvGeometry& g, const float* dy, const float* w,
                                      float* dx, float* workspace) noexcept {
  run_backward_data<Avx512>(g, dy, w, dx, workspace);
}

void conv_backward_weight_direct_avx512(const ConvGeometry& g, const float* x, const float* dy,
                                        float* dw, float* workspace) noexcept {
  run_backward_weight<Avx512>(g, x, dy, dw, workspace);
}

}  // namespace fovea::kernels
