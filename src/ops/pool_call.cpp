#include "ops/pool_call.h"

#include <fmt/format.h>

#include <array>

#include "fovea/error.h"

namespace fovea::ops {
namespace {

using kernels::Dims3;

// Indices are float32 integers, exact below 2^24.
constexpr int64_t kMaxIndexedPlane = int64_t{1} << 24;

constexpr std::string_view spatial_names(int D) {
  return D == 1 ? "L" : D == 2 ? "H, W" : "D, H, W";
}

// The D spatial values of a (D, H, W) triple, for messages.
template <int D>
std::string spatial_str(const Dims3& v) {
  return shape_str(std::span(v).subspan(3 - D));
}

// Checks the rank and sizes of (N, C, *spatial) or unbatched (C, *spatial) and fills N, C, in.
template <int D>
PoolCall begin_call(std::string_view op, std::string_view arg, const Shape& x) {
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank != D + 2 && rank != D + 1)
    throw ShapeError(
        fmt::format("{}: {} expects {} dimensions (N, C, {}) or {} unbatched, got {} with shape {}",
                    op, arg, D + 2, spatial_names(D), D + 1, rank, shape_str(x)));
  PoolCall c;
  c.op = op;
  c.unbatched = rank == D + 1;
  c.g.spatial_dims = D;
  c.g.N = c.unbatched ? 1 : x[0];
  c.g.C = x[c.unbatched ? 0 : 1];
  bool ok = c.g.N >= 0 && c.g.C >= 0;
  for (int a = 0; a < D; ++a) {
    c.g.in[3 - D + a] = x[rank - D + a];
    ok = ok && x[rank - D + a] >= 1;
  }
  if (!ok)
    throw ShapeError(fmt::format("{}: {} expects spatial sizes >= 1 (and N, C >= 0), got {}", op,
                                 arg, shape_str(x)));
  return c;
}

void check_at_least(std::string_view op, std::string_view arg, int64_t value, int64_t lo) {
  if (value < lo)
    throw ValueError(fmt::format("{}: {} expects values >= {}, got {}", op, arg, lo, value));
}

void check_indexable(const PoolCall& c, std::string_view arg, int64_t plane) {
  if (plane > kMaxIndexedPlane)
    throw UnsupportedError(fmt::format(
        "{}: {} expects at most 2^24 = {} elements per plane (argmax indices are float32 "
        "integers), got {}",
        c.op, arg, kMaxIndexedPlane, plane));
}

// Checks and stores a window pool's options, then the output size.
template <int D>
void set_window(PoolCall& c, std::string_view arg, const ExpandingArray<D>& kernel,
                const ExpandingArray<D>& stride, const ExpandingArray<D>& padding,
                const ExpandingArray<D>& dilation, bool ceil_mode) {
  kernels::PoolGeometry& g = c.g;
  bool fits = true;
  for (int a = 0; a < D; ++a) {
    const int i = 3 - D + a;
    g.kernel[i] = kernel[a];
    g.stride[i] = stride[a];
    g.pad[i] = padding[a];
    g.dilation[i] = dilation[a];
    check_at_least(c.op, "kernel_size", g.kernel[i], 1);
    check_at_least(c.op, "stride", g.stride[i], 1);
    check_at_least(c.op, "dilation", g.dilation[i], 1);
    check_at_least(c.op, "padding", g.pad[i], 0);
    if (g.pad[i] > g.kernel[i] / 2)
      throw ValueError(fmt::format(
          "{}: padding expects at most half the kernel_size ({} for kernel_size {}), got {}", c.op,
          g.kernel[i] / 2, g.kernel[i], g.pad[i]));
    g.out[i] =
        pool_output_size(g.in[i], g.kernel[i], g.stride[i], g.pad[i], g.dilation[i], ceil_mode);
    fits = fits && g.out[i] >= 1;
  }
  if (!fits)
    throw ShapeError(fmt::format(
        "{}: {} expects spatial size large enough for kernel_size {}, padding {} and dilation {}, "
        "got {} (output size would be {})",
        c.op, arg, spatial_str<D>(g.kernel), spatial_str<D>(g.pad), spatial_str<D>(g.dilation),
        spatial_str<D>(g.in), spatial_str<D>(g.out)));
  for (int i = 3 - D; i < 3; ++i)
    if (!pool_windows_read_input(g.in[i], g.kernel[i], g.stride[i], g.pad[i], g.dilation[i],
                                 g.out[i]))
      throw ShapeError(fmt::format(
          "{}: {} expects every window to read an input element, got spatial size {} where a "
          "window of kernel_size {} with padding {} and dilation {} reads only padding",
          c.op, arg, spatial_str<D>(g.in), spatial_str<D>(g.kernel), spatial_str<D>(g.pad),
          spatial_str<D>(g.dilation)));
}

Shape activation_shape(const PoolCall& c, const Dims3& spatial) {
  Shape s;
  if (!c.unbatched) s.push_back(c.g.N);
  s.push_back(c.g.C);
  for (int i = 3 - c.g.spatial_dims; i < 3; ++i) s.push_back(spatial[i]);
  return s;
}

// Floor division (PyTorch's div_rtn): the pooling formula's numerator may be negative.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                         int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * padding - dilation * (kernel - 1) - 1;
  int64_t out = floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

bool pool_windows_read_input(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                             int64_t dilation, int64_t out) {
  for (int64_t o = 0; o < out; ++o) {
    bool reads = false;
    for (int64_t k = 0; k < kernel && !reads; ++k) {
      const int64_t i = o * stride - padding + k * dilation;
      reads = i >= 0 && i < in;
    }
    if (!reads) return false;
  }
  return true;
}

template <int D>
PoolCall max_pool_call(std::string_view op, const Shape& input,
                       const functional::MaxPoolOptions<D>& o, std::string_view arg) {
  PoolCall c = begin_call<D>(op, arg, input);
  set_window<D>(c, arg, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
  check_indexable(c, arg, c.g.in_pixels());
  return c;
}

template <int D>
PoolCall avg_pool_call(std::string_view op, const Shape& input,
                       const functional::AvgPoolOptions<D>& o, std::string_view arg) {
  PoolCall c = begin_call<D>(op, arg, input);
  set_window<D>(c, arg, o.kernel_size, o.stride, o.padding, 1, o.ceil_mode);
  c.g.count_include_pad = o.count_include_pad;
  if (o.divisor_override) {
    if (*o.divisor_override == 0)
      throw ValueError(fmt::format("{}: divisor_override expects a nonzero value, got 0", op));
    c.g.divisor_override = *o.divisor_override;
  }
  return c;
}

template <int D>
PoolCall lp_pool_call(std::string_view op, const Shape& input,
                      const functional::LpPoolOptions<D>& o, std::string_view arg) {
  PoolCall c = begin_call<D>(op, arg, input);
  set_window<D>(c, arg, o.kernel_size, o.stride, 0, 1, o.ceil_mode);
  return c;
}

template <int D>
PoolCall adaptive_pool_call(std::string_view op, const Shape& input,
                            const ExpandingArray<D>& output_size, std::string_view arg) {
  PoolCall c = begin_call<D>(op, arg, input);
  for (int a = 0; a < D; ++a) {
    check_at_least(op, "output_size", output_size[a], 1);
    c.g.out[3 - D + a] = output_size[a];
  }
  check_indexable(c, arg, c.g.in_pixels());
  return c;
}

PoolCall global_pool_call(std::string_view op, const Shape& input, std::string_view arg) {
  switch (input.size()) {
    case 3:
      return adaptive_pool_call<1>(op, input, 1, arg);
    case 4:
      return adaptive_pool_call<2>(op, input, 1, arg);
    case 5:
      return adaptive_pool_call<3>(op, input, 1, arg);
  }
  throw ShapeError(
      fmt::format("{}: {} expects 3 to 5 dimensions (N, C, *spatial), got {} with shape {}", op,
                  arg, input.size(), shape_str(input)));
}

// Default size (in - 1)*stride - 2*padding + kernel; an explicit output_size must lie strictly
// within stride of it, as in PyTorch.
template <int D>
PoolCall max_unpool_call(std::string_view op, const Shape& input,
                         const functional::MaxUnpoolOptions<D>& o, std::string_view arg) {
  PoolCall c = begin_call<D>(op, arg, input);
  kernels::PoolGeometry& g = c.g;
  const Shape* size = o.output_size ? &*o.output_size : nullptr;
  if (size && size->size() != D && size->size() != D + 2)
    throw ValueError(fmt::format("{}: output_size expects {} or {} values, got {} ({})", op, D,
                                 D + 2, size->size(), shape_str(*size)));
  for (int a = 0; a < D; ++a) {
    const int i = 3 - D + a;
    g.kernel[i] = o.kernel_size[a];
    g.stride[i] = o.stride[a];
    g.pad[i] = o.padding[a];
    check_at_least(op, "kernel_size", g.kernel[i], 1);
    check_at_least(op, "stride", g.stride[i], 1);
    check_at_least(op, "padding", g.pad[i], 0);
    const int64_t standard = (g.in[i] - 1) * g.stride[i] - 2 * g.pad[i] + g.kernel[i];
    g.out[i] = standard;
    if (size) {
      g.out[i] = (*size)[size->size() - D + a];
      if (g.out[i] <= standard - g.stride[i] || g.out[i] >= standard + g.stride[i])
        throw ValueError(fmt::format(
            "{}: output_size expects sizes strictly between {} and {} along spatial axis {}, "
            "got {}",
            op, standard - g.stride[i], standard + g.stride[i], a, g.out[i]));
    }
  }
  for (int a = 0; a < D; ++a)
    if (g.out[3 - D + a] < 1)
      throw ShapeError(
          fmt::format("{}: output size expects values >= 1, got {}", op, spatial_str<D>(g.out)));
  check_indexable(c, "output_size", g.out_pixels());
  return c;
}

Shape pool_input_shape(const PoolCall& c) {
  return activation_shape(c, c.g.in);
}
Shape pool_output_shape(const PoolCall& c) {
  return activation_shape(c, c.g.out);
}

#define FOVEA_POOL_CALLS(D)                                                                   \
  template PoolCall max_pool_call<D>(std::string_view, const Shape&,                          \
                                     const functional::MaxPoolOptions<D>&, std::string_view); \
  template PoolCall avg_pool_call<D>(std::string_view, const Shape&,                          \
                                     const functional::AvgPoolOptions<D>&, std::string_view); \
  template PoolCall lp_pool_call<D>(std::string_view, const Shape&,                           \
                                    const functional::LpPoolOptions<D>&, std::string_view);   \
  template PoolCall adaptive_pool_call<D>(std::string_view, const Shape&,                     \
                                          const ExpandingArray<D>&, std::string_view);        \
  template PoolCall max_unpool_call<D>(std::string_view, const Shape&,                        \
                                       const functional::MaxUnpoolOptions<D>&, std::string_view);
FOVEA_POOL_CALLS(1)
FOVEA_POOL_CALLS(2)
FOVEA_POOL_CALLS(3)
#undef FOVEA_POOL_CALLS

}  // namespace fovea::ops
