// PoolGeometry: everything a pooling kernel needs to know about the sizes, computed once at the
// door (src/ops/pool_call.cpp) and shared by the kernels, their tests and the benchmarks.
//
// Spatial axes are always three, (D, H, W); 1D and 2D pools set the leading axes to size 1
// (kernel 1, stride 1, dilation 1, padding 0), so one kernel serves all ranks. Every kernel
// works plane by plane: x (N*C, D, H, W) -> y (N*C, oD, oH, oW), row-major.
//
// Window pools (max, avg, lp): output o along an axis reads the input positions
//   i = o*stride - pad + k*dilation,  k = 0 .. kernel-1,  kept when 0 <= i < in
// (avg pools have dilation 1). Adaptive pools read [floor(o*in/out), ceil((o+1)*in/out)).
// Max-unpooling writes an output plane of `out` from an input plane of `in`.
//
// Argmax indices are flat positions inside one input plane, (d*H + h)*W + w, stored as float32
// (exact because the door keeps planes below 2^24 elements), as in PyTorch's int64 indices.
#pragma once

#include <cstdint>

#include "kernels/conv_geometry.h"  // Dims3

namespace fovea::kernels {

struct PoolGeometry {
  int64_t N = 1, C = 1;
  int spatial_dims = 2;  // 1, 2 or 3: how the user sees it
  Dims3 in{1, 1, 1}, out{1, 1, 1};
  // Window pools only.
  Dims3 kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1}, pad{0, 0, 0};
  // Average pools only: whether padded positions count in the divisor, and a fixed divisor
  // replacing it (0 = none).
  bool count_include_pad = true;
  int64_t divisor_override = 0;

  int64_t planes() const { return N * C; }
  int64_t in_pixels() const { return in[0] * in[1] * in[2]; }
  int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_pixels() const { return kernel[0] * kernel[1] * kernel[2]; }
};

}  // namespace fovea::kernels
