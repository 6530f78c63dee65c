// ConvGeometry: everything a convolution kernel needs to know about the sizes, computed
// once at the door (src/ops) and shared by kernels, tests, benchmarks and analysis.
//
// Spatial axes are always three, (D, H, W); 1D and 2D convolutions set the leading axes
// to size 1 (kernel 1, stride 1, dilation 1, padding 0), so one kernel serves all ranks.
// Layouts (row-major):
//   x  (N, C_in,  D,  H,  W)      input
//   w  (C_out, C_in/groups, kD, kH, kW)
//   y  (N, C_out, oD, oH, oW)     output; output channel oc belongs to group oc / (C_out/groups)
// y[n,oc,o] = b[oc] + sum_{ic,k} x[n, g*Cig + ic, o*stride - pad_lo + k*dilation] * w[oc,ic,k]
#pragma once

#include <array>
#include <cstdint>

namespace fovea::kernels {

using Dims3 = std::array<int64_t, 3>;

struct ConvGeometry {
  int64_t N = 1, C_in = 1, C_out = 1, groups = 1;
  int spatial_dims = 2;  // 1, 2 or 3: how the user sees it (names, messages)
  Dims3 in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1};
  Dims3 stride{1, 1, 1}, dilation{1, 1, 1}, pad_lo{0, 0, 0}, pad_hi{0, 0, 0};

  int64_t C_in_per_group() const { return C_in / groups; }
  int64_t C_out_per_group() const { return C_out / groups; }
  int64_t in_pixels() const { return in[0] * in[1] * in[2]; }
  int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_pixels() const { return kernel[0] * kernel[1] * kernel[2]; }
  // Multiply-adds of one forward pass (each backward pass costs the same).
  int64_t macs() const { return N * C_out * out_pixels() * C_in_per_group() * kernel_pixels(); }
  bool is_pointwise() const {
    for (int a = 0; a < 3; ++a)
      if (kernel[a] != 1 || stride[a] != 1 || pad_lo[a] != 0 || pad_hi[a] != 0) return false;
    return true;
  }
};

}  // namespace fovea::kernels
