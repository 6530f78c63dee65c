// The "grouped_avx512" row (src/kernels/cpu/conv_grouped.h) held equal to the reference on
// sweeps around its tiles: flattened planes in vectors of 16 positions (plane sizes below,
// at and past a vector, rows that split vectors), tiles of 8 output channels x 3 (or 2) vectors
// or 4 x 6 (channels per group 1..16, partial channel tiles reading a copy of the last channel;
// weights packed per thread and group, the items of one thread spanning groups), the weight
// gradient's tiles of 8 channels x 3 taps and 4 x 5; plus the shapes it must refuse.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "conv_harness.h"
#include "kernels/cpu/conv_grouped.h"
#include "kernels/cpu/cpu_features.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr char kName[] = "grouped_avx512";

// Stride 1 with the width kept: pad_lo + pad_hi = (k - 1)·d along W.
Axis same_w(int64_t in, int64_t k, int64_t d, int64_t lo) {
  return {in, k, 1, d, lo, (k - 1) * d - lo};
}

void add_if_valid(std::vector<ConvGeometry>& v, const ConvGeometry& g) {
  if (valid(g) && g.out[1] >= 1) v.push_back(g);
}

// Channels per group 1..16 on each side (non-powers of two; both tile shapes and their partial
// channel tiles) and the 17..32 the row supports without being selected there (reached when
// forced), groups 1..40, 3x3 "same" on planes of 1..20 positions per row.
TEST(ConvGrouped, ChannelsAndGroups) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t cig : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 23, 32})
    for (int64_t cog : {1, 3, 4, 5, 8, 9, 16, 17, 32})
      for (int64_t groups : {1, 2, 5, 40}) {
        if (groups == 40 && (cig > 3 || cog > 5)) continue;  // keep the sweep fast
        if ((cig > 16 || cog > 16) && groups > 2) continue;
        const int64_t hw = 1 + (i * 7) % 20, N = 1 + i % 3;
        ++i;
        add_if_valid(v, make_geometry(N, cig * groups, cog * groups, groups,
                                      {{hw + i % 3, 3, 1, 1, 1, 1}, same_w(hw, 3, 1, 1)}));
      }
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// Plane sizes around the vector (positions 1..70, odd sizes, rows splitting vectors), kernels
// 1..5 with dilation 1..2, padding 0..2 on top and any split along W, and heights whose padding
// leaves rows no output reads (pad_hi below pad_lo) or outputs past the input.
TEST(ConvGrouped, PlanesPaddingsDilations) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t k : {1, 2, 3, 5})
    for (int64_t d = 1; d <= 2; ++d)
      for (int64_t lo_h = 0; lo_h <= 2; ++lo_h)
        for (int64_t w : {1, 3, 7, 13, 14, 16, 17, 23}) {
          const int64_t lo_w = i % ((k - 1) * d + 1), h = 1 + (i * 5) % 9;
          const int64_t hi_h = lo_h - 1 + i % 3;
          ++i;
          add_if_valid(
              v, make_geometry(1 + i % 2, 8, 8 + 8 * (i % 2), 2,
                               {{h + (k - 1) * d, k, 1, d, lo_h, hi_h}, same_w(w, k, d, lo_w)}));
        }
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// 1D convolutions (H trivial), including kernels longer than the weight gradient's tiles of 3
// and 5 taps.
TEST(ConvGrouped, OneDimensional) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  for (int64_t k : {1, 3, 7, 11})
    for (int64_t w : {5, 16, 33})
      v.push_back(make_geometry(2, 12, 18, 3, {same_w(w, k, 1, k / 2)}));
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// ResNeXt-style layers: 32 groups of 4 and 8 channels on 14x14 and 7x7, batch 1 and 3.
TEST(ConvGrouped, ResNeXtShapes) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  for (int64_t hw : {7, 14})
    for (int64_t c : {4, 8})
      for (int64_t N : {1, 3})
        v.push_back(
            make_geometry(N, 32 * c, 32 * c, 32, {{hw, 3, 1, 1, 1, 1}, {hw, 3, 1, 1, 1, 1}}));
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// The weight gradient sums 4 images per pass over its partial sums: batches below, at and past
// one pass and several (the first pass starts from zeros, the last sums the lanes into dw).
TEST(ConvGrouped, BatchesAroundTheWeightPasses) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  for (int64_t N : {2, 4, 5, 8, 9})
    v.push_back(make_geometry(N, 12, 20, 4, {{5, 3, 1, 1, 1, 1}, {6, 3, 1, 1, 1, 1}}));
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// The most (source channel, tap) pairs a block's weights pack: up to 32 channels per group on
// each side with kernels of 49 and 64 taps (the forward's pairs in one run per row, backward
// data's in runs of 8 taps per source channel, the last shorter), blocks of 8 and of 4.
TEST(ConvGrouped, LargestKernelsAndChannels) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  for (int64_t k : {7, 8})
    for (auto [cig, cog] : {std::pair<int64_t, int64_t>{32, 32}, {31, 12}, {5, 32}})
      v.push_back(make_geometry(2, 2 * cig, 2 * cog, 2,
                                {{k + 3, k, 1, 1, k / 2, (k - 1) / 2}, same_w(9, k, 1, k / 2)}));
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// Threads split (group, image) items and groups, never a sum: results are bitwise the same for
// any thread count.
TEST(ConvGrouped, BitwiseSameWithOneAndTwoThreads) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  for (const ConvGeometry& g :
       {make_geometry(3, 40, 24, 8, {{9, 3, 1, 1, 1, 1}, {11, 3, 1, 1, 1, 1}}),
        make_geometry(9, 64, 64, 8, {{14, 3, 1, 1, 1, 1}, {14, 3, 1, 1, 1, 1}}),
        make_geometry(1, 256, 256, 32, {{14, 3, 1, 1, 1, 1}, {14, 3, 1, 1, 1, 1}})}) {
    const ConvAlgorithm* algo = select_conv(g, ConvPass::kForward, kName);
    ASSERT_EQ(algo->name, kName);
    expect_same_bits_on_one_and_two_threads(*algo, g, 11, true);
  }
}

TEST(ConvGrouped, RefusesWhatItDoesNotCover) {
  for (ConvPass pass : kConvPasses) {
    // Strided, narrower outputs than inputs (pad 0), 3D, too many channels per group.
    EXPECT_FALSE(conv_grouped_supports(
        make_geometry(1, 8, 8, 2, {{8, 3, 2, 1, 1, 1}, {8, 3, 2, 1, 1, 1}}), pass));
    EXPECT_FALSE(conv_grouped_supports(make_geometry(1, 8, 8, 2, {{8, 3}, {8, 3}}), pass));
    EXPECT_FALSE(conv_grouped_supports(
        make_geometry(1, 8, 8, 2, {{4, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}}),
        pass));
    EXPECT_FALSE(conv_grouped_supports(
        make_geometry(1, 66, 66, 2, {{8, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}}), pass));
    // Kernels past the tap table.
    EXPECT_FALSE(conv_grouped_supports(
        make_geometry(1, 4, 4, 2, {{9, 9, 1, 1, 4, 4}, {9, 9, 1, 1, 4, 4}}), pass));
    // Only W must keep its size: H may shrink.
    EXPECT_EQ(conv_grouped_supports(make_geometry(1, 8, 8, 2, {{8, 3}, {8, 3, 1, 1, 1, 1}}), pass),
              cpu_has_avx512());
  }
}

}  // namespace
}  // namespace fovea::kernels
