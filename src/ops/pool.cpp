// The door of every pooling op: validate (throw with op, argument, expected, given), build the
// one PoolGeometry, run the kernel. Max and average pools run the fast CPU kernels; the rarer
// pools run the reference kernels, which are fast enough for their use.
#include "fovea/functional/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/cpu/pool_cpu.h"
#include "kernels/cpu/pool_global_avg.h"
#include "kernels/reference/pool_reference.h"
#include "ops/checks.h"
#include "ops/pool_call.h"
#include "ops/workspace.h"

namespace fovea::functional {
namespace {

using ops::PoolCall;

using ops::check_defined;

void check_shape(std::string_view op, std::string_view arg, const Tensor& t, const Shape& expected,
                 std::string_view what) {
  check_defined(op, arg, t);
  if (t.shape() != expected)
    throw ShapeError(fmt::format("{}: {} expects {} {}, got {}", op, arg, what, shape_str(expected),
                                 shape_str(t.shape())));
}

int64_t count_invalid_indices(const float* v, int64_t n, uint32_t limit) {
  int64_t bad = 0;
#pragma omp simd reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i) bad += kernels::pool_index_valid(v[i], limit) ? 0 : 1;
  return bad;
}

// Throws naming the first index that is not an integer position in a plane of `plane` elements.
void throw_bad_index(std::string_view op, const Tensor& indices, int64_t plane) {
  const float* v = indices.data();
  const uint32_t limit = kernels::pool_index_limit(plane);
  int64_t i = 0;
  while (i < indices.numel() && kernels::pool_index_valid(v[i], limit)) ++i;
  throw ValueError(fmt::format(
      "{}: indices expects integer positions in [0, {}) within a plane, got {} at element {}", op,
      plane, v[i], i));
}

// Kernels index memory with the indices: each must be an integer position inside a plane. The
// scan is a vectorised pass in chunks over the threads; only a failed one looks for the first
// bad element, for the message.
void check_indices(std::string_view op, const Tensor& indices, int64_t plane) {
  constexpr int64_t kChunk = 1 << 14;
  const float* v = indices.data();
  const int64_t n = indices.numel();
  const uint32_t limit = kernels::pool_index_limit(plane);
  int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) if (n > kChunk)
  for (int64_t i = 0; i < n; i += kChunk)
    bad += count_invalid_indices(v + i, std::min(kChunk, n - i), limit);
  if (bad != 0) throw_bad_index(op, indices, plane);
}

void check_norm_type(std::string_view op, double p) {
  if (!std::isfinite(p) || p == 0.0)
    throw ValueError(fmt::format("{}: norm_type expects a finite nonzero value, got {}", op, p));
}

// Records y = op(x) in autograd with `backward` mapping grad_output to grad_input.
template <class Backward>
void record_pool(const PoolCall& c, const Tensor& x, Tensor& y, Backward backward) {
  autograd::record(std::string(c.op), {x}, y,
                   [backward](const Tensor& dy, const std::vector<bool>&) {
                     return std::vector<Tensor>{backward(dy)};
                   });
}

// --- max ---
// The backward of max_pool and adaptive_max_pool: scatter grad_output to the argmax positions.
// The kernel checks the indices as it scatters (a caller's may be anything) and reports a bad
// one, which becomes the error here.
Tensor max_backward_run(const PoolCall& c, const Tensor& dy, const Tensor& indices) {
  const Shape out = ops::pool_output_shape(c);
  check_shape(c.op, "grad_output", dy, out, "the forward output's shape");
  check_shape(c.op, "indices", indices, out, "the forward output's shape");
  Tensor dx = Tensor::empty(ops::pool_input_shape(c));
  if (!kernels::max_pool_backward_cpu(c.g, dy.data(), indices.data(), dx.data()))
    throw_bad_index(c.op, indices, c.g.in_pixels());
  return dx;
}

// Max pooling (fixed or adaptive windows, by `kernel`) with its argmax indices, recorded in
// autograd with the scatter backward. Without `with_indices` and with no backward to record
// (inference), the indices are left undefined and the kernel is given none, so it computes
// the values alone (only max_pool_forward_cpu accepts that: adaptive pools pass true).
using MaxForwardKernel = void (*)(const kernels::PoolGeometry&, const float*, float*, float*);

MaxPoolResult max_run(const PoolCall& c, const Tensor& x, MaxForwardKernel kernel,
                      bool with_indices) {
  const Shape out = ops::pool_output_shape(c);
  const bool indices = with_indices || autograd::any_requires_grad({x});
  MaxPoolResult r{Tensor::empty(out), indices ? Tensor::empty(out) : Tensor()};
  kernel(c.g, x.data(), r.output.data(), indices ? r.indices.data() : nullptr);
  record_pool(c, x, r.output,
              [c, idx = r.indices](const Tensor& dy) { return max_backward_run(c, dy, idx); });
  return r;
}

template <int D>
MaxPoolResult max_pool_nd(std::string_view op, const Tensor& x, const MaxPoolOptions<D>& o,
                          bool with_indices) {
  check_defined(op, "input", x);
  return max_run(ops::max_pool_call<D>(op, x.shape(), o), x, kernels::max_pool_forward_cpu,
                 with_indices);
}

template <int D>
Tensor max_pool_nd_backward(std::string_view op, const Tensor& dy, const Shape& input_shape,
                            const Tensor& indices, const MaxPoolOptions<D>& o) {
  return max_backward_run(ops::max_pool_call<D>(op, input_shape, o, "input_shape"), dy, indices);
}

// --- average ---
Tensor avg_backward_run(const PoolCall& c, const Tensor& dy) {
  check_shape(c.op, "grad_output", dy, ops::pool_output_shape(c), "the forward output's shape");
  Tensor dx = Tensor::empty(ops::pool_input_shape(c));
  kernels::avg_pool_backward_cpu(c.g, dy.data(), dx.data());
  return dx;
}

template <int D>
Tensor avg_pool_nd(std::string_view op, const Tensor& x, const AvgPoolOptions<D>& o) {
  check_defined(op, "input", x);
  const PoolCall c = ops::avg_pool_call<D>(op, x.shape(), o);
  Tensor y = Tensor::empty(ops::pool_output_shape(c));
  kernels::avg_pool_forward_cpu(c.g, x.data(), y.data());
  record_pool(c, x, y, [c](const Tensor& dy) { return avg_backward_run(c, dy); });
  return y;
}

template <int D>
Tensor avg_pool_nd_backward(std::string_view op, const Tensor& dy, const Shape& input_shape,
                            const AvgPoolOptions<D>& o) {
  return avg_backward_run(ops::avg_pool_call<D>(op, input_shape, o, "input_shape"), dy);
}

// --- lp ---
Tensor lp_backward_run(const PoolCall& c, double p, const Tensor& x, const Tensor& dy) {
  check_shape(c.op, "grad_output", dy, ops::pool_output_shape(c), "the forward output's shape");
  Tensor dx = Tensor::empty(x.shape());
  float* workspace = ops::thread_workspace(dy.numel());
  kernels::lp_pool_backward_reference(c.g, static_cast<float>(p), x.data(), dy.data(), dx.data(),
                                      workspace);
  return dx;
}

template <int D>
Tensor lp_pool_nd(std::string_view op, const Tensor& x, double p, const LpPoolOptions<D>& o) {
  check_defined(op, "input", x);
  check_norm_type(op, p);
  const PoolCall c = ops::lp_pool_call<D>(op, x.shape(), o);
  Tensor y = Tensor::empty(ops::pool_output_shape(c));
  float* workspace = ops::thread_workspace(x.numel());
  kernels::lp_pool_forward_reference(c.g, static_cast<float>(p), x.data(), y.data(), workspace);
  record_pool(c, x, y,
              [c, p, x = x.detach()](const Tensor& dy) { return lp_backward_run(c, p, x, dy); });
  return y;
}

template <int D>
Tensor lp_pool_nd_backward(std::string_view op, const Tensor& dy, const Tensor& x, double p,
                           const LpPoolOptions<D>& o) {
  check_defined(op, "input", x);
  check_norm_type(op, p);
  return lp_backward_run(ops::lp_pool_call<D>(op, x.shape(), o), p, x, dy);
}

// --- adaptive and global ---
Tensor adaptive_avg_backward_run(const PoolCall& c, const Tensor& dy) {
  check_shape(c.op, "grad_output", dy, ops::pool_output_shape(c), "the forward output's shape");
  Tensor dx = Tensor::empty(ops::pool_input_shape(c));
  kernels::adaptive_avg_pool_backward_reference(c.g, dy.data(), dx.data());
  return dx;
}

Tensor adaptive_avg_run(const PoolCall& c, const Tensor& x) {
  Tensor y = Tensor::empty(ops::pool_output_shape(c));
  if (kernels::global_avg_pool_avx512_supports(c.g))
    kernels::global_avg_pool_forward_avx512(c.g, x.data(), y.data());
  else
    kernels::adaptive_avg_pool_forward_reference(c.g, x.data(), y.data());
  record_pool(c, x, y, [c](const Tensor& dy) { return adaptive_avg_backward_run(c, dy); });
  return y;
}

MaxPoolResult adaptive_max_run(const PoolCall& c, const Tensor& x) {
  return max_run(c, x, kernels::adaptive_max_pool_forward_reference, true);
}

template <int D>
PoolCall adaptive_call(std::string_view op, const Tensor& x, const ExpandingArray<D>& size) {
  check_defined(op, "input", x);
  return ops::adaptive_pool_call<D>(op, x.shape(), size);
}

// An adaptive backward pass learns the output size from grad_output's trailing axes.
template <int D>
PoolCall adaptive_backward_call(std::string_view op, const Tensor& dy, const Shape& input_shape) {
  check_defined(op, "grad_output", dy);
  if (dy.dim() != static_cast<int64_t>(input_shape.size()))
    throw ShapeError(
        fmt::format("{}: grad_output expects as many dimensions as input_shape {}, "
                    "got shape {}",
                    op, shape_str(input_shape), shape_str(dy.shape())));
  std::array<int64_t, D> size{};
  for (int a = 0; a < D && dy.dim() >= D; ++a) size[a] = dy.size(dy.dim() - D + a);
  return ops::adaptive_pool_call<D>(op, input_shape, size, "input_shape");
}

PoolCall global_call(std::string_view op, const Tensor& x) {
  check_defined(op, "input", x);
  return ops::global_pool_call(op, x.shape());
}

// --- unpool ---
// The gradient of unpooling gathers grad_output at the indices (checked by the forward).
Tensor unpool_backward_run(const PoolCall& c, const Tensor& dy, const Tensor& indices) {
  check_shape(c.op, "grad_output", dy, ops::pool_output_shape(c), "the forward output's shape");
  Tensor dx = Tensor::empty(indices.shape());
  kernels::max_unpool_backward_reference(c.g, dy.data(), indices.data(), dx.data());
  return dx;
}

template <int D>
Tensor max_unpool_nd(std::string_view op, const Tensor& x, const Tensor& indices,
                     const MaxUnpoolOptions<D>& o) {
  check_defined(op, "input", x);
  const PoolCall c = ops::max_unpool_call<D>(op, x.shape(), o);
  check_shape(op, "indices", indices, x.shape(), "the input's shape");
  check_indices(op, indices, c.g.out_pixels());
  Tensor y = Tensor::empty(ops::pool_output_shape(c));
  kernels::max_unpool_forward_reference(c.g, x.data(), indices.data(), y.data());
  record_pool(c, x, y,
              [c, indices](const Tensor& dy) { return unpool_backward_run(c, dy, indices); });
  return y;
}

template <int D>
Tensor max_unpool_nd_backward(std::string_view op, const Tensor& dy, const Tensor& indices,
                              const MaxUnpoolOptions<D>& o) {
  check_defined(op, "indices", indices);
  const PoolCall c = ops::max_unpool_call<D>(op, indices.shape(), o, "indices");
  check_indices(op, indices, c.g.out_pixels());
  return unpool_backward_run(c, dy, indices);
}

}  // namespace

