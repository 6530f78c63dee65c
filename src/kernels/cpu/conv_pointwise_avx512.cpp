// The pointwise kernels (conv_pointwise.h). Forward and backward_data are the same product per
// image,
//   C (M, P) = A (M, K) · B (K, P),  B and C the image's NCHW planes (row stride P),
// forward with A = w (C_out, C_in) read by rows, backward_data with A = wᵀ read by columns of w,
// so one register-tile kernel serves both: A is addressed by a row and a step stride. The
// weight gradient at batch 1 with few pixels is that product too (A = dy, B = xᵀ), else its
// own dot-product tiles (weight_product).
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
#include "kernels/cpu/simd_avx512.h"

namespace fovea::kernels {

namespace {

// Whether the outputs sample the input sparsely (stride > 1, or trailing inputs left unread):
// the passes then go through a panel of the sampled pixels, (N, C_in, output pixels).
bool samples(const ConvGeometry& g) {
  return g.in != g.out;
}

// Whether the weight gradient goes as a plain product dW = dy · xᵀ over a transposed panel of
// x's (sampled) pixels: one image, few pixels (the per-tile dot products of the other way
// would spend more on their horizontal sums than on the few vectors of pixels).
bool weight_transposes(const ConvGeometry& g) {
  return g.N == 1 && g.out_pixels() <= kPointwiseWeightTransposePixels;
}

}  // namespace

bool conv_pointwise_supports(const ConvGeometry& g, ConvPass) {
  if (!cpu_has_avx512() || g.groups != 1) return false;
  // A 1×1 kernel whose every output reads an input pixel (no padding read).
  for (int a = 0; a < 3; ++a)
    if (g.kernel[a] != 1 || g.pad_lo[a] != 0 || (g.out[a] - 1) * g.stride[a] >= g.in[a])
      return false;
  return true;
}

size_t conv_pointwise_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  if (pass == ConvPass::kBackwardWeight && weight_transposes(g))
    return static_cast<size_t>(g.C_in * g.out_pixels() * (samples(g) ? 2 : 1));
  const int64_t panel = samples(g) ? g.N * g.C_in * g.out_pixels() : 0;
  if (pass != ConvPass::kBackwardWeight ||
      g.out_pixels() <= pointwise_weight_chunk(g.C_out, g.C_in))
    return static_cast<size_t>(panel);
  // The weight gradient's accumulators between pixel slices, after the panel: R·C vectors
  // per register tile.
  const auto tiles = [](int64_t v, int64_t t) { return (v + t - 1) / t * t; };
  return static_cast<size_t>(panel + tiles(g.C_out, kPointwiseWeightRows) *
                                         tiles(g.C_in, kPointwiseWeightCols) * 16);
}

}  // namespace fovea::kernels

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using avx512::first_lanes;

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

