// The AVX-512 weight gradient of the Winograd rows F(4x4, 3x3) and F(2x2, 3x3): F(3x3, 4x4)
// (F(3x3, 2x2)) on the forward's 6 (4) points per axis (conv_winograd.h has the formulas), a
// template on the tile size kTile with P = (kTile + 2)² points. A block of up to
// kWinogradWeightBlockTiles tiles is transformed (dy by A, x by Bᵀ), then its P GEMMs add into
// M, which holds the sums over all blocks; after the last block, Gᵀ · Gᵀ turns M into dw.
// Unlike the forward (one lane per tile), the transforms run on 16 channels per vector: each
// image's planes are first staged as (pixels, 16) by 16x16 transposes, after which a tile's
// window is whole vectors, read without permutes or (dilated) gathers, and the transformed
// tiles land in U and V in the layouts the GEMM wants, with no transposes of the 36 points.
//
// Layouts (floats, row-major; ξ planes plan.*_stride apart), T = plan.block_tiles:
//   U (P, T, u_ld)        transformed dy tiles of one block: output channels along lanes
//   V (P, T, v_ld)        transformed x tiles of one block: input channels along lanes
//   M (P, K, c_pad)       M[ξ] += U[ξ]ᵀ · V[ξ], the forward's GEMM micro-kernel reducing over
//                         tiles (broadcasts from U, read column-major, vectors from V)
// Work units are panels of up to 6 output channels x 64 input channels of M. A block's GEMMs
// run point by point, its units within each point (U[ξ] and V[ξ] stay in L2).
// Threads either share every block (few tiles or a large M: transforms split over channels,
// GEMMs over units, whose output transform then follows their GEMMs of the last block, chunk by
// chunk while their sums are in cache; or, with channels enough, each thread owns columns of M
// and transforms every dy tile itself), or sum their own ranges of tiles into their own M,
// added up at the end. With one shared block in all, M is never whole: each unit sums into its
// thread's scratch.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "kernels/cpu/conv_winograd_plan.h"
#include "kernels/cpu/conv_winograd_tiles_avx512.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/rounding.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using namespace winograd_avx512;

using Range = std::pair<int64_t, int64_t>;

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

// Where tile t lies: image n and the first output row and column (oy, ox) of its phase, its
// outputs `dilation` apart (WinogradPlan::tiles has the order).
struct TilePos {
  int64_t n, oy, ox;
};

TilePos tile_pos(const WinogradPlan& p, int64_t t) {
  const int64_t d = p.dilation, per_image = d * d * p.tiles_h * p.tiles_w;
  const int64_t rows = t % per_image / p.tiles_w;  // tile row, row phase, column phase
  return {t / per_image, rows / d % d + p.tile * d * (rows / (d * d)),
          rows % d + p.tile * d * (t % p.tiles_w)};
}

// Floats of one staged plane: `pixels` rounded up to a vector, of 16 channels each.
int64_t staged_plane(int64_t pixels) {
  return round_up(pixels, kLanes) * kLanes;
}

// Channel plane c of image n of x, and k of dy (`pixels` each): nullptr for a zero plane. A 3x3x3
// layer's (plan.depth_out > 0) image n is depth plane n % depth_out of image n / depth_out, and
// its virtual channel c = 3 c3 + kd input plane n % depth_out - depth_pad + kd of channel c3.
const float* x_plane(const WinogradPlan& p, const float* x, int64_t n, int64_t c, int64_t pixels) {
  if (p.depth_out == 0) return x + (n * p.C + c) * pixels;
  const int64_t id = n % p.depth_out - p.depth_pad + c % 3;
  if (id < 0 || id >= p.depth_in) return nullptr;
  return x + ((n / p.depth_out * (p.C / 3) + c / 3) * p.depth_in + id) * pixels;
}

const float* dy_plane(const WinogradPlan& p, const float* dy, int64_t n, int64_t k,
                      int64_t pixels) {
  if (p.depth_out == 0) return dy + (n * p.K + k) * pixels;
  return dy + ((n / p.depth_out * p.K + k) * p.depth_out + n % p.depth_out) * pixels;
}