Tensor max_pool1d(const Tensor& x, const MaxPool1dOptions& o) {
  return max_pool_nd<1>("max_pool1d", x, o, false).output;
}
Tensor max_pool2d(const Tensor& x, const MaxPool2dOptions& o) {
  return max_pool_nd<2>("max_pool2d", x, o, false).output;
}
Tensor max_pool3d(const Tensor& x, const MaxPool3dOptions& o) {
  return max_pool_nd<3>("max_pool3d", x, o, false).output;
}
MaxPoolResult max_pool1d_with_indices(const Tensor& x, const MaxPool1dOptions& o) {
  return max_pool_nd<1>("max_pool1d_with_indices", x, o, true);
}
MaxPoolResult max_pool2d_with_indices(const Tensor& x, const MaxPool2dOptions& o) {
  return max_pool_nd<2>("max_pool2d_with_indices", x, o, true);
}
MaxPoolResult max_pool3d_with_indices(const Tensor& x, const MaxPool3dOptions& o) {
  return max_pool_nd<3>("max_pool3d_with_indices", x, o, true);
}
Tensor max_pool1d_backward(const Tensor& dy, const Shape& input_shape, const Tensor& indices,
                           const MaxPool1dOptions& o) {
  return max_pool_nd_backward<1>("max_pool1d_backward", dy, input_shape, indices, o);
}
Tensor max_pool2d_backward(const Tensor& dy, const Shape& input_shape, const Tensor& indices,
                           const MaxPool2dOptions& o) {
  return max_pool_nd_backward<2>("max_pool2d_backward", dy, input_shape, indices, o);
}
Tensor max_pool3d_backward(const Tensor& dy, const Shape& input_shape, const Tensor& indices,
                           const MaxPool3dOptions& o) {
  return max_pool_nd_backward<3>("max_pool3d_backward", dy, input_shape, indices, o);
}

