// The tile machinery shared by the AVX-512 passes of the Winograd rows F(4x4, 3x3) and
// F(2x2, 3x3): the forward and backward-data kernel of both (conv_winograd_avx512.cpp) and the
// F(4x4) weight gradient (conv_winograd_weight_avx512.cpp). One lane per M x M output tile
// (M = kTile, 4 or 2, a template parameter); 16 tiles make a TileGroup, cut into Segments of
// consecutive tiles of one tile row, whose input windows and output tiles are moved with masked
// loads and in-register permutes. Also the register-blocked GEMM all passes run per point ξ.
#pragma once

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_winograd_plan.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::winograd_avx512 {

inline constexpr int kLanes = 16;
// F(M x M, 3x3): a tile of M x M outputs reads an (M + 2) x (M + 2) input window, and is
// multiplied at (M + 2)² points ξ.
template <int kTile>
inline constexpr int kWindow = kTile + 2;
template <int kTile>
inline constexpr int kPoints = (kTile + 2) * (kTile + 2);

// Bᵀ d (M + 2 -> M + 2): the input tile's 1D transform, in every pass; each 2D transform applies
// one along rows, then along columns. F(4x4) uses the points 0, 1, -1, 2, -2 and ∞, F(2x2) 0, 1,
// -1 and ∞.
template <int kTile>
inline void input_1d(const __m512 d[kWindow<kTile>], __m512 o[kWindow<kTile>]) {
  if constexpr (kTile == 4) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f);
    const __m512 five = _mm512_set1_ps(5.0f);
    const __m512 d3m1 = _mm512_sub_ps(d[3], d[1]), d4m2 = _mm512_sub_ps(d[4], d[2]);
    o[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
    o[1] = _mm512_fnmadd_ps(four, _mm512_add_ps(d[1], d[2]), _mm512_add_ps(d[3], d[4]));
    o[2] = _mm512_fmadd_ps(four, _mm512_sub_ps(d[1], d[2]), _mm512_sub_ps(d[4], d[3]));
    o[3] = _mm512_fmadd_ps(two, d3m1, d4m2);
    o[4] = _mm512_fnmadd_ps(two, d3m1, d4m2);
    o[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
  } else {
    // Rows 1 and 2 carry the 1/2 of G's (conv_winograd_avx512.cpp: weight_1d): exact, as
    // powers of two, and paid per input tile rather than per weight.
    static_assert(kTile == 2);
    const __m512 half = _mm512_set1_ps(0.5f);
    o[0] = _mm512_sub_ps(d[0], d[2]);
    o[1] = _mm512_mul_ps(half, _mm512_add_ps(d[1], d[2]));
    o[2] = _mm512_mul_ps(half, _mm512_sub_ps(d[2], d[1]));
    o[3] = _mm512_sub_ps(d[1], d[3]);
  }
}

// [begin, end) of `count` items for part `part` of `parts`.
inline std::pair<int64_t, int64_t> share(int64_t count, int part, int parts) {
  return {count * part / parts, count * (part + 1) / parts};
}

// Up to kSegmentTiles<M> consecutive tiles of one tile row, as consecutive lanes: their
// (M + 2)-row input window spans M * lanes + 2 contiguous columns of each input row and their
// outputs M * lanes contiguous columns of each output row, so both are moved with plain masked
// loads/stores and in-register permutes (from two vectors: at most 32 columns) instead of
// gathers and scatters.
struct Segment {
  int lanes = 0;
  __mmask16 lane_mask = 0;
  int64_t in_base = 0, out_base = 0;  // first input/output element of the window, channel 0
  int64_t n = 0, iy = 0, oy = 0;      // image, first input/output row
  // Lane e reads columns M * (e - first lane) + l of the window: in_index + l.
  __m512i in_index;
  // Input loads at window columns 0, 16 (and for M = 4, whose last lanes' columns 4 and 5 lie
  // past 32, at 4, 20): the columns inside both the plane and the window (zero elsewhere, the
  // padding).
  __mmask16 in_mask[4] = {};
  // Output element e of chunk q (window columns 16q + e) comes from lane out_index[q][e] of
  // the M per-column vectors; out_mask: inside the plane and the segment.
  __m512i out_index[2];
  __mmask16 out_mask[2] = {};
};

template <int kTile>
inline constexpr int kSegmentTiles = kTile == 4 ? 8 : 15;

// The 16 tiles of a group in a dilated layer (d > 1): their windows' elements are d apart,
// so each lane is gathered (scattered) on its own, at in_offset + d (j W + l) for window row
// j, column l (out_offset + d (a OW + b) for output row a, column b) of channel 0; masked to the
// lanes whose row and column lie inside the plane (none past the last tile). Sized for M = 4.
struct StridedTiles {
  // Set by strided_tiles. No initialisers: GCC compiles the implicit constructor without the
  // target pragma, and a build for CPUs without AVX-512 then cannot inline the intrinsic.
  __m512i in_offset, out_offset;
  __mmask16 in_row[6] = {}, in_col[6] = {}, out_row[4] = {}, out_col[4] = {};
};

// Tiles [t0, t0 + 16) as lanes, cut into segments (lanes past the last tile are in none and
// read as zero); or, dilated, as strided lanes (and no segments).
struct TileGroup {
  int segments = 0;
  Segment seg[kLanes];
  StridedTiles strided;
};

// Bit i set for i in [lo, hi) (clamped to 0..16).
inline __mmask16 bits(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, kLanes);
  hi = std::clamp<int64_t>(hi, lo, kLanes);
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

template <int kTile>
inline StridedTiles strided_tiles(const WinogradPlan& p, int64_t t0) {
  StridedTiles st;
  const int64_t d = p.dilation, per_image = d * d * p.tiles_h * p.tiles_w;
  alignas(64) int32_t in_offset[kLanes] = {}, out_offset[kLanes] = {};
  for (int e = 0; e < kLanes && t0 + e < p.tiles; ++e) {
    // Tile row ty, row phase ry, column phase rx, tile column tx (see WinogradPlan::tiles).
    const int64_t t = t0 + e, n = t / per_image, rows = t % per_image / p.tiles_w;
    const int64_t oy = rows / d % d + kTile * d * (rows / (d * d));
    const int64_t ox = rows % d + kTile * d * (t % p.tiles_w);
    const int64_t iy = oy - p.pad_top, ix = ox - p.pad_left;
    // 32 bits suffice: supports() bounds the tensors' sizes.
    in_offset[e] = static_cast<int32_t>((n * p.C * p.H + iy) * p.W + ix);
    out_offset[e] = static_cast<int32_t>((n * p.K * p.OH + oy) * p.OW + ox);
    const auto lane = static_cast<__mmask16>(1u << e);
    for (int j = 0; j < kWindow<kTile>; ++j) {
      if (iy + d * j >= 0 && iy + d * j < p.H) st.in_row[j] |= lane;
      if (ix + d * j >= 0 && ix + d * j < p.W) st.in_col[j] |= lane;
    }
    for (int a = 0; a < kTile; ++a) {
      if (oy + d * a < p.OH) st.out_row[a] |= lane;
      if (ox + d * a < p.OW) st.out_col[a] |= lane;
    }
  }
  st.in_offset = _mm512_load_si512(in_offset);
  st.out_offset = _mm512_load_si512(out_offset);
  return st;
}

template <int kTile>
inline TileGroup tile_group(const WinogradPlan& p, int64_t t0) {
  TileGroup tg;
  if (p.dilation > 1) {
    tg.strided = strided_tiles<kTile>(p, t0);
    return tg;
  }
  const int64_t per_image = p.tiles_h * p.tiles_w;
  const __m512i m_lane =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(kTile));
  // Element e of an output chunk: tile e / M, column e % M. M = 4: columns 0, 1 (2, 3) from
  // lanes of the first (second) pair of column vectors, odd columns from the second of a pair;
  // M = 2: odd columns from the second vector.
  const __m512i chunk_pattern =
      kTile == 4 ? _mm512_set_epi32(19, 3, 19, 3, 18, 2, 18, 2, 17, 1, 17, 1, 16, 0, 16, 0)
                 : _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (int first = 0; first < kLanes && t0 + first < p.tiles;) {
    const int64_t t = t0 + first, n = t / per_image, tx = t % p.tiles_w;
    const int lanes = static_cast<int>(
        std::min<int64_t>({kSegmentTiles<kTile>, kLanes - first, p.tiles_w - tx, p.tiles - t}));
    Segment& s = tg.seg[tg.segments++];
    s.lanes = lanes;
    s.lane_mask = bits(first, first + lanes);
    s.n = n;
    s.oy = t % per_image / p.tiles_w * kTile;
    s.iy = s.oy - p.pad_top;
    const int64_t ox = tx * kTile, ix = ox - p.pad_left;
    s.in_base = (n * p.C * p.H + s.iy) * p.W + ix;
    s.out_base = (n * p.K * p.OH + s.oy) * p.OW + ox;
    s.in_index = _mm512_sub_epi32(m_lane, _mm512_set1_epi32(kTile * first));  // M (e - first)
    const int64_t span = kTile * lanes + 2, offsets[4] = {0, 16, 4, 20};
    for (int i = 0; i < (kTile == 4 ? 4 : 2); ++i)
      s.in_mask[i] =
          bits(-ix - offsets[i], p.W - ix - offsets[i]) & bits(-offsets[i], span - offsets[i]);
    for (int q = 0; q < 2; ++q) {
      s.out_index[q] =
          _mm512_add_epi32(chunk_pattern, _mm512_set1_epi32(first + kLanes / kTile * q));
      s.out_mask[q] = bits(0, p.OW - ox - 16 * q) & bits(0, kTile * lanes - 16 * q);
    }
    first += lanes;
  }
  return tg;
}

