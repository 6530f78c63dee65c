// The "depthwise" row (src/kernels/cpu/conv_depthwise.h) held equal to the reference on sweeps
// around its tiles: 16-lane vectors along the output width, tiles of 8 rows (2D) or 8 vectors
// (1D and short planes), the 3×3, 5×5 and 7×7 fast paths (and the forward's in-place reading of
// the input at their edges, as backward_data at stride 1 reads dy and backward_weight of 3×3 and
// 5×5 reads x) and the generic one; plus the shapes it must refuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conv_harness.h"
#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/cpu_features.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr char kName[] = "depthwise";

// The sweeps run on both rows, each where this CPU has its instructions: "depthwise"
// (AVX-512) and "depthwise_avx2", which reads the same padded plane with 8-lane vectors.
class ConvDepthwiseRows : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const auto rows = conv_algorithms();
    const auto row = std::ranges::find(rows, std::string_view(GetParam()), &ConvAlgorithm::name);
    ASSERT_NE(row, rows.end());
    if (!isa_available(row->isa)) GTEST_SKIP() << "this CPU lacks " << GetParam() << "'s ISA";
  }
};

// C channels with multiplier m, 2D.
ConvGeometry depthwise_2d(int64_t N, int64_t C, int64_t m, Axis h, Axis w) {
  return make_geometry(N, C, C * m, C, {h, w});
}

// Smallest input giving `out` outputs on an axis.
Axis axis_for(int64_t out, int64_t k, int64_t s, int64_t d, int64_t lo, int64_t hi) {
  return {(out - 1) * s + d * (k - 1) + 1 - lo - hi, k, s, d, lo, hi};
}

// axis_for can give empty inputs, which valid() does not look at.
void add_if_valid(std::vector<ConvGeometry>& v, const ConvGeometry& g) {
  if (valid(g) && g.in[1] >= 1 && g.in[2] >= 1) v.push_back(g);
}

TEST_P(ConvDepthwiseRows, OutputWidthsAroundTheVector) {
  std::vector<ConvGeometry> v;
  for (int64_t ow = 1; ow <= 33; ++ow)
    for (int64_t k : {3, 5, 2})
      for (int64_t s : {1, 2}) {
        const int64_t oh = 1 + ow % 5, pad = k / 2;
        const ConvGeometry g =
            depthwise_2d(ow % 2 ? 1 : 3, 1 + ow % 3, 1 + ow % 2, axis_for(oh, k, s, 1, pad, pad),
                         axis_for(ow, k, s, 1, pad, pad));
        add_if_valid(v, g);
      }
  testing::with_one_and_two_threads([&] { check_all(v, GetParam()); });
}

// Heights 1..5 (below the 8-row tile: tiles by rows or by columns), channels 1..5,
// multipliers 1..3, every stride 1..3, dilation 1..2 and padding 0..k, with pad_hi below,
// at and above pad_lo (negative too, as transposed convolutions give).
TEST_P(ConvDepthwiseRows, StridesDilationsPaddings) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t k : {1, 2, 3, 4, 5})
    for (int64_t s = 1; s <= 3; ++s)
      for (int64_t d = 1; d <= 2; ++d)
        for (int64_t lo = 0; lo <= k; ++lo)
          for (int64_t hi = lo - 1; hi <= lo + 1; ++hi, ++i) {
            const int64_t oh = 1 + i % 5, ow = std::vector<int64_t>{1, 7, 15, 16, 17, 31}[i % 6];
            const int64_t C = 1 + i % 5, m = 1 + i % 3, N = i % 2 ? 3 : 1;
            // Up to stride-1 trailing inputs no output reads.
            Axis h = axis_for(oh, k, s, d, lo, hi), w = axis_for(ow, k, s, d, lo, hi);
            h.in += i % s;
            add_if_valid(v, depthwise_2d(N, C, m, h, w));
          }
  testing::with_one_and_two_threads([&] { check_all(v, GetParam()); });
}

