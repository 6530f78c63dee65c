// The AVX-512 half of the depthwise kernels (conv_depthwise.h): every pass is a single-channel
// correlation over a zero-padded plane P (conv_depthwise_plane.h) built per (image, channel) in
// the calling thread's workspace, so the inner loops never test bounds:
//   forward / backward_data  a tile of 8 output vectors (8 rows × 16 columns, or 1 row × 128
//                            columns) accumulates every tap: 8 independent FMA chains; 3×3,
//                            5×5 and 7×7 load each P row once per tile (correlate_rows), other
//                            shapes load once per FMA (correlate_generic); for 3×3 and 5×5 at
//                            stride 1 or 2 and 7×7 at stride 1, the forward reads the input
//                            plane in place instead, masked loads standing for the padding
//                            (correlate_source), as does backward_data at stride 1 with dy;
//                            the forward clamps (fused ReLU6) in registers;
//   backward_weight          one vector accumulator per tap, fed by a few rows of dy at a time,
//                            reduced horizontally once per channel at the end; 3×3 and 5×5 at
//                            stride 1 or 2 read x in place (sum_rows), others through P.
// Only the entry points leave this file (internal linkage below), so no function compiled for
// AVX-512 can be picked by the linker for code that runs before supports() said yes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/conv_depthwise_plane.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using avx512::Clamp;
using avx512::first_lanes;

constexpr int64_t kLanes = kDepthwiseLanes, kTile = kDepthwiseTile;

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

// The lanes of v summed in order. (GCC 12 warns falsely inside _mm512_reduce_add_ps.)
float horizontal_sum(__m512 v) {
  alignas(64) float lanes[kLanes];
  _mm512_store_ps(lanes, v);
  float sum = 0.0f;
  for (float f : lanes) sum += f;
  return sum;
}

// Offset in P of tap k = kh · k_w + kw from the position of the output it adds to.
struct Taps {
  int64_t off[kDepthwiseMaxKernel * kDepthwiseMaxKernel];

  explicit Taps(const DepthwisePlane& p) {
    for (int64_t kh = 0; kh < p.k_h; ++kh)
      for (int64_t kw = 0; kw < p.k_w; ++kw) {
        const int64_t c = kw * p.dil_w;  // padded column; phase c % step_w, column c / step_w
        off[kh * p.k_w + kw] = kh * p.dil_h * p.row_pitch() + c % p.step_w * p.cols + c / p.step_w;
      }
  }
};

// Splits a linear padded row into its step_w phases (P's layout along W); stride 2 has its own
// path (split_pairs), this one serves the rare larger strides.
void split_phases(const DepthwisePlane& p, const float* line, float* dst) {
  for (int64_t f = 0; f < p.step_w; ++f)
    for (int64_t q = 0; q < p.cols; ++q) dst[f * p.cols + q] = line[q * p.step_w + f];
}

// s[start .. start+16) with zeros outside [0, n).
__m512 load_window(const float* s, int64_t start, int64_t n) {
  if (start >= n || start <= -kLanes) return _mm512_setzero_ps();
  if (start >= 0) return _mm512_maskz_loadu_ps(first_lanes(n - start), s + start);
  // Lanes -start.. take s[0..]: an expanding load, so no pointer before s is formed.
  return _mm512_maskz_expandloadu_ps(first_lanes(n - start) & ~first_lanes(-start), s);
}

// Lanes F, F + 2, .. F + 30 of the 32 in (a, b): phase F of a stride-2 row.
template <int F>
__m512 phase_of(__m512 a, __m512 b) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(a, _mm512_add_epi32(even, _mm512_set1_epi32(F)), b);
}

