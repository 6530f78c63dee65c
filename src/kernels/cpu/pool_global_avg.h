// Global average pooling (an adaptive average pool to one output per plane: the head of
// ResNet, MobileNet, EfficientNet) in AVX-512. The reference sums each plane in one serial
// chain of adds, one add latency per element; here 16 planes share one vector, lane l summing
// plane l in the same order (gathered at the plane stride), so results are bit for bit the
// reference's.
#pragma once

#include "kernels/pool_geometry.h"

namespace fovea::kernels {

// Adaptive average pools with one output per plane, on a CPU with AVX-512.
bool global_avg_pool_avx512_supports(const PoolGeometry& g) noexcept;
// adaptive_avg_pool_forward_reference's results for those geometries.
void global_avg_pool_forward_avx512(const PoolGeometry& g, const float* x, float* y) noexcept;

}  // namespace fovea::kernels