// The source paths (3×3 and 5×5 at stride 1 and 2, 7×7 at stride 1: the input read in place
// with masked loads, no padded copy; backward_data's at stride 1 reads dy, shifted by
// K - 1 - pad_lo; backward_weight's, 3×3 and 5×5, reads x 8 or 2 dy rows at a time): input
// widths 1..40, 47..68 put a row's ends at every lane of the S + 1 loads of a vector; heights
// 1..19 put the rows outside the input above and below one tile band or two; padding 0..2 on
// each side; multipliers 1 and 2. (7×7 stride 2 takes the padded copy: compared too.)
TEST_P(ConvDepthwiseRows, SourcePathEdges) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t k : {3, 5, 7})
    for (int64_t s : {1, 2})
      for (int64_t lo = 0; lo <= 2; ++lo)
        for (int64_t in_w = 1; in_w <= 68; in_w += in_w < 40 ? 1 : 7, ++i) {
          const Axis h{1 + i % 19, k, s, 1, lo, (lo + 1) % 3}, w{in_w, k, s, 1, lo, i % 3};
          add_if_valid(v, depthwise_2d(1 + i % 2, 1 + i % 3, 1 + i / 3 % 2, h, w));
        }
  testing::with_one_and_two_threads([&] { check_all(v, GetParam()); });
}

// Batch 1 with many channels, as MobileNet-v2's layers (the threads split channels, also in the
// weight gradient): 56×56, 28×28 and 7×7 planes, multipliers 1 and 3, pad_hi below pad_lo
// (trailing inputs that backward_data must leave at 0 and backward_weight must not read).
TEST_P(ConvDepthwiseRows, BatchOneManyChannels) {
  const std::vector<ConvGeometry> v = {
      depthwise_2d(1, 37, 1, {56, 3, 1, 1, 1, 1}, {56, 3, 1, 1, 1, 1}),
      depthwise_2d(1, 19, 3, {28, 3, 1, 1, 1, 1}, {29, 3, 1, 1, 1, 0}),
      depthwise_2d(1, 33, 1, {7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}),
      depthwise_2d(1, 21, 2, {7, 5, 1, 1, 2, 2}, {7, 5, 1, 1, 2, 2}),
      depthwise_2d(1, 9, 1, {7, 7, 1, 1, 3, 3}, {7, 7, 1, 1, 3, 3}),
      depthwise_2d(1, 17, 1, {57, 3, 2, 1, 1, 0}, {57, 3, 2, 1, 1, 0}),
      depthwise_2d(1, 11, 2, {30, 5, 1, 1, 2, 1}, {19, 5, 1, 1, 1, 2}),
  };
  testing::with_one_and_two_threads([&] { check_all(v, GetParam()); });
}

// Heights around the 8-row tile and widths around the 128-column 1D tile.
TEST_P(ConvDepthwiseRows, TileEdges) {
  std::vector<ConvGeometry> v;
  for (int64_t oh : {7, 8, 9, 16, 17})
    for (int64_t s : {1, 2})
      v.push_back(depthwise_2d(2, 3, 1, axis_for(oh, 3, s, 1, 1, 1), axis_for(20, 3, s, 1, 1, 1)));
  for (int64_t ow : {127, 128, 129, 200})
    for (int64_t k : {3, 5, 7})
      v.push_back(make_geometry(2, 3, 6, 3, {axis_for(ow, k, 1 + ow % 2, 1, k / 2, k / 2)}));
  // MobileNet-v2 / EfficientNet / ConvNeXt shapes: 3×3, 5×5 and 7×7 (the fast paths and the
  // generic one), stride 1 and 2, widths 7..56.
  for (int64_t in : {7, 14, 28, 56})
    for (int64_t k : {3, 5, 7})
      for (int64_t s : {1, 2})
        v.push_back(
            make_geometry(1, 4, 4, 4, {{in, k, s, 1, k / 2, k / 2}, {in, k, s, 1, k / 2, k / 2}}));
  testing::with_one_and_two_threads([&] { check_all(v, GetParam()); });
}