Tensor avg_pool1d(const Tensor& x, const AvgPool1dOptions& o) {
  return avg_pool_nd<1>("avg_pool1d", x, o);
}
Tensor avg_pool2d(const Tensor& x, const AvgPool2dOptions& o) {
  return avg_pool_nd<2>("avg_pool2d", x, o);
}
Tensor avg_pool3d(const Tensor& x, const AvgPool3dOptions& o) {
  return avg_pool_nd<3>("avg_pool3d", x, o);
}
Tensor avg_pool1d_backward(const Tensor& dy, const Shape& input_shape, const AvgPool1dOptions& o) {
  return avg_pool_nd_backward<1>("avg_pool1d_backward", dy, input_shape, o);
}
Tensor avg_pool2d_backward(const Tensor& dy, const Shape& input_shape, const AvgPool2dOptions& o) {
  return avg_pool_nd_backward<2>("avg_pool2d_backward", dy, input_shape, o);
}
Tensor avg_pool3d_backward(const Tensor& dy, const Shape& input_shape, const AvgPool3dOptions& o) {
  return avg_pool_nd_backward<3>("avg_pool3d_backward", dy, input_shape, o);
}

Tensor lp_pool1d(const Tensor& x, double p, const LpPool1dOptions& o) {
  return lp_pool_nd<1>("lp_pool1d", x, p, o);
}
Tensor lp_pool2d(const Tensor& x, double p, const LpPool2dOptions& o) {
  return lp_pool_nd<2>("lp_pool2d", x, p, o);
}
Tensor lp_pool3d(const Tensor& x, double p, const LpPool3dOptions& o) {
  return lp_pool_nd<3>("lp_pool3d", x, p, o);
}
Tensor lp_pool1d_backward(const Tensor& dy, const Tensor& x, double p, const LpPool1dOptions& o) {
  return lp_pool_nd_backward<1>("lp_pool1d_backward", dy, x, p, o);
}
Tensor lp_pool2d_backward(const Tensor& dy, const Tensor& x, double p, const LpPool2dOptions& o) {
  return lp_pool_nd_backward<2>("lp_pool2d_backward", dy, x, p, o);
}
Tensor lp_pool3d_backward(const Tensor& dy, const Tensor& x, double p, const LpPool3dOptions& o) {
  return lp_pool_nd_backward<3>("lp_pool3d_backward", dy, x, p, o);
}

