#include "fovea/analysis/conv_matrix.h"

#include <fmt/format.h>

#include <string_view>

#include "fovea/error.h"
#include "ops/conv_call.h"

namespace fovea::analysis {
namespace {

constexpr int64_t kMaxEntries = 100'000'000;

void check_elements(std::string_view op, const Tensor& v, int64_t expected, std::string_view what) {
  if (!v.defined()) throw ValueError(fmt::format("{}: flat is undefined", op));
  if (v.numel() != expected)
    throw ShapeError(
        fmt::format("{}: flat expects {} elements (the matrix's {}), got {} with shape {}", op,
                    expected, what, v.numel(), shape_str(v.shape())));
}

}  // namespace

Tensor SparseMatrix::to_dense() const {
  // Divide rather than multiply: rows*cols may overflow.
  if (rows > 0 && cols > kMaxEntries / rows)
    throw ValueError(fmt::format(
        "SparseMatrix::to_dense: matrix expects at most {} entries (a small convolution), got {} "
        "x {}",
        kMaxEntries, rows, cols));
  Tensor dense = Tensor::zeros({rows, cols});
  float* d = dense.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e) d[r * cols + col_idx[e]] += values[e];
  return dense;
}

Tensor SparseMatrix::multiply(const Tensor& flat) const {
  check_elements("SparseMatrix::multiply", flat, cols, "columns");
  Tensor y = Tensor::empty({rows});
  const float* v = flat.data();
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e)
      sum += static_cast<double>(values[e]) * v[col_idx[e]];
    y.data()[r] = static_cast<float>(sum);
  }
  return y;
}

Tensor SparseMatrix::transpose_multiply(const Tensor& flat) const {
  check_elements("SparseMatrix::transpose_multiply", flat, rows, "rows");
  std::vector<double> acc(static_cast<size_t>(cols), 0.0);
  const float* v = flat.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e)
      acc[col_idx[e]] += static_cast<double>(values[e]) * v[r];
  Tensor y = Tensor::empty({cols});
  for (int64_t c = 0; c < cols; ++c) y.data()[c] = static_cast<float>(acc[c]);
  return y;
}

SparseMatrix conv2d_matrix(const Shape& input_chw, const Tensor& weight,
                           const functional::Conv2dOptions& options) {
  constexpr std::string_view op = "conv2d_matrix";
  if (input_chw.size() != 3)
    throw ShapeError(fmt::format("{}: input_chw expects 3 sizes (C, H, W), got {} with shape {}",
                                 op, input_chw.size(), shape_str(input_chw)));
  if (!weight.defined()) throw ValueError(fmt::format("{}: weight is undefined", op));
  // The door's own validation and size arithmetic: one place computes them.
  const kernels::ConvGeometry g =
      ops::conv_call<2>(op, input_chw, weight.shape(), std::nullopt, options).g;
  // 2D geometry lives in the (H, W) slots 1 and 2 of the (D, H, W) triples.
  const int64_t H = g.in[1], W = g.in[2], oH = g.out[1], oW = g.out[2];
  const int64_t kH = g.kernel[1], kW = g.kernel[2], kp = kH * kW;
  const int64_t cig = g.C_in_per_group(), cog = g.C_out_per_group();

  SparseMatrix m;
  m.rows = g.C_out * oH * oW;
  m.cols = g.C_in * H * W;
  const int64_t bound = g.C_out * oH * oW * cig * kp;  // every tap of every output
  if (bound > kMaxEntries)
    throw ValueError(fmt::format(
        "{}: input and weight expect a small convolution (at most {} matrix entries), got {} "
        "outputs x {} taps",
        op, kMaxEntries, m.rows, cig * kp));
  m.row_ptr.reserve(static_cast<size_t>(m.rows) + 1);
  m.col_idx.reserve(static_cast<size_t>(bound));
  m.values.reserve(static_cast<size_t>(bound));

  const float* w = weight.data();  // (C_out, C_in/groups, kH, kW)
  for (int64_t oc = 0; oc < g.C_out; ++oc) {
    const int64_t ic0 = oc / cog * cig;  // first input channel of oc's group
    for (int64_t oh = 0; oh < oH; ++oh)
      for (int64_t ow = 0; ow < oW; ++ow) {
        // Taps in (icg, kh, kw) order visit columns in increasing order.
        for (int64_t icg = 0; icg < cig; ++icg)
          for (int64_t kh = 0; kh < kH; ++kh) {
            const int64_t ih = oh * g.stride[1] - g.pad_lo[1] + kh * g.dilation[1];
            if (ih < 0 || ih >= H) continue;
            for (int64_t kw = 0; kw < kW; ++kw) {
              const int64_t iw = ow * g.stride[2] - g.pad_lo[2] + kw * g.dilation[2];
              if (iw < 0 || iw >= W) continue;
              const int64_t tap = kh * kW + kw;
              const int64_t k = options.flip_kernel ? kp - 1 - tap : tap;
              m.col_idx.push_back(((ic0 + icg) * H + ih) * W + iw);
              m.values.push_back(w[(oc * cig + icg) * kp + k]);
            }
          }
        m.row_ptr.push_back(m.nnz());
      }
  }
  return m;
}

}  // namespace fovea::analysis
