// The weight gradient's own tiles of the pointwise kernels (conv_pointwise.h,
// conv_pointwise_avx512.h): dW = sum_n dy[n] · x[n]ᵀ as register tiles of dot products over
// slices of pixels. weight_product is the one function that leaves this file, called only by the
// entry points after supports() said yes (see conv_pointwise_avx512.cpp).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_pointwise.h"
#include "kernels/cpu/conv_pointwise_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::pointwise_avx512 {
namespace {

// with A_n = dy[n] (rows of P pixels) and B_n = x[n] (or its panel of sampled pixels), over one
// slice of the sum: `images` images and `pixels` pixels from the pointers on. Each lane sums its
// own pixels, slice after slice, then the lanes are summed in order: one fixed order whatever
// the threads. R vectors of A stay in registers while the C of B stream past them.
struct WeightTile {
  const float* a;  // A_n(r, p) = a[n·a_image + r·P + p]
  const float* b;  // B_n(c, p) = b[n·b_image + c·P + p]
  int64_t a_image, b_image, images, P, pixels;
  float* partial;    // the R·C accumulators between slices (null when there is one slice)
  bool first, last;  // the tile's first slice (accumulators start at 0) and last
  float* c;          // dW(r, c) = c[r·ldc + c]
  int64_t ldc;
};

// acc(r, c) += A(r, p..p+15) · B(c, p..p+15), lanes outside m read as 0.
template <int R, int C>
[[gnu::always_inline]] inline void weight_step(const float* a, const float* b, int64_t P,
                                               __mmask16 m, __m512 (&acc)[R][C]) {
  // Each vector is loaded once into a register (the empty asm says it must be in one): left
  // alone, GCC folds the loads into the FMAs and loads every B vector R times, which makes the
  // loop load-bound.
  __m512 av[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    av[r] = _mm512_maskz_loadu_ps(m, a + r * P);
    asm("" : "+v"(av[r]));
  }
#pragma GCC unroll 16
  for (int c = 0; c < C; ++c) {
    __m512 bv = _mm512_maskz_loadu_ps(m, b + c * P);
    asm("" : "+v"(bv));
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(av[r], bv, acc[r][c]);
  }
}

// Every loop over acc is unrolled: an indexed access would keep acc in memory.
template <int R, int C>
void weight_kernel(const WeightTile& t) noexcept {
  __m512 acc[R][C];
  start_tile(acc, t.first ? nullptr : t.partial);
  const int64_t whole = t.pixels / kLanes * kLanes;
  const auto tail = static_cast<__mmask16>((1u << (t.pixels - whole)) - 1);
  for (int64_t n = 0; n < t.images; ++n) {
    const float* a = t.a + n * t.a_image;
    const float* b = t.b + n * t.b_image;
    // Whole vectors in a loop of their own, then the pixels past them, reading as 0 in both
    // operands.
    for (int64_t p = 0; p < whole; p += kLanes) weight_step(a + p, b + p, t.P, 0xFFFF, acc);
    if (tail) weight_step(a + whole, b + whole, t.P, tail, acc);
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) {
      if (t.last)
        t.c[r * t.ldc + c] = horizontal_sum(acc[r][c]);
      else
        _mm512_storeu_ps(t.partial + (r * C + c) * kLanes, acc[r][c]);
    }
}

using WeightFn = void (*)(const WeightTile&) noexcept;

template <int R, size_t... C>
constexpr std::array<WeightFn, kPointwiseWeightCols> weight_row(std::index_sequence<C...>) {
  return {weight_kernel<R, static_cast<int>(C) + 1>...};
}

template <size_t... R>
constexpr std::array<std::array<WeightFn, kPointwiseWeightCols>, kPointwiseWeightRows> weight_table(
    std::index_sequence<R...>) {
  return {weight_row<static_cast<int>(R) + 1>(std::make_index_sequence<kPointwiseWeightCols>{})...};
}

// kWeightKernels[rows - 1][cols - 1].
constexpr auto kWeightKernels = weight_table(std::make_index_sequence<kPointwiseWeightRows>{});

}  // namespace

// Declared, with what it does, in conv_pointwise_avx512.h.
void weight_product(int64_t N, int64_t M, int64_t K, int64_t P, const float* a, const float* b,
                    float* dw, float* partial, bool team) noexcept {
  constexpr int64_t kR = kPointwiseWeightRows, kC = kPointwiseWeightCols;
  const int64_t row_tiles = ceil_div(M, kR), col_tiles = ceil_div(K, kC);
  const int64_t tiles = row_tiles * col_tiles;
  const bool rows_outer = row_tiles >= col_tiles;
  const int64_t chunks = ceil_div(P, pointwise_weight_chunk(M, K));
  const int64_t chunk = ceil_div(ceil_div(P, chunks), kLanes) * kLanes;
  const int64_t slices = chunks > 1 ? N * chunks : 1;
  auto share = [&](int64_t t0, int64_t t1) {
    for (int64_t s = 0; s < slices; ++s) {
      const int64_t n = s / chunks, p0 = s % chunks * chunk;
      for (int64_t i = t0; i < t1; ++i) {
        const int64_t rt = rows_outer ? i / col_tiles : i % row_tiles;
        const int64_t ct = rows_outer ? i % col_tiles : i / row_tiles;
        const int64_t r0 = rt * kR, c0 = ct * kC;
        const WeightTile t{a + (n * M + r0) * P + p0,
                           b + (n * K + c0) * P + p0,
                           M * P,
                           K * P,
                           slices > 1 ? 1 : N,
                           P,
                           std::min(chunk, P - p0),
                           slices > 1 ? partial + i * kR * kC * kLanes : nullptr,
                           s == 0,
                           s == slices - 1,
                           dw + r0 * K + c0,
                           K};
        kWeightKernels[std::min(kR, M - r0) - 1][std::min(kC, K - c0) - 1](t);
      }
    }
  };
  // The thread's share; the team's threads are 0..team-1 (of 1 when there is no team).
  const int64_t t = team ? omp_get_thread_num() : 0, threads = team ? omp_get_num_threads() : 1;
  share(tiles * t / threads, tiles * (t + 1) / threads);
}

}  // namespace fovea::kernels::pointwise_avx512