// Dilated tiles: d[l] (l < n) = element l of row j of each lane's tile, elements `dilation`
// apart and rows `dilation` rows of `width` apart from the lane's first (offset), where the row
// and column masks say the element lies inside the plane (d keeps its value elsewhere).
template <int n>
inline void gather_tile_row(const float* plane, __m512i offset, int64_t dilation, int64_t width,
                            int j, __mmask16 row_mask, const __mmask16* col_masks, __m512* d) {
  const __m512i row =
      _mm512_add_epi32(offset, _mm512_set1_epi32(static_cast<int32_t>(j * dilation * width)));
  for (int l = 0; l < n; ++l)
    d[l] = _mm512_mask_i32gather_ps(
        d[l], row_mask & col_masks[l],
        _mm512_add_epi32(row, _mm512_set1_epi32(static_cast<int32_t>(l * dilation))), plane, 4);
}

// V[ξ][c][lanes] of one channel c for the tile group; v points at V's lanes of the group.
template <int kTile>
inline void input_transform(const WinogradPlan& p, const float* x, const TileGroup& tg, int64_t c,
                            float* v, int64_t T) {
  constexpr int kW = kWindow<kTile>;
  const float* xc = x + c * p.H * p.W;
  const StridedTiles& st = tg.strided;
  __m512 t[kW][kW];  // t[j]: input row j of each tile, transformed along the row
  for (int j = 0; j < kW; ++j) {
    __m512 d[kW];
    for (__m512& e : d) e = _mm512_setzero_ps();
    if (p.dilation > 1)
      gather_tile_row<kW>(xc, st.in_offset, p.dilation, p.W, j, st.in_row[j], st.in_col, d);
    for (int si = 0; si < tg.segments; ++si) {
      const Segment& s = tg.seg[si];
      if (s.iy + j < 0 || s.iy + j >= p.H) continue;  // a padding row: zeros
      const float* src = xc + s.in_base + j * p.W;
      const __m512 a0 = _mm512_maskz_loadu_ps(s.in_mask[0], src);
      const __m512 a1 = _mm512_maskz_loadu_ps(s.in_mask[1], src + 16);
      if constexpr (kTile == 4) {
        const __m512 b0 = _mm512_maskz_loadu_ps(s.in_mask[2], src + 4);
        const __m512 b1 = _mm512_maskz_loadu_ps(s.in_mask[3], src + 20);
        for (int l = 0; l < kW; ++l) {
          const __m512i idx = _mm512_add_epi32(s.in_index, _mm512_set1_epi32(l % 4));
          const __m512 col =
              l < 4 ? _mm512_permutex2var_ps(a0, idx, a1) : _mm512_permutex2var_ps(b0, idx, b1);
          d[l] = _mm512_mask_mov_ps(d[l], s.lane_mask, col);
        }
      } else {
        for (int l = 0; l < kW; ++l) {
          const __m512i idx = _mm512_add_epi32(s.in_index, _mm512_set1_epi32(l));
          d[l] = _mm512_mask_mov_ps(d[l], s.lane_mask, _mm512_permutex2var_ps(a0, idx, a1));
        }
      }
    }
    input_1d<kTile>(d, t[j]);
  }
  for (int i = 0; i < kW; ++i) {
    __m512 col[kW], o[kW];
    for (int j = 0; j < kW; ++j) col[j] = t[j][i];
    input_1d<kTile>(col, o);
    for (int i2 = 0; i2 < kW; ++i2) _mm512_storeu_ps(v + (i2 * kW + i) * p.v_stride + c * T, o[i2]);
  }
}