Tensor adaptive_avg_pool1d(const Tensor& x, const ExpandingArray<1>& size) {
  return adaptive_avg_run(adaptive_call<1>("adaptive_avg_pool1d", x, size), x);
}
Tensor adaptive_avg_pool2d(const Tensor& x, const ExpandingArray<2>& size) {
  return adaptive_avg_run(adaptive_call<2>("adaptive_avg_pool2d", x, size), x);
}
Tensor adaptive_avg_pool3d(const Tensor& x, const ExpandingArray<3>& size) {
  return adaptive_avg_run(adaptive_call<3>("adaptive_avg_pool3d", x, size), x);
}
Tensor adaptive_avg_pool1d_backward(const Tensor& dy, const Shape& input_shape) {
  return adaptive_avg_backward_run(
      adaptive_backward_call<1>("adaptive_avg_pool1d_backward", dy, input_shape), dy);
}
Tensor adaptive_avg_pool2d_backward(const Tensor& dy, const Shape& input_shape) {
  return adaptive_avg_backward_run(
      adaptive_backward_call<2>("adaptive_avg_pool2d_backward", dy, input_shape), dy);
}
Tensor adaptive_avg_pool3d_backward(const Tensor& dy, const Shape& input_shape) {
  return adaptive_avg_backward_run(
      adaptive_backward_call<3>("adaptive_avg_pool3d_backward", dy, input_shape), dy);
}

