// The AVX-512 weight gradient of the Winograd rows F(4x4, 3x3) and F(2x2, 3x3): F(3x3, 4x4)
// (F(3x3, 2x2)) on the forward's 6 (4) points per axis (conv_winograd.h has the formulas), a
// template on the tile size kTile with P = (kTile + 2)² points. One lane per tile, as in the
// forward: a block of up to kWinogradWeightBlockTiles tiles is transformed (dy by A, x by Bᵀ),
// then its P GEMMs add into M, which holds the sums over all blocks; after the last block,
// Gᵀ · Gᵀ turns M into dw.
//
// Layouts (floats, row-major; ξ planes plan.*_stride apart), T = plan.block_tiles:
//   U (P, K, T)           transformed dy tiles of one block, tiles along lanes
//   V (P, T, c_pad)       transformed x tiles of one block, transposed: channels along lanes
//   M (P, K, c_pad)       M[ξ] += U[ξ] · V[ξ], the forward's GEMM micro-kernel reducing over
//                         tiles (broadcasts from U, vectors of 16 channels from V)
// Work units are panels of up to 6 output channels x 64 input channels of M, all P points.
// Threads either share every block (few tiles or a large M: transforms split over channels,
// GEMMs over units, whose output transform then follows their last block's GEMMs while M is
// in cache; or, with channels enough, each thread owns columns of M and transforms every dy
// tile itself), or sum their own ranges of tiles into their own M, added up at the end. With
// one shared block in all, M is never whole: each unit sums into its thread's scratch.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_winograd_plan.h"
#include "kernels/cpu/conv_winograd_tiles_avx512.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using namespace winograd_avx512;

constexpr int kMaxGroups = kWinogradWeightBlockTiles / kLanes;

// A d (kTile -> kTile + 2), A = (Aᵀ)ᵀ of the forward's output transform. F(4x4): rows 1,
// (1 1 1 1), (1 -1 1 -1), (1 2 4 8), (1 -2 4 -8), (0 0 0 1). F(2x2): rows (1 0), (1 1), (1 -1)
// and (0 1), the last negated (A's is (0 -1)), which dw_1d undoes for free.
template <int kTile>
void dy_1d(const __m512 d[kTile], __m512 u[kWindow<kTile>]) {
  if constexpr (kTile == 4) {
    const __m512 four = _mm512_set1_ps(4.0f);
    const __m512 even = _mm512_add_ps(d[0], d[2]), odd = _mm512_add_ps(d[1], d[3]);
    const __m512 even4 = _mm512_fmadd_ps(four, d[2], d[0]);
    const __m512 odd4 = _mm512_mul_ps(_mm512_set1_ps(2.0f), _mm512_fmadd_ps(four, d[3], d[1]));
    u[0] = d[0];
    u[1] = _mm512_add_ps(even, odd);
    u[2] = _mm512_sub_ps(even, odd);
    u[3] = _mm512_add_ps(even4, odd4);
    u[4] = _mm512_sub_ps(even4, odd4);
    u[5] = d[3];
  } else {
    u[0] = d[0];
    u[1] = _mm512_add_ps(d[0], d[1]);
    u[2] = _mm512_sub_ps(d[0], d[1]);
    u[3] = d[1];
  }
}

// Gᵀ m (kTile + 2 -> 3), G the forward's weight transform. F(2x2): G without its 1/2s, which
// the shared input transform Bᵀ carries (input_1d), so Gᵀ's rows are (1 1 1 0), (0 1 -1 0) and
// (0 1 1 -1) (the -1: dy_1d's negated last point). Exact: additions only.
template <int kTile>
void dw_1d(const __m512 m[kWindow<kTile>], __m512 o[3]) {
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  if constexpr (kTile == 4) {
    const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    const __m512 minus_sixth = _mm512_set1_ps(-1.0f / 6);
    o[0] = _mm512_fmadd_ps(
        _mm512_set1_ps(0.25f), m[0],
        _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24), s34, _mm512_mul_ps(minus_sixth, s12)));
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 12), d34, _mm512_mul_ps(minus_sixth, d12));
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 6), _mm512_sub_ps(s34, s12), m[5]);
  } else {
    o[0] = _mm512_add_ps(m[0], s12);
    o[1] = d12;
    o[2] = _mm512_sub_ps(s12, m[3]);
  }
}

