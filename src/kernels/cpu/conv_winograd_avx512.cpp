// The AVX-512 kernel of the Winograd rows F(4x4, 3x3) and F(2x2, 3x3), forward and backward
// data, 2D and (winograd3d_conv_avx512, conv_winograd3d.cpp) 3x3x3 layers (see conv_winograd.h
// for the algorithm and conv_winograd_plan.h for the problem), a template on the tile size kTile
// (4 or 2) with P = (kTile + 2)² points. One lane per tile: blocks of up to 64 tiles go through
// input transform -> P GEMMs -> output transform while V and M stay in cache.
//
// Layouts (floats, row-major; ξ planes plan.*_stride apart), T = plan.block_tiles:
//   U (P, K, C)   transformed weights, whole call (fused: (P, <=16, C), up to 16 output
//                 channels' at a time); strides u_row and u_col (conv_winograd_plan.h)
//   V (P, C, T)   transformed input tiles of one block
//   M (P, K, T)   their products, one GEMM per point ξ: M[ξ] (K, T) = U[ξ] (K, C) · V[ξ] (C, T)
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_winograd_plan.h"
#include "kernels/cpu/conv_winograd_tiles_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using namespace winograd_avx512;

// The output and weight 1D transforms (the input's is in conv_winograd_tiles_avx512.h).
// Aᵀ m (kTile + 2 -> kTile).
template <int kTile>
void output_1d(const __m512 m[kWindow<kTile>], __m512 o[kTile]) {
  if constexpr (kTile == 4) {
    const __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]);
    const __m512 c = _mm512_add_ps(m[3], m[4]), d = _mm512_sub_ps(m[3], m[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d, b);
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), c, a);
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d, b), m[5]);
  } else {
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], m[1]), m[2]);
    o[1] = _mm512_sub_ps(_mm512_sub_ps(m[1], m[2]), m[3]);
  }
}

// G g (3 -> kTile + 2).
template <int kTile>
void weight_1d(const __m512 g[3], __m512 u[kWindow<kTile>]) {
  if constexpr (kTile == 4) {
    const __m512 s = _mm512_add_ps(g[0], g[2]);
    const __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24), g[0],
                                     _mm512_mul_ps(_mm512_set1_ps(1.0f / 6), g[2]));
    const __m512 q = _mm512_mul_ps(_mm512_set1_ps(1.0f / 12), g[1]);
    const __m512 minus_sixth = _mm512_set1_ps(-1.0f / 6);
    u[0] = _mm512_mul_ps(_mm512_set1_ps(0.25f), g[0]);
    u[1] = _mm512_mul_ps(minus_sixth, _mm512_add_ps(s, g[1]));
    u[2] = _mm512_mul_ps(minus_sixth, _mm512_sub_ps(s, g[1]));
    u[3] = _mm512_add_ps(p, q);
    u[4] = _mm512_sub_ps(p, q);
    u[5] = g[2];
  } else {
    // G's rows (1/2, ±1/2, 1/2) without their 1/2, which Bᵀ carries instead (input_1d): the
    // weights are transformed once per product, the inputs once per output channel panel.
    const __m512 s = _mm512_add_ps(g[0], g[2]);
    u[0] = g[0];
    u[1] = _mm512_add_ps(s, g[1]);
    u[2] = _mm512_sub_ps(s, g[1]);
    u[3] = g[2];
  }
}

// Every third element of 48 in three vectors: lane l = element 3l + o (o = 0, 1, 2), by one
// permute of the first two vectors and one merging in the third's.
struct EveryThird {
  __m512i first, second;
};

EveryThird every_third(int o) {
  alignas(64) int32_t first[kLanes], second[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    const int e = 3 * l + o;
    first[l] = e < 32 ? e : 0;
    second[l] = e < 32 ? l : kLanes + e - 32;
  }
  return {_mm512_load_si512(first), _mm512_load_si512(second)};
}

__m512 pick(const __m512 v[3], const EveryThird& t) {
  return _mm512_permutex2var_ps(_mm512_permutex2var_ps(v[0], t.first, v[1]), t.second, v[2]);
}

