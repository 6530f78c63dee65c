// The correlation kernels of the depthwise kernels (conv_depthwise.h), over P or straight from
// the source plane: the forward and backward_data's correlations (correlate_generic,
// correlate_rows, correlate_source) and the weight gradient's sums (sum_taps, sum_rows), with the
// tiles' loop (for_each_tile). Only the functions that pick them leave this file
// (conv_depthwise_avx512.h), called only by the entry points after supports() said yes (see
// conv_depthwise_avx512.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/cpu/conv_depthwise_avx512.h"
#include "kernels/cpu/conv_depthwise_plane.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::depthwise_avx512 {
namespace {

// Lanes l with 0 <= start + l < n. Inlined: GCC left it a call, ten per 3×3 tile (a sixth of
// the forward's time at batch 1).
[[gnu::always_inline]] inline __mmask16 lanes_within(int64_t start, int64_t n) {
  return first_lanes(std::clamp<int64_t>(n - start, 0, kLanes)) &
         ~first_lanes(std::clamp<int64_t>(-start, 0, kLanes));
}

// row + i as an address only: i may reach before the row's start or past its end, where C++
// forbids forming the pointer, but the masked loads given it never touch the lanes out there
// (AVX-512 suppresses their faults).
template <class Float>
Float* lane_address(Float* row, int64_t i) {
  return reinterpret_cast<Float*>(reinterpret_cast<uintptr_t>(row) + i * sizeof(float));
}

// Calls compute(oh0, ow0, acc) for every tile of kTile output vectors (kTile rows of 16 when
// ByRows, else one row of kTile·16) whose first vector is output (oh0, ow0.. ow0+15), acc[r]
// holding the bias (or out when `accumulate`), and stores acc after, clamped. Vectors past the
// output are computed (from P, which has room for them, or from masked loads) and dropped: their
// loads and stores have no lanes. ByRows is p.by_rows known at compile time, so that a tile's
// bookkeeping (masks, addresses) is one mask and one address: tested per vector at run time, it
// was most of a 3×3 tile's instructions (MobileNet-v2's depthwise forwards: 1.2-1.4x faster).
template <bool ByRows, class Compute>
void for_each_tile(const DepthwisePlane& p, float bias, bool accumulate, const Clamp& clamp,
                   float* out, Ahead& ahead, Compute&& compute) {
  constexpr int64_t tile_h = ByRows ? kTile : 1, tile_w = ByRows ? 1 : kTile;
  const int64_t step = ByRows ? p.out_w : kLanes;  // from one vector of a tile to the next
  // mask(r): the lanes of vector r inside the output.
  const auto tile = [&](int64_t oh0, int64_t ow0, const auto& mask) {
    float* o = out + oh0 * p.out_w + ow0;
    __m512 acc[kTile];
    for (int64_t r = 0; r < kTile; ++r)
      acc[r] = accumulate ? _mm512_maskz_loadu_ps(mask(r), lane_address(o, r * step))
                          : _mm512_set1_ps(bias);
    compute(oh0, ow0, acc);
    if (clamp.on)
      for (int64_t r = 0; r < kTile; ++r) acc[r] = clamp(acc[r]);
    for (int64_t r = 0; r < kTile; ++r)
      _mm512_mask_storeu_ps(lane_address(o, r * step), mask(r), acc[r]);
  };
  ahead.plan(ceil_div(p.out_h, tile_h) * ceil_div(p.out_w, kLanes * tile_w));
  for (int64_t oh0 = 0; oh0 < p.out_h; oh0 += tile_h)
    for (int64_t ow0 = 0; ow0 < p.out_w; ow0 += kLanes * tile_w) {
      ahead.step();
      const __mmask16 columns = lanes_within(ow0, p.out_w);  // every row's, by rows
      // A band of whole rows, the usual case, takes one mask for all: a mask per row costs
      // more instructions than its loads and stores, and more mask registers than there are.
      if (ByRows && oh0 + kTile <= p.out_h)
        tile(oh0, ow0, [columns](int64_t) { return columns; });
      else
        tile(oh0, ow0, [&](int64_t r) {
          return ByRows ? (oh0 + r < p.out_h ? columns : __mmask16{0})
                        : lanes_within(ow0 + r * kLanes, p.out_w);
        });
    }
}

// Any shape: one load per FMA, eight independent accumulators.
void correlate_generic(const DepthwisePlane& p, const Taps& taps, const float* plane,
                       const float* w, float bias, bool accumulate, const Clamp& clamp, float* out,
                       Ahead& ahead) {
  const int64_t K = p.k_h * p.k_w;
  const int64_t pitch = p.row_pitch();
  const int64_t vector_step = p.by_rows ? p.step_h * pitch : kLanes;
  const auto tile = [&](int64_t oh0, int64_t ow0, __m512* acc) {
    const float* base = plane + oh0 * p.step_h * pitch + ow0;
    for (int64_t k = 0; k < K; ++k) {
      const __m512 wk = _mm512_set1_ps(w[p.flip ? K - 1 - k : k]);
      const float* in = base + taps.off[k];
#pragma GCC unroll 8
      for (int64_t r = 0; r < kTile; ++r)
        acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(in + r * vector_step), wk, acc[r]);
    }
  };
  if (p.by_rows)
    for_each_tile<true>(p, bias, accumulate, clamp, out, ahead, tile);
  else
    for_each_tile<false>(p, bias, accumulate, clamp, out, ahead, tile);
}

