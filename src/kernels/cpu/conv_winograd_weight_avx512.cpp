// The AVX-512 weight gradient of the Winograd F(4x4, 3x3) row: F(3x3, 4x4) on the same six
// points (conv_winograd.h has the formulas). One lane per tile, as in the forward: a block of
// up to kWinogradWeightBlockTiles tiles is transformed (dy by A, x by Bᵀ), then its 36 GEMMs
// add into M, which holds the sums over all blocks; after the last block, Gᵀ · Gᵀ turns M
// into dw.
//
// Layouts (floats, row-major; ξ planes plan.*_stride apart), T = plan.block_tiles:
//   U (36, K, T)          transformed dy tiles of one block, tiles along lanes
//   V (36, T, c_pad)      transformed x tiles of one block, transposed: channels along lanes
//   M (36, K, c_pad)      M[ξ] += U[ξ] · V[ξ], the forward's GEMM micro-kernel reducing over
//                         tiles (broadcasts from U, vectors of 16 channels from V)
// Work units are panels of up to 6 output channels x 64 input channels of M, all 36 points.
// Threads either share every block (few tiles or a large M: transforms split over channels,
// GEMMs over units, whose output transform then follows their last block's GEMMs while M is
// in cache), or sum their own ranges of tiles into their own M, added up at the end.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_winograd_plan.h"
#include "kernels/cpu/conv_winograd_tiles_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using namespace winograd_avx512;

constexpr int kMaxGroups = kWinogradWeightBlockTiles / kLanes;

// A d (4 -> 6), A = (Aᵀ)ᵀ of the forward's output transform: rows 1, (1 1 1 1), (1 -1 1 -1),
// (1 2 4 8), (1 -2 4 -8), (0 0 0 1).
void dy_1d(const __m512 d[4], __m512 u[6]) {
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
}

// Gᵀ m (6 -> 3), G the forward's weight transform.
void dw_1d(const __m512 m[6], __m512 o[3]) {
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  const __m512 minus_sixth = _mm512_set1_ps(-1.0f / 6);
  o[0] = _mm512_fmadd_ps(
      _mm512_set1_ps(0.25f), m[0],
      _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24), s34, _mm512_mul_ps(minus_sixth, s12)));
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 12), d34, _mm512_mul_ps(minus_sixth, d12));
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 6), _mm512_sub_ps(s34, s12), m[5]);
}

// U[ξ][k][lanes] of output channel k for the tile group (u points at U's lanes of the group):
// dy's 4x4 tiles, zero past the plane's edge. The loads mirror the forward's output stores.
void dy_transform(const WinogradPlan& p, const float* dy, const TileGroup& tg, int64_t k, float* u,
                  int64_t T) {
  const float* dyk = dy + k * p.OH * p.OW;
  const StridedTiles& st = tg.strided;
  __m512 t[4][6];  // t[a]: row a of each tile, transformed along the row
  for (int a = 0; a < 4; ++a) {
    __m512 d[4];
    for (__m512& e : d) e = _mm512_setzero_ps();
    if (p.dilation > 1)
      gather_tile_row<4>(dyk, st.out_offset, p.dilation, p.OW, a, st.out_row[a], st.out_col, d);
    for (int si = 0; si < tg.segments; ++si) {
      const Segment& s = tg.seg[si];
      if (s.oy + a >= p.OH) continue;
      const float* src = dyk + s.out_base + a * p.OW;
      const __m512 c0 = _mm512_maskz_loadu_ps(s.out_mask[0], src);
      const __m512 c1 = _mm512_maskz_loadu_ps(s.out_mask[1], src + 16);
      for (int b = 0; b < 4; ++b) {
        const __m512i idx = _mm512_add_epi32(s.in_index, _mm512_set1_epi32(b));
        d[b] = _mm512_mask_mov_ps(d[b], s.lane_mask, _mm512_permutex2var_ps(c0, idx, c1));
      }
    }
    dy_1d(d, t[a]);
  }
  for (int i = 0; i < 6; ++i) {
    const __m512 col[4] = {t[0][i], t[1][i], t[2][i], t[3][i]};
    __m512 o[6];
    dy_1d(col, o);
    for (int i2 = 0; i2 < 6; ++i2) _mm512_storeu_ps(u + (i2 * 6 + i) * p.u_stride + k * T, o[i2]);
  }
}