// Where a GEMM finds element (r, c) of u (rows, C): u[r * ld + c].
struct RowMajor {
  int64_t ld;
  const float* at(const float* u, int r, int64_t c) const { return u + r * ld + c; }
};

// u[c * ld + r]: the transposed U of the Winograd backward data (conv_winograd_plan.h).
struct ColumnMajor {
  int64_t ld;
  const float* at(const float* u, int r, int64_t c) const { return u + c * ld + r; }
};

// Blocks of 16 columns one after another, 16 floats from one row to the next in a block: a fused
// Winograd forward panel (conv_winograd_plan.h). The rows' elements of one column are then at
// fixed offsets from one pointer, not 16 pointers apart (which spill).
struct Blocked16 {
  const float* at(const float* u, int r, int64_t c) const {
    return u + (c / 16) * 256 + r * 16 + c % 16;
  }
};

// m (MR, 16*NV) = u (MR, C) · v (C, 16*NV) (+ m when accumulate), u's elements where `lu`
// says, row strides ldv, ldm; registers hold m.
template <int MR, int NV, class Layout>
inline void gemm_micro(int64_t C, const float* u, Layout lu, const float* v, int64_t ldv, float* m,
                       int64_t ldm, bool accumulate) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < C; ++c) {
    __m512 vv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) vv[j] = _mm512_loadu_ps(v + c * ldv + j * kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 ur = _mm512_set1_ps(*lu.at(u, r, c));
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_fmadd_ps(ur, vv[j], acc[r][j]);
    }
  }
  // m is added last, not loaded into the accumulators first: a long reduction split over
  // calls (the weight gradient's over blocks of tiles) then rounds as a sum of per-call
  // partial sums, whose error grows far more slowly than one running sum's.
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      float* dst = m + r * ldm + j * kLanes;
      _mm512_storeu_ps(dst,
                       accumulate ? _mm512_add_ps(acc[r][j], _mm512_loadu_ps(dst)) : acc[r][j]);
    }
}

