// The row kernels of elementwise ops (kernels/cpu/elementwise_rows.h) held equal to the
// reference loops on a sweep of broadcast shapes: same shape, per-channel, scalar, both
// operands stretched, 5-D, empty, and rows longer than one parallel chunk. Outputs are
// NaN-filled so any element a kernel forgets to write shows up.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <limits>
#include <vector>

#include "fovea/random.h"
#include "golden_helpers.h"
#include "kernels/cpu/elementwise_rows.h"
#include "kernels/reference/elementwise_reference.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  Shape full, a, b;  // a and b broadcast to full
};

const std::vector<Case>& sweep() {
  static const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},           // same shape: one long row
      {{2, 3, 4, 5}, {2, 3, 4, 5}, {1, 3, 1, 1}},           // per-channel
      {{2, 3, 4, 5}, {1, 3, 1, 1}, {2, 3, 4, 5}},           // per-channel first
      {{2, 3, 4, 5}, {2, 3, 4, 5}, {}},                     // 0-dim scalar
      {{2, 3, 4, 5}, {1}, {2, 3, 4, 5}},                    // one-element
      {{6, 7}, {6, 7}, {7}},                                // bias row
      {{6, 7}, {6, 1}, {1, 7}},                             // outer sum: both stretched
      {{2, 3, 4, 5}, {2, 1, 4, 1}, {1, 3, 1, 5}},           // alternating
      {{2, 3, 2, 3, 4}, {2, 3, 2, 3, 4}, {1, 3, 1, 1, 4}},  // 5-D
      {{2, 6, 1, 1}, {2, 6, 1, 1}, {2, 6, 1, 1}},           // squeeze-excite scales
      {{3, 5}, {3, 5}, {3, 5}},                             // small: below the parallel threshold
      {{}, {}, {}},                                         // scalars
      {{0, 3}, {0, 3}, {1, 3}},                             // empty
      {{4, 40000}, {4, 40000}, {4, 1}},                     // rows longer than one chunk
      {{3, 70000}, {3, 70000}, {70000}},                    // long rows, operand b a row vector
      {{64, 3, 33, 33}, {64, 3, 33, 33}, {1, 3, 1, 1}},     // a batch's worth of work
  };
  return cases;
}

std::string describe(const Case& c) {
  return fmt::format("full {} a {} b {}", shape_str(c.full), shape_str(c.a), shape_str(c.b));
}

TEST(ElementwiseKernels, BinaryRowsMatchReference) {
  Generator gen(5);
  for (const Case& c : sweep()) {
    const Tensor a = Tensor::randn(c.a, &gen), b = Tensor::randn(c.b, &gen);
    const BroadcastGeometry g = broadcast_geometry(c.full, c.a, c.b);
    for (BinaryOp op : {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul}) {
      Tensor ref = Tensor::full(c.full, kNaN), fast = ref.clone();
      binary_reference(g, op, a.data(), b.data(), ref.data());
      binary_rows(g, op, a.data(), b.data(), fast.data());
      EXPECT_EQ(testing::compare_tensors(fast, ref, 0.0f, 0.0f), "")
          << describe(c) << " op " << static_cast<int>(op);
    }
  }
}

// add_clamp_rows is the reference add, then the clamp (relu: [0, inf), relu6: [0, 6]).
TEST(ElementwiseKernels, AddClampRowsMatchReferenceAddThenClamp) {
  Generator gen(8);
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (const Case& c : sweep()) {
    const Tensor a = Tensor::randn(c.a, &gen), b = Tensor::rand(c.b, 3.0f, 7.0f, &gen);
    const BroadcastGeometry g = broadcast_geometry(c.full, c.a, c.b);
    for (const auto& [lo, hi] : {std::pair{0.0f, kInf}, std::pair{0.0f, 6.0f}}) {
      Tensor ref = Tensor::full(c.full, kNaN), fast = ref.clone();
      binary_reference(g, BinaryOp::kAdd, a.data(), b.data(), ref.data());
      for (float& v : ref.span()) v = std::min(std::max(v, lo), hi);
      add_clamp_rows(g, lo, hi, a.data(), b.data(), fast.data());
      EXPECT_EQ(testing::compare_tensors(fast, ref, 0.0f, 0.0f), "") << describe(c) << " hi " << hi;
    }
  }
}