// The weights of 16 lanes of U from `filters` 3x3 filters stored one after another at src
// (filter f's taps (kh, kw) at 9f + 3kh + kw; lanes past them zero): dst[ξ * p.u_stride] for
// point ξ, stored under `mask`. The filters are loaded whole and taken apart in registers in two
// steps, each a transform's input: every third element of the 144 (one kw; lanes are (filter,
// kh) pairs), transformed along kw; then every third of those (one kh; lanes are filters),
// transformed along kh. 42 permutes for F(2x2), where nine gathers took three times as long.
// `third[o]`: every_third(o).
template <int kTile>
[[gnu::always_inline]] inline void transform_filters(const WinogradPlan& p, const float* src,
                                                     int filters, const EveryThird (&third)[3],
                                                     float* dst, __mmask16 mask) {
  constexpr int kW = kWindow<kTile>;
  __m512 a[9];
  for (int i = 0; i < 9; ++i)
    a[i] = filters == kLanes ? _mm512_loadu_ps(src + 16 * i)
                             : _mm512_maskz_loadu_ps(bits(0, 9 * filters - 16 * i), src + 16 * i);
  // Tap (kh, kw): forward w[k][c][kh][kw]; rotated w[c][k][2-kh][2-kw].
  const bool rotated = p.rotated;
  const auto tap = [&](int t) -> const EveryThird& { return third[rotated ? 2 - t : t]; };
  __m512 rows[kW][3];  // G along kw: rows[i][v] holds pairs (filter, kh) 16v..16v+15
  for (int v = 0; v < 3; ++v) {
    __m512 g[3], r[kW];
    for (int kw = 0; kw < 3; ++kw) g[kw] = pick(a + 3 * v, tap(kw));
    weight_1d<kTile>(g, r);
    for (int i = 0; i < kW; ++i) rows[i][v] = r[i];
  }
  const int64_t stride = p.u_stride;
  for (int i = 0; i < kW; ++i) {
    __m512 g[3], out[kW];
    for (int kh = 0; kh < 3; ++kh) g[kh] = pick(rows[i], tap(kh));
    weight_1d<kTile>(g, out);
    for (int i2 = 0; i2 < kW; ++i2)
      _mm512_mask_storeu_ps(dst + (i2 * kW + i) * stride, mask, out[i2]);
  }
}

// How far ahead of its transform a filter is asked for. Rotated: the channel 16 ahead (the
// channels are far apart: the hardware prefetchers do not follow). Forward: the filter 128 ahead
// (4.6 KB) in the group, whose rows lie one after another, so across the end of a row; when the
// group's weights come from DRAM rather than the GEMMs' prefetch, 16 ahead within a row waited
// on memory at each row's start (ResNet-18's 7x7 x 512 and 14x14 x 256 3x3 layers at batch 1,
// weights flushed before each call, one thread: 1.12 -> 0.96 ms and 0.63 -> 0.51 ms; flat
// from 96 to 256 filters; unchanged with the weights in L3).
constexpr int64_t kChannelPrefetch = kLanes;
constexpr int64_t kFilterPrefetch = 8 * kLanes;

void prefetch_filters(const float* src) {
  for (int i = 0; i < 9; ++i)
    _mm_prefetch(reinterpret_cast<const char*>(src + 16 * i), _MM_HINT_T0);
}

// Slice `slice` of `slices` of the raw weights of output channels [k0, k0 + rows), asked for
// into L2: at batch 1 in a network they come from DRAM (a network's weights exceed L3), and
// fused, each group's transform stalls on them while the GEMMs leave memory idle. So a thread
// asks for a slice of its next group's per GEMM (and of its first group's per channel of the
// input transform): the stream overlaps compute, one contiguous range per thread (ResNet-18's
// 3x3 layers at batch 1, weights flushed before each call, quiet machine: 14x14 1.2x, 7x7 1.1x
// faster; neutral within the noise in the whole network, see docs/conv_algorithms.md). (Forward:
// the rows lie one after another; rotated: `rows` filters per channel c, the channels K filters
// apart.)
void prefetch_weights(const WinogradPlan& p, const float* w, int64_t k0, int rows, int64_t slice,
                      int64_t slices) {
  const auto lines = [](const float* begin, const float* end) {
    constexpr uintptr_t kLine = 64;
    for (uintptr_t a = reinterpret_cast<uintptr_t>(begin) & ~(kLine - 1);
         a < reinterpret_cast<uintptr_t>(end); a += kLine)
      _mm_prefetch(reinterpret_cast<const char*>(a), _MM_HINT_T1);
  };
  if (p.rotated) {
    const auto [c0, c1] = share(p.C, static_cast<int>(slice), static_cast<int>(slices));
    for (int64_t c = c0; c < c1; ++c) {
      const float* src = w + (c * p.K + k0) * 9;
      lines(src, src + rows * 9);
    }
    return;
  }
  const float* src = w + k0 * p.C * 9;
  const auto [f0, f1] = share(rows * p.C * 9, static_cast<int>(slice), static_cast<int>(slices));
  lines(src + f0, src + f1);
}

