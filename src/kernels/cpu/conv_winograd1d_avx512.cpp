// The AVX-512 kernels of the 1D Winograd F(6, 3) row (see conv_winograd1d.h). One lane per
// tile of 6 outputs: 16 tiles (a group) read 16 overlapping 8-element windows from 98
// contiguous elements of a row, which are loaded as plain vectors and dealt to the lanes with
// in-register permutes; the 6 outputs per lane go back the same way.
//
// Layouts (floats, row-major; ξ planes plan.*_stride apart), T = tiles of one block:
//   forward   U (8, K, C) whole call; V (8, C, T), M (8, panel rows, T) per block
//   weight    U (8, K, T) and V (8, T, c_pad) per block; M (8, K, c_pad) summed over blocks
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_winograd1d.h"
#include "kernels/cpu/conv_winograd_tiles_avx512.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using Plan = Winograd1dPlan;
constexpr int kLanes = Plan::kLanes, kTile = Plan::kTile, kPoints = Plan::kPoints;
constexpr int kWindow = kTile + 2;  // input elements per tile

// G (8x3), the weight transform (its first row and Bᵀ's negated from the textbook's, which
// leaves their product alone).
constexpr float kG[kPoints][3] = {
    {1.0f, 0.0f, 0.0f},
    {-2.0f / 9, -2.0f / 9, -2.0f / 9},
    {-2.0f / 9, 2.0f / 9, -2.0f / 9},
    {1.0f / 90, 1.0f / 45, 2.0f / 45},
    {1.0f / 90, -1.0f / 45, 2.0f / 45},
    {32.0f / 45, 16.0f / 45, 8.0f / 45},
    {32.0f / 45, -16.0f / 45, 8.0f / 45},
    {0.0f, 0.0f, 1.0f},
};

__m512 splat(float v) {
  return _mm512_set1_ps(v);
}

// Bᵀ d (8 -> 8): the input window's transform, in every pass.
[[gnu::always_inline]] inline void input_transform(const __m512 d[kWindow], __m512 o[kPoints]) {
  o[0] = _mm512_fmadd_ps(splat(5.25f), _mm512_sub_ps(d[4], d[2]), _mm512_sub_ps(d[0], d[6]));
  o[7] = _mm512_fmadd_ps(splat(5.25f), _mm512_sub_ps(d[3], d[5]), _mm512_sub_ps(d[7], d[1]));
  // Rows 1-2, 3-4 and 5-6 are a ± b: even elements in a, odd ones in b.
  __m512 a = _mm512_fnmadd_ps(splat(4.25f), d[4], _mm512_add_ps(d[2], d[6]));
  __m512 b = _mm512_fnmadd_ps(splat(4.25f), d[3], _mm512_add_ps(d[1], d[5]));
  o[1] = _mm512_add_ps(a, b);
  o[2] = _mm512_sub_ps(a, b);
  a = _mm512_fnmadd_ps(splat(1.25f), d[4], _mm512_fmadd_ps(splat(0.25f), d[2], d[6]));
  b = _mm512_fmadd_ps(splat(2.0f), d[5],
                      _mm512_fnmadd_ps(splat(2.5f), d[3], _mm512_mul_ps(splat(0.5f), d[1])));
  o[3] = _mm512_add_ps(a, b);
  o[4] = _mm512_sub_ps(a, b);
  a = _mm512_fmadd_ps(splat(4.0f), d[2], _mm512_fnmadd_ps(splat(5.0f), d[4], d[6]));
  b = _mm512_fmadd_ps(splat(2.0f), d[1],
                      _mm512_fnmadd_ps(splat(2.5f), d[3], _mm512_mul_ps(splat(0.5f), d[5])));
  o[5] = _mm512_add_ps(a, b);
  o[6] = _mm512_sub_ps(a, b);
}

// Aᵀ m (8 -> 6): the outputs of a tile.
[[gnu::always_inline]] inline void output_transform(const __m512 m[kPoints], __m512 o[kTile]) {
  const __m512 s1 = _mm512_add_ps(m[1], m[2]), d1 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s2 = _mm512_add_ps(m[3], m[4]), d2 = _mm512_sub_ps(m[3], m[4]);
  const __m512 s3 = _mm512_add_ps(m[5], m[6]), d3 = _mm512_sub_ps(m[5], m[6]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s1), _mm512_add_ps(s2, s3));
  o[1] = _mm512_fmadd_ps(splat(2.0f), d2, _mm512_fmadd_ps(splat(0.5f), d3, d1));
  o[2] = _mm512_fmadd_ps(splat(4.0f), s2, _mm512_fmadd_ps(splat(0.25f), s3, s1));
  o[3] = _mm512_fmadd_ps(splat(8.0f), d2, _mm512_fmadd_ps(splat(0.125f), d3, d1));
  o[4] = _mm512_fmadd_ps(splat(16.0f), s2, _mm512_fmadd_ps(splat(0.0625f), s3, s1));
  o[5] = _mm512_add_ps(_mm512_fmadd_ps(splat(32.0f), d2, _mm512_fmadd_ps(splat(0.03125f), d3, d1)),
                       m[7]);
}

