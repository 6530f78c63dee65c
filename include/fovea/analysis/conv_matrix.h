// Convolution as an explicit matrix: the "sparse Toeplitz matrix" view of the course notes.
//
// A 2D convolution without bias is linear in its input, so for an unbatched input x
// (C_in, H, W) there is one matrix M with
//   flatten(conv2d(x, w)) = M · flatten(x),   M of shape (C_out*oH*oW, C_in*H*W).
// Rows are output elements, row(oc, oh, ow) = (oc*oH + oh)*oW + ow; columns are input
// elements, col(ic, ih, iw) = (ic*H + ih)*W + iw (both row-major flattening). Row (oc, oh, ow)
// holds one entry per kernel tap (icg, kh, kw) whose input position
//   ih = oh*stride_h - pad_top  + kh*dilation_h,   iw = ow*stride_w - pad_left + kw*dilation_w
// lies inside the input (taps on padding read zeros and have no entry), in column
//   ic = g*C_in/groups + icg   for oc's group g = oc / (C_out/groups),
// with value w[oc, icg, kh, kw] (the kernel reversed along each axis when flip_kernel is set).
// So every row has at most C_in/groups * kH*kW entries, rows of one output channel share the
// same values shifted along the input (the Toeplitz structure, one block per channel pair),
// and M is block-diagonal over groups.
//
// The transpose Mᵀ maps an output gradient back onto the input: Mᵀ · flatten(dy) is
// conv2d_backward's input gradient, which is the transposed convolution conv_transpose2d(dy, w)
// with the same stride, padding and dilation (output_padding chosen so sizes match).
//
// For small convolutions (teaching, tests, analysis): the CSR form stores one entry per tap of
// every output, as many as the convolution's multiply-adds, and to_dense() rows*cols floats.
//
// Usage:  namespace F = fovea::functional;
//         SparseMatrix m = fovea::analysis::conv2d_matrix({1, 4, 4}, w, {.padding = 1});
//         Tensor y = m.multiply(x);  // == F::conv2d(x, w, {}, {.padding = 1}), flattened
#pragma once

#include <cstdint>
#include <vector>

#include "fovea/functional/conv.h"
#include "fovea/tensor.h"

namespace fovea::analysis {

// Compressed sparse rows: the entries of row r are values[row_ptr[r] .. row_ptr[r+1]) in
// columns col_idx[same range], columns increasing within a row. Entries are structural:
// a kernel tap whose weight is 0 still has one.
struct SparseMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> row_ptr{0};  // rows + 1 offsets
  std::vector<int64_t> col_idx;     // nnz column indices
  std::vector<float> values;        // nnz values

  int64_t nnz() const { return static_cast<int64_t>(values.size()); }
  // (rows, cols) dense copy. Throws ValueError past 1e8 entries (400 MB).
  Tensor to_dense() const;
  // M · v and Mᵀ · v for a tensor of any shape holding cols (rows) elements in row-major
  // order; the result is rank 1. Throws ShapeError when the element count is wrong.
  Tensor multiply(const Tensor& flat) const;
  Tensor transpose_multiply(const Tensor& flat) const;
};

// M with M · flatten(x) = flatten(conv2d(x, weight, {}, options)) for x of shape input_chw =
// (C_in, H, W); weight (C_out, C_in/groups, kH, kW). Every option is honoured: stride,
// padding (any mode, asymmetric too), dilation, groups, flip_kernel. Throws what conv2d throws
// for bad shapes or options, ShapeError when input_chw is not rank 3, and ValueError when the
// matrix would hold more than 1e8 entries.
SparseMatrix conv2d_matrix(const Shape& input_chw, const Tensor& weight,
                           const functional::Conv2dOptions& options = {});

}  // namespace fovea::analysis
