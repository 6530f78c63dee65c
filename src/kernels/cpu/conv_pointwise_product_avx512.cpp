// The product of the pointwise kernels (conv_pointwise.h, conv_pointwise_avx512.h) that serves
// the forward, backward_data and the weight gradient at batch 1 with few pixels: per image
// C (M, P) = A (M, K) · B (K, P) by register tiles, with dot products or column vectors for the
// last pixels, the epilogue (bias, clamp) fused before the only store. multiply is the one
// function that leaves this file, called only by the entry points after supports() said yes (see
// conv_pointwise_avx512.cpp).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_pointwise.h"
#include "kernels/cpu/conv_pointwise_avx512.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::pointwise_avx512 {
namespace {

using avx512::first_lanes;

constexpr int64_t kRows = kPointwiseRows, kVectors = kPointwiseVectors;
constexpr int64_t kTilePixels = kVectors * kLanes;
// With several threads and no split that shares the tasks evenly (even_row_splits), aim for
// this many tasks per thread so static shares come out near even; also the row tiles a thread
// needs before a batch-1 product splits its rows outermost.
constexpr int64_t kTasksPerThread = 4;

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
  start_tile(acc);
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

// One pixel of R rows as dot products along k, for pixels left over past the last whole vector
// when A's rows are contiguous (a_step == 1, the forward pass): a masked pixel vector would
// spend 16 lanes of FMAs on each of them (a 7×7 image: 4 vectors for 49 pixels), this spends
// one FMA per 16 products plus a horizontal sum. t.b is B's column for the pixel, copied out
// contiguous once per task for all its row tiles (multiply): with a gather per 16 k's of each
// row tile instead, the dot products took a tenth of ResNet-18's 7×7 downsampling forward (one
// thread, perf), for 2% of its products.
using avx512::kDotMaxK;
using avx512::kDotPixels;

template <int R>
void dot_kernel(const Tile& t) noexcept {
  __m512 acc[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < t.K; k += kLanes) {
    const __mmask16 m =
        t.K - k >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (t.K - k)) - 1);
    const __m512 bv = _mm512_maskz_loadu_ps(m, t.b + k);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, t.a + r * t.a_row + k), bv, acc[r]);
  }
  // Unrolled as well: with acc indexed by a variable here, GCC kept it in memory and stored
  // all R on every trip of the loop above (scripts/find_vector_spills.py).
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float sum = horizontal_sum(acc[r]) + (t.bias ? t.bias[r] : 0.0f);
    if (t.clamp) sum = std::min(std::max(sum, t.lo), t.hi);
    t.c[r * t.ldc] = sum;
  }
}

// The last L (1..kColumnPixels) pixels of a product whose A has contiguous columns
// (a_row == 1: backward_data's wᵀ), rows [0, rows) from the tile's first: vectorised along them,
// 16 at a time, one FMA per (row vector, pixel) and k, where a masked pixel vector would spend a
// whole vector of FMAs per row and k on them (backward_data of 7×7 images, 1 left of 49: a
// quarter of the work). Each C(r, p) sums A(r, k)·B(k, p) over k in the same order, by the same
// FMAs, as tile_kernel: the same bits.
inline constexpr int kColumnPixels = 4;

template <int L>
void column_kernel(const Tile& t, int64_t rows) noexcept {
  constexpr int V = 4;  // row vectors at a time
  const __m512i lane_rows =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(t.ldc)));
  const __m512 lo = _mm512_set1_ps(t.lo), hi = _mm512_set1_ps(t.hi);
  for (int64_t r0 = 0; r0 < rows; r0 += V * kLanes) {
    __mmask16 m[V];
    __m512 acc[V][L];
    start_tile(acc);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) m[v] = first_lanes(rows - r0 - v * kLanes);
    const float* a = t.a + r0;
    const float* b = t.b;
    for (int64_t k = 0; k < t.K; ++k, a += t.a_step, b += t.ldb) {
      __m512 bv[L];
#pragma GCC unroll 4
      for (int j = 0; j < L; ++j) bv[j] = _mm512_set1_ps(b[j]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        const __m512 av = _mm512_maskz_loadu_ps(m[v], a + v * kLanes);
#pragma GCC unroll 4
        for (int j = 0; j < L; ++j) acc[v][j] = _mm512_fmadd_ps(av, bv[j], acc[v][j]);
      }
    }
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const int64_t r = r0 + v * kLanes;
      if (m[v] == 0) break;
      const __m512 bias = t.bias ? _mm512_maskz_loadu_ps(m[v], t.bias + r) : _mm512_setzero_ps();