// Lanes J .. J+15 of the 32 in (cur, next).
template <int J>
__m512 shifted(__m512 cur, __m512 next) {
  if constexpr (J == 0)
    return cur;
  else
    // The masked form with every lane set: GCC 12 warns falsely inside the plain one.
    return _mm512_castsi512_ps(_mm512_mask_alignr_epi32(_mm512_castps_si512(cur), __mmask16{0xFFFF},
                                                        _mm512_castps_si512(next),
                                                        _mm512_castps_si512(cur), J));
}

// v[kw] = the 16 floats of one P row that tap column kw reads for the vector starting at `row`
// (stride S, dilation 1: phase kw % S, column kw / S). Built from whole-vector loads at
// multiples of 16 columns and lane shifts: loads at any other offset would split cache lines.
template <int K, int S>
void row_taps(const float* row, int64_t cols, __m512* v) {
  [&]<int... kw>(std::integer_sequence<int, kw...>) {
    ((v[kw] = shifted<kw / S>(_mm512_loadu_ps(row + kw % S * cols),
                              _mm512_loadu_ps(row + kw % S * cols + kLanes))),
     ...);
  }
  (std::make_integer_sequence<int, K>{});
}

// v[kw] as row_taps gives them, straight from a source row whose padded column c holds
// row[c - off_w], for the vector whose tap (·, 0) reads column start + off_w: S + 1 masked
// loads cover its 16·S + K - 1 columns, m[j] the lanes of load j inside the row (the others
// read as the zero padding). Stride 2 splits them into even and odd columns.
template <int K, int S>
void source_taps(const float* row, int64_t start, const __mmask16* m, __m512* v) {
  static_assert((S == 1 || S == 2) && K <= kLanes + 1);
  __m512 in[S + 1];
  for (int j = 0; j <= S; ++j)
    in[j] = _mm512_maskz_loadu_ps(m[j], lane_address(row, start + j * kLanes));
  if constexpr (S == 1) {
    [&]<int... kw>(std::integer_sequence<int, kw...>) {
      ((v[kw] = shifted<kw>(in[0], in[1])), ...);
    }
    (std::make_integer_sequence<int, K>{});
  } else {
    // Phase f's 16 columns, and the first of the next 16 (lanes of in[2] only). Three taps
    // read one of those, column 32: lane 0 of in[2] as loaded, one permute per row fewer.
    const __m512 phase[2] = {phase_of<0>(in[0], in[1]), phase_of<1>(in[0], in[1])};
    const __m512 next[2] = {K <= 3 ? in[2] : phase_of<0>(in[2], in[2]), phase_of<1>(in[2], in[2])};
    [&]<int... kw>(std::integer_sequence<int, kw...>) {
      ((v[kw] = shifted<kw / 2>(phase[kw % 2], next[kw % 2])), ...);
    }
    (std::make_integer_sequence<int, K>{});
  }
}