// One P row of a stride-2 pass straight from its source row s (src_w floats, padded column c
// holding s[c - off_w]): two windows of 16 give 16 even and 16 odd padded columns. Straight
// from the source rather than through a padded copy, whose freshly stored floats the loads
// here would wait on (the stores cannot forward to loads straddling them).
void split_pairs(const DepthwisePlane& p, const float* s, float* dst) {
  for (int64_t q = 0; q < p.cols; q += kLanes) {
    const int64_t start = 2 * q - p.off_w;
    const __m512 a = load_window(s, start, p.src_w), b = load_window(s, start + kLanes, p.src_w);
    _mm512_storeu_ps(dst + q, phase_of<0>(a, b));
    _mm512_storeu_ps(dst + p.cols + q, phase_of<1>(a, b));
  }
}

// Inline rather than memcpy: rows are short (tens of floats), a library call per row costs
// as much as the copy.
void copy_floats(const float* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
  }
}

int64_t ceil_div(int64_t v, int64_t m) {
  return (v + m - 1) / m;
}

// The next item's planes, asked for from memory ahead of their use: plane after plane, the
// hardware prefetchers lose the stream at each jump between planes. Up to two ranges, each
// asked for to be read (T0) or written (ET0). The lines go a few per tile of the current item,
// not all at once: a burst of hundreds of prefetches fills the core's miss buffers and stalls
// it until the lines arrive (a sixth of the batch-1 time of MobileNet-v2's 144-channel 56×56
// depthwise passes, whose planes come from L2 or L3).
struct Ahead {
  struct Range {
    const float* at = nullptr;
    int64_t floats = 0;
    bool write = false;
  };
  Range range[2];
  int64_t per_step = 0;

  // Spreads the lines left over the `steps` steps a caller is about to make.
  void plan(int64_t steps) {
    const int64_t lines = ceil_div(range[0].floats, kLanes) + ceil_div(range[1].floats, kLanes);
    per_step = ceil_div(lines, std::max<int64_t>(steps, 1));
  }
  void step() {
    Range& r = range[0].floats > 0 ? range[0] : range[1];
    const int64_t n = std::min(per_step, ceil_div(r.floats, kLanes));
    if (r.write)
      for (int64_t i = 0; i < n; ++i)
        _mm_prefetch(reinterpret_cast<const char*>(r.at + i * kLanes), _MM_HINT_ET0);
    else
      for (int64_t i = 0; i < n; ++i)
        _mm_prefetch(reinterpret_cast<const char*>(r.at + i * kLanes), _MM_HINT_T0);
    r.at += n * kLanes, r.floats -= n * kLanes;
  }
};

// dst[0, floats) = src with non-temporal stores where dst is 64-byte aligned: they skip
// reading each destination line before writing it, a third of the DRAM traffic of a pass
// whose tensors dwarf the cache.
void stream_plane(const float* src, int64_t floats, float* dst) {
  const auto misaligned = static_cast<int64_t>(reinterpret_cast<uintptr_t>(dst) / sizeof(float));
  const int64_t head = std::min(floats, (kLanes - misaligned % kLanes) % kLanes);
  const __mmask16 head_mask = first_lanes(head);
  _mm512_mask_storeu_ps(dst, head_mask, _mm512_maskz_loadu_ps(head_mask, src));
  int64_t i = head;
  for (; i + kLanes <= floats; i += kLanes) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
  const __mmask16 tail_mask = first_lanes(floats - i);
  _mm512_mask_storeu_ps(dst + i, tail_mask, _mm512_maskz_loadu_ps(tail_mask, src + i));
  _mm_sfence();  // the streamed lines are visible before anyone reads dst
}

