// What the AVX-512 translation units of the depthwise kernels (conv_depthwise.h) share: the
// prefetch of the next item's planes, the kernels' types and the functions that
// pick them (conv_depthwise_correlate_avx512.cpp), and the filling of P and streaming out of
// staged output planes (conv_depthwise_fill_avx512.cpp), all called by the entry points
// (conv_depthwise_avx512.cpp). For those translation units only, included after their standard
// and project headers: everything here is compiled for AVX-512 (the target pragma below), is
// inline or defined once, in a namespace of its own, and is called only after supports() said
// yes.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_depthwise_plane.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/rounding.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::depthwise_avx512 {

using avx512::Clamp;
using avx512::first_lanes;

inline constexpr int64_t kLanes = kDepthwiseLanes, kTile = kDepthwiseTile;

// Lanes F, F + 2, .. F + 30 of the 32 in (a, b): phase F of a stride-2 row.
template <int F>
__m512 phase_of(__m512 a, __m512 b) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(a, _mm512_add_epi32(even, _mm512_set1_epi32(F)), b);
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

// out (out_h, out_w) = clamp(bias + corr(P, w)), or out += corr(P, w) when `accumulate`.
using CorrelateFn = void (*)(const DepthwisePlane& p, const Taps& taps, const float* plane,
                             const float* w, float bias, bool accumulate, const Clamp& clamp,
                             float* out, Ahead& ahead);

// The kernel of p's shape: correlate_rows for the register-blocked ones, else correlate_generic.
CorrelateFn correlate_for(const DepthwisePlane& p);

// correlate_rows read straight from the source plane src (src_h, src_w): no padded copy, each
// input float is loaded from where it lies. Serves the forward and the stride-1 backward_data
// (whose P is dy shifted, not upsampled), out += .. when `accumulate`.
using SourceFn = void (*)(const DepthwisePlane& p, const float* src, const float* zeros,
                          const float* w, float bias, bool accumulate, const Clamp& clamp,
                          float* out, Ahead& ahead);

// The in-place path for the register-blocked shapes, else null: the forward, and
// backward_data at stride 1 (upsampled dy has no place to be read from).
SourceFn source_for(const DepthwisePlane& p);

// partial (K·K vectors) += one image's contribution to every tap of one output channel, read
// in place from the source plane src (`zeros` a zeroed row of the workspace).
using SumFn = void (*)(const DepthwisePlane& p, const float* src, const float* zeros,
                       const float* dy, float* partial, Ahead& ahead);

// The in-place sums of the register-blocked shapes (3×3 and 5×5, stride 1 or 2), else null.
SumFn sum_source_for(const DepthwisePlane& p);

// The other shapes, from the padded plane P: 8 taps at a time.
void sum_all_taps(const DepthwisePlane& p, const Taps& taps, const float* plane, const float* dy,
                  float* partial);

// dst[0, floats) = src with non-temporal stores where dst is 64-byte aligned: they skip
// reading each destination line before writing it, a third of the DRAM traffic of a pass
// whose tensors dwarf the cache.
void stream_plane(const float* src, int64_t floats, float* dst);

// Writes the source's values into P, and nothing else: the zeros around and between them are
// the same for every plane of a pass, so for_each_plane writes them once per thread and call.
void fill_plane(const DepthwisePlane& p, const float* src, float* plane, float* line);

}  // namespace fovea::kernels::depthwise_avx512

#pragma GCC pop_options
