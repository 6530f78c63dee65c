// The door of interpolate: validate as PyTorch's F.interpolate does (throwing with op,
// argument, expected, given), resolve the output size, run the kernel: the CPU one for 1-D and
// 2-D calls (held equal to the reference by tests/kernels/interpolate_kernels_test.cpp), the
// reference for 3-D.
#include "fovea/functional/interpolate.h"

#include <fmt/format.h>

#include <vector>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/cpu/interpolate_cpu.h"
#include "kernels/reference/interpolate_reference.h"

namespace fovea::functional {
namespace {

using kernels::InterpolateGeometry;
using kernels::InterpolationKernel;

std::string_view mode_name(InterpolateMode m) {
  switch (m) {
    case InterpolateMode::kNearest:
      return "nearest";
    case InterpolateMode::kNearestExact:
      return "nearest-exact";
    case InterpolateMode::kLinear:
      return "linear";
    case InterpolateMode::kBilinear:
      return "bilinear";
    case InterpolateMode::kBicubic:
      return "bicubic";
    case InterpolateMode::kTrilinear:
      return "trilinear";
  }
  return "?";
}

// The input rank a mode needs, or 0 when any of 3, 4, 5 will do.
int64_t mode_rank(InterpolateMode m) {
  switch (m) {
    case InterpolateMode::kLinear:
      return 3;
    case InterpolateMode::kBilinear:
    case InterpolateMode::kBicubic:
      return 4;
    case InterpolateMode::kTrilinear:
      return 5;
    default:
      return 0;
  }
}

InterpolationKernel kernel_of(InterpolateMode m) {
  switch (m) {
    case InterpolateMode::kNearest:
      return InterpolationKernel::kNearest;
    case InterpolateMode::kNearestExact:
      return InterpolationKernel::kNearestExact;
    case InterpolateMode::kBicubic:
      return InterpolationKernel::kCubic;
    default:
      return InterpolationKernel::kLinear;
  }
}

constexpr std::string_view kLayouts[] = {"", "(N, C, L)", "(N, C, H, W)", "(N, C, D, H, W)"};

template <int D>
void check_input_shape(std::string_view op, const Shape& x, InterpolateMode mode) {
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank < 3 || rank > 5)
    throw ShapeError(
        fmt::format("{}: input expects 3, 4 or 5 dimensions ({}, {} or {}), got {} with shape {}",
                    op, kLayouts[1], kLayouts[2], kLayouts[3], rank, shape_str(x)));
  if (const int64_t needed = mode_rank(mode); needed != 0 && rank != needed)
    throw ShapeError(
        fmt::format("{}: input expects {} dimensions {} for mode {}, got {} with shape {}", op,
                    needed, kLayouts[needed - 2], mode_name(mode), rank, shape_str(x)));
  if (rank != D + 2)
    throw ShapeError(fmt::format(
        "{}: input expects {} dimensions {} to match InterpolateOptions<{}>, got {} with shape {}",
        op, D + 2, kLayouts[D], D, rank, shape_str(x)));
  if (x[0] < 0 || x[1] < 0 || std::any_of(x.begin() + 2, x.end(), [](int64_t s) { return s < 1; }))
    throw ShapeError(fmt::format("{}: input expects sizes N, C >= 0 and spatial sizes >= 1, got {}",
                                 op, shape_str(x)));
}

// Checks the options against the input shape and returns the geometry of the call.
template <int D>
InterpolateGeometry make_geometry(std::string_view op, const Shape& x,
                                  const InterpolateOptions<D>& o) {
  check_input_shape<D>(op, x, o.mode);
  const bool has_size = o.size.has_value(), has_scale = o.scale_factor.has_value();
  if (has_size == has_scale)
    throw ValueError(fmt::format("{}: size and scale_factor expect exactly one to be given, got {}",
                                 op, has_size ? "both" : "neither"));
  if (o.recompute_scale_factor && has_size)
    throw ValueError(fmt::format(
        "{}: recompute_scale_factor expects a scale_factor (it has no meaning with a size)", op));
  const bool nearest =
      o.mode == InterpolateMode::kNearest || o.mode == InterpolateMode::kNearestExact;
  if (nearest && o.align_corners.has_value())
    throw ValueError(fmt::format(
        "{}: align_corners expects to be unset for mode {} (it applies to linear, bilinear, "
        "bicubic and trilinear only), got {}",
        op, mode_name(o.mode), *o.align_corners));

  InterpolateGeometry g;
  g.N = x[0];
  g.C = x[1];
  g.spatial_dims = D;
  g.kernel = kernel_of(o.mode);
  g.align_corners = o.align_corners.value_or(false);
  for (int a = 0; a < D; ++a) {
    const int i = 3 - D + a;
    g.in[i] = x[2 + a];
    if (has_size) {
      if (o.size[a] < 1)
        throw ValueError(fmt::format("{}: size expects values >= 1, got {}", op, o.size[a]));
      g.out[i] = o.size[a];
      continue;
    }
    const double s = o.scale_factor[a];
    if (!(s > 0) || !std::isfinite(s))
      throw ValueError(fmt::format("{}: scale_factor expects finite values > 0, got {}", op, s));
    // floor(in * scale_factor) in double, as PyTorch; the bound keeps the cast defined.
    const double out = std::floor(static_cast<double>(g.in[i]) * s);
    if (out < 1 || out > 0x1p62)
      throw ValueError(fmt::format(
          "{}: scale_factor expects output sizes from 1 to 2^62, got floor({} * {}) = {} along "
          "spatial axis {}",
          op, g.in[i], s, out, a));
    g.out[i] = static_cast<int64_t>(out);
    g.scale_factor[i] = o.recompute_scale_factor ? 0.0 : s;
  }
  return g;
}

Shape output_shape(const InterpolateGeometry& g) {
  Shape s{g.N, g.C};
  for (int i = 3 - g.spatial_dims; i < 3; ++i) s.push_back(g.out[i]);
  return s;
}

template <int D>
Tensor interpolate_backward_nd(const Tensor& dy, const Shape& x_shape,
                               const InterpolateOptions<D>& o) {
  constexpr std::string_view op = "interpolate_backward";
  const InterpolateGeometry g = make_geometry<D>(op, x_shape, o);
  if (!dy.defined()) throw ValueError(fmt::format("{}: grad_output is undefined", op));
  if (const Shape expected = output_shape(g); dy.shape() != expected)
    throw ShapeError(fmt::format("{}: grad_output expects the forward output's shape {}, got {}",
                                 op, shape_str(expected), shape_str(dy.shape())));
  Tensor dx = Tensor::empty(x_shape);
  const auto backward = kernels::interpolate_cpu_supports(g)
                            ? kernels::interpolate_backward_cpu
                            : kernels::interpolate_backward_reference;
  backward(g, dy.data(), dx.data());
  return dx;
}

template <int D>
Tensor interpolate_nd(const Tensor& x, const InterpolateOptions<D>& o) {
  if (!x.defined()) throw ValueError("interpolate: input is undefined");
  const InterpolateGeometry g = make_geometry<D>("interpolate", x.shape(), o);
  Tensor y = Tensor::empty(output_shape(g));
  const auto forward = kernels::interpolate_cpu_supports(g)
                           ? kernels::interpolate_forward_cpu
                           : kernels::interpolate_forward_reference;
  forward(g, x.data(), y.data());
  autograd::record("interpolate", {x}, y,
                   [shape = x.shape(), o](const Tensor& dy, const std::vector<bool>&) {
                     return std::vector<Tensor>{interpolate_backward_nd<D>(dy, shape, o)};
                   });
  return y;
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateOptions<1>& o) {
  return interpolate_nd<1>(x, o);
}
Tensor interpolate(const Tensor& x, const InterpolateOptions<2>& o) {
  return interpolate_nd<2>(x, o);
}
Tensor interpolate(const Tensor& x, const InterpolateOptions<3>& o) {
  return interpolate_nd<3>(x, o);
}

Tensor interpolate_backward(const Tensor& dy, const Shape& x_shape,
                            const InterpolateOptions<1>& o) {
  return interpolate_backward_nd<1>(dy, x_shape, o);
}
Tensor interpolate_backward(const Tensor& dy, const Shape& x_shape,
                            const InterpolateOptions<2>& o) {
  return interpolate_backward_nd<2>(dy, x_shape, o);
}
Tensor interpolate_backward(const Tensor& dy, const Shape& x_shape,
                            const InterpolateOptions<3>& o) {
  return interpolate_backward_nd<3>(dy, x_shape, o);
}

}  // namespace fovea::functional