// U[ξ] rows [k0, k0 + rows) (output channels), all columns c, element (r, c) at
// u + r * p.u_row + c * p.u_col (+ ξ * p.u_stride). Forward weights (K, C, 3, 3): 16 channels c
// of one row per vector; rotated (C, K, 3, 3): all rows (at most 16) of one channel c per vector.
template <int kTile>
void weight_transform(const WinogradPlan& p, const float* w, int64_t k0, int rows, float* u) {
  const EveryThird third[3] = {every_third(0), every_third(1), every_third(2)};
  if (p.rotated) {
    for (int64_t c = 0; c < p.C; ++c) {
      const float* src = w + (c * p.K + k0) * 9;
      if (c + kChannelPrefetch < p.C) prefetch_filters(src + kChannelPrefetch * p.K * 9);
      transform_filters<kTile>(p, src, rows, third, u + c * p.u_col, 0xFFFF);
    }
    return;
  }
  for (int r = 0; r < rows; ++r)
    for (int64_t c = 0; c < p.C; c += kLanes) {
      const float* src = w + ((k0 + r) * p.C + c) * 9;
      const int filters = static_cast<int>(std::min<int64_t>(kLanes, p.C - c));
      if ((r * p.C + c) + kFilterPrefetch < rows * p.C) prefetch_filters(src + kFilterPrefetch * 9);
      transform_filters<kTile>(p, src, filters, third, u + r * p.u_row + c * p.u_col,
                               bits(0, filters));
    }
}

// y[k] of the tile group from M[ξ][k][lanes] (m points at M's lanes of the group), through
// the epilogue (bias, residual r, clamp); r: ep.residual's elements at y's offsets, or null.
template <int kTile>
void output_transform(const WinogradPlan& p, const float* m, const TileGroup& tg, int64_t k,
                      const ConvEpilogue& ep, float* y, const float* r, int64_t T) {
  constexpr int kW = kWindow<kTile>;
  __m512 s[kTile][kW];  // s[a][i]: output row a of each tile, not yet transformed along the row
  for (int i = 0; i < kW; ++i) {
    __m512 col[kW], o[kTile];
    for (int i2 = 0; i2 < kW; ++i2)
      col[i2] = _mm512_loadu_ps(m + (i2 * kW + i) * p.m_stride + k * T);
    output_1d<kTile>(col, o);
    for (int a = 0; a < kTile; ++a) s[a][i] = o[a];
  }
  float* yk = y + k * p.y_channel_stride;
  const float* rk = r ? r + k * p.y_channel_stride : nullptr;
  const __m512 b = _mm512_set1_ps(ep.bias ? ep.bias[k] : 0.0f);
  const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
  const bool clamps = ep.clamps();
  // The residual (residual_at(mask): its values for the lanes of `mask`), then the clamp, of
  // the values v bound for those lanes of the channel's plane. max/min return their second
  // operand when either is NaN: NaN sums stay NaN, as unfused. (Zero-masked forms: the plain
  // ones trip GCC 12's -Wmaybe-uninitialized.)
  const auto finish = [&](__m512 v, __mmask16 mask, auto residual_at) {
    if (rk) v = _mm512_add_ps(v, residual_at(mask));
    return clamps ? _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, v)) : v;
  };
  constexpr __mmask16 kColumns23 = 0xCCCC;  // chunk elements of tile columns 2 and 3
  for (int a = 0; a < kTile; ++a) {
    __m512 o[kTile];
    output_1d<kTile>(s[a], o);
    for (__m512& e : o) e = _mm512_add_ps(e, b);
    if (p.dilation > 1) {
      const StridedTiles& st = tg.strided;
      const __m512i row = _mm512_add_epi32(
          st.out_offset, _mm512_set1_epi32(static_cast<int32_t>(a * p.dilation * p.OW)));
      for (int b = 0; b < kTile; ++b) {
        const __mmask16 mask = st.out_row[a] & st.out_col[b];
        const __m512i at =
            _mm512_add_epi32(row, _mm512_set1_epi32(static_cast<int32_t>(b * p.dilation)));
        const __m512 v = finish(o[b], mask, [&](__mmask16 mk) {
          return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, at, rk, 4);
        });
        _mm512_mask_i32scatter_ps(yk, mask, at, v, 4);
      }
    }
    for (int si = 0; si < tg.segments; ++si) {
      const Segment& sg = tg.seg[si];
      if (sg.oy + a >= p.OH) continue;
      const int64_t at = sg.out_base + a * p.OW;
      for (int q = 0; q < 2; ++q) {
        __m512 chunk = _mm512_permutex2var_ps(o[0], sg.out_index[q], o[1]);
        if constexpr (kTile == 4)
          chunk = _mm512_mask_blend_ps(kColumns23, chunk,
                                       _mm512_permutex2var_ps(o[2], sg.out_index[q], o[3]));
        chunk = finish(chunk, sg.out_mask[q],
                       [&](__mmask16 mk) { return _mm512_maskz_loadu_ps(mk, rk + at + 16 * q); });
        _mm512_mask_storeu_ps(yk + at + 16 * q, sg.out_mask[q], chunk);
      }
    }
  }
}