// Runs task(i) for i in [0, tasks) over the threads, in contiguous static shares: those of the
// team every thread of which makes this call when `team` (see with_team), else a team started
// here. `last`: the team's last step, whose end needs no barrier of its own (the team's end is
// one): a barrier is a wait for the slowest thread, and on a loaded machine for one the OS has
// put off.
template <class Task>
void run_tasks(int64_t tasks, bool team, Task&& task, bool last = false) {
  if (team && last) {
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  if (team) {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  // One thread: no team to start.
  if (omp_get_max_threads() == 1 || tasks == 1) {
    for (int64_t i = 0; i < tasks; ++i) task(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tasks; ++i) task(i);
}

// body(team) run by every thread of one team (team = true), or by the calling thread alone when
// there is one thread: a pass made of two steps (gather, then multiply) starts one team, not
// two; their run_tasks calls end in a barrier, so each step sees the previous one's results.
template <class Body>
void with_team(Body&& body) {
  if (omp_get_max_threads() == 1) {
    body(false);
    return;
  }
#pragma omp parallel
  body(true);
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
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      m[v] = first_lanes(rows - r0 - v * kLanes);
#pragma GCC unroll 4
      for (int j = 0; j < L; ++j) acc[v][j] = _mm512_setzero_ps();
    }
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

// Over the team when `team`; `last` says, as to run_tasks, that it is the team's last step.
void multiply(const Product& pr, bool team, bool last = true) noexcept {
  const int64_t threads = omp_get_max_threads();
  // Pixel chunks whose B panel fits kPanelFloats, rounded to whole vectors.
  const int64_t chunks = std::max<int64_t>(ceil_div(pr.K * pr.P, kPanelFloats), 1);
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
  const int64_t row_splits =
      threads == 1 ? 1
      : rows_outer ? threads
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
    const float* b = pr.b + n * pr.K * pr.P;
    float* c = pr.c + n * pr.M * pr.P;
    // Row tiles outermost: the tile's A rows stay in L1 while it sweeps the chunk's pixels.
    const int64_t rt_end = (split + 1) * row_tiles / row_splits;
    for (int64_t rt = split * row_tiles / row_splits; rt < rt_end; ++rt) {
      const int64_t r0 = rt * kRows, rows = std::min(kRows, pr.M - r0);
      // The next tile's rows of w (contiguous in the forward) asked for into L2 while this one
      // computes: in a network, w comes from DRAM (the layers between two forwards evict it
      // from L3), and on small images, where each row of w serves one pixel tile or two, the
      // loads of w stall the tile (MobileNet-v2 at batch 1, one thread: 3% less CPU time).
      if (pr.a_step == 1 && rt + 1 < rt_end) {
        const float* next = pr.a + (r0 + kRows) * pr.a_row;
        const int64_t floats = std::min(kRows, pr.M - r0 - kRows) * pr.a_row;
        for (int64_t i = 0; i < floats; i += kLanes)
          _mm_prefetch(reinterpret_cast<const char*>(next + i), _MM_HINT_T1);
      }
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
      for (int64_t p = std::max(p0, vector_end); dots && p < p1; ++p) {
        t.b = b + p;
        t.c = c + r0 * pr.P + p;
        kDotKernels[rows - 1](t);
      }
    }
    // Chunks are whole vectors: the pixels left are all in the last one.
    if (columns && vector_end >= p0 && vector_end < p1) {
      const int64_t r0 = split * row_tiles / row_splits * kRows,
                    r1 = std::min(pr.M, rt_end * kRows);
      const Tile t{pr.a + r0 * pr.a_row,
                   pr.a_row,
                   pr.a_step,
                   b + vector_end,
                   pr.P,
                   pr.K,
                   c + r0 * pr.P + vector_end,
                   pr.P,
                   0,
                   pr.ep.bias ? pr.ep.bias + r0 : nullptr,
                   clamp,
                   pr.ep.lo,
                   pr.ep.hi};
      kColumnKernels[left - 1](t, r1 - r0);
    }
  };
  run_tasks(tasks, team, task, last);
}

// One tile of the weight gradient, dW rows [0, R) × columns [0, C):
//   dW(r, c) = sum_n sum_p A_n(r, p) · B_n(c, p)
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
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c)
      acc[r][c] = t.first ? _mm512_setzero_ps() : _mm512_loadu_ps(t.partial + (r * C + c) * kLanes);
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

// dw (M, K) = sum_n a[n] (M, P) · b[n] (K, P)ᵀ, called by every thread of the team when
// `team` (see with_team), else by one thread alone. Threads take contiguous shares of the tiles,
// ordered so that a thread's consecutive tiles share the tile of the operand with more rows and
// sweep every tile of the other. Images of more than pointwise_weight_chunk pixels go in slices
// of that many, image by image, each thread sweeping its tiles slice after slice: the slice of
// the operand with fewer rows stays in L1, and the accumulators wait in `partial` in between.
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

// A row of the source's W axis at stride s: dst[i] = src[i·s] for i < n.
void gather_row(const float* src, int64_t s, int64_t n, float* dst) {
  if (s == 1) {
    std::copy_n(src, n, dst);
    return;
  }
  if (s != 2) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * s];
    return;
  }
  // Stride 2: the even lanes of two vectors; the source row holds at least 2n - 1 floats.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t i = 0; i < n; i += kLanes) {
    const int64_t in = 2 * (n - i) - 1;  // source floats left from src + 2i
    const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(in), src + 2 * i);
    const __m512 hi = in > kLanes
                          ? _mm512_maskz_loadu_ps(first_lanes(in - kLanes), src + 2 * i + kLanes)
                          : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(dst + i, first_lanes(n - i), _mm512_permutex2var_ps(lo, even, hi));
  }
}

// A row of dx's W axis from its sampled values at stride s: dst[i·s] = src[i] for i < n, zeros
// elsewhere in dst's `len` floats.
void scatter_row(const float* src, int64_t s, int64_t n, int64_t len, float* dst) {
  if (s == 1) {
    std::copy_n(src, n, dst);
    std::fill(dst + n, dst + len, 0.0f);
    return;
  }
  if (s != 2) {
    std::fill_n(dst, len, 0.0f);
    for (int64_t i = 0; i < n; ++i) dst[i * s] = src[i];
    return;
  }
  // Stride 2: 16 values at a time, spread into the even lanes of two vectors by permutes that
  // zero the odd lanes.
  const __m512i lo = _mm512_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0);
  const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
  int64_t j = 0;
  for (; j < n; j += kLanes) {
    const __m512 v = _mm512_maskz_loadu_ps(first_lanes(n - j), src + j);
    _mm512_mask_storeu_ps(dst + 2 * j, first_lanes(len - 2 * j),
                          _mm512_maskz_permutexvar_ps(0x5555, lo, v));
    _mm512_mask_storeu_ps(dst + 2 * j + kLanes, first_lanes(len - 2 * j - kLanes),
                          _mm512_maskz_permutexvar_ps(0x5555, hi, v));
  }
  if (2 * j < len) std::fill(dst + 2 * j, dst + len, 0.0f);
}

