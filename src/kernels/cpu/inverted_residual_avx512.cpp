// The AVX-512 half of the fused inverted-residual block (inverted_residual.h): one GEMM tile for
// both 1x1 convolutions, the depthwise 3x3 over rows of a channel-major band, and the band
// walk. Only the entry point leaves this file (internal linkage below), so no function compiled
// for AVX-512 can be picked by the linker for code that runs before supports() said yes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/inverted_residual.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/rounding.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using avx512::Clamp;
using avx512::first_lanes;
using avx512::horizontal_sum;
using avx512::kDotMaxK;
using avx512::kDotPixels;

constexpr int kTileRows = 6;     // output channels of a GEMM tile
constexpr int kTileVectors = 4;  // 16-pixel vectors of a GEMM tile: 24 accumulators
constexpr int64_t kMaxVectors = kInvertedResidualMaxWidth / 16;

// c = clamp(w b + bias) + r over P pixels: w (M, K) row-major, b (K, P) with rows ldb apart, c
// and r (M, P) with rows ldc and ldr apart. The expansion (b = rows of x, relu6) and the
// projection (b = the depthwise's band, r = x for the residual) are both this.
struct Gemm {
  const float* w;
  const float* bias;  // M values, or none
  int64_t M, K;
  Clamp clamp;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
  const float* r = nullptr;  // residual, or none
  int64_t ldr = 0;
};

// Rows m0 .. m0 + R of c at pixels p0 .. p0 + 16 V, the last vector's lanes `tail`: per k, V
// loads of b and R broadcasts of w feed R x V independent FMA chains.
template <int R, int V>
void gemm_tile(const Gemm& g, int64_t m0, int64_t p0, __mmask16 tail) {
  // One pointer a row: each broadcast then addresses w_i[k] in one instruction.
  const float* w[R];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) w[i] = g.w + (m0 + i) * g.K;
  __m512 acc[R][V];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
  const float* b = g.b + p0;
  for (int64_t k = 0; k < g.K; ++k, b += g.ldb) {
    __m512 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      bv[v] = v == V - 1 ? _mm512_maskz_loadu_ps(tail, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      const __m512 wi = _mm512_set1_ps(w[i][k]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(wi, bv[v], acc[i][v]);
    }
  }
  // In locals: the stores to c could alias g, whose fields the compiler would reload after each.
  const Clamp clamp = g.clamp;
  const float* bias = g.bias;
  const float* r = g.r;
  const int64_t ldc = g.ldc, ldr = g.ldr;
  float* c = g.c + m0 * ldc + p0;
  if (r) r += m0 * ldr + p0;
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i, c += ldc, r = r ? r + ldr : r) {
    const __m512 b_i = _mm512_set1_ps(bias ? bias[m0 + i] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __mmask16 lanes = v == V - 1 ? tail : 0xFFFF;
      __m512 s = _mm512_add_ps(acc[i][v], b_i);
      if (clamp.on) s = clamp(s);
      if (r) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(lanes, r + 16 * v));
      _mm512_mask_storeu_ps(c + 16 * v, lanes, s);
    }
  }
}

using TileFn = void (*)(const Gemm&, int64_t, int64_t, __mmask16);

template <int R>
constexpr std::array<TileFn, kTileVectors> kTilesOfRows = {gemm_tile<R, 1>, gemm_tile<R, 2>,
                                                           gemm_tile<R, 3>, gemm_tile<R, 4>};
// kTiles[R - 1][V - 1]: every tile shape the edges of c need.
constexpr std::array<std::array<TileFn, kTileVectors>, kTileRows> kTiles = {
    kTilesOfRows<1>, kTilesOfRows<2>, kTilesOfRows<3>,
    kTilesOfRows<4>, kTilesOfRows<5>, kTilesOfRows<6>};

