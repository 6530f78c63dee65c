// The AVX-512 kernel of the Winograd F(4x4, 3x3) row (see conv_winograd.h for the algorithm
// and conv_winograd_plan.h for the problem). One lane per tile: blocks of up to 64 tiles go
// through input transform -> 36 GEMMs -> output transform while V and M stay in cache.
//
// Layouts (floats, row-major; ξ planes plan.*_stride apart), T = plan.block_tiles:
//   U (36, K, C)   transformed weights, whole call (fused: (36, <=16, C), one GEMM panel's)
//   V (36, C, T)   transformed input tiles of one block
//   M (36, K, T)   their products, one GEMM per point ξ: M[ξ] (K, T) = U[ξ] (K, C) · V[ξ] (C, T)
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
// Aᵀ m (6 -> 4).
void output_1d(const __m512 m[6], __m512 o[4]) {
  const __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]);
  const __m512 c = _mm512_add_ps(m[3], m[4]), d = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d, b);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), c, a);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d, b), m[5]);
}

// G g (3 -> 6).
void weight_1d(const __m512 g[3], __m512 u[6]) {
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
}

constexpr int64_t kWeightPrefetch = 4 * kLanes;

// U[ξ][k][c] for one output channel k, all c, 16 channels per vector, at u[ξ * p.u_stride + c].
void weight_transform(const WinogradPlan& p, const float* w, int64_t k, float* u) {
  // Tap (kh, kw) of channel pair (k, c): forward w[k][c][kh][kw]; rotated w[c][k][2-kh][2-kw].
  const int64_t c_stride = p.rotated ? p.K * 9 : 9;
  const float* base = w + (p.rotated ? k * 9 : k * p.C * 9);
  const __m512i lane_offsets =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int32_t>(c_stride)));
  for (int64_t c0 = 0; c0 < p.C; c0 += kLanes) {
    const __mmask16 mask =
        static_cast<__mmask16>(p.C - c0 >= kLanes ? 0xFFFF : (1u << (p.C - c0)) - 1);
    const float* src = base + c0 * c_stride;
    // The gathers wait on memory, and the hardware prefetchers do not follow them: fetch the
    // weights of the channels 4 vectors ahead.
    for (int64_t c = c0 + kWeightPrefetch; c < std::min(c0 + kWeightPrefetch + kLanes, p.C); ++c)
      _mm_prefetch(reinterpret_cast<const char*>(base + c * c_stride), _MM_HINT_T0);
    __m512 rows[3][6];  // G applied along kw, per kh
    for (int kh = 0; kh < 3; ++kh) {
      __m512 g[3];
      for (int kw = 0; kw < 3; ++kw) {
        const int tap = p.rotated ? 8 - (kh * 3 + kw) : kh * 3 + kw;
        g[kw] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask,
                                         _mm512_add_epi32(lane_offsets, _mm512_set1_epi32(tap)),
                                         src, 4);
      }
      weight_1d(g, rows[kh]);
    }
    for (int i = 0; i < 6; ++i) {
      const __m512 g[3] = {rows[0][i], rows[1][i], rows[2][i]};
      __m512 out[6];
      weight_1d(g, out);
      for (int i2 = 0; i2 < 6; ++i2)
        _mm512_mask_storeu_ps(u + (i2 * 6 + i) * p.u_stride + c0, mask, out[i2]);
    }
  }
}