// Plane i of the (image, input channel) planes of x (N·C_in planes of g.in), its sampled pixels
// into plane i of the panel (N·C_in planes of g.out), or back: dx's plane from the panel's,
// zeros at the pixels no output reads.
void resample_plane(const ConvGeometry& g, bool to_panel, const float* src, float* dst, int64_t i) {
  const int64_t in_plane = g.in_pixels(), out_plane = g.out_pixels();
  const float* s = src + i * (to_panel ? in_plane : out_plane);
  float* d = dst + i * (to_panel ? out_plane : in_plane);
  if (to_panel) {
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        gather_row(s + (od * g.stride[0] * g.in[1] + oh * g.stride[1]) * g.in[2], g.stride[2],
                   g.out[2], d + (od * g.out[1] + oh) * g.out[2]);
    return;
  }
  for (int64_t id = 0; id < g.in[0]; ++id)
    for (int64_t ih = 0; ih < g.in[1]; ++ih) {
      float* row = d + (id * g.in[1] + ih) * g.in[2];
      const int64_t od = id / g.stride[0], oh = ih / g.stride[1];
      if (id % g.stride[0] != 0 || ih % g.stride[1] != 0 || od >= g.out[0] || oh >= g.out[1]) {
        std::fill_n(row, g.in[2], 0.0f);
      } else {
        scatter_row(s + (od * g.out[1] + oh) * g.out[2], g.stride[2], g.out[2], g.in[2], row);
      }
    }
}

// Every plane, as resample_plane. Threads split the planes; `last` as for run_tasks.
void resample(const ConvGeometry& g, bool to_panel, const float* src, float* dst, bool team,
              bool last = false) {
  run_tasks(
      g.N * g.C_in, team, [&](int64_t i) { resample_plane(g, to_panel, src, dst, i); }, last);
}

// Channels [c0, c0 + 16) of panel (P, C) = src (C, P, rows at stride P)ᵀ, in blocks of 16
// pixels × 16 channels transposed in registers.
void transpose_channels(const float* src, int64_t C, int64_t P, int64_t c0, float* panel) {
  for (int64_t p0 = 0; p0 < P; p0 += kLanes) {
    const __mmask16 pixels = first_lanes(P - p0);
    __m512 v[kLanes];
    for (int64_t r = 0; r < kLanes; ++r)
      v[r] =
          c0 + r < C ? _mm512_maskz_loadu_ps(pixels, src + (c0 + r) * P + p0) : _mm512_setzero_ps();
    avx512::transpose16x16(v);
    for (int64_t j = 0; j < std::min(kLanes, P - p0); ++j)
      _mm512_mask_storeu_ps(panel + (p0 + j) * C + c0, first_lanes(C - c0), v[j]);
  }
}

}  // namespace

void conv_forward_pointwise(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  if (!samples(g)) {
    multiply({g.N, g.C_out, g.C_in, g.out_pixels(), w, g.C_in, 1, x, y, ep}, false);
    return;
  }
  with_team([&](bool team) {
    resample(g, true, x, workspace, team);
    multiply({g.N, g.C_out, g.C_in, g.out_pixels(), w, g.C_in, 1, workspace, y, ep}, team);
  });
}

void conv_backward_data_pointwise(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float* workspace) noexcept {
  if (!samples(g)) {
    multiply({g.N, g.C_in, g.C_out, g.out_pixels(), w, 1, g.C_in, dy, dx, ConvEpilogue{}}, false);
    return;
  }
  with_team([&](bool team) {
    multiply({g.N, g.C_in, g.C_out, g.out_pixels(), w, 1, g.C_in, dy, workspace, ConvEpilogue{}},
             team, false);
    resample(g, false, workspace, dx, team, true);
  });
}

void conv_backward_weight_pointwise(const ConvGeometry& g, const float* x, const float* dy,
                                    float* dw, float* workspace) noexcept {
  if (weight_transposes(g)) {
    // dW (C_out, C_in) = dy (C_out, P) · panel (P, C_in), the panel transposed from x or from
    // its sampled pixels (after it in the workspace).
    // Threads split the channels, 16 at a time, each sampling and then transposing its own:
    // one barrier before the product, not one after each step, and the transpose reads what
    // its own core just wrote.
    float* sampled = workspace + g.C_in * g.out_pixels();
    with_team([&](bool team) {
      run_tasks(ceil_div(g.C_in, kLanes), team, [&](int64_t j) {
        const int64_t c0 = j * kLanes;
        if (samples(g))
          for (int64_t c = c0; c < std::min(g.C_in, c0 + kLanes); ++c)
            resample_plane(g, true, x, sampled, c);
        transpose_channels(samples(g) ? sampled : x, g.C_in, g.out_pixels(), c0, workspace);
      });
      multiply({1, g.C_out, g.out_pixels(), g.C_in, dy, g.out_pixels(), 1, workspace, dw,
                ConvEpilogue{}},
               team);
    });
    return;
  }
  const int64_t panel = samples(g) ? g.N * g.C_in * g.out_pixels() : 0;
  with_team([&](bool team) {
    if (panel > 0) resample(g, true, x, workspace, team);
    weight_product(g.N, g.C_out, g.C_in, g.out_pixels(), dy, panel > 0 ? workspace : x, dw,
                   workspace + panel, team);
  });
}

}  // namespace fovea::kernels