// A e (6 -> 8): a tile of dy in the weight gradient, read like a 6-tap kernel.
[[gnu::always_inline]] inline void dy_transform(const __m512 e[kTile], __m512 u[kPoints]) {
  // Point ±a is E(a) ± O(a), E the even powers' terms, O the odd ones'.
  const __m512 e1 = _mm512_add_ps(_mm512_add_ps(e[0], e[2]), e[4]);
  const __m512 o1 = _mm512_add_ps(_mm512_add_ps(e[1], e[3]), e[5]);
  const __m512 e2 = _mm512_fmadd_ps(splat(16.0f), e[4], _mm512_fmadd_ps(splat(4.0f), e[2], e[0]));
  const __m512 o2 = _mm512_fmadd_ps(splat(32.0f), e[5],
                                    _mm512_fmadd_ps(splat(8.0f), e[3], _mm512_add_ps(e[1], e[1])));
  const __m512 e3 =
      _mm512_fmadd_ps(splat(0.0625f), e[4], _mm512_fmadd_ps(splat(0.25f), e[2], e[0]));
  const __m512 o3 =
      _mm512_fmadd_ps(splat(0.03125f), e[5],
                      _mm512_fmadd_ps(splat(0.125f), e[3], _mm512_mul_ps(splat(0.5f), e[1])));
  u[0] = e[0];
  u[1] = _mm512_add_ps(e1, o1);
  u[2] = _mm512_sub_ps(e1, o1);
  u[3] = _mm512_add_ps(e2, o2);
  u[4] = _mm512_sub_ps(e2, o2);
  u[5] = _mm512_add_ps(e3, o3);
  u[6] = _mm512_sub_ps(e3, o3);
  u[7] = e[5];
}

// Bit e set for e in [lo, hi), clamped to a vector.
__mmask16 bits(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, kLanes);
  hi = std::clamp<int64_t>(hi, lo, kLanes);
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// How 16 lanes of 6 elements and 96 contiguous elements (6 vectors, taken in pairs: element s
// is element s % 32 of pair s / 32) map onto each other: row r of the table is one vector.
struct LaneTable {
  int32_t index[kTile][kLanes] = {};
  uint16_t pair_mask[kTile][3] = {};
};

// Phase r of lane l is span element kTile * l + r: window element r < 6 of every lane.
constexpr LaneTable phase_table() {
  LaneTable t;
  for (int r = 0; r < kTile; ++r)
    for (int l = 0; l < kLanes; ++l) {
      const int s = kTile * l + r;
      t.index[r][l] = s % 32;
      t.pair_mask[r][s / 32] |= static_cast<uint16_t>(1u << l);
    }
  return t;
}

// Output vector q, element e (span element 16q + e) is output j = s % 6 of lane s / 6; the
// 6 output vectors are taken in pairs (0, 1), (2, 3), (4, 5).
constexpr LaneTable output_table() {
  LaneTable t;
  for (int q = 0; q < kTile; ++q)
    for (int e = 0; e < kLanes; ++e) {
      const int s = kLanes * q + e, j = s % kTile;
      t.index[q][e] = j % 2 * kLanes + s / kTile;
      t.pair_mask[q][j / 2] |= static_cast<uint16_t>(1u << e);
    }
  return t;
}

// Row r of `table` from the vector pairs (v[0], v[1]), (v[2], v[3]), (v[4], v[5]).
[[gnu::always_inline]] inline __m512 deal(const LaneTable& table, int r, const __m512* v) {
  const __m512i index = _mm512_loadu_si512(table.index[r]);
  __m512 out = _mm512_permutex2var_ps(v[0], index, v[1]);
  for (int q = 1; q < 3; ++q)
    if (table.pair_mask[r][q])
      out = _mm512_mask_blend_ps(table.pair_mask[r][q], out,
                                 _mm512_permutex2var_ps(v[2 * q], index, v[2 * q + 1]));
  return out;
}