// Rows m0 .. m0 + rows (at most kTileRows) of c at pixels [p0, p1) (at most kDotPixels, past
// the last whole vector) as dot products along k: a masked vector would spend 16 lanes of FMAs
// on each of them (a 7x7 plane: 4 vectors for 49 pixels). Called after the rows' last tile,
// while their weights are in L1. Each sum: 16-lane partial sums over k in order, the lanes
// summed by a fixed tree, then the bias, the clamp and the residual, as gemm_tile adds them.
// cols: the pixels' columns of b, K floats each.
void dot_rows(const Gemm& g, int64_t m0, int rows, int64_t p0, int64_t p1, const float* cols) {
  const int64_t n = p1 - p0, K = g.K;
  __m512 acc[kTileRows][kDotPixels];
#pragma GCC unroll 6
  for (int i = 0; i < kTileRows; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < kDotPixels; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 lanes = first_lanes(K - k);
    __m512 col[kDotPixels];
#pragma GCC unroll 4
    for (int j = 0; j < kDotPixels; ++j)
      col[j] = j < n ? _mm512_maskz_loadu_ps(lanes, cols + j * K + k) : _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < kTileRows; ++i) {
      if (i >= rows) break;
      const __m512 wv = _mm512_maskz_loadu_ps(lanes, g.w + (m0 + i) * K + k);
#pragma GCC unroll 4
      for (int j = 0; j < kDotPixels; ++j)
        if (j < n) acc[i][j] = _mm512_fmadd_ps(wv, col[j], acc[i][j]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < kTileRows; ++i) {
    if (i >= rows) break;
    const int64_t m = m0 + i;
#pragma GCC unroll 4
    for (int j = 0; j < kDotPixels; ++j) {
      if (j >= n) break;
      float s = horizontal_sum(acc[i][j]) + (g.bias ? g.bias[m] : 0.0f);
      if (g.clamp.on) s = _mm512_cvtss_f32(g.clamp(_mm512_set1_ps(s)));
      if (g.r) s += g.r[m * g.ldr + p0 + j];
      g.c[m * g.ldc + p0 + j] = s;
    }
  }
}

// c over P pixels, by tiles of kTileRows x kTileVectors vectors; with `dots`
// (InvertedResidualPlan::pixel_dots), the pixels past the last whole vector by dot_rows where
// that pays (avx512::dots_pay).
void gemm(const Gemm& g, int64_t P, bool dots) {
  const int64_t left = P % 16;
  dots = dots && avx512::dots_pay(left, g.K);
  const int64_t vector_end = dots ? P - left : P;
  alignas(64) float cols[kDotPixels * kDotMaxK];
  if (dots)
    for (int64_t j = 0; j < left; ++j)
      for (int64_t k = 0; k < g.K; ++k) cols[j * g.K + k] = g.b[k * g.ldb + vector_end + j];
  auto row_dots = [&](int64_t m0) {
    dot_rows(g, m0, static_cast<int>(std::min<int64_t>(kTileRows, g.M - m0)), vector_end, P, cols);
  };
  if (dots && vector_end == 0)
    for (int64_t m0 = 0; m0 < g.M; m0 += kTileRows) row_dots(m0);
  for (int64_t p0 = 0; p0 < vector_end; p0 += 16 * kTileVectors) {
    const int64_t n = std::min<int64_t>(vector_end - p0, 16 * kTileVectors);
    const int64_t vectors = ceil_div(n, 16);
    const __mmask16 tail = first_lanes(n - 16 * (vectors - 1));
    const bool last = p0 + n == vector_end;
    for (int64_t m0 = 0; m0 < g.M; m0 += kTileRows) {
      kTiles[std::min<int64_t>(kTileRows, g.M - m0) - 1][vectors - 1](g, m0, p0, tail);
      if (dots && last) row_dots(m0);
    }
  }
}

// The depthwise 3x3 (padding 1) with bias and relu6, output rows oy0 .. oy1 of every channel into
// d (C, (oy1 - oy0) OW; rows ldd apart), 16 output columns a vector. Its input: channel c's image
// row iy at src + c ld + (iy - row0) W, for the rows the band reads.
struct Depthwise {
  const float* src;
  int64_t ld, row0;
  const float* w;     // (C, 3, 3)
  const float* bias;  // C values, or none
  int64_t C, H, W, OW, stride;
  float* d;
  int64_t ldd;
  bool prefetch = false;  // src is x, cold in memory: fetch each next channel ahead
  // Rows of x the next band expands, fetched into L2 a share per channel: `floats` from `next`
  // in each of `planes` planes `plane_stride` apart.
  const float* next = nullptr;
  int64_t planes = 0, plane_stride = 0, floats = 0;
};

// Channel c's share of the rows p.next names.
void prefetch_next_band(const Depthwise& p, int64_t c) {
  const int64_t per_plane = ceil_div(p.floats, 16), lines = p.planes * per_plane;
  for (int64_t i = c * lines / p.C; i < (c + 1) * lines / p.C; ++i)
    _mm_prefetch(
        reinterpret_cast<const char*>(p.next + i / per_plane * p.plane_stride + i % per_plane * 16),
        _MM_HINT_T1);
}

// The loads of an input row that output columns ox0 .. ox0 + 15 read, each 16 columns from
// col[i], zero outside [0, W) by mask[i]: stride 1 at ox0 - 1, ox0, ox0 + 1; stride 2 at
// 2 ox0 - 1, 2 ox0 + 15 (the left taps), 2 ox0, 2 ox0 + 16. The same for every row and channel.
// Where a vector of output columns lies: at the row's left end (loads from column -1), inside
// (every load within the row: no masks), or towards its right end (masked loads).
enum class Where { kLeft, kInside, kRight };

struct Columns {
  int64_t col[4] = {};
  __mmask16 mask[4] = {};

  Columns() = default;
  Columns(int64_t ox0, int64_t stride, int64_t W) {
    const int64_t c0 = stride * ox0;
    const int64_t cols[2][4] = {{c0 - 1, c0, c0 + 1, 0}, {c0 - 1, c0 + 15, c0, c0 + 16}};
    for (int i = 0; i < 4; ++i) {
      col[i] = cols[stride - 1][i];
      mask[i] = first_lanes(W - std::max<int64_t>(col[i], 0));
    }
  }

  // Load i of a vector at `where`: inside the row, plain loads; at its left end, load 0 starts
  // at column -1, the left padding, where columns 0.. move up a lane, so no address before the
  // row is formed (an expanding load would do it in one instruction, a slow one); else masked.
  template <Where where>
  __m512 load(const float* row, int i) const {
    if (where == Where::kInside) return _mm512_loadu_ps(row + col[i]);
    if (where == Where::kRight || i > 0) return _mm512_maskz_loadu_ps(mask[i], row + col[i]);
    const __m512i v = _mm512_castps_si512(_mm512_maskz_loadu_ps(mask[i], row));
    return _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(0xFFFE, v, v, 15));
  }
};