// y[k] of the tile group from M[ξ][k][lanes] (m points at M's lanes of the group), through
// the epilogue (bias, clamp).
void output_transform(const WinogradPlan& p, const float* m, const TileGroup& tg, int64_t k,
                      const ConvEpilogue& ep, float* y, int64_t T) {
  __m512 s[4][6];  // s[a][i]: output row a of each tile, not yet transformed along the row
  for (int i = 0; i < 6; ++i) {
    __m512 col[6], o[4];
    for (int i2 = 0; i2 < 6; ++i2) col[i2] = _mm512_loadu_ps(m + (i2 * 6 + i) * p.m_stride + k * T);
    output_1d(col, o);
    for (int a = 0; a < 4; ++a) s[a][i] = o[a];
  }
  float* yk = y + k * p.OH * p.OW;
  const __m512 b = _mm512_set1_ps(ep.bias ? ep.bias[k] : 0.0f);
  const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
  const bool clamps = ep.clamps();
  constexpr __mmask16 kColumns23 = 0xCCCC;  // chunk elements of tile columns 2 and 3
  for (int a = 0; a < 4; ++a) {
    __m512 o[4];
    output_1d(s[a], o);
    for (__m512& e : o) e = _mm512_add_ps(e, b);
    // max/min return their second operand when either is NaN: NaN sums stay NaN, as unfused.
    // (Zero-masked forms: the plain ones trip GCC 12's -Wmaybe-uninitialized.)
    if (clamps)
      for (__m512& e : o) e = _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, e));
    if (p.dilation > 1) {
      const StridedTiles& st = tg.strided;
      const __m512i row = _mm512_add_epi32(
          st.out_offset, _mm512_set1_epi32(static_cast<int32_t>(a * p.dilation * p.OW)));
      for (int b = 0; b < 4; ++b)
        _mm512_mask_i32scatter_ps(
            yk, st.out_row[a] & st.out_col[b],
            _mm512_add_epi32(row, _mm512_set1_epi32(static_cast<int32_t>(b * p.dilation))), o[b],
            4);
    }
    for (int si = 0; si < tg.segments; ++si) {
      const Segment& sg = tg.seg[si];
      if (sg.oy + a >= p.OH) continue;
      float* dst = yk + sg.out_base + a * p.OW;
      for (int q = 0; q < 2; ++q) {
        const __m512 c01 = _mm512_permutex2var_ps(o[0], sg.out_index[q], o[1]);
        const __m512 c23 = _mm512_permutex2var_ps(o[2], sg.out_index[q], o[3]);
        _mm512_mask_storeu_ps(dst + 16 * q, sg.out_mask[q],
                              _mm512_mask_blend_ps(kColumns23, c01, c23));
      }
    }
  }
}