// U[ξ][k][lanes] of output channel k for the tile group (u points at U's lanes of the group):
// dy's kTile x kTile tiles, zero past the plane's edge. The loads mirror the forward's output
// stores.
template <int kTile>
void dy_transform(const WinogradPlan& p, const float* dy, const TileGroup& tg, int64_t k, float* u,
                  int64_t T) {
  constexpr int kW = kWindow<kTile>;
  const float* dyk = dy + k * p.OH * p.OW;
  const StridedTiles& st = tg.strided;
  __m512 t[kTile][kW];  // t[a]: row a of each tile, transformed along the row
  for (int a = 0; a < kTile; ++a) {
    __m512 d[kTile];
    for (__m512& e : d) e = _mm512_setzero_ps();
    if (p.dilation > 1)
      gather_tile_row<kTile>(dyk, st.out_offset, p.dilation, p.OW, a, st.out_row[a], st.out_col, d);
    for (int si = 0; si < tg.segments; ++si) {
      const Segment& s = tg.seg[si];
      if (s.oy + a >= p.OH) continue;
      const float* src = dyk + s.out_base + a * p.OW;
      const __m512 c0 = _mm512_maskz_loadu_ps(s.out_mask[0], src);
      const __m512 c1 = _mm512_maskz_loadu_ps(s.out_mask[1], src + 16);
      for (int b = 0; b < kTile; ++b) {
        const __m512i idx = _mm512_add_epi32(s.in_index, _mm512_set1_epi32(b));
        d[b] = _mm512_mask_mov_ps(d[b], s.lane_mask, _mm512_permutex2var_ps(c0, idx, c1));
      }
    }
    dy_1d<kTile>(d, t[a]);
  }
  for (int i = 0; i < kW; ++i) {
    __m512 col[kTile], o[kW];
    for (int a = 0; a < kTile; ++a) col[a] = t[a][i];
    dy_1d<kTile>(col, o);
    for (int i2 = 0; i2 < kW; ++i2) _mm512_storeu_ps(u + (i2 * kW + i) * p.u_stride + k * T, o[i2]);
  }
}

// The 144 floats of 16 channels' 3x3 filters (channel l's tap j at 9l + j) as nine vectors:
// lane i of vector q is tap (16q + i) % 9 of channel (16q + i) / 9, one of channels a .. a + 2,
// a = 16q / 9: from a and a + 1 by one two-source permute (`pair`), merging in a + 2's lanes
// (`third`, under `third_mask`).
struct FilterVectors {
  alignas(64) int32_t pair[9][kLanes] = {}, third[9][kLanes] = {};
  __mmask16 third_mask[9] = {};
};

constexpr FilterVectors filter_vectors() {
  FilterVectors f;
  for (int q = 0; q < 9; ++q)
    for (int i = 0; i < kLanes; ++i) {
      const int e = kLanes * q + i, from = e / 9 - kLanes * q / 9, tap = e % 9;
      if (from < 2) {
        f.pair[q][i] = kLanes * from + tap;
      } else {
        f.third[q][i] = tap;
        f.third_mask[q] = static_cast<__mmask16>(f.third_mask[q] | (1u << i));
      }
    }
  return f;
}

constexpr FilterVectors kFilterVectors = filter_vectors();

