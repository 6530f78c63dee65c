// Fast CPU max and average pooling, forward and backward, for every window geometry (1D, 2D
// and 3D): the hot pools of CNN training. Same contracts as the reference kernels in
// reference/pool_reference.h and bit-for-bit the same results (the sums run in the same
// order); tests/kernels/pool_kernels_test.cpp holds them to that.
//
// Forward passes split the output rows (plane, od, oh) over OpenMP threads; backward passes
// split the planes (windows of one plane may overlap). Within a row, each window tap sweeps
// the whole output row, a unit- or stride-2 loop the compiler vectorises; stride 1 and 2
// (2x2/2, 3x3/2 pad 1, 3x3/1, ...) get compile-time strides.
#pragma once

#include "kernels/pool_geometry.h"

namespace fovea::kernels {

void max_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y, float* indices) noexcept;
// Also the backward of adaptive max pooling: it reads only g.planes(), g.in and g.out.
void max_pool_backward_cpu(const PoolGeometry& g, const float* dy, const float* indices,
                           float* dx) noexcept;
void avg_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y) noexcept;
void avg_pool_backward_cpu(const PoolGeometry& g, const float* dy, float* dx) noexcept;

}  // namespace fovea::kernels