// w[j] lane l = row[base + kTile * l + j] for j < J (6 or 8), zero outside [0, len): the
// J-element windows of a group's 16 tiles.
template <int J>
[[gnu::always_inline]] inline void load_windows(const float* row, int64_t len, int64_t base,
                                                __m512 w[J]) {
  static_assert(J == kTile || J == kTile + 2);
  static constexpr LaneTable kPhases = phase_table();
  // Elements 6 and 7 are phases 0 and 1 of the next lane: the lanes shifted down by one, and
  // span elements 96 and 97 (v[6]) into the last.
  alignas(64) static constexpr int32_t kNextLane[2][kLanes] = {
      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17}};
  constexpr int kVectors = J == kTile ? 6 : 7;
  __m512 v[kVectors];
  if (base >= 0 && base + kVectors * kLanes <= len) {
    for (int i = 0; i < kVectors; ++i) v[i] = _mm512_loadu_ps(row + base + i * kLanes);
  } else {
    // Masked lanes are not read: the padding and the row's ends cost no copy.
    for (int i = 0; i < kVectors; ++i) {
      const int64_t lo = base + i * kLanes;
      v[i] = _mm512_maskz_loadu_ps(bits(-lo, len - lo), row + lo);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < kTile; ++r) w[r] = deal(kPhases, r, v);
  if constexpr (J > kTile)
    for (int j = kTile; j < J; ++j)
      w[j] = _mm512_permutex2var_ps(w[j - kTile], _mm512_load_si512(kNextLane[j - kTile]), v[6]);
}

// The 6 outputs per lane of a group to dst[0 .. 96), of which the first `count` exist.
[[gnu::always_inline]] inline void store_outputs(const __m512 o[kTile], float* dst, int64_t count) {
  static constexpr LaneTable kTable = output_table();
#pragma GCC unroll 6
  for (int q = 0; q < kTile; ++q) {
    const __m512 v = deal(kTable, q, o);
    if (count >= (q + 1) * kLanes)
      _mm512_storeu_ps(dst + q * kLanes, v);
    else if (count > q * kLanes)
      _mm512_mask_storeu_ps(dst + q * kLanes, bits(0, count - q * kLanes), v);
  }
}

// The GEMM per point is the 2-D row's (conv_winograd_tiles_avx512.h): the same register
// panels over 16-lane columns.
using winograd_avx512::kPanelRows;
using winograd_avx512::run_team;
using winograd_avx512::share;
using winograd_avx512::sync;
static_assert(kPanelRows[1] == Plan::kMaxPanelRows);

// One panel: `rows` (at most kPanelRows[nv]) rows by nv (1..4) vectors of columns.
void gemm_panel(int nv, int rows, int64_t red, const float* u, int64_t ldu, const float* v,
                int64_t ldv, float* m, int64_t ldm, bool accumulate) {
  switch (nv) {
    case 1:
      return winograd_avx512::gemm_panel<1>(rows, red, u, ldu, v, ldv, m, ldm, accumulate);
    case 2:
      return winograd_avx512::gemm_panel<2>(rows, red, u, ldu, v, ldv, m, ldm, accumulate);
    case 3:
      return winograd_avx512::gemm_panel<3>(rows, red, u, ldu, v, ldv, m, ldm, accumulate);
    default:
      return winograd_avx512::gemm_panel<4>(rows, red, u, ldu, v, ldv, m, ldm, accumulate);
  }
}

// Consecutive groups of one image: tiles t0 .. t0 + 16 nv.
struct Block {
  int64_t n, t0;
  int nv;
};

Block block(const Plan& p, int64_t unit) {
  const int64_t b = unit % p.blocks;
  const int64_t g0 = b * p.groups / p.blocks, g1 = (b + 1) * p.groups / p.blocks;
  return {unit / p.blocks, g0 * kLanes, static_cast<int>(g1 - g0)};
}

// One channel's row of x into V: the transformed windows of the block's groups, point ξ at
// v + ξ stride, group g 16 g further.
void transform_inputs(const Plan& p, const float* row, const Block& b, float* v, int64_t stride) {
  for (int g = 0; g < b.nv; ++g) {
    __m512 d[kWindow], o[kPoints];
    load_windows<kWindow>(row, p.L_in, (b.t0 + g * kLanes) * kTile - p.pad, d);
    input_transform(d, o);
    for (int xi = 0; xi < kPoints; ++xi) _mm512_storeu_ps(v + xi * stride + g * kLanes, o[xi]);
  }
}