// M[ξ] rows [k0, k0 + rows) for the block's nv vectors of tiles, from those rows of U[ξ] at u.
void gemm(const WinogradPlan& p, int xi, int64_t k0, int rows, int nv, const float* u,
          const float* V, float* M) {
  const int64_t T = p.block_tiles;
  const float* v = V + xi * p.v_stride;
  float* m = M + xi * p.m_stride + k0 * T;
  switch (nv) {
    case 1:
      return gemm_panel<1>(rows, p.C, u, p.C, v, T, m, T, false);
    case 2:
      return gemm_panel<2>(rows, p.C, u, p.C, v, T, m, T, false);
    case 3:
      return gemm_panel<3>(rows, p.C, u, p.C, v, T, m, T, false);
    default:
      return gemm_panel<4>(rows, p.C, u, p.C, v, T, m, T, false);
  }
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
void prefetch_rows(const WinogradPlan& p, const float* xc, const TileGroup* tgs, int groups) {
  for (int grp = 0; grp < groups; ++grp) {
    const TileGroup& tg = tgs[grp];
    // Dilated (strided lanes): not prefetched, measured no faster on the suite's layer.
    if (tg.segments == 0) continue;
    const Segment &first = tg.seg[0], &last = tg.seg[tg.segments - 1];
    if (first.n != last.n) continue;  // spans two images: rare, skip
    const int64_t lo = std::max<int64_t>(first.in_base + std::max<int64_t>(-first.iy, 0) * p.W, 0);
    const int64_t hi = last.in_base + 6 * p.W;
    for (int64_t i = lo; i < hi; i += kLanes)
      _mm_prefetch(reinterpret_cast<const char*>(xc + i), _MM_HINT_T0);
  }
}

// Tiles [t_begin, t_end) (at most block_tiles), the work split into `parts` with this caller
// doing part `part`; all parts run this call in step (they meet at barriers).
void run_block(const WinogradPlan& p, const Buffers& io, float* V, float* M, int64_t t_begin,
               int64_t t_end, int part, int parts) {
  const int64_t T = p.block_tiles;
  const int nv = static_cast<int>((t_end - t_begin + kLanes - 1) / kLanes);
  TileGroup tgs[4];
  for (int grp = 0; grp < nv; ++grp) tgs[grp] = tile_group(p, t_begin + grp * kLanes);
  const auto [c_begin, c_end] = share(p.C, part, parts);
  for (int64_t c = c_begin; c < c_end; ++c) {
    // Two channels ahead: one channel's transforms take less than a DRAM round trip.
    if (c + 2 < c_end) prefetch_rows(p, io.x + (c + 2) * p.H * p.W, tgs, nv);
    for (int grp = 0; grp < nv; ++grp) input_transform(p, io.x, tgs[grp], c, V + grp * kLanes, T);
  }
  sync(parts);
  const int panel_rows = kPanelRows[nv];
  const int64_t panels = (p.K + panel_rows - 1) / panel_rows;
  if (p.fused_weights) {
    // Each panel's rows of U made just before its 36 GEMMs, so U never leaves the cache.
    const auto [i_begin, i_end] = share(panels, part, parts);
    for (int64_t i = i_begin; i < i_end; ++i) {
      const int64_t k0 = i * panel_rows;
      const int rows = static_cast<int>(std::min<int64_t>(panel_rows, p.K - k0));
      for (int r = 0; r < rows; ++r) weight_transform(p, io.w, k0 + r, io.U + r * p.C);
      for (int xi = 0; xi < kPoints; ++xi) gemm(p, xi, k0, rows, nv, io.U + xi * p.u_stride, V, M);
    }
  } else {
    const auto [i_begin, i_end] = share(kPoints * panels, part, parts);
    for (int64_t i = i_begin; i < i_end; ++i) {
      const int64_t k0 = i % panels * panel_rows;
      const int rows = static_cast<int>(std::min<int64_t>(panel_rows, p.K - k0));
      const int xi = static_cast<int>(i / panels);
      gemm(p, xi, k0, rows, nv, io.U + xi * p.u_stride + k0 * p.C, V, M);
    }
  }
  sync(parts);
  const auto [k_begin, k_end] = share(p.K, part, parts);
  for (int64_t k = k_begin; k < k_end; ++k)
    for (int grp = 0; grp < nv; ++grp)
      output_transform(p, M + grp * kLanes, tgs[grp], k, io.ep, io.y, T);
  sync(parts);
}

// Thread `part` of a team of `parts`: its share of the weight transform, then of the blocks.
void run_part(const WinogradPlan& p, const float* x, const float* w, const ConvEpilogue& ep,
              float* y, float* workspace, int part, int parts) {
  float* after_u = workspace + p.u_slots * p.u_floats;
  Buffers io{x, w, ep, y, workspace};
  if (p.fused_weights) {
    io.U = workspace + part * p.u_floats;
  } else {
    const auto [k_begin, k_end] = share(p.K, part, parts);
    for (int64_t k = k_begin; k < k_end; ++k) weight_transform(p, w, k, io.U + k * p.C);
    sync(parts);
  }
  const int64_t T = p.block_tiles;
  if (p.cooperative) {
    for (int64_t t0 = 0; t0 < p.tiles; t0 += T)
      run_block(p, io, after_u, after_u + p.v_floats, t0, std::min(t0 + T, p.tiles), part, parts);
    return;
  }
  // Contiguous ranges of whole 16-tile groups, so every thread's GEMMs have full vectors.
  const auto [g_begin, g_end] = share((p.tiles + kLanes - 1) / kLanes, part, parts);
  float* V = after_u + part * (p.v_floats + p.m_floats);
  const int64_t t_end = std::min(g_end * kLanes, p.tiles);
  for (int64_t t0 = g_begin * kLanes; t0 < t_end; t0 += T)
    run_block(p, io, V, V + p.v_floats, t0, std::min(t0 + T, t_end), 0, 1);
}

}  // namespace

void winograd_f4x3_avx512(const WinogradPlan& p, const float* x, const float* w,
                          const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  run_team([&](int part, int parts) { run_part(p, x, w, ep, y, workspace, part, parts); });
}

}  // namespace fovea::kernels
