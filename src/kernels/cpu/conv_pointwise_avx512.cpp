// The pointwise kernels (conv_pointwise.h). Both passes are the same product per image,
//   C (M, P) = A (M, K) · B (K, P),  B and C the image's NCHW planes (row stride P),
// forward with A = w (C_out, C_in) read by rows, backward_data with A = wᵀ read by columns of w,
// so one register-tile kernel serves both: A is addressed by a row and a step stride.
// supports() and workspace_floats() come before the target pragma: they run on any CPU. Only
// the entry points leave this file (internal linkage below), so no function compiled for
// AVX-512 can be picked by the linker for code that runs before supports() said yes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_pointwise.h"
#include "kernels/cpu/cpu_features.h"

namespace fovea::kernels {

bool conv_pointwise_supports(const ConvGeometry& g, ConvPass pass) {
  return cpu_has_avx512() && g.is_pointwise() && g.groups == 1 && pass != ConvPass::kBackwardWeight;
}

size_t conv_pointwise_workspace_floats(const ConvGeometry&, ConvPass) {
  return 0;
}

}  // namespace fovea::kernels

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

constexpr int64_t kLanes = 16, kRows = kPointwiseRows, kVectors = kPointwiseVectors;
constexpr int64_t kTilePixels = kVectors * kLanes;
// Pixels of a chunk times K stay under this many floats (256 KiB, a quarter of Zen 5's L2): the
// chunk's B panel is read from memory by the first row tile and from L2 by the others.
constexpr int64_t kPanelFloats = int64_t{1} << 16;
// With several threads, aim for this many tasks per thread so static shares come out even.
constexpr int64_t kTasksPerThread = 4;

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// One register tile: C rows [0, R) × pixels [0, 16·V), the last vector's lanes in `last`.
struct Tile {
  const float* a;
  int64_t a_row, a_step;  // A(r, k) = a[r·a_row + k·a_step]
  const float* b;         // B(k, p) = b[k·ldb + p]
  int64_t ldb, K;
  float* c;  // C(r, p) = c[r·ldc + p]
  int64_t ldc;
  __mmask16 last;
  const float* bias;  // bias of row 0, or null
  bool clamp;
  float lo, hi;
};

template <int R, int V>
void tile_kernel(const Tile& t) noexcept {
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  const float* a = t.a;
  const float* b = t.b;
  for (int64_t k = 0; k < t.K; ++k, a += t.a_step, b += t.ldb) {
    __m512 bv[V];
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) bv[v] = _mm512_loadu_ps(b + v * kLanes);
    bv[V - 1] = _mm512_maskz_loadu_ps(t.last, b + (V - 1) * kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r * t.a_row]);
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  const __m512 lo = _mm512_set1_ps(t.lo), hi = _mm512_set1_ps(t.hi);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 bias = _mm512_set1_ps(t.bias ? t.bias[r] : 0.0f);
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) {
      __m512 out = t.bias ? _mm512_add_ps(acc[r][v], bias) : acc[r][v];
      // The zero-masked forms return the second operand for a NaN, as std::max/std::min do
      // (and keep GCC 12's -Wmaybe-uninitialized quiet).
      if (t.clamp) out = _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, out));
      float* dst = t.c + r * t.ldc + v * kLanes;
      if (v == V - 1) {
        _mm512_mask_storeu_ps(dst, t.last, out);
      } else {
        _mm512_storeu_ps(dst, out);
      }
    }
  }
}

// The lanes of v summed. (GCC 12 warns falsely inside _mm512_reduce_add_ps and the unmasked
// 512-to-256 casts and extracts.)
float horizontal_sum(__m512 v) {
  const __m256 half = _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xFF, v, 0),
                                    _mm512_maskz_extractf32x8_ps(0xFF, v, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

// One pixel of R rows as dot products along k, for pixels left over past the last whole vector
// when A's rows are contiguous (a_step == 1, the forward pass): a masked pixel vector would
// spend 16 lanes of FMAs on each of them (a 7×7 image: 4 vectors for 49 pixels), this spends
// one FMA per 16 products plus a horizontal sum. B's column is gathered, 16 k's at a time.
template <int R>
void dot_kernel(const Tile& t) noexcept {
  __m512 acc[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i rows_of_b =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(t.ldb)));
  for (int64_t k = 0; k < t.K; k += kLanes) {
    const __mmask16 m =
        t.K - k >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (t.K - k)) - 1);
    const __m512 bv =
        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, rows_of_b, t.b + k * t.ldb, sizeof(float));
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, t.a + r * t.a_row + k), bv, acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float sum = horizontal_sum(acc[r]) + (t.bias ? t.bias[r] : 0.0f);
    if (t.clamp) sum = std::min(std::max(sum, t.lo), t.hi);
    t.c[r * t.ldc] = sum;
  }
}

using TileFn = void (*)(const Tile&) noexcept;

template <size_t... R>
constexpr std::array<TileFn, kRows> dot_table(std::index_sequence<R...>) {
  return {dot_kernel<static_cast<int>(R) + 1>...};
}

// kDotKernels[rows - 1].
constexpr auto kDotKernels = dot_table(std::make_index_sequence<kRows>{});