// M[ξ] rows [k0, k0 + rows) for the block's nv vectors of tiles, from those rows of U[ξ] at u,
// laid out as `lu` says.
template <class Layout>
void gemm(const WinogradPlan& p, int xi, int64_t k0, int rows, int nv, const float* u, Layout lu,
          const float* V, float* M) {
  const int64_t T = p.block_tiles;
  const float* v = V + xi * p.v_stride;
  float* m = M + xi * p.m_stride + k0 * T;
  switch (nv) {
    case 1:
      return gemm_panel<1>(rows, p.C, u, lu, v, T, m, T, false);
    case 2:
      return gemm_panel<2>(rows, p.C, u, lu, v, T, m, T, false);
    case 3:
      return gemm_panel<3>(rows, p.C, u, lu, v, T, m, T, false);
    default:
      return gemm_panel<4>(rows, p.C, u, lu, v, T, m, T, false);
  }
}

// The GEMMs of one panel, U's layout picked (conv_winograd_plan.h: WinogradPlan::u_row).
void gemm(const WinogradPlan& p, int xi, int64_t k0, int rows, int nv, const float* u,
          const float* V, float* M) {
  if (p.rotated) return gemm(p, xi, k0, rows, nv, u, ColumnMajor{p.u_col}, V, M);
  if (p.fused_weights) return gemm(p, xi, k0, rows, nv, u, Blocked16{}, V, M);
  gemm(p, xi, k0, rows, nv, u, RowMajor{p.u_row}, V, M);
}

struct Buffers {
  const float *x, *w;
  ConvEpilogue ep;
  float* y;
  float* U;  // the whole U, or with fused weights this thread's panel of it
};

// Fetches the input rows the block's tile groups read from channel plane xc into cache, so
// that channel's loads do not wait on memory (channels are a plane apart: the hardware
// prefetchers do not follow).
template <int kTile>
void prefetch_rows(const WinogradPlan& p, const float* xc, const TileGroup* tgs, int groups) {
  for (int grp = 0; grp < groups; ++grp) {
    const TileGroup& tg = tgs[grp];
    // Dilated (strided lanes): not prefetched, measured no faster on the suite's layer.
    if (tg.segments == 0) continue;
    const Segment &first = tg.seg[0], &last = tg.seg[tg.segments - 1];
    if (first.n != last.n) continue;  // spans two images: rare, skip
    const int64_t lo = std::max<int64_t>(first.in_base + std::max<int64_t>(-first.iy, 0) * p.W, 0);
    const int64_t hi = last.in_base + kWindow<kTile> * p.W;
    for (int64_t i = lo; i < hi; i += kLanes)
      _mm_prefetch(reinterpret_cast<const char*>(xc + i), _MM_HINT_T0);
  }
}