// The three taps (kx = 0, 1, 2) of one input row: stride 2 takes the even and odd columns of two
// loads (a permute each).
template <int S, Where where>
[[gnu::always_inline]] inline void row_taps(const float* row, const Columns& c, __m512 t[3]) {
  if constexpr (S == 1) {
    for (int kx = 0; kx < 3; ++kx) t[kx] = c.load<where>(row, kx);
  } else {
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 a = c.load<where>(row, 2), b = c.load<where>(row, 3);
    t[0] = _mm512_permutex2var_ps(c.load<where>(row, 0), even, c.load<where>(row, 1));
    t[1] = _mm512_permutex2var_ps(a, even, b);
    t[2] = _mm512_permutex2var_ps(a, odd, b);
  }
}

// G output rows from oy at columns c of one channel: each input row's taps are loaded once for
// the (up to 3) rows that read it, G independent FMA chains, taps in (ky, kx) order.
template <int S, Where where, int G>
[[gnu::always_inline]] inline void depthwise_rows(const Depthwise& p, const float* channel,
                                                  const __m512 wv[9], __m512 bias, const Columns& c,
                                                  int64_t oy, float* out, __mmask16 store) {
  const Clamp relu6(ConvEpilogue{.lo = 0.0f, .hi = 6.0f});
  __m512 acc[G];
#pragma GCC unroll 8
  for (int i = 0; i < G; ++i) acc[i] = _mm512_setzero_ps();
#pragma GCC unroll 24
  for (int j = 0; j < (G - 1) * S + 3; ++j) {
    const int64_t iy = oy * S - 1 + j;
    if (iy < 0 || iy >= p.H) continue;
    __m512 t[3];
    row_taps<S, where>(channel + (iy - p.row0) * p.W, c, t);
#pragma GCC unroll 8
    for (int i = 0; i < G; ++i) {
      const int ky = j - i * S;
      if (ky < 0 || ky > 2) continue;
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) acc[i] = _mm512_fmadd_ps(t[kx], wv[ky * 3 + kx], acc[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < G; ++i)
    _mm512_mask_storeu_ps(out + i * p.OW, store, relu6(_mm512_add_ps(acc[i], bias)));
}

constexpr int kGroup = 4;  // output rows of a depthwise tile

// depthwise_rows for G = rows <= kGroup.
template <int S, Where where, int G = kGroup>
[[gnu::always_inline]] inline void depthwise_tile(int64_t rows, const Depthwise& p,
                                                  const float* channel, const __m512 wv[9],
                                                  __m512 bias, const Columns& c, int64_t oy,
                                                  float* out, __mmask16 store) {
  if constexpr (G > 1)
    if (rows < G)
      return depthwise_tile<S, where, G - 1>(rows, p, channel, wv, bias, c, oy, out, store);
  depthwise_rows<S, where, G>(p, channel, wv, bias, c, oy, out, store);
}

// Row groups outermost, so a channel's input is read in address order (the prefetchers follow).
template <int S>
void depthwise(const Depthwise& p, int64_t oy0, int64_t oy1) {
  const int64_t vectors = ceil_div(p.OW, 16);
  Columns cols[kMaxVectors];
  for (int64_t v = 0; v < vectors; ++v) cols[v] = Columns(16 * v, S, p.W);
  for (int64_t c = 0; c < p.C; ++c) {
    __m512 wv[9];
    for (int k = 0; k < 9; ++k) wv[k] = _mm512_set1_ps(p.w[c * 9 + k]);
    const __m512 bias = _mm512_set1_ps(p.bias ? p.bias[c] : 0.0f);
    const float* channel = p.src + c * p.ld;
    float* out = p.d + c * p.ldd;
    if (p.next) prefetch_next_band(p, c);
    for (int64_t oy = oy0; oy < oy1; oy += kGroup) {
      const int64_t rows = std::min<int64_t>(kGroup, oy1 - oy);
      if (p.prefetch && c + 1 < p.C) {
        // The same rows of the next channel, read when this one is done.
        const int64_t r0 = std::max<int64_t>(0, oy * S - 1),
                      r1 = std::min(p.H, (oy + rows) * S + 2);
        const char* next = reinterpret_cast<const char*>(channel + p.ld + (r0 - p.row0) * p.W);
        for (int64_t b = 0; b < (r1 - r0) * p.W * 4; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
      }
      for (int64_t v = 0; v < vectors; ++v) {
        float* o = out + (oy - oy0) * p.OW + 16 * v;
        const __mmask16 store = first_lanes(p.OW - 16 * v);
        // Inside: its loads end before column W (the last is 16 v + 16 at stride 1, 32 v + 31
        // at stride 2).
        if (v == 0)
          depthwise_tile<S, Where::kLeft>(rows, p, channel, wv, bias, cols[v], oy, o, store);
        else if (16 * v * S + 32 <= p.W)
          depthwise_tile<S, Where::kInside>(rows, p, channel, wv, bias, cols[v], oy, o, store);
        else
          depthwise_tile<S, Where::kRight>(rows, p, channel, wv, bias, cols[v], oy, o, store);
      }
    }
  }
}

// Output rows oy_a .. oy_b of one image, band by band, E and D the calling thread's buffers.
void run_rows(const InvertedResidualGeometry& g, const InvertedResidualPlan& plan,
              const InvertedResidualWeights& w, const float* x, float* y, float* E, float* D,
              int64_t oy_a, int64_t oy_b) {
  const int64_t OH = g.out_h(), OW = g.out_w(), HW = g.H * g.W, s = g.stride;
  const Clamp relu6(ConvEpilogue{.lo = 0.0f, .hi = 6.0f});
  int64_t e_lo = 0, e_hi = 0;  // the image rows E holds
  for (int64_t oy0 = oy_a; oy0 < oy_b; oy0 += plan.band) {
    const int64_t oy1 = std::min(oy0 + plan.band, oy_b);
    Depthwise dw{.src = x,
                 .ld = HW,
                 .row0 = 0,
                 .w = w.dw_w,
                 .bias = w.dw_b,
                 .C = g.C_mid,
                 .H = g.H,
                 .W = g.W,
                 .OW = OW,
                 .stride = s,
                 .d = D,
                 .ldd = plan.ldd};
    if (g.expand) {
      const int64_t lo = std::max<int64_t>(0, oy0 * s - 1), hi = std::min(g.H, (oy1 - 1) * s + 2);
      // Rows the previous band expanded and this one reads move to the front of E.
      const int64_t keep = e_lo <= lo && lo < e_hi ? e_hi - lo : 0;
      if (keep > 0 && lo > e_lo)
        for (int64_t c = 0; c < g.C_mid; ++c)
          std::memmove(E + c * plan.lde, E + c * plan.lde + (lo - e_lo) * g.W,
                       static_cast<size_t>(keep * g.W) * sizeof(float));
      gemm({.w = w.expand_w,
            .bias = w.expand_b,
            .M = g.C_mid,
            .K = g.C_in,
            .clamp = relu6,
            .b = x + (lo + keep) * g.W,
            .ldb = HW,
            .c = E + keep * g.W,
            .ldc = plan.lde},
           (hi - lo - keep) * g.W, plan.pixel_dots);
      e_lo = lo;
      e_hi = hi;
      if (oy1 < oy_b) {
        dw.next = x + hi * g.W;
        dw.planes = g.C_in;
        dw.plane_stride = HW;
        dw.floats = (std::min(g.H, (std::min(oy1 + plan.band, oy_b) - 1) * s + 2) - hi) * g.W;
      }
      dw.src = E;
      dw.ld = plan.lde;
      dw.row0 = lo;
    }
    dw.prefetch = !g.expand;
    (s == 1 ? depthwise<1> : depthwise<2>)(dw, oy0, oy1);
    gemm({.w = w.project_w,
          .bias = w.project_b,
          .M = g.C_out,
          .K = g.C_mid,
          .clamp = {},
          .b = D,
          .ldb = plan.ldd,
          .c = y + oy0 * OW,
          .ldc = OH * OW,
          .r = g.residual ? x + oy0 * OW : nullptr,
          .ldr = HW},
         (oy1 - oy0) * OW, plan.pixel_dots);
  }
}

// One image, the calling team's threads each on a share of the channels: the expansion and the
// depthwise of its C_mid / T channels (a channel's depthwise reads only its own expanded
// channel), then, once every thread's are in D, the projection of its C_out / T channels. E and
// D are shared.
void run_channels(const InvertedResidualGeometry& g, const InvertedResidualPlan& plan,
                  const InvertedResidualWeights& w, const float* x, float* y, float* E, float* D) {
  const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
  const int64_t HW = g.H * g.W, OH = g.out_h(), OHW = OH * g.out_w();
  const int64_t m0 = g.C_mid * t / T, m1 = g.C_mid * (t + 1) / T;
  const int64_t o0 = g.C_out * t / T, o1 = g.C_out * (t + 1) / T;
  auto offset = [](const float* p, int64_t by) { return p ? p + by : p; };
  Depthwise dw{.src = x + m0 * HW,
               .ld = HW,
               .row0 = 0,
               .w = w.dw_w + m0 * 9,
               .bias = offset(w.dw_b, m0),
               .C = m1 - m0,
               .H = g.H,
               .W = g.W,
               .OW = g.out_w(),
               .stride = g.stride,
               .d = D + m0 * plan.ldd,
               .ldd = plan.ldd,
               .prefetch = !g.expand};
  if (g.expand) {
    gemm({.w = w.expand_w + m0 * g.C_in,
          .bias = offset(w.expand_b, m0),
          .M = m1 - m0,
          .K = g.C_in,
          .clamp = Clamp(ConvEpilogue{.lo = 0.0f, .hi = 6.0f}),
          .b = x,
          .ldb = HW,
          .c = E + m0 * plan.lde,
          .ldc = plan.lde},
         HW, plan.pixel_dots);
    dw.src = E + m0 * plan.lde;
    dw.ld = plan.lde;
  }
  (g.stride == 1 ? depthwise<1> : depthwise<2>)(dw, 0, OH);
#pragma omp barrier
  gemm({.w = w.project_w + o0 * g.C_mid,
        .bias = offset(w.project_b, o0),
        .M = o1 - o0,
        .K = g.C_mid,
        .clamp = {},
        .b = D,
        .ldb = plan.ldd,
        .c = y + o0 * OHW,
        .ldc = OHW,
        .r = g.residual ? x + o0 * HW : nullptr,
        .ldr = HW},
       OHW, plan.pixel_dots);
  // D is read to the end before the next image overwrites it.
#pragma omp barrier
}

}  // namespace

void inverted_residual_forward(const InvertedResidualGeometry& g, const float* x,
                               const InvertedResidualWeights& w, float* y,
                               float* workspace) noexcept {
  const InvertedResidualPlan plan = inverted_residual_plan(g, omp_get_max_threads());
  const int64_t OH = g.out_h(), items = g.N * plan.parts;
  const int64_t x_image = g.C_in * g.H * g.W, y_image = g.C_out * OH * g.out_w();
  if (plan.by_channels) {
#pragma omp parallel
    for (int64_t n = 0; n < g.N; ++n)
      run_channels(g, plan, w, x + n * x_image, y + n * y_image, workspace,
                   workspace + g.C_mid * plan.lde);
    return;
  }
#pragma omp parallel if (items > 1)
  {
    float* E = workspace + omp_get_thread_num() * plan.thread_floats(g.C_mid);
    float* D = E + g.C_mid * plan.lde;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < items; ++i) {
      const int64_t n = i / plan.parts, part = i % plan.parts;
      run_rows(g, plan, w, x + n * x_image, y + n * y_image, E, D, OH * part / plan.parts,
               OH * (part + 1) / plan.parts);
    }
  }
}

}  // namespace fovea::kernels