// Writes the source's values into P, and nothing else: the zeros around and between them are
// the same for every plane of a pass, so for_each_plane writes them once per thread and call.
void fill_plane(const DepthwisePlane& p, const float* src, float* plane, float* line) {
  const int64_t pitch = p.row_pitch();
  // Source column i lands at padded column off_w + i·up_w: keep those inside [0, pitch).
  const int64_t i_lo = p.off_w >= 0 ? 0 : ceil_div(-p.off_w, p.up_w);
  const int64_t i_hi = std::min(p.src_w, ceil_div(std::max<int64_t>(pitch - p.off_w, 0), p.up_w));
  if (i_lo >= i_hi) return;
  for (int64_t ih = 0; ih < p.src_h; ++ih) {
    const int64_t r = p.off_h + ih * p.up_h;
    if (r < 0) continue;
    if (r >= p.rows) break;
    const float* s = src + ih * p.src_w;
    if (p.step_w == 2 && p.up_w == 1) {
      split_pairs(p, s, plane + r * pitch);
      continue;
    }
    float* lin = p.step_w > 1 ? line : plane + r * pitch;
    if (p.up_w == 1) {
      copy_floats(s + i_lo, i_hi - i_lo, lin + p.off_w + i_lo);
    } else {
      for (int64_t i = i_lo; i < i_hi; ++i) lin[p.off_w + i * p.up_w] = s[i];
    }
    if (p.step_w > 1) split_phases(p, line, plane + r * pitch);
  }
}

// Calls body(i, plane, line) for i in [0, count) over the threads, each with its own P (and
// line) from the workspace, zeroed when the thread starts (see fill_plane); only P's first row
// when `zero_row_only` (the forward's source path reads that row and nothing else of P).
template <class Body>
void for_each_plane(const DepthwisePlane& p, int64_t count, bool zero_row_only, float* workspace,
                    Body&& body) {
  const int64_t zeros =
      zero_row_only ? p.row_pitch() : p.floats() + (p.step_w > 1 ? p.row_pitch() : 0);
#pragma omp parallel if (count > 1)
  {
    float* plane = workspace + omp_get_thread_num() * p.thread_floats();
    float* line = plane + p.floats();
    bool zeroed = false;
    // nowait: the region's end is the one barrier needed (two per call would each wait for a
    // thread the OS has put off, on a loaded machine).
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < count; ++i) {
      if (!zeroed) std::fill_n(plane, zeros, 0.0f);
      zeroed = true;
      body(i, plane, line);
    }
  }
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

// out (out_h, out_w) = clamp(bias + corr(P, w)), or out += corr(P, w) when `accumulate`.
using CorrelateFn = void (*)(const DepthwisePlane& p, const Taps& taps, const float* plane,
                             const float* w, float bias, bool accumulate, const Clamp& clamp,
                             float* out, Ahead& ahead);

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

// correlate_rows read straight from the source plane src (src_h, src_w): no padded copy, each
// input float is loaded from where it lies. Serves the forward and the stride-1 backward_data
// (whose P is dy shifted, not upsampled), out += .. when `accumulate`.
using SourceFn = void (*)(const DepthwisePlane& p, const float* src, const float* zeros,
                          const float* w, float bias, bool accumulate, const Clamp& clamp,
                          float* out, Ahead& ahead);

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

CorrelateFn correlate_for(const DepthwisePlane& p) {
  const CorrelateFn blocked = blocked_for<CorrelateFn>(
      p, []<int K, int S>(std::integral_constant<int, K>, std::integral_constant<int, S>) {
        return correlate_rows<K, S>;
      });
  return blocked ? blocked : correlate_generic;
}

// The in-place path for the register-blocked shapes, else null: the forward, and
// backward_data at stride 1 (upsampled dy has no place to be read from).
SourceFn source_for(const DepthwisePlane& p) {
  if (p.up_h != 1 || p.up_w != 1) return nullptr;
  return blocked_for<SourceFn>(
      p, []<int K, int S>(std::integral_constant<int, K>, std::integral_constant<int, S>) {
        return correlate_source<K, S>;
      });
}

// partial[t] += sum over the output positions o of P[o + off[t]] · dy[o], for T taps at once:
// T independent FMA chains sharing each load of dy.
template <int T>
void sum_taps(const DepthwisePlane& p, const int64_t* off, const float* plane, const float* dy,
              float* partial) {
  __m512 acc[T];
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
  for (int t = 0; t < K * K; ++t)
    _mm512_storeu_ps(partial + t * kLanes,
                     _mm512_add_ps(_mm512_loadu_ps(partial + t * kLanes), acc[t]));
}