// Tiles [t_begin, t_end) (at most block_tiles), the work split into `parts` with this caller
// doing part `part`; all parts run this call in step (they meet at barriers).
template <int kTile>
void run_block(const WinogradPlan& p, const Buffers& io, float* V, float* M, int64_t t_begin,
               int64_t t_end, int part, int parts) {
  const int64_t T = p.block_tiles;
  const int nv = static_cast<int>((t_end - t_begin + kLanes - 1) / kLanes);
  TileGroup tgs[4];
  for (int grp = 0; grp < nv; ++grp) tgs[grp] = tile_group<kTile>(p, t_begin + grp * kLanes);
  const int panel_rows = kPanelRows[nv];
  // Fused: this part's groups of rows (see below).
  const int group_rows = static_cast<int>(kWinogradMaxPanelRows) / panel_rows * panel_rows;
  const auto [i_begin, i_end] = share((p.K + group_rows - 1) / group_rows, part, parts);
  const auto group_size = [&](int64_t i) {
    return static_cast<int>(std::min<int64_t>(group_rows, p.K - i * group_rows));
  };
  const auto [c_begin, c_end] = share(p.C, part, parts);
  for (int64_t c = c_begin; c < c_end; ++c) {
    // Two channels ahead: one channel's transforms take less than a DRAM round trip.
    if (c + 2 < c_end) prefetch_rows<kTile>(p, io.x + (c + 2) * p.H * p.W, tgs, nv);
    if (p.fused_weights && i_begin < i_end)
      prefetch_weights(p, io.w, i_begin * group_rows, group_size(i_begin), c - c_begin,
                       c_end - c_begin);
    for (int grp = 0; grp < nv; ++grp)
      input_transform<kTile>(p, io.x, tgs[grp], c, V + grp * kLanes, T);
  }
  sync(parts);
  const int64_t panels = (p.K + panel_rows - 1) / panel_rows;
  if (p.fused_weights) {
    // Each panel's rows of U made just before its GEMMs, so U never leaves the cache: for as
    // many whole panels as fit 16 rows at a time, since rotated weights are transformed 16 rows
    // per vector (a 6-row panel alone left 10 lanes idle: F(4x4) backward data at 64 tiles
    // 1.6x slower). (Made and used 16 channels at a time, U stays in L1 but the GEMMs' short
    // sums lose more: 1.25x slower at batch 1 on 7x7 x 512 channels.)
    for (int64_t i = i_begin; i < i_end; ++i) {
      const int64_t k0 = i * group_rows;
      const int group = group_size(i);
      weight_transform<kTile>(p, io.w, k0, group, io.U);
      const int64_t steps = (group + panel_rows - 1) / panel_rows * kPoints<kTile>;
      int64_t step = 0;
      for (int r0 = 0; r0 < group; r0 += panel_rows)
        for (int xi = 0; xi < kPoints<kTile>; ++xi, ++step) {
          if (i + 1 < i_end)
            prefetch_weights(p, io.w, k0 + group_rows, group_size(i + 1), step, steps);
          gemm(p, xi, k0 + r0, std::min(panel_rows, group - r0), nv,
               io.U + xi * p.u_stride + r0 * p.u_row, V, M);
        }
    }
  } else {
    const auto [i_begin, i_end] = share(kPoints<kTile> * panels, part, parts);
    for (int64_t i = i_begin; i < i_end; ++i) {
      const int64_t k0 = i % panels * panel_rows;
      const int rows = static_cast<int>(std::min<int64_t>(panel_rows, p.K - k0));
      const int xi = static_cast<int>(i / panels);
      gemm(p, xi, k0, rows, nv, io.U + xi * p.u_stride + k0 * p.u_row, V, M);
    }
  }
  sync(parts);
  const auto [k_begin, k_end] = share(p.K, part, parts);
  for (int64_t k = k_begin; k < k_end; ++k)
    for (int grp = 0; grp < nv; ++grp)
      output_transform<kTile>(p, M + grp * kLanes, tgs[grp], k, io.ep, io.y, io.ep.residual, T);
  sync(parts);
}