// U[ξ][k][c] for output channel k, every c, 16 channels per vector.
void transform_weights(const Plan& p, const float* w, int64_t k, float* U) {
  // Tap j of channel pair (k, c): forward w[k][c][j]; rotated w[c][k][2 - j].
  const int64_t c_stride = p.rotated ? p.K * 3 : 3;
  const __m512i lanes =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int32_t>(c_stride)));
  for (int64_t c0 = 0; c0 < p.C; c0 += kLanes) {
    const __mmask16 mask = bits(0, p.C - c0);
    const float* src = w + (p.rotated ? c0 * p.K + k : k * p.C + c0) * 3;
    __m512 g[3];
    for (int j = 0; j < 3; ++j)
      g[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, lanes,
                                      src + (p.rotated ? 2 - j : j), 4);
    for (int xi = 0; xi < kPoints; ++xi) {
      const __m512 u = _mm512_fmadd_ps(
          splat(kG[xi][2]), g[2],
          _mm512_fmadd_ps(splat(kG[xi][1]), g[1], _mm512_mul_ps(splat(kG[xi][0]), g[0])));
      _mm512_mask_storeu_ps(U + xi * p.u_stride + k * p.C + c0, mask, u);
    }
  }
}

// The forward of one block: input transform, then per panel of output channels its 8 GEMMs
// and, while their M is in cache, its output transform.
void forward_block(const Plan& p, const Block& b, const float* x, const float* U,
                   const ConvEpilogue& ep, float* y, float* V, float* M) {
  const int64_t T = b.nv * kLanes;
  for (int64_t c = 0; c < p.C; ++c)
    transform_inputs(p, x + (b.n * p.C + c) * p.L_in, b, V + c * T, p.v_stride);
  const int panel_rows = kPanelRows[b.nv];
  const __m512 lo = splat(ep.lo), hi = splat(ep.hi);
  const bool clamps = ep.clamps();
  for (int64_t k0 = 0; k0 < p.K; k0 += panel_rows) {
    const int rows = static_cast<int>(std::min<int64_t>(panel_rows, p.K - k0));
    for (int xi = 0; xi < kPoints; ++xi)
      gemm_panel(b.nv, rows, p.C, U + xi * p.u_stride + k0 * p.C, p.C, V + xi * p.v_stride, T,
                 M + xi * p.m_stride, T, false);
    for (int r = 0; r < rows; ++r) {
      const int64_t k = k0 + r;
      const __m512 bias = splat(ep.bias ? ep.bias[k] : 0.0f);
      float* out = y + (b.n * p.K + k) * p.L_out;
      for (int g = 0; g < b.nv; ++g) {
        __m512 m[kPoints], o[kTile];
        for (int xi = 0; xi < kPoints; ++xi)
          m[xi] = _mm512_loadu_ps(M + xi * p.m_stride + r * T + g * kLanes);
        output_transform(m, o);
        for (__m512& e : o) e = _mm512_add_ps(e, bias);
        // max/min return their second operand when either is NaN: NaN sums stay NaN, as
        // unfused. (Zero-masked forms: the plain ones trip GCC 12's -Wmaybe-uninitialized.)
        if (clamps)
          for (__m512& e : o)
            e = _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, e));
        const int64_t first = (b.t0 + g * kLanes) * kTile;
        store_outputs(o, out + first, p.L_out - first);
      }
    }
  }
}

void forward_part(const Plan& p, const float* x, const float* w, const ConvEpilogue& ep, float* y,
                  float* workspace, int part, int parts) {
  float* U = workspace;
  const auto [k_begin, k_end] = share(p.K, part, parts);
  for (int64_t k = k_begin; k < k_end; ++k) transform_weights(p, w, k, U);
  sync(parts);
  float* V = workspace + p.u_floats + part * (p.v_floats + p.m_floats);
  const auto [u_begin, u_end] = share(p.N * p.blocks, part, parts);
  for (int64_t unit = u_begin; unit < u_end; ++unit)
    forward_block(p, block(p, unit), x, U, ep, y, V, V + p.v_floats);
}

struct WeightBuffers {
  float *U, *V, *S, *M;
};

WeightBuffers weight_buffers(const Plan& p, float* workspace, int part) {
  float* base = workspace + part * (p.u_floats + p.v_floats + p.scratch_floats + p.m_floats);
  return {base, base + p.u_floats, base + p.u_floats + p.v_floats,
          base + p.u_floats + p.v_floats + p.scratch_floats};
}