// The K×K weights broadcast, read back to front when `flip`.
template <int K>
void broadcast_weights(const float* w, bool flip, __m512* wv) {
  for (int k = 0; k < K * K; ++k) wv[k] = _mm512_set1_ps(w[flip ? K * K - 1 - k : k]);
}

// The FMAs of input row i of a tile (stride S): every (output row r, kernel row kh) with
// r·S + kh = i takes v, the row's K tap vectors, from registers.
template <int K, int S>
void add_row(int i, const __m512* v, const __m512* wv, __m512* acc) {
#pragma GCC unroll 8
  for (int kh = 0; kh < K; ++kh) {
    const int r = (i - kh) / S;
    if (i < kh || (i - kh) % S != 0 || r >= kTile) continue;
#pragma GCC unroll 8
    for (int kw = 0; kw < K; ++kw) acc[r] = _mm512_fmadd_ps(v[kw], wv[kh * K + kw], acc[r]);
  }
}

// Input rows a tile of kTile output rows reads with a K×K kernel at stride S.
template <int K, int S>
constexpr int kRowsIn = (kTile - 1) * S + K;

// K×K kernels, stride S, dilation 1, tiles of kTile rows 16 wide. Output row r reads P rows
// r·S + kh, so each P row is read once per tile and feeds every (r, kh) that reads it: ten
// rows for the 72 FMAs of a 3×3 stride-1 tile. Weights stay in registers.
template <int K, int S>
void correlate_rows(const DepthwisePlane& p, const Taps&, const float* plane, const float* w,
                    float bias, bool accumulate, const Clamp& clamp, float* out, Ahead& ahead) {
  __m512 wv[K * K];
  broadcast_weights<K>(w, p.flip, wv);
  const int64_t pitch = p.row_pitch(), cols = p.cols;
  const auto tile = [&](int64_t oh0, int64_t ow0, __m512* acc) {
    const float* row = plane + oh0 * S * pitch + ow0;
#pragma GCC unroll 64
    for (int i = 0; i < kRowsIn<K, S>; ++i, row += pitch) {
      __m512 v[K];
      row_taps<K, S>(row, cols, v);
      add_row<K, S>(i, v, wv, acc);
    }
  };
  for_each_tile<true>(p, bias, accumulate, clamp, out, ahead, tile);
}

// Rows of the source plane (src_h, src_w) read in place: where a P row lies in it, or
// `zeros` (a zeroed row of the workspace) for the padding rows; the columns outside are masked
// off by the caller (masks_at).
template <int K, int S, int Rows>
struct SourceRows {
  const DepthwisePlane& p;
  const float* src;
  const float* zeros;
  // Columns past the last one a valid output reads are left out: they may be more than the
  // zero row holds (negative pad_hi).
  int64_t width = std::min(p.src_w, (p.out_w - 1) * S + K - p.off_w);
  const float* rows[Rows] = {};
  int64_t band = -1;  // the first output row `rows` is for

  // rows[i] = P row oh0·S + i.
  void at(int64_t oh0) {
    if (oh0 == band) return;
    band = oh0;
    for (int i = 0; i < Rows; ++i) {
      const int64_t ih = oh0 * S + i - p.off_h;
      rows[i] = ih >= 0 && ih < p.src_h ? src + ih * p.src_w : zeros;
    }
  }
  // The lanes inside the source of the S + 1 loads of source_taps for output column ow0; its
  // `start` is ow0·S - off_w.
  void masks_at(int64_t start, __mmask16* m) const {
    for (int j = 0; j <= S; ++j) m[j] = lanes_within(start + j * kLanes, width);
  }
};

