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
// This file holds the entry points and the threads' loop over planes (for_each_plane); the
// correlation kernels are in conv_depthwise_correlate_avx512.cpp, the filling of P in
// conv_depthwise_fill_avx512.cpp, what they share in conv_depthwise_avx512.h.
// Only the entry points leave this file (internal linkage below), and from the other two only
// the functions conv_depthwise_avx512.h declares (namespace depthwise_avx512, each defined once,
// called only by the entry points); what the header defines is inline, compiled for AVX-512 and
// included only by these three files. So no function compiled for AVX-512 can be picked by the
// linker for code that runs before supports() said yes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/conv_depthwise_avx512.h"
#include "kernels/cpu/conv_depthwise_plane.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using namespace depthwise_avx512;

// The lanes of v summed in order. (GCC 12 warns falsely inside _mm512_reduce_add_ps.)
float horizontal_sum(__m512 v) {
  alignas(64) float lanes[kLanes];
  _mm512_store_ps(lanes, v);
  float sum = 0.0f;
  for (float f : lanes) sum += f;
  return sum;
}

// The zero row that the source paths (correlate_source and sum_rows, read in place) read for
// the padding rows: P's second row, not its first. Their masked loads of the padding columns
// start off_w floats before the row, those lanes off; from P's first row they reached into the
// page before, which for every thread but the first is the previous thread's P, never written
// on the forward's and backward data's path. Where that row began a page, the second thread
// took 1.6x as long (MobileNet-v2's 144-channel 56x56 layer at batch 1, Zen 5: forward 67-70
// µs against 42-45 in every run of a process so laid out, 45 with the workspace's pages touched
// beforehand; some 200 such loads per call added 25 µs, though a plain loop of such loads did
// not show the cost).
const float* zero_row(const DepthwisePlane& p, const float* plane) {
  return plane + p.row_pitch();
}

// Calls body(i, plane, line) for i in [0, count) over the threads, each with its own P (and
// line) from the workspace, zeroed when the thread starts (see fill_plane); only P's first two
// rows when `zero_row_only` (the source path reads zero_row and nothing else of P).
template <class Body>
void for_each_plane(const DepthwisePlane& p, int64_t count, bool zero_row_only, float* workspace,
                    Body&& body) {
  const int64_t zeros =
      zero_row_only ? 2 * p.row_pitch() : p.floats() + (p.step_w > 1 ? p.row_pitch() : 0);
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
        source(p, src, zero_row(p, plane), w + oc * K, bias, false, clamp, target, ahead);
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
        source(p, src, zero_row(p, plane), w + oc * K, 0.0f, j > 0, Clamp(), target, ahead);
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
            source(p, src, zero_row(p, plane), d, part, ahead);
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