// dst rows 0..15 (ld apart) = the 16 x 16 block at src (rows 16 apart) transposed.
// (Zero-masked shuffles: the plain ones trip GCC 12's -Wuninitialized.)
void transpose_16x16(const float* src, float* dst, int64_t ld) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * 16);
  // Per 128-bit block q: t[2i] = (r[2i][4q], r[2i+1][4q], r[2i][4q+1], r[2i+1][4q+1]),
  // t[2i+1] the same for columns 4q+2, 4q+3.
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
  }
  // r[4a + b], block q: rows 4a..4a+3 of column 4q + b.
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 2; ++b) {
      const __m512d lo = _mm512_castps_pd(t[4 * a + b]), hi = _mm512_castps_pd(t[4 * a + b + 2]);
      r[4 * a + 2 * b] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, lo, hi));
      r[4 * a + 2 * b + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, lo, hi));
    }
  // t[b + 4h + 8g]: rows 8g..8g+7 of columns b + 4h and b + 4h + 8 (blocks 0-1 and 2-3
  // interleaved: rows 8g..8g+3 col, col + 8, rows 8g+4..8g+7 col, col + 8).
  for (int g = 0; g < 2; ++g)
    for (int b = 0; b < 4; ++b) {
      const __m512 top = r[8 * g + b], bottom = r[8 * g + 4 + b];
      t[b + 8 * g] = _mm512_maskz_shuffle_f32x4(0xFFFF, top, bottom, 0x88);
      t[b + 4 + 8 * g] = _mm512_maskz_shuffle_f32x4(0xFFFF, top, bottom, 0xDD);
    }
  for (int col = 0; col < 8; ++col) {
    _mm512_storeu_ps(dst + col * ld, _mm512_maskz_shuffle_f32x4(0xFFFF, t[col], t[col + 8], 0x88));
    _mm512_storeu_ps(dst + (col + 8) * ld,
                     _mm512_maskz_shuffle_f32x4(0xFFFF, t[col], t[col + 8], 0xDD));
  }
}

// dw[k][c..c+count) from M[·][k][c..]: 16 input channels per vector, scattered to their 3x3.
void dw_transform(const WinogradPlan& p, const float* M, int64_t k, int64_t c, int count,
                  float* dw) {
  const __mmask16 mask = static_cast<__mmask16>((1u << count) - 1);
  __m512 rows[6][3];  // rows[ph][kw]: point row ph, transformed along the row
  for (int ph = 0; ph < 6; ++ph) {
    __m512 m[6];
    for (int pw = 0; pw < 6; ++pw)
      m[pw] = _mm512_maskz_loadu_ps(mask, M + (ph * 6 + pw) * p.m_stride + k * p.c_pad + c);
    dw_1d(m, rows[ph]);
  }
  const __m512i nine_lane = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(9));
  float* dst = dw + (k * p.C + c) * 9;
  for (int kw = 0; kw < 3; ++kw) {
    const __m512 col[6] = {rows[0][kw], rows[1][kw], rows[2][kw],
                           rows[3][kw], rows[4][kw], rows[5][kw]};
    __m512 o[3];
    dw_1d(col, o);
    for (int kh = 0; kh < 3; ++kh)
      _mm512_mask_i32scatter_ps(dst + kh * 3 + kw, mask, nine_lane, o[kh], 4);
  }
}