// Rows per GEMM panel for NV vectors of columns (tiles in the forward, input channels in the
// weight gradient): as many accumulators as leave registers for the NV loads and a broadcast.
inline constexpr int kPanelRows[5] = {0, 16, 12, 8, 6};
static_assert(kPanelRows[1] == kWinogradMaxPanelRows);

template <int NV, class Layout, int... R>
void gemm_rows(int rows, int64_t C, const float* u, Layout lu, const float* v, int64_t ldv,
               float* m, int64_t ldm, bool accumulate, std::integer_sequence<int, R...>) {
  ((rows == R + 1 ? gemm_micro<R + 1, NV>(C, u, lu, v, ldv, m, ldm, accumulate) : void()), ...);
}

template <int NV, class Layout>
void gemm_panel(int rows, int64_t C, const float* u, Layout lu, const float* v, int64_t ldv,
                float* m, int64_t ldm, bool accumulate) {
  gemm_rows<NV>(rows, C, u, lu, v, ldv, m, ldm, accumulate,
                std::make_integer_sequence<int, kPanelRows[NV]>());
}

// u row-major with row stride ldu.
template <int NV>
void gemm_panel(int rows, int64_t C, const float* u, int64_t ldu, const float* v, int64_t ldv,
                float* m, int64_t ldm, bool accumulate) {
  gemm_panel<NV>(rows, C, u, RowMajor{ldu}, v, ldv, m, ldm, accumulate);
}

// Runs part(thread, threads) on each thread of a team; on one thread, inline: no parallel region
// at all (an idle one still costs a team start).
template <class Part>
void run_team(Part&& part) {
  if (omp_get_max_threads() == 1) return part(0, 1);
#pragma omp parallel
  part(omp_get_thread_num(), omp_get_num_threads());
}

// The barrier between phases of a block shared by the team.
inline void sync(int parts) {
  if (parts > 1) {
#pragma omp barrier
  }
}

}  // namespace fovea::kernels::winograd_avx512

#pragma GCC pop_options