// A SourceFn (conv_depthwise_avx512.h).
template <int K, int S>
void correlate_source(const DepthwisePlane& p, const float* src, const float* zeros, const float* w,
                      float bias, bool accumulate, const Clamp& clamp, float* out, Ahead& ahead) {
  __m512 wv[K * K];
  broadcast_weights<K>(w, p.flip, wv);
  SourceRows<K, S, kRowsIn<K, S>> rows{p, src, zeros};
  // rows.masks_at of the output vectors 0, 1, .. of a row (ow0 = 16·v) are the same in every
  // band: computed once, for the first kCached of them (rows of up to 256 outputs), rather than
  // per tile, where they were a tenth of a 3×3 tile's instructions (forward 2-5% faster; not
  // in sum_rows, whose calls on small planes it made up to 10% slower).
  constexpr int64_t kCached = 16;
  const int64_t cached = std::min(kCached, ceil_div(p.out_w, kLanes));
  __mmask16 masks[kCached][S + 1];
  for (int64_t v = 0; v < cached; ++v) rows.masks_at(v * kLanes * S - p.off_w, masks[v]);
  const auto tile = [&](int64_t oh0, int64_t ow0, __m512* acc) {
    rows.at(oh0);
    const int64_t start = ow0 * S - p.off_w;
    const bool in_cache = ow0 < cached * kLanes;
    __mmask16 computed[S + 1];
    if (!in_cache) rows.masks_at(start, computed);
    const __mmask16* m = in_cache ? masks[ow0 / kLanes] : computed;
#pragma GCC unroll 64
    for (int i = 0; i < kRowsIn<K, S>; ++i) {
      __m512 v[K];
      source_taps<K, S>(rows.rows[i], start, m, v);
      add_row<K, S>(i, v, wv, acc);
    }
  };
  for_each_tile<true>(p, bias, accumulate, clamp, out, ahead, tile);
}

// pick(K, S) (std::integral_constant values) for the register-blocked shapes: K×K kernels 3,
// 5 and 7 at stride 1, and 3 and 5 at stride 2, dilation 1, tiles by rows; else null.
template <class Fn, class Pick>
Fn blocked_for(const DepthwisePlane& p, Pick pick) {
  using std::integral_constant;
  if (p.by_rows && p.dil_h == 1 && p.dil_w == 1 && p.k_h == p.k_w && p.step_h == p.step_w) {
    if (p.k_h == 3 && p.step_h == 1)
      return pick(integral_constant<int, 3>{}, integral_constant<int, 1>{});
    if (p.k_h == 3 && p.step_h == 2)
      return pick(integral_constant<int, 3>{}, integral_constant<int, 2>{});
    if (p.k_h == 5 && p.step_h == 1)
      return pick(integral_constant<int, 5>{}, integral_constant<int, 1>{});
    if (p.k_h == 5 && p.step_h == 2)
      return pick(integral_constant<int, 5>{}, integral_constant<int, 2>{});
    if (p.k_h == 7 && p.step_h == 1)
      return pick(integral_constant<int, 7>{}, integral_constant<int, 1>{});
  }
  return nullptr;
}

}  // namespace

// Declared, with what they do, in conv_depthwise_avx512.h.
CorrelateFn correlate_for(const DepthwisePlane& p) {
  const CorrelateFn blocked = blocked_for<CorrelateFn>(
      p, []<int K, int S>(std::integral_constant<int, K>, std::integral_constant<int, S>) {
        return correlate_rows<K, S>;
      });
  return blocked ? blocked : correlate_generic;
}

SourceFn source_for(const DepthwisePlane& p) {
  if (p.up_h != 1 || p.up_w != 1) return nullptr;
  return blocked_for<SourceFn>(
      p, []<int K, int S>(std::integral_constant<int, K>, std::integral_constant<int, S>) {
        return correlate_source<K, S>;
      });
}