// Fetches the rows of every segment's tiles in one channel plane into cache: `rows` rows of 4 *
// lanes + extra elements from plane + s.*base, row r skipped unless s.*row0 + r is in [0, height).
void prefetch_tiles(const float* plane, const TileGroup* tgs, int groups, int64_t Segment::*base,
                    int64_t Segment::*row0, int rows, int64_t height, int extra, int64_t ld) {
  for (int grp = 0; grp < groups; ++grp)
    for (int si = 0; si < tgs[grp].segments; ++si) {
      const Segment& s = tgs[grp].seg[si];
      const int64_t width = 4 * s.lanes + extra;
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
  float *U, *V, *M, *scratch;
};

constexpr int kUnitRows = kPanelRows[4];
constexpr int64_t kUnitColumns = 4 * kLanes;

// This part's share of the transforms of tiles [t_begin, t_end): dy by output channel, x by
// 16 input channels at a time (transformed into the part's scratch, tiles along lanes, then
// transposed into V).
void transform_block(const WinogradPlan& p, const Io& io, int64_t t_begin, int64_t t_end, int part,
                     int parts) {
  const int64_t T = p.block_tiles;
  const int nv = static_cast<int>((t_end - t_begin + kLanes - 1) / kLanes);
  TileGroup tgs[kMaxGroups];
  for (int grp = 0; grp < nv; ++grp) tgs[grp] = tile_group<4>(p, t_begin + grp * kLanes);
  const auto x_rows = [&](int64_t c, int grp, int groups) {
    prefetch_tiles(io.x + c * p.H * p.W, tgs + grp, groups, &Segment::in_base, &Segment::iy, 6, p.H,
                   2, p.W);
  };
  const auto [q_begin, q_end] = share(p.c_pad / kLanes, part, parts);
  const int64_t c_end = std::min(q_end * kLanes, p.C);
  // Prefetches (the planes are far apart: the hardware prefetchers do not follow): dy two
  // channels ahead, and meanwhile x's first 16 channels; then each 16 channels of x while
  // the previous 16 are transformed, group by group.
  const auto [k_begin, k_end] = share(p.K, part, parts);
  for (int64_t k = k_begin; k < k_end; ++k) {
    if (k + 2 < k_end)
      prefetch_tiles(io.dy + (k + 2) * p.OH * p.OW, tgs, nv, &Segment::out_base, &Segment::oy, 4,
                     p.OH, 0, p.OW);
    if (const int64_t c = q_begin * kLanes + (k - k_begin); k - k_begin < kLanes && c < c_end)
      x_rows(c, 0, nv);
    for (int grp = 0; grp < nv; ++grp) dy_transform(p, io.dy, tgs[grp], k, io.U + grp * kLanes, T);
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
        input_transform<4>(sp, xq, tgs[grp], c, scratch, kLanes);
      }
      // Channels past C: zero columns of V, which the GEMMs then read as such.
      for (int xi = 0; xi < kPoints<4>; ++xi)
        std::fill(scratch + xi * sp.v_stride + channels * kLanes, scratch + (xi + 1) * sp.v_stride,
                  0.0f);
      for (int xi = 0; xi < kPoints<4>; ++xi)
        transpose_16x16(scratch + xi * sp.v_stride,
                        io.V + xi * p.v_stride + grp * kLanes * p.c_pad + c0, p.c_pad);
    }
  }
}

// A unit's rectangle of M: rows [k0, k0 + rows), columns [c0, c0 + 16 nv).
struct Unit {
  int64_t k0 = 0, c0 = 0;
  int rows = 0, nv = 0;
};

Unit unit_at(const WinogradPlan& p, int64_t unit) {
  // Consecutive units share their columns, so a thread reads V's columns for its units from L2.
  const int64_t k_units = (p.K + kUnitRows - 1) / kUnitRows;
  Unit u;
  u.k0 = unit % k_units * kUnitRows;
  u.c0 = unit / k_units * kUnitColumns;
  u.rows = static_cast<int>(std::min<int64_t>(kUnitRows, p.K - u.k0));
  u.nv = static_cast<int>(std::min<int64_t>(kUnitColumns, p.c_pad - u.c0) / kLanes);
  return u;
}

int64_t units(const WinogradPlan& p) {
  return (p.K + kUnitRows - 1) / kUnitRows * ((p.c_pad + kUnitColumns - 1) / kUnitColumns);
}

// The unit's 36 GEMMs over the block's `tiles` tiles: M (+)= U · V.
void unit_gemms(const WinogradPlan& p, const Io& io, const Unit& un, int64_t tiles, bool first) {
  const int64_t T = p.block_tiles;
  for (int xi = 0; xi < kPoints<4>; ++xi) {
    const float* u = io.U + xi * p.u_stride + un.k0 * T;
    const float* v = io.V + xi * p.v_stride + un.c0;
    float* m = io.M + xi * p.m_stride + un.k0 * p.c_pad + un.c0;
    switch (un.nv) {
      case 1:
        gemm_panel<1>(un.rows, tiles, u, T, v, p.c_pad, m, p.c_pad, !first);
        break;
      case 2:
        gemm_panel<2>(un.rows, tiles, u, T, v, p.c_pad, m, p.c_pad, !first);
        break;
      case 3:
        gemm_panel<3>(un.rows, tiles, u, T, v, p.c_pad, m, p.c_pad, !first);
        break;
      default:
        gemm_panel<4>(un.rows, tiles, u, T, v, p.c_pad, m, p.c_pad, !first);
        break;
    }
  }
}