// The whole U, in the U slots at `slots`: this part's share of its rows into the team's U, then
// a barrier; or (WinogradPlan::private_u) all of them into this thread's own slot, with no
// barrier. Returns the U this thread reads.
template <int kTile>
float* whole_weight_transform(const WinogradPlan& p, const float* w, float* slots, int part,
                              int parts) {
  // Rotated weights: 16 rows at a time.
  const int64_t unit = p.rotated ? kLanes : 1;
  const int64_t units = (p.K + unit - 1) / unit;
  const auto [i_begin, i_end] =
      p.private_u ? std::pair<int64_t, int64_t>{0, units} : share(units, part, parts);
  float* U = p.private_u ? slots + part * p.u_floats : slots;
  for (int64_t i = i_begin; i < i_end; ++i) {
    const int64_t k0 = i * unit;
    const int rows = static_cast<int>(std::min<int64_t>(unit, p.K - k0));
    weight_transform<kTile>(p, w, k0, rows, U + k0 * p.u_row);
  }
  if (!p.private_u) sync(parts);
  return U;
}

// Thread `part` of a team of `parts`: its share of the weight transform, then of the blocks.
template <int kTile>
void run_part(const WinogradPlan& p, const float* x, const float* w, const ConvEpilogue& ep,
              float* y, float* workspace, int part, int parts) {
  float* after_u = workspace + p.u_slots * p.u_floats;
  Buffers io{x, w, ep, y, workspace};
  if (p.fused_weights)
    io.U = workspace + part * p.u_floats;
  else
    io.U = whole_weight_transform<kTile>(p, w, workspace, part, parts);
  const int64_t T = p.block_tiles;
  if (p.cooperative) {
    for (int64_t t0 = 0; t0 < p.tiles; t0 += T)
      run_block<kTile>(p, io, after_u, after_u + p.v_floats, t0, std::min(t0 + T, p.tiles), part,
                       parts);
    return;
  }
  // Contiguous ranges of whole 16-tile groups, so every thread's GEMMs have full vectors.
  const auto [g_begin, g_end] = share((p.tiles + kLanes - 1) / kLanes, part, parts);
  float* V = after_u + part * (p.v_floats + p.m_floats);
  const int64_t t_end = std::min(g_end * kLanes, p.tiles);
  for (int64_t t0 = g_begin * kLanes; t0 < t_end; t0 += T)
    run_block<kTile>(p, io, V, V + p.v_floats, t0, std::min(t0 + T, t_end), 0, 1);
}