#pragma GCC unroll 4
      for (int j = 0; j < L; ++j) {
        __m512 out = t.bias ? _mm512_add_ps(acc[v][j], bias) : acc[v][j];
        if (t.clamp) out = _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, out));
        _mm512_mask_i32scatter_ps(t.c + r * t.ldc + j, m[v], lane_rows, out, sizeof(float));
      }
    }
  }
}

using ColumnFn = void (*)(const Tile&, int64_t) noexcept;

// kColumnKernels[left - 1].
constexpr std::array<ColumnFn, kColumnPixels> kColumnKernels = {column_kernel<1>, column_kernel<2>,
                                                                column_kernel<3>, column_kernel<4>};

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

// Splits of the row tiles per (image, chunk): the fewest that give every thread as many tasks
// (static shares of contiguous tasks), else enough for kTasksPerThread each. Fewer, larger
// tasks read each chunk's B panel from L2 fewer times: ResNet-18's 1x1/2 at batch 1, 2 threads,
// one task per thread against four: layer 3's backward data 0.0301 against 0.0320 ms, layer 4's
// 0.0294 against 0.0311, the forwards 1-3% faster.
int64_t even_row_splits(int64_t items, int64_t threads, int64_t row_tiles) {
  for (int64_t s = 1; s <= row_tiles; ++s)
    if (items * s % threads == 0) return s;
  return std::clamp(ceil_div(kTasksPerThread * threads, items), int64_t{1}, row_tiles);
}

}  // namespace