// dw[k][c..c+count) from M[·][k][c..] (m_kc: M[0][k][c]): 16 input channels per vector, whose
// nine taps are transposed in registers into the channels' 3x3 filters, stored as whole vectors
// (nine scatters took two thirds of the time at ResNet layer 4, and 16 stores of nine floats,
// half of them split over two lines, still a third).
template <int kTile>
void dw_transform(const WinogradPlan& p, const float* m_kc, int64_t point_stride, int64_t k,
                  int64_t c, int count, float* dw) {
  constexpr int kW = kWindow<kTile>;
  const __mmask16 mask = static_cast<__mmask16>((1u << count) - 1);
  __m512 rows[kW][3];  // rows[ph][kw]: point row ph, transformed along the row
  for (int ph = 0; ph < kW; ++ph) {
    __m512 m[kW];
    for (int pw = 0; pw < kW; ++pw)
      m[pw] = _mm512_maskz_loadu_ps(mask, m_kc + (ph * kW + pw) * point_stride);
    dw_1d<kTile>(m, rows[ph]);
  }
  __m512 taps[16];  // taps[3 kh + kw], then (transposed) channel l's 3x3 in taps[l]
  for (int kw = 0; kw < 3; ++kw) {
    __m512 col[kW], o[3];
    for (int ph = 0; ph < kW; ++ph) col[ph] = rows[ph][kw];
    dw_1d<kTile>(col, o);
    for (int kh = 0; kh < 3; ++kh) taps[3 * kh + kw] = o[kh];
  }
  for (int i = 9; i < 16; ++i) taps[i] = _mm512_setzero_ps();
  avx512::transpose16x16(taps);
  float* dst = dw + (k * p.C + c) * 9;
#pragma GCC unroll 9
  for (int q = 0; q < 9; ++q) {
    const int left = 9 * count - kLanes * q;
    if (left <= 0) break;
    const int a = kLanes * q / 9;
    __m512 v =
        _mm512_permutex2var_ps(taps[a], _mm512_load_si512(kFilterVectors.pair[q]), taps[a + 1]);
    if (kFilterVectors.third_mask[q])
      v = _mm512_mask_permutexvar_ps(v, kFilterVectors.third_mask[q],
                                     _mm512_load_si512(kFilterVectors.third[q]),
                                     taps[std::min(a + 2, kLanes - 1)]);
    _mm512_mask_storeu_ps(dst + kLanes * q, bits(0, left), v);
  }
}

// Fetches the rows of every segment's tiles in one channel plane into cache: `rows` rows of
// kTile * lanes + extra elements from plane + s.*base, row r skipped unless s.*row0 + r is in
// [0, height).
template <int kTile>
void prefetch_tiles(const float* plane, const TileGroup* tgs, int groups, int64_t Segment::*base,
                    int64_t Segment::*row0, int rows, int64_t height, int extra, int64_t ld) {
  for (int grp = 0; grp < groups; ++grp)
    for (int si = 0; si < tgs[grp].segments; ++si) {
      const Segment& s = tgs[grp].seg[si];
      const int64_t width = kTile * s.lanes + extra;
      for (int r = 0; r < rows; ++r) {
        if (s.*row0 + r < 0 || s.*row0 + r >= height) continue;
        const int64_t first = std::max<int64_t>(s.*base + r * ld, 0);
        for (int64_t i = first; i < s.*base + r * ld + width; i += kLanes)
          _mm_prefetch(reinterpret_cast<const char*>(plane + i), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(plane + s.*base + r * ld + width - 1),
                     _MM_HINT_T0);
      }
    }
}

struct Io {
  const float *x, *dy;
  float* dw;
  float *U, *V, *M, *scratch, *unit_sums;
};

constexpr int kUnitRows = kPanelRows[4];
constexpr int64_t kUnitColumns = 4 * kLanes;
// One unit's sums (plan.unit_sums): P planes of kUnitRows x kUnitColumns, a cache line apart.
constexpr int64_t kUnitSumStride = kUnitRows * kUnitColumns + kLanes;
constexpr int64_t kTransposeFloats = kPoints<4> * kLanes * kLanes;
static_assert(kTransposeFloats + kPoints<4> * kUnitSumStride == kWinogradWeightScratchFloats);

using Range = std::pair<int64_t, int64_t>;