// partial (K·K vectors) += one image's contribution to every tap of one output channel, read
// in place from the source plane src (`zeros` a zeroed row of the workspace).
using SumFn = void (*)(const DepthwisePlane& p, const float* src, const float* zeros,
                       const float* dy, float* partial, Ahead& ahead);

// The in-place sums of the register-blocked shapes (3×3 and 5×5, stride 1 or 2), else null.
SumFn sum_source_for(const DepthwisePlane& p) {
  if (p.dil_h == 1 && p.dil_w == 1 && p.k_h == p.k_w && p.step_h == p.step_w) {
    if (p.k_h == 3 && p.step_h == 1) return sum_rows<3, 1, 8>;
    if (p.k_h == 3 && p.step_h == 2) return sum_rows<3, 2, 8>;
    if (p.k_h == 5 && p.step_h == 1) return sum_rows<5, 1, 2>;
    if (p.k_h == 5 && p.step_h == 2) return sum_rows<5, 2, 2>;
  }
  return nullptr;
}

// The other shapes, from the padded plane P: 8 taps at a time.
void sum_all_taps(const DepthwisePlane& p, const Taps& taps, const float* plane, const float* dy,
                  float* partial) {
  const int64_t K = p.k_h * p.k_w;
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) sum_taps<8>(p, taps.off + k, plane, dy, partial + k * kLanes);
  for (; k < K; ++k) sum_taps<1>(p, taps.off + k, plane, dy, partial + k * kLanes);
}

}  // namespace

void conv_forward_depthwise(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  const DepthwisePlane p = depthwise_plane(g, ConvPass::kForward);
  const Taps taps(p);
  const CorrelateFn correlate = correlate_for(p);
  const SourceFn source = source_for(p);
  const Clamp clamp(ep);
  const int64_t m = g.C_out / g.C_in, K = g.kernel_pixels(), P = g.out_pixels();
  // One (image, input channel) per step: its plane is built once, unless the source path
  // reads it in place (leaving the zeroed P as its zero row), and read by its m outputs.
  const bool in_place = source != nullptr;
  for_each_plane(p, g.N * g.C_in, in_place, workspace, [&](int64_t i, float* plane, float* line) {
    const float* src = x + i * g.in_pixels();
    Ahead ahead;
    if (i + 1 < g.N * g.C_in) {
      ahead.range[0] = {src + g.in_pixels(), g.in_pixels(), false};
      // The next item's output planes too, for writing: in a network the output tensor's
      // block was last written a forward ago, and stores that miss hold the tiles up
      // (MobileNet-v2, two threads: the first depthwise layer of each stage 10-25% faster).
      if (!p.stream_out)
        ahead.range[1] = {y + ((i + 1) / g.C_in * g.C_out + (i + 1) % g.C_in * m) * P, m * P, true};
    }
    if (!in_place) fill_plane(p, src, plane, line);
    const int64_t n = i / g.C_in, ic = i % g.C_in;
    for (int64_t oc = ic * m; oc < (ic + 1) * m; ++oc) {
      float* y_plane = y + (n * g.C_out + oc) * P;
      float* target = p.stream_out ? plane + p.stage_offset() : y_plane;
      const float bias = ep.bias ? ep.bias[oc] : 0.0f;
      if (in_place)
        source(p, src, plane, w + oc * K, bias, false, clamp, target, ahead);
      else
        correlate(p, taps, plane, w + oc * K, bias, false, clamp, target, ahead);
      if (p.stream_out) stream_plane(target, P, y_plane);
    }
  });
}