// One block's share of M: dy tiles into U, x windows into V (through S, 16 channels at a
// time, transposed so that channels are the GEMM's vector columns), then 8 GEMMs reducing
// over the block's tiles.
void weight_block(const Plan& p, const Block& b, const float* x, const float* dy,
                  const WeightBuffers& buf) {
  const int64_t T = b.nv * kLanes;
  for (int64_t k = 0; k < p.K; ++k) {
    const float* row = dy + (b.n * p.K + k) * p.L_out;
    for (int g = 0; g < b.nv; ++g) {
      __m512 e[kTile], u[kPoints];
      load_windows<kTile>(row, p.L_out, (b.t0 + g * kLanes) * kTile, e);
      dy_transform(e, u);
      for (int xi = 0; xi < kPoints; ++xi)
        _mm512_storeu_ps(buf.U + xi * p.u_stride + k * T + g * kLanes, u[xi]);
    }
  }
  constexpr int64_t kPlane = kLanes * kLanes;  // one point's 16 channels x 16 tiles in S
  for (int64_t c0 = 0; c0 < p.c_pad; c0 += kLanes) {
    for (int g = 0; g < b.nv; ++g) {
      const Block one{b.n, b.t0 + g * kLanes, 1};
      for (int64_t c = c0; c < c0 + kLanes; ++c) {
        float* s = buf.S + (c - c0) * kLanes;
        if (c < p.C) {
          transform_inputs(p, x + (b.n * p.C + c) * p.L_in, one, s, kPlane);
        } else {
          for (int xi = 0; xi < kPoints; ++xi)
            _mm512_storeu_ps(s + xi * kPlane, _mm512_setzero_ps());
        }
      }
      for (int xi = 0; xi < kPoints; ++xi)
        avx512::transpose16x16(buf.S + xi * kPlane, kLanes,
                               buf.V + xi * p.v_stride + g * kLanes * p.c_pad + c0, p.c_pad);
    }
  }
  const int64_t vectors = p.c_pad / kLanes;
  for (int64_t v0 = 0; v0 < vectors; v0 += 4) {
    const int nv = static_cast<int>(std::min<int64_t>(4, vectors - v0));
    const int panel_rows = kPanelRows[nv];
    for (int64_t k0 = 0; k0 < p.K; k0 += panel_rows) {
      const int rows = static_cast<int>(std::min<int64_t>(panel_rows, p.K - k0));
      for (int xi = 0; xi < kPoints; ++xi)
        gemm_panel(nv, rows, T, buf.U + xi * p.u_stride + k0 * T, T,
                   buf.V + xi * p.v_stride + v0 * kLanes, p.c_pad,
                   buf.M + xi * p.m_stride + k0 * p.c_pad + v0 * kLanes, p.c_pad, true);
    }
  }
}

void weight_part(const Plan& p, const float* x, const float* dy, float* dw, float* workspace,
                 int part, int parts) {
  const WeightBuffers buf = weight_buffers(p, workspace, part);
  std::fill(buf.M, buf.M + p.m_floats, 0.0f);
  const auto [u_begin, u_end] = share(p.N * p.blocks, part, parts);
  for (int64_t unit = u_begin; unit < u_end; ++unit) weight_block(p, block(p, unit), x, dy, buf);
  sync(parts);
  // dw = Gᵀ (Σ over threads of M), output channels shared out.
  const auto [k_begin, k_end] = share(p.K, part, parts);
  for (int64_t k = k_begin; k < k_end; ++k)
    for (int64_t c = 0; c < p.C; ++c) {
      float m[kPoints] = {};
      for (int t = 0; t < parts; ++t) {
        const float* Mt = weight_buffers(p, workspace, t).M;
        for (int xi = 0; xi < kPoints; ++xi) m[xi] += Mt[xi * p.m_stride + k * p.c_pad + c];
      }
      for (int j = 0; j < 3; ++j) {
        float sum = 0.0f;
        for (int xi = 0; xi < kPoints; ++xi) sum += kG[xi][j] * m[xi];
        dw[(k * p.C + c) * 3 + j] = sum;
      }
    }
}

}  // namespace

void winograd1d_forward_avx512(const Winograd1dPlan& p, const float* x, const float* w,
                               const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  run_team([&](int part, int parts) { forward_part(p, x, w, ep, y, workspace, part, parts); });
}

void winograd1d_weight_avx512(const Winograd1dPlan& p, const float* x, const float* dy, float* dw,
                              float* workspace) noexcept {
  run_team([&](int part, int parts) { weight_part(p, x, dy, dw, workspace, part, parts); });
}

}  // namespace fovea::kernels