namespace {

// partial[t] += sum over the output positions o of P[o + off[t]] · dy[o], for T taps at once:
// T independent FMA chains sharing each load of dy.
template <int T>
void sum_taps(const DepthwisePlane& p, const int64_t* off, const float* plane, const float* dy,
              float* partial) {
  // Every loop over acc unrolled: indexed by a variable anywhere, acc stayed an array in memory
  // and GCC stored all T of it on every vector of the loop below (one FMA per store).
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  const int64_t pitch = p.row_pitch();
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const float* in = plane + oh * p.step_h * pitch;
    const float* d = dy + oh * p.out_w;
    for (int64_t ow = 0; ow < p.out_w; ow += kLanes) {
      // Lanes past out_w: dy reads as 0 and P holds finite values, so they add nothing.
      const __m512 dv = _mm512_maskz_loadu_ps(first_lanes(p.out_w - ow), d + ow);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t)
        acc[t] = _mm512_fmadd_ps(_mm512_loadu_ps(in + ow + off[t]), dv, acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
    _mm512_storeu_ps(partial + t * kLanes,
                     _mm512_add_ps(_mm512_loadu_ps(partial + t * kLanes), acc[t]));
}

// partial (K·K vectors) += sum over o of P[o·S + k] · dy[o] for a K×K kernel, stride S,
// dilation 1, R rows of dy at a time, with P's rows read in place from the source plane src
// (SourceRows): each row is loaded once per R rows of dy and feeds every (dy row, kh) that
// reads it; K·K independent accumulators.
template <int K, int S, int R>
void sum_rows(const DepthwisePlane& p, const float* src, const float* zeros, const float* dy,
              float* partial, Ahead& ahead) {
  constexpr int kRowsIn = (R - 1) * S + K;
  __m512 acc[K * K];
  // Unrolled, here and at the end: as loops, GCC 12 zeroed acc on the stack with a memset call.
#pragma GCC unroll 64
  for (int t = 0; t < K * K; ++t) acc[t] = _mm512_setzero_ps();
  SourceRows<K, S, kRowsIn> rows{p, src, zeros};
  ahead.plan(ceil_div(p.out_h, R) * ceil_div(p.out_w, kLanes));
  for (int64_t oh0 = 0; oh0 < p.out_h; oh0 += R) {
    rows.at(oh0);
    const int64_t rows_left = p.out_h - oh0;
    for (int64_t ow = 0; ow < p.out_w; ow += kLanes) {
      ahead.step();
      // Lanes and rows past the output: dy reads as 0 and the source lanes are finite or 0.
      // One mask for every row (none for rows past the output), without a branch per row.
      const __mmask16 lanes = first_lanes(p.out_w - ow);
      const float* d = dy + oh0 * p.out_w + ow;
      __m512 dv[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        dv[r] = _mm512_maskz_loadu_ps(r < rows_left ? lanes : __mmask16{0},
                                      lane_address(d, r * p.out_w));
      const int64_t start = ow * S - p.off_w;
      __mmask16 m[S + 1];
      rows.masks_at(start, m);
#pragma GCC unroll 64
      for (int i = 0; i < kRowsIn; ++i) {
        __m512 v[K];
        source_taps<K, S>(rows.rows[i], start, m, v);
#pragma GCC unroll 8
        for (int kh = 0; kh < K; ++kh) {
          const int r = (i - kh) / S;
          if (i < kh || (i - kh) % S != 0 || r >= R) continue;
#pragma GCC unroll 8
          for (int kw = 0; kw < K; ++kw)
            acc[kh * K + kw] = _mm512_fmadd_ps(v[kw], dv[r], acc[kh * K + kw]);
        }
      }
    }
  }
#pragma GCC unroll 64
  for (int t = 0; t < K * K; ++t)
    _mm512_storeu_ps(partial + t * kLanes,
                     _mm512_add_ps(_mm512_loadu_ps(partial + t * kLanes), acc[t]));
}

}  // namespace

SumFn sum_source_for(const DepthwisePlane& p) {
  if (p.dil_h == 1 && p.dil_w == 1 && p.k_h == p.k_w && p.step_h == p.step_w) {
    if (p.k_h == 3 && p.step_h == 1) return sum_rows<3, 1, 8>;
    if (p.k_h == 3 && p.step_h == 2) return sum_rows<3, 2, 8>;
    if (p.k_h == 5 && p.step_h == 1) return sum_rows<5, 1, 2>;
    if (p.k_h == 5 && p.step_h == 2) return sum_rows<5, 2, 2>;
  }
  return nullptr;
}

void sum_all_taps(const DepthwisePlane& p, const Taps& taps, const float* plane, const float* dy,
                  float* partial) {
  const int64_t K = p.k_h * p.k_w;
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) sum_taps<8>(p, taps.off + k, plane, dy, partial + k * kLanes);
  for (; k < K; ++k) sum_taps<1>(p, taps.off + k, plane, dy, partial + k * kLanes);
}

}  // namespace fovea::kernels::depthwise_avx512