// 3D (WinogradDepth): output planes [od_begin, od_end) of image n on tiles [t_begin, t_end) of
// its planes. Padded input plane q (input plane q - pad_front, zero outside [0, D)) is
// transformed once into ring slot q - base; output plane od's GEMMs read slots of q = od..od + 2
// as 3 * channels consecutive rows of V (U's columns are in that order).
template <int kTile>
void run_depth_block(const WinogradPlan& p, const WinogradDepth& dp, const Buffers& io, float* V,
                     float* M, int64_t n, int64_t t_begin, int64_t t_end, int64_t od_begin,
                     int64_t od_end) {
  const int64_t T = p.block_tiles, plane_rows = dp.channels * T, hw = p.H * p.W;
  const int nv = static_cast<int>((t_end - t_begin + kLanes - 1) / kLanes);
  TileGroup tgs[4];
  for (int grp = 0; grp < nv; ++grp) tgs[grp] = tile_group<kTile>(p, t_begin + grp * kLanes);
  const float* xn = io.x + n * dp.channels * dp.D * hw;
  int64_t base = od_begin, next = od_begin;  // padded plane in slot 0; the next to transform
  const auto make = [&](int64_t q) {
    if (q - base == dp.ring) {  // the ring is full: its last two planes to the front
      for (int xi = 0; xi < kPoints<kTile>; ++xi) {
        float* v = V + xi * p.v_stride;
        std::copy_n(v + (dp.ring - 2) * plane_rows, 2 * plane_rows, v);
      }
      base += dp.ring - 2;
    }
    float* v = V + (q - base) * plane_rows;
    const int64_t id = q - dp.pad_front;
    if (id < 0 || id >= dp.D) {
      for (int xi = 0; xi < kPoints<kTile>; ++xi)
        std::fill_n(v + xi * p.v_stride, plane_rows, 0.0f);
      return;
    }
    for (int64_t c = 0; c < dp.channels; ++c) {
      const float* xc = xn + (c * dp.D + id) * hw;
      if (c + 2 < dp.channels) prefetch_rows<kTile>(p, xc + 2 * dp.D * hw, tgs, nv);
      for (int grp = 0; grp < nv; ++grp)
        input_transform<kTile>(p, xc, tgs[grp], 0, v + c * T + grp * kLanes, T);
    }
  };
  const int panel_rows = kPanelRows[nv];
  for (int64_t od = od_begin; od < od_end; ++od) {
    while (next <= od + 2) make(next++);
    const float* window = V + (od - base) * plane_rows;
    for (int xi = 0; xi < kPoints<kTile>; ++xi)
      for (int64_t k0 = 0; k0 < p.K; k0 += panel_rows)
        gemm(p, xi, k0, static_cast<int>(std::min<int64_t>(panel_rows, p.K - k0)), nv,
             io.U + xi * p.u_stride + k0 * p.u_row, window, M);
    const int64_t plane = (n * p.K * dp.OD + od) * p.OH * p.OW;
    const float* r = io.ep.residual ? io.ep.residual + plane : nullptr;
    for (int64_t k = 0; k < p.K; ++k)
      for (int grp = 0; grp < nv; ++grp)
        output_transform<kTile>(p, M + grp * kLanes, tgs[grp], k, io.ep, io.y + plane, r, T);
  }
}

// Thread `part` of `parts`: its share of U, then its units (image, chunk of output planes, 16
// tiles), consecutive ones of one image and chunk in blocks.
template <int kTile>
void run_depth_part(const WinogradPlan& p, const WinogradDepth& dp, const float* x, const float* w,
                    const ConvEpilogue& ep, float* y, float* workspace, int part, int parts) {
  Buffers io{x, w, ep, y, workspace};
  io.U = whole_weight_transform<kTile>(p, w, workspace, part, parts);
  float* V = workspace + p.u_floats + part * (p.v_floats + p.m_floats);
  const int64_t groups = (p.tiles + kLanes - 1) / kLanes, per_block = p.block_tiles / kLanes;
  const auto [u_begin, u_end] = share(dp.N * dp.chunks * groups, part, parts);
  for (int64_t u = u_begin; u < u_end;) {
    const int64_t image_chunk = u / groups, g0 = u % groups;
    const int64_t g1 = std::min({groups, g0 + per_block, g0 + u_end - u});
    const int64_t chunk = image_chunk % dp.chunks;
    run_depth_block<kTile>(p, dp, io, V, V + p.v_floats, image_chunk / dp.chunks, g0 * kLanes,
                           std::min(g1 * kLanes, p.tiles), dp.OD * chunk / dp.chunks,
                           dp.OD * (chunk + 1) / dp.chunks);
    u += g1 - g0;
  }
}

}  // namespace

void winograd3d_conv_avx512(const WinogradPlan& p, const WinogradDepth& depth, const float* x,
                            const float* w, const ConvEpilogue& ep, float* y,
                            float* workspace) noexcept {
  run_team([&](int part, int parts) {
    if (p.tile == 2) return run_depth_part<2>(p, depth, x, w, ep, y, workspace, part, parts);
    run_depth_part<4>(p, depth, x, w, ep, y, workspace, part, parts);
  });
}

void winograd_conv_avx512(const WinogradPlan& p, const float* x, const float* w,
                          const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  run_team([&](int part, int parts) {
    if (p.tile == 2) return run_part<2>(p, x, w, ep, y, workspace, part, parts);
    run_part<4>(p, x, w, ep, y, workspace, part, parts);
  });
}

}  // namespace fovea::kernels