Tensor adaptive_max_pool1d(const Tensor& x, const ExpandingArray<1>& size) {
  return adaptive_max_run(adaptive_call<1>("adaptive_max_pool1d", x, size), x).output;
}
Tensor adaptive_max_pool2d(const Tensor& x, const ExpandingArray<2>& size) {
  return adaptive_max_run(adaptive_call<2>("adaptive_max_pool2d", x, size), x).output;
}
Tensor adaptive_max_pool3d(const Tensor& x, const ExpandingArray<3>& size) {
  return adaptive_max_run(adaptive_call<3>("adaptive_max_pool3d", x, size), x).output;
}
MaxPoolResult adaptive_max_pool1d_with_indices(const Tensor& x, const ExpandingArray<1>& size) {
  return adaptive_max_run(adaptive_call<1>("adaptive_max_pool1d_with_indices", x, size), x);
}
MaxPoolResult adaptive_max_pool2d_with_indices(const Tensor& x, const ExpandingArray<2>& size) {
  return adaptive_max_run(adaptive_call<2>("adaptive_max_pool2d_with_indices", x, size), x);
}
MaxPoolResult adaptive_max_pool3d_with_indices(const Tensor& x, const ExpandingArray<3>& size) {
  return adaptive_max_run(adaptive_call<3>("adaptive_max_pool3d_with_indices", x, size), x);
}
Tensor adaptive_max_pool1d_backward(const Tensor& dy, const Shape& input_shape,
                                    const Tensor& indices) {
  return max_backward_run(
      adaptive_backward_call<1>("adaptive_max_pool1d_backward", dy, input_shape), dy, indices);
}
Tensor adaptive_max_pool2d_backward(const Tensor& dy, const Shape& input_shape,
                                    const Tensor& indices) {
  return max_backward_run(
      adaptive_backward_call<2>("adaptive_max_pool2d_backward", dy, input_shape), dy, indices);
}
Tensor adaptive_max_pool3d_backward(const Tensor& dy, const Shape& input_shape,
                                    const Tensor& indices) {
  return max_backward_run(
      adaptive_backward_call<3>("adaptive_max_pool3d_backward", dy, input_shape), dy, indices);
}

Tensor global_avg_pool(const Tensor& x) {
  return adaptive_avg_run(global_call("global_avg_pool", x), x);
}
Tensor global_avg_pool_backward(const Tensor& dy, const Shape& input_shape) {
  return adaptive_avg_backward_run(
      ops::global_pool_call("global_avg_pool_backward", input_shape, "input_shape"), dy);
}
Tensor global_max_pool(const Tensor& x) {
  return adaptive_max_run(global_call("global_max_pool", x), x).output;
}
MaxPoolResult global_max_pool_with_indices(const Tensor& x) {
  return adaptive_max_run(global_call("global_max_pool_with_indices", x), x);
}
Tensor global_max_pool_backward(const Tensor& dy, const Shape& input_shape, const Tensor& indices) {
  return max_backward_run(
      ops::global_pool_call("global_max_pool_backward", input_shape, "input_shape"), dy, indices);
}

Tensor max_unpool1d(const Tensor& x, const Tensor& indices, const MaxUnpool1dOptions& o) {
  return max_unpool_nd<1>("max_unpool1d", x, indices, o);
}
Tensor max_unpool2d(const Tensor& x, const Tensor& indices, const MaxUnpool2dOptions& o) {
  return max_unpool_nd<2>("max_unpool2d", x, indices, o);
}
Tensor max_unpool3d(const Tensor& x, const Tensor& indices, const MaxUnpool3dOptions& o) {
  return max_unpool_nd<3>("max_unpool3d", x, indices, o);
}
Tensor max_unpool1d_backward(const Tensor& dy, const Tensor& indices, const MaxUnpool1dOptions& o) {
  return max_unpool_nd_backward<1>("max_unpool1d_backward", dy, indices, o);
}
Tensor max_unpool2d_backward(const Tensor& dy, const Tensor& indices, const MaxUnpool2dOptions& o) {
  return max_unpool_nd_backward<2>("max_unpool2d_backward", dy, indices, o);
}
Tensor max_unpool3d_backward(const Tensor& dy, const Tensor& indices, const MaxUnpool3dOptions& o) {
  return max_unpool_nd_backward<3>("max_unpool3d_backward", dy, indices, o);
}

}  // namespace fovea::functional
