// The convolution layer suite (shared/bench/conv_layers.json): the shapes Fovea is timed on
// and compared with PyTorch on, by bench/conv_bench and `fovea bench --suite conv`. Each layer
// becomes the ConvGeometry that the conv ops build for it (ops::conv_call /
// ops::conv_transpose_call), so the benchmarks time the same work a user's call does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fovea/tensor.h"
#include "kernels/conv_algorithm.h"
#include "kernels/conv_geometry.h"

namespace fovea::bench {

// One row of the suite. Sizes as the user sees the layer: for a transposed convolution C_in
// and `in` describe its input, C_out and `out` its (larger) output.
struct ConvLayer {
  std::string name;  // "r18_l1_3x3"; the same name appears once per batch size
  std::string kind;  // conv1d | conv2d | conv3d | convT2d
  int64_t N = 1, C_in = 1, C_out = 1, kernel = 1, stride = 1, padding = 0, dilation = 1, groups = 1;
  std::vector<int64_t> in, out;  // spatial sizes, one per axis
  double gflop = 0;              // 2 * multiply-adds of one pass (every pass costs the same)

  bool transposed() const { return kind.starts_with("convT"); }
};

// Reads the suite; throws std::runtime_error naming the file and the problem.
std::vector<ConvLayer> load_conv_suite(const std::string& path);

// The geometry of the convolution the layer runs (for a transposed layer: the convolution it
// is the adjoint of). Throws std::runtime_error when the ops compute a different output size
// or multiply-add count than the file states.
kernels::ConvGeometry conv_suite_geometry(const ConvLayer& layer);

// The kernel pass that computes the layer's `pass`. A transposed convolution's forward is its
// adjoint's backward_data and its backward_data the adjoint's forward; backward_weight is
// backward_weight of the adjoint with input and output gradient in swapped roles.
kernels::ConvPass kernel_pass(const ConvLayer& layer, kernels::ConvPass pass);

// The six buffers of a convolution, named for the convolution the kernels run (the adjoint
// one for a transposed layer). Inputs hold uniform values in [-1, 1); outputs are zeroed, so
// every page is touched before timing; each pass writes its own output, so repeated calls
// never feed on each other.
struct ConvBuffers {
  Tensor x, w, dy;   // read: x (N, C_in, *in), w (C_out, C_in/groups, *k), dy (N, C_out, *out)
  Tensor y, dx, dw;  // written: y like dy, dx like x, dw like w
};
ConvBuffers make_conv_buffers(const kernels::ConvGeometry& g);

// One call of algorithm `a`'s kernel for `kernel_pass` (see kernel_pass) on the buffers, with
// a workspace of a.workspace_floats(g, kernel_pass) floats, as the door would hand it.
void run_conv_pass(const kernels::ConvAlgorithm& a, const kernels::ConvGeometry& g,
                   kernels::ConvPass kernel_pass, ConvBuffers& b, float* workspace);

}  // namespace fovea::bench