// Pixels [px) (from the vector holding the first) of 16 channel planes src[c] (nullptr: zeros) of
// `pixels` each staged at dst as (pixels, 16): a pixel's 16 channels one vector.
void stage(const float* const (&src)[kLanes], int64_t pixels, Range px, float* dst) {
  for (int64_t p0 = px.first / kLanes * kLanes; p0 < px.second; p0 += kLanes) {
    const __mmask16 mask = bits(0, pixels - p0);
    __m512 r[kLanes];
    for (int c = 0; c < kLanes; ++c) {
      // Sixteen planes far apart, which the hardware prefetchers do not all follow: each
      // plane's pixels four vectors ahead on the way (a prefetch past the end does not fault).
      // ResNet-18 layer 3 at batch 1 and 32 -> 64 channels of 14x14 at batch 64: 7-15% fewer
      // cycles.
      if (src[c])
        _mm_prefetch(reinterpret_cast<const char*>(src[c] + p0 + 4 * kLanes), _MM_HINT_T0);
      r[c] = src[c] ? _mm512_maskz_loadu_ps(mask, src[c] + p0) : _mm512_setzero_ps();
    }
    avx512::transpose16x16(r);
    // Whole vectors: the plane is padded to them (pixels past the last: unread).
    for (int e = 0; e < kLanes; ++e) _mm512_storeu_ps(dst + (p0 + e) * kLanes, r[e]);
  }
}