// A part's transforms of tiles [t_begin, t_end): dy of output channels [ks), x of the 16-channel
// groups [qs) (transformed into the part's scratch, tiles along lanes, then transposed into V).
template <int kTile>
void transform_block(const WinogradPlan& p, const Io& io, int64_t t_begin, int64_t t_end, Range ks,
                     Range qs) {
  const int64_t T = p.block_tiles;
  const int nv = static_cast<int>((t_end - t_begin + kLanes - 1) / kLanes);
  TileGroup tgs[kMaxGroups];
  for (int grp = 0; grp < nv; ++grp) tgs[grp] = tile_group<kTile>(p, t_begin + grp * kLanes);
  const auto x_rows = [&](int64_t c, int grp, int groups) {
    prefetch_tiles<kTile>(io.x + c * p.H * p.W, tgs + grp, groups, &Segment::in_base, &Segment::iy,
                          kWindow<kTile>, p.H, 2, p.W);
  };
  const auto [q_begin, q_end] = qs;
  const int64_t c_end = std::min(q_end * kLanes, p.C);
  // Prefetches (the planes are far apart: the hardware prefetchers do not follow): dy two
  // channels ahead, and meanwhile x's first 16 channels; then each 16 channels of x while
  // the previous 16 are transformed, group by group.
  const auto [k_begin, k_end] = ks;
  for (int64_t k = k_begin; k < k_end; ++k) {
    if (k + 2 < k_end)
      prefetch_tiles<kTile>(io.dy + (k + 2) * p.OH * p.OW, tgs, nv, &Segment::out_base,
                            &Segment::oy, kTile, p.OH, 0, p.OW);
    if (const int64_t c = q_begin * kLanes + (k - k_begin); k - k_begin < kLanes && c < c_end)
      x_rows(c, 0, nv);
    for (int grp = 0; grp < nv; ++grp)
      dy_transform<kTile>(p, io.dy, tgs[grp], k, io.U + grp * kLanes, T);
  }
  // The scratch as a plan of its own: 16 channels of one tile group, points 256 floats apart.
  WinogradPlan sp = p;
  sp.v_stride = kLanes * kLanes;
  float* scratch = io.scratch;
  for (int64_t q = q_begin; q < q_end; ++q) {
    const int64_t c0 = q * kLanes, channels = std::min<int64_t>(kLanes, p.C - c0);
    const float* xq = io.x + c0 * p.H * p.W;
    for (int grp = 0; grp < nv; ++grp) {
      for (int64_t c = 0; c < channels; ++c) {
        if (c0 + kLanes + c < c_end) x_rows(c0 + kLanes + c, grp, 1);
        input_transform<kTile>(sp, xq, tgs[grp], c, scratch, kLanes);
      }
      // Channels past C: zero columns of V, which the GEMMs then read as such.
      for (int xi = 0; xi < kPoints<kTile>; ++xi)
        std::fill(scratch + xi * sp.v_stride + channels * kLanes, scratch + (xi + 1) * sp.v_stride,
                  0.0f);
      for (int xi = 0; xi < kPoints<kTile>; ++xi)
        avx512::transpose16x16(scratch + xi * sp.v_stride,
                               io.V + xi * p.v_stride + grp * kLanes * p.c_pad + c0, p.c_pad);
    }
  }
}

// A unit's rectangle of M: rows [k0, k0 + rows), columns [c0, c0 + 16 nv).
struct Unit {
  int64_t k0 = 0, c0 = 0;
  int rows = 0, nv = 0;
};

// The units of M's columns [c_begin, c_end) (multiples of 16), every row. Consecutive units
// share their columns, so a thread reads V's columns for its units from L2.
struct Units {
  const WinogradPlan& p;
  int64_t c_begin, c_end;