void conv_backward_data_depthwise(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float* workspace) noexcept {
  const DepthwisePlane p = depthwise_plane(g, ConvPass::kBackwardData);
  const Taps taps(p);
  const CorrelateFn correlate = correlate_for(p);
  const SourceFn source = source_for(p);
  const int64_t m = g.C_out / g.C_in, K = g.kernel_pixels(), P = g.out_pixels();
  // dx[n, ic] sums its m output channels in order j = 0 .. m-1, whatever the threads.
  const bool in_place = source != nullptr;
  for_each_plane(p, g.N * g.C_in, in_place, workspace, [&](int64_t i, float* plane, float* line) {
    const int64_t n = i / g.C_in, ic = i % g.C_in;
    // Item i's dy planes are dy[n, ic·m .. ic·m + m-1], i.e. m·P floats at i·m·P.
    Ahead ahead;
    if (i + 1 < g.N * g.C_in) ahead.range[0] = {dy + (i + 1) * m * P, m * P, false};
    float* dx_plane = dx + i * g.in_pixels();
    float* target = p.stream_out ? plane + p.stage_offset() : dx_plane;
    for (int64_t j = 0; j < m; ++j) {
      const int64_t oc = ic * m + j;
      const float* src = dy + (n * g.C_out + oc) * P;
      if (in_place) {
        source(p, src, plane, w + oc * K, 0.0f, j > 0, Clamp(), target, ahead);
      } else {
        fill_plane(p, src, plane, line);
        correlate(p, taps, plane, w + oc * K, 0.0f, j > 0, Clamp(), target, ahead);
      }
    }
    if (p.stream_out) stream_plane(target, g.in_pixels(), dx_plane);
  });
}

void conv_backward_weight_depthwise(const ConvGeometry& g, const float* x, const float* dy,
                                    float* dw, float* workspace) noexcept {
  const DepthwisePlane p = depthwise_plane(g, ConvPass::kBackwardWeight);
  const Taps taps(p);
  const SumFn source = sum_source_for(p);
  const int64_t m = g.C_out / g.C_in, K = g.kernel_pixels(), P = g.out_pixels();
  const int64_t thread_floats = p.thread_floats();
  float* partial_all = workspace + omp_get_max_threads() * thread_floats;  // (C_out, K, 16)
  // Each thread owns a range of channels and sums the images in order, so the result is the
  // same for any team; image by image, its channels are contiguous in x and dy, which keeps
  // the memory streams long where the tensors come from DRAM.
#pragma omp parallel if (g.C_in > 1)
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t c0 = g.C_in * t / team, c1 = g.C_in * (t + 1) / team;
    float* plane = workspace + t * thread_floats;
    float* line = plane + p.floats();
    std::fill_n(plane, thread_floats, 0.0f);
    float* partial = partial_all + c0 * m * K * kLanes;
    std::fill_n(partial, (c1 - c0) * m * K * kLanes, 0.0f);
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t ic = c0; ic < c1; ++ic) {
        Ahead ahead;
        if (ic + 1 < c1) {
          ahead.range[0] = {x + (n * g.C_in + ic + 1) * g.in_pixels(), g.in_pixels(), false};
          ahead.range[1] = {dy + (n * g.C_out + (ic + 1) * m) * P, m * P, false};
        }
        const float* src = x + (n * g.C_in + ic) * g.in_pixels();
        if (!source) fill_plane(p, src, plane, line);
        for (int64_t oc = ic * m; oc < (ic + 1) * m; ++oc) {
          const float* d = dy + (n * g.C_out + oc) * P;
          float* part = partial_all + oc * K * kLanes;
          if (source) {
            source(p, src, plane, d, part, ahead);  // P's first row (zeroed) is the zero row
          } else {
            ahead.plan(1);
            ahead.step();
            sum_all_taps(p, taps, plane, d, part);
          }
        }
      }
    for (int64_t k = c0 * m * K; k < c1 * m * K; ++k)
      dw[k] = horizontal_sum(_mm512_loadu_ps(partial_all + k * kLanes));
  }
}

}  // namespace fovea::kernels