template <int R, size_t... V>
constexpr std::array<TileFn, kVectors> row_of_kernels(std::index_sequence<V...>) {
  return {tile_kernel<R, static_cast<int>(V) + 1>...};
}

template <size_t... R>
constexpr std::array<std::array<TileFn, kVectors>, kRows> kernel_table(std::index_sequence<R...>) {
  return {row_of_kernels<static_cast<int>(R) + 1>(std::make_index_sequence<kVectors>{})...};
}

// kTileKernels[rows - 1][vectors - 1].
constexpr auto kTileKernels = kernel_table(std::make_index_sequence<kRows>{});

// C[n] = A · B[n] for every image, B[n] = b + n·K·P and C[n] = c + n·M·P, with `ep` (bias of
// C's rows, clamp) applied before the store.
struct Product {
  int64_t N, M, K, P;
  const float* a;
  int64_t a_row, a_step;
  const float* b;
  float* c;
  ConvEpilogue ep;
};

void multiply(const Product& pr) noexcept {
  const int64_t threads = omp_get_max_threads();
  // Pixel chunks whose B panel fits kPanelFloats, rounded to whole vectors.
  const int64_t chunks = std::max<int64_t>(ceil_div(pr.K * pr.P, kPanelFloats), 1);
  const int64_t chunk = ceil_div(ceil_div(pr.P, chunks), kLanes) * kLanes;
  const int64_t pixel_chunks = ceil_div(pr.P, chunk);
  // Row tiles split among tasks when images and chunks are too few to share out evenly.
  const int64_t row_tiles = ceil_div(pr.M, kRows);
  const int64_t row_splits =
      threads == 1 ? 1
                   : std::clamp(ceil_div(kTasksPerThread * threads, pr.N * pixel_chunks),
                                int64_t{1}, row_tiles);
  const int64_t tasks = pr.N * pixel_chunks * row_splits;
  const bool clamp = pr.ep.clamps();
  // Pixels past the last whole vector go by dot products where those cost less than a masked
  // vector: per row, `left` × (K/16 FMAs + a horizontal sum of about 16 FMAs' time) against K,
  // and only 1 or 2 of them, as each gather of B costs about a dozen cycles (measured on Zen 5,
  // one thread: 7×7 images, 1 left, ran 1.3 times faster by dots; 14×14, 4 left, 2-6% slower).
  // (The gather's 32-bit offsets reach 16 rows of B.)
  const int64_t left = pr.P % kLanes;
  const bool dots = pr.a_step == 1 && left > 0 && left <= 2 && left * (pr.K / kLanes + 16) < pr.K &&
                    kLanes * pr.P < (int64_t{1} << 29);
  const int64_t vector_end = dots ? pr.P - left : pr.P;
  auto task = [&](int64_t i) {
    const int64_t split = i % row_splits, pc = i / row_splits % pixel_chunks;
    const int64_t n = i / row_splits / pixel_chunks;
    const int64_t p0 = pc * chunk, p1 = std::min(pr.P, p0 + chunk);
    const float* b = pr.b + n * pr.K * pr.P;
    float* c = pr.c + n * pr.M * pr.P;
    // Row tiles outermost: the tile's A rows stay in L1 while it sweeps the chunk's pixels.
    for (int64_t rt = split * row_tiles / row_splits; rt < (split + 1) * row_tiles / row_splits;
         ++rt) {
      const int64_t r0 = rt * kRows, rows = std::min(kRows, pr.M - r0);
      Tile t{pr.a + r0 * pr.a_row,
             pr.a_row,
             pr.a_step,
             b,
             pr.P,
             pr.K,
             c + r0 * pr.P,
             pr.P,
             0,
             pr.ep.bias ? pr.ep.bias + r0 : nullptr,
             clamp,
             pr.ep.lo,
             pr.ep.hi};
      for (int64_t p = p0; p < std::min(p1, vector_end); p += kTilePixels) {
        const int64_t width = std::min(kTilePixels, std::min(p1, vector_end) - p);
        const int64_t vectors = ceil_div(width, kLanes), last = width - (vectors - 1) * kLanes;
        t.b = b + p;
        t.c = c + r0 * pr.P + p;
        t.last = static_cast<__mmask16>((1u << last) - 1);
        kTileKernels[rows - 1][vectors - 1](t);
      }
      for (int64_t p = std::max(p0, vector_end); p < p1; ++p) {
        t.b = b + p;
        t.c = c + r0 * pr.P + p;
        kDotKernels[rows - 1](t);
      }
    }
  };
  // One thread: no team to start.
  if (threads == 1 || tasks == 1) {
    for (int64_t i = 0; i < tasks; ++i) task(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tasks; ++i) task(i);
}

}  // namespace

void conv_forward_pointwise(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float*) noexcept {
  multiply({g.N, g.C_out, g.C_in, g.out_pixels(), w, g.C_in, 1, x, y, ep});
}

void conv_backward_data_pointwise(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float*) noexcept {
  multiply({g.N, g.C_in, g.C_out, g.out_pixels(), w, 1, g.C_in, dy, dx, ConvEpilogue{}});
}

}  // namespace fovea::kernels