  int64_t k_units() const { return (p.K + kUnitRows - 1) / kUnitRows; }
  int64_t count() const {
    return k_units() * ((c_end - c_begin + kUnitColumns - 1) / kUnitColumns);
  }
  Unit at(int64_t unit) const {
    Unit u;
    u.k0 = unit % k_units() * kUnitRows;
    u.c0 = c_begin + unit / k_units() * kUnitColumns;
    u.rows = static_cast<int>(std::min<int64_t>(kUnitRows, p.K - u.k0));
    u.nv = static_cast<int>(std::min<int64_t>(kUnitColumns, c_end - u.c0) / kLanes);
    return u;
  }
};

// Where a unit's rectangle of M lies: at `at` (its first row and column of point 0), planes
// `point` and rows `row` floats apart; in M itself, or (plan.unit_sums) in the thread's own
// buffer, where it stays in L1 from its GEMMs to its output transform.
struct Sums {
  float* at;
  int64_t point, row;
};

Sums sums_of(const WinogradPlan& p, const Io& io, const Unit& un) {
  if (p.unit_sums) return {io.unit_sums, kUnitSumStride, kUnitColumns};
  return {io.M + un.k0 * p.c_pad + un.c0, p.m_stride, p.c_pad};
}

// The unit's P GEMMs over the block's `tiles` tiles: M (+)= U · V.
void unit_gemms(const WinogradPlan& p, const Io& io, const Unit& un, int64_t tiles, bool first) {
  const int64_t T = p.block_tiles;
  const Sums sums = sums_of(p, io, un);
  for (int xi = 0; xi < p.points(); ++xi) {
    const float* u = io.U + xi * p.u_stride + un.k0 * T;
    const float* v = io.V + xi * p.v_stride + un.c0;
    float* m = sums.at + xi * sums.point;
    switch (un.nv) {
      case 1:
        gemm_panel<1>(un.rows, tiles, u, T, v, p.c_pad, m, sums.row, !first);
        break;
      case 2:
        gemm_panel<2>(un.rows, tiles, u, T, v, p.c_pad, m, sums.row, !first);
        break;
      case 3:
        gemm_panel<3>(un.rows, tiles, u, T, v, p.c_pad, m, sums.row, !first);
        break;
      default:
        gemm_panel<4>(un.rows, tiles, u, T, v, p.c_pad, m, sums.row, !first);
        break;
    }
  }
}

// dw of the unit's rectangle from its finished sums.
template <int kTile>
void unit_output(const WinogradPlan& p, const Sums& sums, const Unit& un, float* dw) {
  const int64_t c_end = std::min(un.c0 + un.nv * kLanes, p.C);
  for (int64_t k = un.k0; k < un.k0 + un.rows; ++k)
    for (int64_t c = un.c0; c < c_end; c += kLanes)
      dw_transform<kTile>(p, sums.at + (k - un.k0) * sums.row + (c - un.c0), sums.point, k, c,
                          static_cast<int>(std::min<int64_t>(kLanes, c_end - c)), dw);
}

// The workspace: U (u_slots), then V and M per slot, then each thread's scratch.
Io slot_io(const WinogradPlan& p, const float* x, const float* dy, float* dw, float* workspace,
           int slot, int part) {
  float* V = workspace + p.u_slots * p.u_floats + slot * (p.v_floats + p.m_floats);
  float* scratch = workspace + p.u_slots * p.u_floats + p.slots * (p.v_floats + p.m_floats);
  return {x,
          dy,
          dw,
          workspace + (p.u_slots > 1 ? part : 0) * p.u_floats,
          V,
          V + p.v_floats,
          scratch + part * kWinogradWeightScratchFloats,
          scratch + part * kWinogradWeightScratchFloats + kTransposeFloats};
}