// One tile's n x n window of a staged plane (height x width pixels of 16 channels), elements
// `d` apart from (y0, x0), zero outside the plane, transformed by f (n -> kW, rows then
// columns) and stored at out + ξ * stride: 16 channels per vector, no permutes or gathers.
template <int n, int kW, class F>
void transform_window(const float* plane, int64_t height, int64_t width, int64_t y0, int64_t x0,
                      int64_t d, F f, float* out, int64_t stride) {
  __m512 t[n][kW];  // t[j]: window row j, transformed along the row
  for (int j = 0; j < n; ++j) {
    __m512 e[n];
    const int64_t y = y0 + d * j;
    for (int l = 0; l < n; ++l) {
      const int64_t x = x0 + d * l;
      e[l] = y >= 0 && y < height && x >= 0 && x < width
                 ? _mm512_loadu_ps(plane + (y * width + x) * kLanes)
                 : _mm512_setzero_ps();
    }
    f(e, t[j]);
  }
  for (int i = 0; i < kW; ++i) {
    __m512 col[n], o[kW];
    for (int j = 0; j < n; ++j) col[j] = t[j][i];
    f(col, o);
    for (int i2 = 0; i2 < kW; ++i2) _mm512_storeu_ps(out + (i2 * kW + i) * stride, o[i2]);
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

struct Io {
  const float *x, *dy;
  float* dw;
  float *U, *V, *M, *unit_sums, *x_staged, *dy_staged;
};

constexpr int kUnitRows = kPanelRows[4];
constexpr int64_t kUnitColumns = 4 * kLanes;
// One unit's sums (plan.unit_sums): P planes of kUnitRows x kUnitColumns, a cache line apart.
constexpr int64_t kUnitSumStride = kUnitRows * kUnitColumns + kLanes;
static_assert(kPoints<4> * kUnitSumStride == kWinogradWeightScratchFloats);

// Units per chunk of the last shared block: their sums (55 KB per unit for F(4x4)) stay in L2
// from their GEMMs to their output transforms, and each point's columns of V are read from L3
// once per chunk.
constexpr int64_t kOutputChunkUnits = 8;

// Stages the rows of image n that tiles [ta, tb) (all in image n) read: x of the 16-channel
// groups [qs) and dy of [ks), into the part's buffers (one image each).
template <int kTile>
void stage_image(const WinogradPlan& p, const Io& io, int64_t n, int64_t ta, int64_t tb, Range ks,
                 Range qs) {
  const int64_t d = p.dilation, per_row = d * d * p.tiles_w, per_image = p.tiles_h * per_row;
  // Output rows [oy_lo, oy_hi): the tile rows' of every phase; x rows: the windows' 2d more.
  const int64_t oy_lo = kTile * d * (ta % per_image / per_row);
  const int64_t oy_hi = kTile * d * ((tb - 1) % per_image / per_row + 1);
  const int64_t hw = p.H * p.W, ohw = p.OH * p.OW;
  const Range x_px{std::max<int64_t>(oy_lo - p.pad_top, 0) * p.W,
                   std::min(oy_hi + 2 * d - p.pad_top, p.H) * p.W};
  const Range dy_px{oy_lo * p.OW, std::min(oy_hi, p.OH) * p.OW};
  // The group's 16 planes; past the last channel zeros.
  const float* src[kLanes];
  for (int64_t q = qs.first; q < qs.second; ++q) {
    for (int c = 0; c < kLanes; ++c)
      src[c] = q * kLanes + c < p.C ? x_plane(p, io.x, n, q * kLanes + c, hw) : nullptr;
    stage(src, hw, x_px, io.x_staged + q * staged_plane(hw));
  }
  for (int64_t q = ks.first; q < ks.second; ++q) {
    for (int c = 0; c < kLanes; ++c)
      src[c] = q * kLanes + c < p.K ? dy_plane(p, io.dy, n, q * kLanes + c, ohw) : nullptr;
    stage(src, ohw, dy_px, io.dy_staged + q * staged_plane(ohw));
  }
}

// A part's transforms of tiles [t_begin, t_end): dy of the 16-channel groups [ks) into U, x of
// the groups [qs) into V, image by image: staged (an image's planes stay in L2), then tile by
// tile.
template <int kTile>
void transform_block(const WinogradPlan& p, const Io& io, int64_t t_begin, int64_t t_end, Range ks,
                     Range qs) {
  constexpr int kW = kWindow<kTile>;
  const int64_t x_plane = staged_plane(p.H * p.W), dy_plane = staged_plane(p.OH * p.OW);
  const int64_t d = p.dilation, per_image = d * d * p.tiles_h * p.tiles_w;
  const auto dy_1d_f = [](const __m512* e, __m512* u) { dy_1d<kTile>(e, u); };
  const auto input_1d_f = [](const __m512* e, __m512* v) { input_1d<kTile>(e, v); };
  for (int64_t ta = t_begin; ta < t_end;) {
    const int64_t n = ta / per_image, tb = std::min(t_end, (n + 1) * per_image);
    stage_image<kTile>(p, io, n, ta, tb, ks, qs);
    for (int64_t t = ta; t < tb; ++t) {
      const TilePos tp = tile_pos(p, t);
      float* u = io.U + (t - t_begin) * p.u_ld;
      for (int64_t q = ks.first; q < ks.second; ++q)
        transform_window<kTile, kW>(io.dy_staged + q * dy_plane, p.OH, p.OW, tp.oy, tp.ox, d,
                                    dy_1d_f, u + q * kLanes, p.u_stride);
      float* v = io.V + (t - t_begin) * p.v_ld;
      for (int64_t q = qs.first; q < qs.second; ++q)
        transform_window<kW, kW>(io.x_staged + q * x_plane, p.H, p.W, tp.oy - p.pad_top,
                                 tp.ox - p.pad_left, d, input_1d_f, v + q * kLanes, p.v_stride);
    }
    ta = tb;
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
    return sized(unit % k_units() * kUnitRows, c_begin + unit / k_units() * kUnitColumns);
  }
  // The unit after u, without at()'s divisions (the GEMMs step through units once per point).
  Unit after(const Unit& u) const {
    return u.k0 + kUnitRows < p.K ? sized(u.k0 + kUnitRows, u.c0) : sized(0, u.c0 + kUnitColumns);
  }
  Unit sized(int64_t k0, int64_t c0) const {
    return {k0, c0, static_cast<int>(std::min<int64_t>(kUnitRows, p.K - k0)),
            static_cast<int>(std::min<int64_t>(kUnitColumns, c_end - c0) / kLanes)};
  }
};

// Where a unit's rectangle of M lies: at `at` (its first row and column of point 0), planes
// `point` and rows `row` floats apart; in M itself, or (plan.unit_sums) in the thread's own
// buffer, where it stays in L1 and L2 from its GEMMs to its output transform.
struct Sums {
  float* at;
  int64_t point, row;
};

Sums sums_of(const WinogradPlan& p, const Io& io, const Unit& un) {
  if (p.unit_sums) return {io.unit_sums, kUnitSumStride, kUnitColumns};
  return {io.M + un.k0 * p.c_pad + un.c0, p.m_stride, p.c_pad};
}

// The unit's GEMMs at points [xi_begin, xi_end) over the block's `tiles` tiles: M[ξ] (+)= U[ξ]ᵀ
// · V[ξ].
void unit_gemms(const WinogradPlan& p, const Io& io, const Unit& un, int xi_begin, int xi_end,
                int64_t tiles, bool first) {
  const Sums sums = sums_of(p, io, un);
  const ColumnMajor lu{p.u_ld};
  for (int xi = xi_begin; xi < xi_end; ++xi) {
    const float* u = io.U + xi * p.u_stride + un.k0;
    const float* v = io.V + xi * p.v_stride + un.c0;
    float* m = sums.at + xi * sums.point;
    switch (un.nv) {
      case 1:
        gemm_panel<1>(un.rows, tiles, u, lu, v, p.v_ld, m, sums.row, !first);
        break;
      case 2:
        gemm_panel<2>(un.rows, tiles, u, lu, v, p.v_ld, m, sums.row, !first);
        break;
      case 3:
        gemm_panel<3>(un.rows, tiles, u, lu, v, p.v_ld, m, sums.row, !first);
        break;
      default:
        gemm_panel<4>(un.rows, tiles, u, lu, v, p.v_ld, m, sums.row, !first);
        break;
    }
  }
}

// The GEMMs of units [begin, end) over the block, point by point: U[ξ] and the units' columns
// of V[ξ] stay in L2 and one unit's columns of V[ξ] in L1 while the units' rows go by. Unit
// by unit, all P points each, a unit's columns of V over all points (1.2 MB for 128 tiles)
// overflowed L2 and were read again from L3 for every unit. A single unit (one block in all,
// few tiles: its columns of V over all points fit L2) runs its points in one call.
void block_gemms(const WinogradPlan& p, const Io& io, const Units& units, Range range,
                 int64_t tiles, bool first) {
  const Unit first_unit = units.at(range.first);
  if (range.second - range.first == 1)
    return unit_gemms(p, io, first_unit, 0, p.points(), tiles, first);
  for (int xi = 0; xi < p.points(); ++xi) {
    Unit un = first_unit;
    for (int64_t i = range.first; i < range.second; ++i, un = units.after(un))
      unit_gemms(p, io, un, xi, xi + 1, tiles, first);
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

// The workspace: U (u_slots), then V and M per slot, then each thread's scratch and staged x
// and dy.
Io slot_io(const WinogradPlan& p, const float* x, const float* dy, float* dw, float* workspace,
           int slot, int part) {
  float* V = workspace + p.u_slots * p.u_floats + slot * (p.v_floats + p.m_floats);
  float* scratch = workspace + p.u_slots * p.u_floats + p.slots * (p.v_floats + p.m_floats) +
                   part * p.thread_scratch_floats;
  float* x_staged = scratch + kWinogradWeightScratchFloats;
  return {x,
          dy,
          dw,
          workspace + (p.u_slots > 1 ? part : 0) * p.u_floats,
          V,
          V + p.v_floats,
          scratch,
          x_staged,
          x_staged + p.c_pad / kLanes * staged_plane(p.H * p.W)};
}

// Shared blocks: every block's transforms are split over the team, then its GEMMs by unit;
// after the last block each unit's output transform (one block in all: right after the unit's
// GEMMs, its sums in the thread's scratch). By columns (plan.by_columns):
// each part owns a range of 16-channel groups, the columns of M, and transforms their x tiles
// and every dy tile into its own U: no barriers.
template <int kTile>
void run_shared(const WinogradPlan& p, const Io& io, int part, int parts) {
  const int64_t T = p.block_tiles;
  const bool by_columns = p.by_columns;
  const Range qs = share(p.c_pad / kLanes, part, parts);
  const Range ks = by_columns ? Range{0, p.k_pad / kLanes} : share(p.k_pad / kLanes, part, parts);
  const Units units =
      by_columns ? Units{p, qs.first * kLanes, qs.second * kLanes} : Units{p, 0, p.c_pad};
  const auto [u_begin, u_end] =
      by_columns ? Range{0, units.count()} : share(units.count(), part, parts);
  for (int64_t t0 = 0; t0 < p.tiles; t0 += T) {
    const int64_t t1 = std::min(t0 + T, p.tiles);
    transform_block<kTile>(p, io, t0, t1, ks, qs);
    if (!by_columns) sync(parts);
    // The last block's units in chunks, each chunk's output transforms right after its GEMMs,
    // while its sums are in L2 (one block in all: one unit, its sums in the thread's scratch;
    // the unit's columns of V over all points, 147 KB for 16 tiles, stay in L2).
    const bool last = t1 == p.tiles;
    const int64_t chunk = !last         ? std::max<int64_t>(1, u_end - u_begin)
                          : p.unit_sums ? 1
                                        : kOutputChunkUnits;
    for (int64_t i = u_begin; i < u_end; i += chunk) {
      const Range range{i, std::min(i + chunk, u_end)};
      block_gemms(p, io, units, range, t1 - t0, t0 == 0);
      if (last)
        for (int64_t j = range.first; j < range.second; ++j) {
          const Unit un = units.at(j);
          unit_output<kTile>(p, sums_of(p, io, un), un, io.dw);
        }
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
    transform_block<kTile>(p, io, t0, t1, {0, p.k_pad / kLanes}, {0, p.c_pad / kLanes});
    block_gemms(p, io, units, {0, units.count()}, t1 - t0, t0 == t_begin);
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