// Declared, with what it does, in conv_pointwise_avx512.h.
void multiply(const Product& pr, bool team, bool last) noexcept {
  const int64_t threads = task_threads(team);
  const int64_t ldb = pr.ldb > 0 ? pr.ldb : pr.P;
  const int64_t ldc = pr.ldc > 0 ? pr.ldc : pr.P;
  // Pixel chunks whose B panel fits kPointwisePanelFloats, rounded to whole vectors.
  const int64_t chunks = std::max<int64_t>(ceil_div(pr.K * pr.P, kPointwisePanelFloats), 1);
  const int64_t chunk = ceil_div(ceil_div(pr.P, chunks), kLanes) * kLanes;
  const int64_t pixel_chunks = ceil_div(pr.P, chunk);
  // Row tiles split among tasks when images and chunks are too few to share out evenly.
  const int64_t row_tiles = ceil_div(pr.M, kRows);
  // One image in several chunks, with row tiles enough to share evenly: each thread takes its
  // own range of rows (output channels) over every chunk, not its own chunks of every row. Its
  // stores then go to one contiguous range of the output, and a depthwise layer after it, which
  // splits channels the same way, reads what its own core wrote (MobileNet-v2's 24->144 at
  // 56x56 and 16->96 at 112x112, two threads: 1.08-1.11x faster alone).
  const bool rows_outer =
      threads > 1 && pr.N == 1 && pixel_chunks > 1 && row_tiles >= kTasksPerThread * threads;
  const int64_t row_splits = threads == 1 ? 1
                             : rows_outer
                                 ? threads
                                 : even_row_splits(pr.N * pixel_chunks, threads, row_tiles);
  const int64_t tasks = pr.N * pixel_chunks * row_splits;
  const bool clamp = pr.ep.clamps();
  // Pixels past the last whole vector go by dot products where those cost less than a masked
  // vector: per row, `left` × (K/16 FMAs + a horizontal sum of about 16 FMAs' time) against K.
  const int64_t left = pr.P % kLanes;
  const bool dots = pr.a_step == 1 && avx512::dots_pay(left, pr.K);
  // Where A's columns are contiguous, such pixels go by column_kernel (its scatters' 32-bit
  // offsets reach 16 rows of C).
  const bool columns = !dots && pr.a_row == 1 && left > 0 && left <= kColumnPixels &&
                       kLanes * pr.P < (int64_t{1} << 29);
  const int64_t vector_end = dots || columns ? pr.P - left : pr.P;
  auto task = [&](int64_t i) {
    const int64_t split = rows_outer ? i / pixel_chunks % row_splits : i % row_splits;
    const int64_t pc = rows_outer ? i % pixel_chunks : i / row_splits % pixel_chunks;
    const int64_t n = i / row_splits / pixel_chunks;
    const int64_t p0 = pc * chunk, p1 = std::min(pr.P, p0 + chunk);
    const float* b = pr.b + n * pr.K * ldb;
    float* c = pr.c + n * pr.M * ldc;
    // The dot products' pixels (in this chunk) as contiguous columns of B.
    alignas(64) float columns_of_b[kDotPixels][kDotMaxK];
    for (int64_t p = std::max(p0, vector_end); dots && p < p1; ++p)
      for (int64_t k = 0; k < pr.K; ++k) columns_of_b[p - vector_end][k] = b[k * ldb + p];
    const int64_t rt_begin = split * row_tiles / row_splits;
    const int64_t rt_end = (split + 1) * row_tiles / row_splits;
    auto tile_of = [&](int64_t rt) {
      const int64_t r0 = rt * kRows;
      return Tile{pr.a + r0 * pr.a_row,
                  pr.a_row,
                  pr.a_step,
                  b,
                  ldb,
                  pr.K,
                  c + r0 * ldc,
                  ldc,
                  0,
                  pr.ep.bias ? pr.ep.bias + r0 : nullptr,
                  clamp,
                  pr.ep.lo,
                  pr.ep.hi};
    };
    auto rows_of = [&](int64_t rt) { return std::min(kRows, pr.M - rt * kRows); };
    const int64_t p_end = std::min(p1, vector_end);
    // The dot-product pixels of row tile rt (those of this chunk).
    auto dot_products = [&](int64_t rt) {
      if (!dots) return;
      const Tile row_tile = tile_of(rt);
      for (int64_t p = std::max(p0, vector_end); p < p1; ++p) {
        Tile t = row_tile;
        t.b = columns_of_b[p - vector_end];
        t.c += p;
        kDotKernels[rows_of(rt) - 1](t);
      }
    };
    // Tile (rt, p): rows [rt·8, +8) × pixels [p, +48) of the task.
    auto tile = [&](int64_t rt, int64_t p) {
      // On a row tile's first pixel tile, the next row tile's rows of w (contiguous in the
      // forward) asked for into L2 while this one computes: in a network, w comes from DRAM (the
      // layers between two forwards evict it from L3), and on small images, where each row of w
      // serves one pixel tile or two, the loads of w stall the tile (MobileNet-v2 at batch 1,
      // one thread: 3% less CPU time).
      if (p == p0 && pr.a_step == 1 && rt + 1 < rt_end) {
        const float* next = pr.a + (rt + 1) * kRows * pr.a_row;
        const int64_t floats = std::min(kRows, pr.M - (rt + 1) * kRows) * pr.a_row;
        for (int64_t i = 0; i < floats; i += kLanes)
          _mm_prefetch(reinterpret_cast<const char*>(next + i), _MM_HINT_T1);
      }
      const int64_t width = std::min(kTilePixels, p_end - p);
      const int64_t vectors = ceil_div(width, kLanes), last = width - (vectors - 1) * kLanes;
      Tile t = tile_of(rt);
      t.b = b + p;
      t.c += p;
      t.last = static_cast<__mmask16>((1u << last) - 1);
      kTileKernels[rows_of(rt) - 1][vectors - 1](t);
      // After the row tile's last pixel tile, its dot products, while its rows of A are in L1.
      if (p + kTilePixels >= p_end) dot_products(rt);
    };
    // Pixel tiles outermost where the task's block of C is small: a pixel tile's slice of B (K
    // × 48 floats, three cache lines per k) stays in L1 while the task's rows of A pass by (8
    // broadcasts per k, one cache line per 16 k and row), where row tiles outermost read all of
    // the chunk's B from L2 again for each row tile. ResNet-18's 1x1/2 of layer 3 at batch 1
    // (14x14, 128 -> 256) on one thread of the Ice Lake, 50 alternating runs each: median 0.156
    // ms against 0.167, tenth percentile 0.116 against 0.136 (the same on two threads). With a
    // large block of C, its rows a page or more apart, each pixel tile stored to a page per
    // row: MobileNet-v2's 24 -> 144 at 56x56, batch 16 (tasks of 144 rows x 1568 pixels), took
    // 1.8x as long that way.
    if (p_end <= p0) {
      for (int64_t rt = rt_begin; rt < rt_end; ++rt) dot_products(rt);
    } else if ((rt_end - rt_begin) * kRows * (p1 - p0) <= kPointwisePanelFloats) {
      for (int64_t p = p0; p < p_end; p += kTilePixels)
        for (int64_t rt = rt_begin; rt < rt_end; ++rt) tile(rt, p);
    } else {
      for (int64_t rt = rt_begin; rt < rt_end; ++rt)
        for (int64_t p = p0; p < p_end; p += kTilePixels) tile(rt, p);
    }
    // Chunks are whole vectors: the pixels left are all in the last one.
    if (columns && vector_end >= p0 && vector_end < p1) {
      const int64_t r0 = rt_begin * kRows, r1 = std::min(pr.M, rt_end * kRows);
      Tile t = tile_of(rt_begin);
      t.b += vector_end;
      t.c += vector_end;
      kColumnKernels[left - 1](t, r1 - r0);
    }
  };
  run_tasks(tasks, team, task, last);
}

// One tile of the weight gradient, dW rows [0, R) × columns [0, C):
//   dW(r, c) = sum_n sum_p A_n(r, p) · B_n(c, p)
}  // namespace fovea::kernels::pointwise_avx512
