#include "fovea/analysis/conv_matrix.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "fovea/error.h"
#include "fovea/random.h"
#include "golden_helpers.h"

namespace fovea::analysis {
namespace {

namespace F = fovea::functional;
using testing::compare_tensors;

Tensor flat(const Tensor& t) {
  return t.reshape({t.numel()});
}

struct Config {
  std::string name;
  Shape input;   // (C_in, H, W)
  Shape weight;  // (C_out, C_in/groups, kH, kW)
  F::Conv2dOptions options;
};

std::vector<Config> configs() {
  using P = Padding<2>;
  return {
      {"plain", {1, 5, 5}, {1, 1, 3, 3}, {}},
      {"channels", {3, 6, 7}, {4, 3, 3, 3}, {.padding = 1}},
      {"stride2", {2, 9, 8}, {3, 2, 3, 3}, {.stride = 2, .padding = 1}},
      {"stride3_nonsquare", {2, 10, 7}, {2, 2, 2, 3}, {.stride = {3, 2}, .padding = {0, 1}}},
      {"dilation", {2, 9, 9}, {2, 2, 3, 3}, {.padding = 2, .dilation = 2}},
      {"groups", {4, 6, 6}, {6, 2, 3, 3}, {.padding = 1, .groups = 2}},
      {"depthwise", {3, 7, 5}, {6, 1, 3, 3}, {.stride = 2, .padding = 1, .groups = 3}},
      {"pad_as_kernel", {1, 4, 4}, {2, 1, 3, 3}, {.padding = 3}},
      {"same", {2, 6, 5}, {2, 2, 4, 4}, {.padding = Same{}}},
      {"full", {1, 4, 3}, {1, 1, 3, 2}, {.padding = Full{}}},
      {"asymmetric", {2, 6, 7}, {3, 2, 3, 2}, {.padding = P::asymmetric({0, 2}, {2, 1})}},
      {"flip", {2, 5, 5}, {2, 2, 3, 3}, {.padding = 1, .flip_kernel = true}},
  };
}

Tensor random_tensor(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return Tensor::rand(s, -1.0f, 1.0f, &gen);
}

TEST(ConvMatrix, TimesInputIsConvolution) {
  uint64_t seed = 1;
  for (const Config& c : configs()) {
    const Tensor x = random_tensor(c.input, seed++), w = random_tensor(c.weight, seed++);
    const SparseMatrix m = conv2d_matrix(c.input, w, c.options);
    const Tensor y = F::conv2d(x, w, {}, c.options);
    EXPECT_EQ(m.rows, y.numel()) << c.name;
    EXPECT_EQ(m.cols, x.numel()) << c.name;
    EXPECT_EQ(compare_tensors(m.multiply(x), flat(y), 1e-5f, 1e-5f), "") << c.name;
    // The dense matrix agrees with the CSR form.
    const Tensor d = m.to_dense();
    Tensor dy = Tensor::zeros({m.rows});
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t col = 0; col < m.cols; ++col)
        dy.data()[r] += d.data()[r * m.cols + col] * x.data()[col];
    EXPECT_EQ(compare_tensors(dy, flat(y), 1e-5f, 1e-5f), "") << c.name;
  }
}

TEST(ConvMatrix, TransposeIsInputGradientAndTransposedConvolution) {
  uint64_t seed = 100;
  int transposed = 0;
  for (const Config& c : configs()) {
    const Tensor x = random_tensor(c.input, seed++), w = random_tensor(c.weight, seed++);
    const SparseMatrix m = conv2d_matrix(c.input, w, c.options);
    const Shape out_shape = F::conv2d(x, w, {}, c.options).shape();
    const Tensor dy = random_tensor(out_shape, seed++);
    const Tensor mt_dy = m.transpose_multiply(dy);
    const F::ConvGradients grads = F::conv2d_backward(dy, x, w, false, c.options);
    EXPECT_EQ(compare_tensors(mt_dy, flat(grads.input), 1e-5f, 1e-5f), "") << c.name;
    if (c.options.flip_kernel) continue;
    // conv_transpose2d(dy, w) with the same stride/padding/dilation, and output_padding
    // (H + 2p - d(k-1) - 1) mod s: the input pixels the convolution's stride skipped past.
    // Its padding is symmetric, so asymmetric configs (and odd-kernel 'same') are skipped.
    std::array<int64_t, 2> pad{}, out_pad{};
    bool symmetric = true;
    for (int a = 0; a < 2; ++a) {
      const int64_t d = c.options.dilation[a], k = c.weight[2 + a], s = c.options.stride[a];
      const PadAmount p = resolve_padding(c.options.padding.mode(), c.options.padding.lo()[a],
                                          c.options.padding.hi()[a], k, d, s);
      symmetric = symmetric && p.lo == p.hi;
      pad[a] = p.lo;
      out_pad[a] = (c.input[1 + a] + 2 * p.lo - d * (k - 1) - 1) % s;
    }
    if (!symmetric) continue;
    ++transposed;
    const F::ConvTranspose2dOptions t{.stride = c.options.stride,
                                      .padding = pad,
                                      .output_padding = out_pad,
                                      .dilation = c.options.dilation,
                                      .groups = c.options.groups};
    const Tensor xt = F::conv_transpose2d(dy, w, {}, t);
    ASSERT_EQ(xt.shape(), c.input) << c.name;
    EXPECT_EQ(compare_tensors(mt_dy, flat(xt), 1e-5f, 1e-5f), "") << c.name;
  }
  EXPECT_GE(transposed, 8);  // most configs are checked against conv_transpose2d too
}

TEST(ConvMatrix, HandWrittenToeplitz) {
  // 3x3 input, 2x2 kernel [[1, 2], [3, 4]]: output (i, j) reads input rows i, i+1 and
  // columns j, j+1, columns of M numbering the input row-major 0..8.
  const Tensor w = Tensor::from_vector({1, 1, 2, 2}, std::vector<float>{1, 2, 3, 4});
  const SparseMatrix m = conv2d_matrix({1, 3, 3}, w);
  // clang-format off
  const std::vector<float> expected = {
      1, 2, 0, 3, 4, 0, 0, 0, 0,
      0, 1, 2, 0, 3, 4, 0, 0, 0,
      0, 0, 0, 1, 2, 0, 3, 4, 0,
      0, 0, 0, 0, 1, 2, 0, 3, 4,
  };
  // clang-format on
  EXPECT_EQ(compare_tensors(m.to_dense(), Tensor::from_vector({4, 9}, expected), 0.0f, 0.0f), "");
  EXPECT_EQ(m.row_ptr, (std::vector<int64_t>{0, 4, 8, 12, 16}));
  EXPECT_EQ(m.col_idx, (std::vector<int64_t>{0, 1, 3, 4, 1, 2, 4, 5, 3, 4, 6, 7, 4, 5, 7, 8}));
}

TEST(ConvMatrix, NonzerosAreInBoundsTaps) {
  // 1 channel 4x4, 3x3 kernel, no padding: 2x2 outputs, every tap inside.
  const SparseMatrix m = conv2d_matrix({1, 4, 4}, Tensor::ones({1, 1, 3, 3}));
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(m.cols, 16);
  EXPECT_EQ(m.nnz(), 36);
  EXPECT_EQ(m.row_ptr, (std::vector<int64_t>{0, 9, 18, 27, 36}));

  // 5x5 with padding 1: along one axis the outputs see 2, 3, 3, 3, 2 taps (13 in all), so
  // each (oc, ic) channel pair gives 13*13 entries; 2 groups of 2->3 channels: 6*2 pairs.
  const SparseMatrix p =
      conv2d_matrix({4, 5, 5}, Tensor::ones({6, 2, 3, 3}), {.padding = 1, .groups = 2});
  EXPECT_EQ(p.nnz(), 13 * 13 * 6 * 2);
  // Zero weights are still structural entries.
  EXPECT_EQ(conv2d_matrix({1, 4, 4}, Tensor::zeros({1, 1, 3, 3})).nnz(), 36);
  // Stride 2, dilation 2 on 7 wide: outputs 0..3 (pad 2) read 2*o - 2 + 2*k; taps inside
  // per output: 2, 3, 3, 2 -> 10 per axis.
  const SparseMatrix s = conv2d_matrix({1, 7, 7}, Tensor::ones({1, 1, 3, 3}),
                                       {.stride = 2, .padding = 2, .dilation = 2});
  EXPECT_EQ(s.rows, 16);
  EXPECT_EQ(s.nnz(), 10 * 10);
}

TEST(ConvMatrix, ColumnsIncreaseWithinRows) {
  const SparseMatrix m = conv2d_matrix({4, 6, 6}, Tensor::ones({4, 2, 3, 3}),
                                       {.stride = 2, .padding = 2, .dilation = 2, .groups = 2});
  ASSERT_EQ(static_cast<int64_t>(m.row_ptr.size()), m.rows + 1);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t e = m.row_ptr[r] + 1; e < m.row_ptr[r + 1]; ++e)
      EXPECT_LT(m.col_idx[e - 1], m.col_idx[e]) << "row " << r;
}