TEST(ElementwiseKernels, ExpandRowsMatchReference) {
  Generator gen(6);
  for (const Case& c : sweep()) {
    const Tensor b = Tensor::randn(c.b, &gen);
    const BroadcastGeometry g = broadcast_geometry(c.full, c.b);
    Tensor ref = Tensor::full(c.full, kNaN), fast = ref.clone();
    expand_reference(g, 0.5f, b.data(), ref.data());
    expand_rows(g, 0.5f, b.data(), fast.data());
    EXPECT_EQ(testing::compare_tensors(fast, ref, 0.0f, 0.0f), "") << describe(c);
  }
}

TEST(ElementwiseKernels, ReduceSumRowsMatchReference) {
  Generator gen(7);
  for (const Case& c : sweep())
    for (const Shape& to : {c.a, c.b}) {
      const Tensor x = Tensor::randn(c.full, &gen);
      const BroadcastGeometry g = broadcast_geometry(c.full, to);
      Tensor ref = Tensor::full(to, kNaN), fast = ref.clone();
      reduce_sum_reference(g, 0.25f, x.data(), ref.data());
      reduce_sum_rows(g, 0.25f, x.data(), fast.data());
      // The summation order differs (vector lanes, rows): equal up to rounding, which grows
      // with the number of terms summed into each output (about sqrt(count) ulps of a term).
      const float count = static_cast<float>(x.numel()) / static_cast<float>(shape_numel(to));
      EXPECT_EQ(testing::compare_tensors(fast, ref, 1e-5f, 4e-7f * std::sqrt(count) + 1e-6f), "")
          << describe(c) << " summed to " << shape_str(to);
    }
}

// Axes of size 1 vanish and neighbours walked alike merge, leaving each operand's stride along
// the innermost axis 0 or 1.
TEST(ElementwiseKernels, BroadcastGeometryMergesAxes) {
  const BroadcastGeometry same = broadcast_geometry(Shape{2, 3, 4}, Shape{2, 3, 4}, Shape{2, 3, 4});
  EXPECT_EQ(same.sizes, (BroadcastDims{1, 1, 1, 1, 24}));
  EXPECT_EQ(same.a_stride, (BroadcastDims{0, 0, 0, 0, 1}));

  const BroadcastGeometry channel =
      broadcast_geometry(Shape{2, 3, 4, 5}, Shape{2, 3, 4, 5}, Shape{1, 3, 1, 1});
  EXPECT_EQ(channel.sizes, (BroadcastDims{1, 1, 2, 3, 20}));
  EXPECT_EQ(channel.a_stride, (BroadcastDims{0, 0, 60, 20, 1}));
  EXPECT_EQ(channel.b_stride, (BroadcastDims{0, 0, 0, 1, 0}));
  EXPECT_EQ(channel.a_numel(), 120);

  const BroadcastGeometry scalar = broadcast_geometry(Shape{2, 3}, Shape{2, 3}, Shape{});
  EXPECT_EQ(scalar.sizes, (BroadcastDims{1, 1, 1, 1, 6}));
  EXPECT_EQ(scalar.b_stride, (BroadcastDims{0, 0, 0, 0, 0}));
}

TEST(ElementwiseKernels, CatAndSplitAreInverse) {
  // Along axis 1 of (2, *, 3): chunks 1*3 and 2*3 per outer index.
  const std::vector<float> x0 = {0, 1, 2, 10, 11, 12},
                           x1 = {3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 17, 18};
  const std::vector<int64_t> chunks = {3, 6};
  const float* pieces[] = {x0.data(), x1.data()};
  std::vector<float> y(18, kNaN);
  cat_reference(2, chunks, pieces, y.data());
  for (int i = 0; i < 18; ++i) EXPECT_EQ(y[i], i < 9 ? i : i + 1) << i;

  std::vector<float> s0(6, kNaN), s1(12, kNaN);
  float* out[] = {s0.data(), s1.data()};
  split_reference(2, chunks, y.data(), out);
  EXPECT_EQ(s0, x0);
  EXPECT_EQ(s1, x1);
}

}  // namespace
}  // namespace fovea::kernels