// Shared blocks: every block's transforms are split over the team, then its GEMMs by unit;
// each unit's output transform follows its last block's GEMMs. By columns (plan.by_columns):
// each part owns a range of 16-channel groups, the columns of M, and transforms their x tiles
// and every dy tile into its own U: no barriers.
template <int kTile>
void run_shared(const WinogradPlan& p, const Io& io, int part, int parts) {
  const int64_t T = p.block_tiles;
  const bool by_columns = p.by_columns;
  const Range qs = share(p.c_pad / kLanes, part, parts);
  const Range ks = by_columns ? Range{0, p.K} : share(p.K, part, parts);
  const Units units =
      by_columns ? Units{p, qs.first * kLanes, qs.second * kLanes} : Units{p, 0, p.c_pad};
  const auto [u_begin, u_end] =
      by_columns ? Range{0, units.count()} : share(units.count(), part, parts);
  for (int64_t t0 = 0; t0 < p.tiles; t0 += T) {
    const int64_t t1 = std::min(t0 + T, p.tiles);
    transform_block<kTile>(p, io, t0, t1, ks, qs);
    if (!by_columns) sync(parts);
    for (int64_t i = u_begin; i < u_end; ++i) {
      const Unit un = units.at(i);
      unit_gemms(p, io, un, t1 - t0, t0 == 0);
      if (t1 == p.tiles) unit_output<kTile>(p, sums_of(p, io, un), un, io.dw);
    }
    // Before the next block's transforms overwrite U and V (after the last: the team's join).
    if (!by_columns && t1 < p.tiles) sync(parts);
  }
}

// Per-thread blocks: each thread sums a contiguous range of whole 16-tile groups into its own
// M, with no barrier; then the team adds the partial Ms up and transforms them, by unit.
template <int kTile>
void run_private(const WinogradPlan& p, const Io& io, const Io& first_io, int part, int parts) {
  const int64_t T = p.block_tiles;
  const auto [g_begin, g_end] = share((p.tiles + kLanes - 1) / kLanes, part, parts);
  const int64_t t_begin = g_begin * kLanes, t_end = std::min(g_end * kLanes, p.tiles);
  const Units units{p, 0, p.c_pad};
  if (t_begin >= t_end) std::fill_n(io.M, p.m_floats, 0.0f);
  for (int64_t t0 = t_begin; t0 < t_end; t0 += T) {
    const int64_t t1 = std::min(t0 + T, t_end);
    transform_block<kTile>(p, io, t0, t1, {0, p.K}, {0, p.c_pad / kLanes});
    for (int64_t i = 0; i < units.count(); ++i)
      unit_gemms(p, io, units.at(i), t1 - t0, t0 == t_begin);
  }
  sync(parts);
  const auto [u_begin, u_end] = share(units.count(), part, parts);
  const int64_t slot_floats = p.v_floats + p.m_floats;
  for (int64_t i = u_begin; i < u_end; ++i) {
    const Unit un = units.at(i);
    for (int xi = 0; xi < kPoints<kTile>; ++xi)
      for (int64_t k = un.k0; k < un.k0 + un.rows; ++k) {
        float* sum = first_io.M + xi * p.m_stride + k * p.c_pad + un.c0;
        for (int other = 1; other < parts; ++other) {
          const float* partial = sum + other * slot_floats;
          for (int64_t c = 0; c < un.nv * kLanes; c += kLanes)
            _mm512_storeu_ps(sum + c,
                             _mm512_add_ps(_mm512_loadu_ps(sum + c), _mm512_loadu_ps(partial + c)));
        }
      }
    unit_output<kTile>(p, sums_of(p, first_io, un), un, io.dw);
  }
}

template <int kTile>
void run_part(const WinogradPlan& p, const float* x, const float* dy, float* dw, float* workspace,
              int part, int parts) {
  const Io first_io = slot_io(p, x, dy, dw, workspace, 0, part);
  if (p.cooperative) return run_shared<kTile>(p, first_io, part, parts);
  run_private<kTile>(p, slot_io(p, x, dy, dw, workspace, part, part), first_io, part, parts);
}

}  // namespace

void winograd_weight_avx512(const WinogradPlan& p, const float* x, const float* dy, float* dw,
                            float* workspace) noexcept {
  run_team([&](int part, int parts) {
    if (p.tile == 4) return run_part<4>(p, x, dy, dw, workspace, part, parts);
    run_part<2>(p, x, dy, dw, workspace, part, parts);
  });
}

}  // namespace fovea::kernels
