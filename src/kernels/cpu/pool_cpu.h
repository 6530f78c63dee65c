// Fast CPU max and average pooling, forward and backward, for every window geometry (1D, 2D
// and 3D): the hot pools of CNN training. Same contracts as the reference kernels in
// reference/pool_reference.h and bit-for-bit the same results (the sums run in the same
// order); tests/kernels/pool_kernels_test.cpp holds them to that.
//
// Forward passes split the output rows (plane, od, oh) over OpenMP threads; backward passes
// split the planes (windows of one plane may overlap). Within a row, each window tap sweeps
// the whole output row, a unit- or stride-2 loop the compiler vectorises; stride 1 and 2
// (2x2/2, 3x3/2 pad 1, 3x3/1, ...) get compile-time strides. With AVX-512 the max pool takes
// the kernels below instead where they apply: forwards in 16-output blocks, and the backward
// in gather form; so does the average pool's forward.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "kernels/pool_geometry.h"

namespace fovea::kernels {

// An argmax index is valid in a plane of `plane` <= 2^24 elements when it is an integer in
// [0, plane). Tested with pool_index_valid(v, pool_index_limit(plane)), in integer arithmetic
// on v's bits and with `&` for `&&`, so loops over it vectorise (float compares keep GCC
// scalar): v is 0 (either sign), or at least 1 and below the limit (NaN and negatives, read as
// unsigned, are above it), with no bits below its binary point.
inline uint32_t pool_index_limit(int64_t plane) {
  return std::bit_cast<uint32_t>(static_cast<float>(plane));
}
inline bool pool_index_valid(float v, uint32_t limit) {
  const uint32_t u = std::bit_cast<uint32_t>(v + 0.0f);  // -0 + 0 = +0
  // Shifting left by 9 + exponent leaves exactly the mantissa's fraction bits in the low word
  // (clamped: beyond 2^23 there are none, and NaN or negatives fail the limit anyway).
  const int32_t shift = std::clamp(static_cast<int32_t>(u >> 23) - 118, 0, 32);
  const bool integral = ((static_cast<uint64_t>(u) << shift) & 0xffffffffu) == 0;
  return (u == 0) | ((u >= 0x3f800000u) & (u < limit) & integral);
}

// Below this many outputs the AVX-512 kernels stay on one thread: waking the team costs more.
inline constexpr int64_t kPoolMinParallelOutputs = int64_t{1} << 13;

// Calls row(pos) for each input row (id, ih) that the windows of output row (od, oh) read
// inside the input, in (kd, kh) order: pos = (id * in[1] + ih) * in[2], the row's start in its
// plane.
template <class F>
void for_each_window_row(const PoolGeometry& g, int64_t od, int64_t oh, F&& row) {
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
    const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dilation[0];
    if (id < 0 || id >= g.in[0]) continue;
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
      const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dilation[1];
      if (ih < 0 || ih >= g.in[1]) continue;
      row((id * g.in[1] + ih) * g.in[2]);
    }
  }
}

// indices may be null (inference, where nothing needs them): the values alone are computed, y
// bit for bit the reference's, NaN payloads included.
void max_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y, float* indices) noexcept;
// Also the backward of adaptive max pooling: it reads only g.planes(), g.in and g.out. Checks
// the indices as it goes (nearly free, against a separate pass over them): returns false, dx
// then unspecified, when one is not valid in an input plane.
bool max_pool_backward_cpu(const PoolGeometry& g, const float* dy, const float* indices,
                           float* dx) noexcept;
// The 2x2 stride-2 max pool forward of 2-D maps without padding, in AVX-512
// (pool_cpu_avx512.cpp): max_pool_forward_cpu's results where supported (which needs the CPU
// to have AVX-512); max_pool_forward_cpu calls it there, with or without (null) indices.
bool max_pool_2x2_avx512_supports(const PoolGeometry& g) noexcept;
void max_pool_2x2_forward_avx512(const PoolGeometry& g, const float* x, float* y,
                                 float* indices) noexcept;
// The max pool forward of windows with W stride 1 or 2, no W dilation and a kernel at most 16
// wide, any D and H geometry, in AVX-512 (pool_cpu_avx512.cpp), with or without (null)
// indices: max_pool_forward_cpu's results where supported (which needs AVX-512), and it calls
// it there.
bool max_pool_avx512_supports(const PoolGeometry& g) noexcept;
void max_pool_forward_avx512(const PoolGeometry& g, const float* x, float* y,
                             float* indices) noexcept;

// The max pool backward in gather form (pool_backward_avx512.cpp), for 2-D and 1-D pools whose
// windows overlap along H by one row at most, W stride 1 or 2, no dilation (and AVX-512): dx
// without a zeroing pass or a scalar scatter. Writes dx of every plane whose indices all lie in
// their own windows, as the forward makes them, setting gathered[plane]; max_pool_backward_cpu's
// results there. The other planes (gathered[plane] = 0, dx unspecified) are left to the scatter.
bool max_pool_backward_gather_avx512_supports(const PoolGeometry& g) noexcept;
void max_pool_backward_gather_avx512(const PoolGeometry& g, const float* dy, const float* indices,
                                     float* dx, uint8_t* gathered) noexcept;

// The average pool in AVX-512 (pool_cpu_avx512.cpp), for W stride 1 or 2, no dilation, windows
// at most 16 wide: the forward reads each tap of each window row as one vector of 16 outputs,
// as the max's; the backward runs in gather form (each input element sums the shares of the
// windows that hold it, in the reference's order). avg_pool_{forward,backward}_cpu call them
// with the window divisors' factors as floats, row_div[od * out[1] + oh] and col_div[ow], and
// their results are those functions'.
bool avg_pool_avx512_supports(const PoolGeometry& g) noexcept;
void avg_pool_forward_avx512(const PoolGeometry& g, const float* x, const float* row_div,
                             const float* col_div, float* y) noexcept;
void avg_pool_backward_avx512(const PoolGeometry& g, const float* dy, const float* row_div,
                              const float* col_div, float* dx) noexcept;
void avg_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y) noexcept;
void avg_pool_backward_cpu(const PoolGeometry& g, const float* dy, float* dx) noexcept;

}  // namespace fovea::kernels