// dw of the unit's rectangle from the finished M.
void unit_output(const WinogradPlan& p, const float* M, const Unit& un, float* dw) {
  const int64_t c_end = std::min(un.c0 + kUnitColumns, p.C);
  for (int64_t k = un.k0; k < un.k0 + un.rows; ++k)
    for (int64_t c = un.c0; c < c_end; c += kLanes)
      dw_transform(p, M, k, c, static_cast<int>(std::min<int64_t>(kLanes, c_end - c)), dw);
}

// The workspace: U (u_slots), then V and M per slot, then each thread's scratch.
Io slot_io(const WinogradPlan& p, const float* x, const float* dy, float* dw, float* workspace,
           int slot, int part) {
  float* V = workspace + p.u_slots * p.u_floats + slot * (p.v_floats + p.m_floats);
  float* scratch = workspace + p.u_slots * p.u_floats + p.slots * (p.v_floats + p.m_floats);
  return {x,
          dy,
          dw,
          workspace + (p.u_slots > 1 ? slot : 0) * p.u_floats,
          V,
          V + p.v_floats,
          scratch + part * kWinogradWeightScratchFloats};
}

// Shared blocks: every block's transforms are split over the team, then its GEMMs by unit;
// each unit's output transform follows its last block's GEMMs.
void run_shared(const WinogradPlan& p, const Io& io, int part, int parts) {
  const int64_t T = p.block_tiles;
  const auto [u_begin, u_end] = share(units(p), part, parts);
  for (int64_t t0 = 0; t0 < p.tiles; t0 += T) {
    const int64_t t1 = std::min(t0 + T, p.tiles);
    transform_block(p, io, t0, t1, part, parts);
    sync(parts);
    for (int64_t i = u_begin; i < u_end; ++i) {
      const Unit un = unit_at(p, i);
      unit_gemms(p, io, un, t1 - t0, t0 == 0);
      if (t1 == p.tiles) unit_output(p, io.M, un, io.dw);
    }
    sync(parts);
  }
}

// Per-thread blocks: each thread sums a contiguous range of whole 16-tile groups into its own
// M, with no barrier; then the team adds the partial Ms up and transforms them, by unit.
void run_private(const WinogradPlan& p, const Io& io, const Io& first_io, int part, int parts) {
  const int64_t T = p.block_tiles;
  const auto [g_begin, g_end] = share((p.tiles + kLanes - 1) / kLanes, part, parts);
  const int64_t t_begin = g_begin * kLanes, t_end = std::min(g_end * kLanes, p.tiles);
  if (t_begin >= t_end) std::fill_n(io.M, p.m_floats, 0.0f);
  for (int64_t t0 = t_begin; t0 < t_end; t0 += T) {
    const int64_t t1 = std::min(t0 + T, t_end);
    transform_block(p, io, t0, t1, 0, 1);
    for (int64_t i = 0; i < units(p); ++i) unit_gemms(p, io, unit_at(p, i), t1 - t0, t0 == t_begin);
  }
  sync(parts);
  const auto [u_begin, u_end] = share(units(p), part, parts);
  const int64_t slot_floats = p.v_floats + p.m_floats;
  for (int64_t i = u_begin; i < u_end; ++i) {
    const Unit un = unit_at(p, i);
    for (int xi = 0; xi < kPoints<4>; ++xi)
      for (int64_t k = un.k0; k < un.k0 + un.rows; ++k) {
        float* sum = first_io.M + xi * p.m_stride + k * p.c_pad + un.c0;
        for (int other = 1; other < parts; ++other) {
          const float* partial = sum + other * slot_floats;
          for (int64_t c = 0; c < un.nv * kLanes; c += kLanes)
            _mm512_storeu_ps(sum + c,
                             _mm512_add_ps(_mm512_loadu_ps(sum + c), _mm512_loadu_ps(partial + c)));
        }
      }
    unit_output(p, first_io.M, un, io.dw);
  }
}

void run_part(const WinogradPlan& p, const float* x, const float* dy, float* dw, float* workspace,
              int part, int parts) {
  const Io first_io = slot_io(p, x, dy, dw, workspace, 0, part);
  if (p.cooperative) return run_shared(p, first_io, part, parts);
  run_private(p, slot_io(p, x, dy, dw, workspace, part, part), first_io, part, parts);
}

}  // namespace

void winograd_f4x3_weight_avx512(const WinogradPlan& p, const float* x, const float* dy, float* dw,
                                 float* workspace) noexcept {
  run_team([&](int part, int parts) { run_part(p, x, dy, dw, workspace, part, parts); });
}

}  // namespace fovea::kernels