TEST(ConvMatrix, Errors) {
  const Tensor w = Tensor::ones({2, 1, 3, 3});
  EXPECT_THROW(conv2d_matrix({1, 1, 4, 4}, w), ShapeError);  // batched
  EXPECT_THROW(conv2d_matrix({2, 4, 4}, w), ShapeError);     // channel mismatch
  EXPECT_THROW(conv2d_matrix({1, 2, 2}, w), ShapeError);     // kernel larger than input
  EXPECT_THROW(conv2d_matrix({1, 4, 4}, w, {.stride = 0}), ValueError);
  EXPECT_THROW(conv2d_matrix({1, 4, 4}, Tensor()), ValueError);
  try {
    conv2d_matrix({2, 4, 4}, w);
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("conv2d_matrix"), std::string::npos) << e.what();
  }
  const SparseMatrix m = conv2d_matrix({1, 4, 4}, w);
  EXPECT_THROW(m.multiply(Tensor::ones({15})), ShapeError);
  EXPECT_THROW(m.transpose_multiply(Tensor::ones({16})), ShapeError);
  // Dense and CSR sizes are capped: 3e5 x 3e5 would be 9e10 floats.
  SparseMatrix huge;
  huge.rows = huge.cols = 300'000;
  huge.row_ptr.assign(huge.rows + 1, 0);
  EXPECT_THROW(huge.to_dense(), ValueError);
  EXPECT_THROW(conv2d_matrix({64, 256, 256}, Tensor::ones({64, 64, 3, 3}), {.padding = 1}),
               ValueError);
}

}  // namespace
}  // namespace fovea::analysis
