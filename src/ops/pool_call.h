// The validated geometry of a pooling call, shared by the pooling ops, their kernel tests and
// the benchmarks: one place computes output sizes and checks shapes and options.
#pragma once

#include <string_view>

#include "fovea/functional/pool.h"
#include "kernels/pool_geometry.h"

namespace fovea::ops {

struct PoolCall {
  kernels::PoolGeometry g;
  bool unbatched = false;  // input had no batch axis; strip it from results
  std::string_view op;     // names the op in error messages
};

// Each checks the input shape (N, C, *spatial) or unbatched (C, *spatial) and the options,
// throwing ShapeError/ValueError/UnsupportedError that name `op` and call the shape `arg`
// ("input", or "input_shape" for a backward pass), and returns the geometry.
template <int D>
PoolCall max_pool_call(std::string_view op, const Shape& input,
                       const functional::MaxPoolOptions<D>& o, std::string_view arg = "input");
template <int D>
PoolCall avg_pool_call(std::string_view op, const Shape& input,
                       const functional::AvgPoolOptions<D>& o, std::string_view arg = "input");
// An average pool without padding, counting every window position: lp_pool's inner pool.
template <int D>
PoolCall lp_pool_call(std::string_view op, const Shape& input,
                      const functional::LpPoolOptions<D>& o, std::string_view arg = "input");
template <int D>
PoolCall adaptive_pool_call(std::string_view op, const Shape& input,
                            const ExpandingArray<D>& output_size, std::string_view arg = "input");
// Adaptive pooling to size 1 of a batched input with 1 to 3 spatial axes.
PoolCall global_pool_call(std::string_view op, const Shape& input, std::string_view arg = "input");
// g.in is the unpool input (the pooled size), g.out the unpooled output.
template <int D>
PoolCall max_unpool_call(std::string_view op, const Shape& input,
                         const functional::MaxUnpoolOptions<D>& o, std::string_view arg = "input");

// (N, C, *in) and (N, C, *out) of the call (no N when unbatched).
Shape pool_input_shape(const PoolCall& c);
Shape pool_output_shape(const PoolCall& c);

// PyTorch's pooling output size along one axis (see fovea/functional/pool.h); may be < 1.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                         int64_t dilation, bool ceil_mode);

// Whether each of the `out` windows along one axis reads at least one input position. Only a
// dilated kernel with padding can miss: PyTorch then outputs -inf with an argmax index outside
// the window (even outside the plane), so Fovea refuses such geometries.
bool pool_windows_read_input(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                             int64_t dilation, int64_t out);

}  // namespace fovea::ops
