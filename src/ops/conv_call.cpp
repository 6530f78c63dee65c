#include "ops/conv_call.h"

#include <fmt/format.h>

#include "fovea/error.h"

namespace fovea::ops {
namespace {

using kernels::ConvGeometry;

// Accepts (N, C, *spatial) or unbatched (C, *spatial); returns whether it was unbatched.
template <int D>
bool check_input(std::string_view op, const Shape& x) {
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank != D + 2 && rank != D + 1)
    throw ShapeError(fmt::format(
        "{}: input expects {} dimensions (N, C, {}) or {} unbatched, got {} with shape {}", op,
        D + 2,
        D == 1   ? "L"
        : D == 2 ? "H, W"
                 : "D, H, W",
        D + 1, rank, shape_str(x)));
  return rank == D + 1;
}

template <int D>
void check_weight(std::string_view op, const Shape& w, std::string_view layout) {
  if (static_cast<int64_t>(w.size()) != D + 2)
    throw ShapeError(fmt::format("{}: weight expects {} dimensions ({}), got {} with shape {}", op,
                                 D + 2, layout, w.size(), shape_str(w)));
}

void check_groups(std::string_view op, int64_t groups, std::string_view what, int64_t channels) {
  if (groups < 1)
    throw ValueError(fmt::format("{}: groups expects a value >= 1, got {}", op, groups));
  if (channels % groups != 0)
    throw ValueError(
        fmt::format("{}: groups expects a divisor of {} = {}, got {}", op, what, channels, groups));
}

void check_bias(std::string_view op, const std::optional<Shape>& b, int64_t channels) {
  if (!b) return;
  if (b->size() != 1 || (*b)[0] != channels)
    throw ShapeError(fmt::format("{}: bias expects shape [{}] (one per output channel), got {}", op,
                                 channels, shape_str(*b)));
}

// Fills the batch, channel and kernel fields common to both directions. Spatial axis a of a
// D-dimensional op lands at index 3 - D + a of the (D, H, W) triples.
template <int D>
ConvCall begin_call(std::string_view op, const Shape& x, const Shape& w) {
  ConvCall c;
  c.op = op;
  c.unbatched = check_input<D>(op, x);
  c.g.spatial_dims = D;
  c.g.N = c.unbatched ? 1 : x[0];
  for (int a = 0; a < D; ++a) {
    c.g.in[3 - D + a] = x[x.size() - D + a];
    c.g.kernel[3 - D + a] = w[2 + a];
  }
  return c;
}

Shape activation_shape(const ConvCall& c, int64_t channels, const kernels::Dims3& spatial) {
  Shape s;
  if (!c.unbatched) s.push_back(c.g.N);
  s.push_back(channels);
  for (int i = 3 - c.g.spatial_dims; i < 3; ++i) s.push_back(spatial[i]);
  return s;
}
}  // namespace

template <int D>
ConvCall conv_call(std::string_view op, const Shape& x, const Shape& w,
                   const std::optional<Shape>& b, const functional::ConvOptions<D>& o) {
  check_weight<D>(op, w, "out_channels, in_channels/groups, *kernel");
  ConvCall c = begin_call<D>(op, x, w);
  ConvGeometry& g = c.g;
  g.C_in = x[c.unbatched ? 0 : 1];
  g.C_out = w[0];
  g.groups = o.groups;
  check_groups(op, o.groups, "out_channels (weight.size(0))", g.C_out);
  if (w[1] * o.groups != g.C_in)
    throw ShapeError(fmt::format(
        "{}: weight expects {} input channels per group ({} in all with groups={}), input has {}",
        op, w[1], w[1] * o.groups, o.groups, g.C_in));
  check_bias(op, b, g.C_out);
  for (int a = 0; a < D; ++a) {
    const int i = 3 - D + a;
    g.stride[i] = o.stride[a];
    g.dilation[i] = o.dilation[a];
    if (g.stride[i] < 1)
      throw ValueError(fmt::format("{}: stride expects values >= 1, got {}", op, g.stride[i]));
    if (g.dilation[i] < 1)
      throw ValueError(fmt::format("{}: dilation expects values >= 1, got {}", op, g.dilation[i]));
    const PadAmount p = resolve_padding(o.padding.mode(), o.padding.lo()[a], o.padding.hi()[a],
                                        g.kernel[i], g.dilation[i], g.stride[i], op);
    g.pad_lo[i] = p.lo;
    g.pad_hi[i] = p.hi;
    g.out[i] = conv_output_size(g.in[i], g.kernel[i], g.stride[i], p, g.dilation[i], op);
  }
  return c;
}

// The adjoint convolution's weight (C_out_conv = our C_in, C_in_conv/groups = our
// C_out/groups, *k) is our weight as stored.
template <int D>
ConvCall conv_transpose_call(std::string_view op, const Shape& x, const Shape& w,
                             const std::optional<Shape>& b,
                             const functional::ConvTransposeOptions<D>& o) {
  check_weight<D>(op, w, "in_channels, out_channels/groups, *kernel");
  ConvCall c = begin_call<D>(op, x, w);
  ConvGeometry& g = c.g;
  const int64_t c_in = x[c.unbatched ? 0 : 1];
  check_groups(op, o.groups, "in_channels", c_in);
  if (w[0] != c_in)
    throw ShapeError(fmt::format(
        "{}: weight expects in_channels (size 0) equal to the input's {} channels, got {}", op,
        c_in, w[0]));
  g.groups = o.groups;
  g.C_out = c_in;
  g.C_in = w[1] * o.groups;
  check_bias(op, b, g.C_in);
  for (int a = 0; a < D; ++a) {
    const int i = 3 - D + a;
    g.stride[i] = o.stride[a];
    g.dilation[i] = o.dilation[a];
    g.pad_lo[i] = o.padding[a];
    g.out[i] = g.in[i];  // our input is the adjoint convolution's output
    g.in[i] = conv_transpose_output_size(g.out[i], g.kernel[i], g.stride[i], o.padding[a],
                                         o.output_padding[a], g.dilation[i], op);
    g.pad_hi[i] = o.padding[a] - o.output_padding[a];
  }
  return c;
}

Shape conv_input_shape(const ConvCall& c) {
  return activation_shape(c, c.g.C_in, c.g.in);
}
Shape conv_output_shape(const ConvCall& c) {
  return activation_shape(c, c.g.C_out, c.g.out);
}

template ConvCall conv_call<1>(std::string_view, const Shape&, const Shape&,
                               const std::optional<Shape>&, const functional::ConvOptions<1>&);
template ConvCall conv_call<2>(std::string_view, const Shape&, const Shape&,
                               const std::optional<Shape>&, const functional::ConvOptions<2>&);
template ConvCall conv_call<3>(std::string_view, const Shape&, const Shape&,
                               const std::optional<Shape>&, const functional::ConvOptions<3>&);
template ConvCall conv_transpose_call<1>(std::string_view, const Shape&, const Shape&,
                                         const std::optional<Shape>&,
                                         const functional::ConvTransposeOptions<1>&);
template ConvCall conv_transpose_call<2>(std::string_view, const Shape&, const Shape&,
                                         const std::optional<Shape>&,
                                         const functional::ConvTransposeOptions<2>&);
template ConvCall conv_transpose_call<3>(std::string_view, const Shape&, const Shape&,
                                         const std::optional<Shape>&,
                                         const functional::ConvTransposeOptions<3>&);

}  // namespace fovea::ops
