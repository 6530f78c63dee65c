// The padded plane P of the depthwise kernels (conv_depthwise.h, conv_depthwise_plane.h) filled
// from its source plane, and staged output planes streamed out to memory. fill_plane and
// stream_plane are the functions that leave this file (conv_depthwise_avx512.h), called only by
// the entry points after supports() said yes (see conv_depthwise_avx512.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_depthwise_avx512.h"
#include "kernels/cpu/conv_depthwise_plane.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::depthwise_avx512 {
namespace {

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

}  // namespace

// Declared, with what they do, in conv_depthwise_avx512.h.
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

}  // namespace fovea::kernels::depthwise_avx512
