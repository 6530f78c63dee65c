// The validated geometry of a convolution call, shared by the conv ops, the conv-matrix
// analysis and the benchmarks: one place computes sizes and checks arguments.
#pragma once

#include <optional>
#include <string_view>

#include "fovea/functional/conv.h"
#include "kernels/conv_geometry.h"

namespace fovea::ops {

struct ConvCall {
  kernels::ConvGeometry g;
  bool unbatched = false;  // input had no batch axis; strip it from results
  std::string_view op;     // names the op in error messages
};

// Checks shapes and options (throwing ShapeError/ValueError that name `op`) and returns the
// geometry of y = conv(x, w). x is (N, C, *spatial) or unbatched (C, *spatial).
template <int D>
ConvCall conv_call(std::string_view op, const Shape& x, const Shape& w,
                   const std::optional<Shape>& b, const functional::ConvOptions<D>& o);

// The same for a transposed convolution, described by the geometry of the convolution it is
// the adjoint of: that convolution's input is our output and its output our input.
template <int D>
ConvCall conv_transpose_call(std::string_view op, const Shape& x, const Shape& w,
                             const std::optional<Shape>& b,
                             const functional::ConvTransposeOptions<D>& o);

// (N, C_in, *in) and (N, C_out, *out) of the call's convolution (no N when unbatched).
Shape conv_input_shape(const ConvCall& c);
Shape conv_output_shape(const ConvCall& c);

}  // namespace fovea::ops