// 1D convolutions (H and D trivial), including long kernels on the generic path.
TEST_P(ConvDepthwiseRows, OneDimensional) {
  std::vector<ConvGeometry> v;
  for (int64_t k : {1, 3, 9, 31})
    for (int64_t s : {1, 2, 3})
      for (int64_t ow : {1, 16, 33})
        v.push_back(make_geometry(3, 2, 4, 2, {axis_for(ow, k, s, 1 + k % 2, k / 2, k / 2)}));
  testing::with_one_and_two_threads([&] { check_all(v, GetParam()); });
}

// Outputs past 16 MiB are computed into the workspace and streamed out; planes of 255² floats
// start at every alignment. Forward and backward_data only: backward_weight streams nothing,
// and its sums over 130,050 products are longer than the reference's own float sums are
// accurate to within the harness tolerance.
TEST(ConvDepthwise, StreamedOutputs) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  const Axis a{255, 3, 1, 1, 1, 1};
  const ConvGeometry g = depthwise_2d(2, 33, 1, a, a);
  const ConvInputs in = random_inputs(g, 5);
  const ConvAlgorithm* algo = select_conv(g, ConvPass::kForward, kName);
  ASSERT_NE(algo, nullptr);
  testing::with_one_and_two_threads([&] {
    for (ConvPass pass : {ConvPass::kForward, ConvPass::kBackwardData}) {
      const auto want = run_pass(reference_algorithm(), g, pass, in, true);
      EXPECT_EQ(compare(run_pass(*algo, g, pass, in, true), want, reduction_length(g, pass) + 1),
                "")
          << to_string(pass);
    }
  });
}

// Threads split planes (channels for backward_weight), never a sum: results are bitwise the
// same for any thread count.
TEST_P(ConvDepthwiseRows, BitwiseSameWithOneAndTwoThreads) {
  for (const ConvGeometry& g : {depthwise_2d(3, 5, 2, {9, 3, 1, 1, 1, 1}, {20, 3, 1, 1, 1, 1}),
                                depthwise_2d(1, 7, 1, {12, 5, 2, 1, 2, 2}, {33, 5, 2, 1, 2, 2})}) {
    const ConvAlgorithm* algo = select_conv(g, ConvPass::kForward, GetParam());
    ASSERT_NE(algo, nullptr);
    expect_same_bits_on_one_and_two_threads(*algo, g, 11);
  }
}

INSTANTIATE_TEST_SUITE_P(BothIsas, ConvDepthwiseRows,
                         ::testing::Values("depthwise", "depthwise_avx2"),
                         [](const auto& info) { return std::string(info.param); });

// Both rows cover the same shapes, each where this CPU has its instructions.
TEST(ConvDepthwise, RefusesWhatItDoesNotCover) {
  using Supports = bool (*)(const ConvGeometry&, ConvPass);
  const std::pair<Supports, bool> rows[] = {{conv_depthwise_supports, cpu_has_avx512()},
                                            {conv_depthwise_avx2_supports, cpu_has_avx2_fma()}};
  for (const auto& [supports, has_isa] : rows)
    for (ConvPass pass : kConvPasses) {
      // Not depthwise: ordinary and grouped convolutions.
      EXPECT_FALSE(supports(make_geometry(1, 4, 4, 1, {{6, 3}, {6, 3}}), pass));
      EXPECT_FALSE(supports(make_geometry(1, 4, 4, 2, {{6, 3}, {6, 3}}), pass));
      // C_out not a multiple of C_in is impossible with groups == C_in; 3D is refused.
      EXPECT_FALSE(supports(make_geometry(1, 2, 2, 2, {{3, 3}, {6, 3}, {6, 3}}), pass));
      // Kernels past the tap table.
      EXPECT_FALSE(supports(make_geometry(1, 2, 2, 2, {{40, 33}}), pass));
      EXPECT_EQ(supports(make_geometry(1, 2, 2, 2, {{40, 32}}), pass), has_isa);
    }
}

}  // namespace
}  // namespace fovea::kernels
