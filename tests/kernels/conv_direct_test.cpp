// The direct kernels (rows direct_avx512 and direct_avx2) held equal to the reference around
// their tile sizes: output-channel blocks of 8 / 4 (forward) and 4 / 2 (backward weight),
// pixel blocks of 1..3 vectors of 16 / 8 virtual outputs inside chunks of 24 vectors, taps in
// blocks of up to 6 / 5, the kernels with output channels in the lanes (blocks of 1..3
// vectors of channels x up to 16 / 14 / 9 outputs, or 1..4 x 16 / 14 / 9 / 6 (input channel,
// tap) pairs; AVX2 1..2 x 6), batches of one chunk shared out by threads; plus what they refuse.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conv_harness.h"
#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_direct_plan.h"
#include "kernels/cpu/cpu_features.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

// Floats per vector of the plans each row runs.
constexpr int kAvx512Lanes = 16, kAvx2Lanes = 8;

// The two rows (one kernel source) and whether this CPU runs them.
struct Row {
  const char* name;
  bool runs;
};
std::vector<Row> rows() {
  return {{"direct_avx512", cpu_has_avx512()}, {"direct_avx2", cpu_has_avx2_fma()}};
}

// Runs check_all for each row this CPU runs, on 1 and 2 threads.
void check_threads(const std::vector<ConvGeometry>& v) {
  for (const Row& row : rows())
    if (row.runs) testing::with_one_and_two_threads([&] { check_all(v, row.name); });
}

// Virtual output counts 15..17, 31..33, 47..49 (one row), 383..385 (the 24-vector chunk)
// and 2D planes whose rows straddle vectors; batch 1 and 3; tiles stored from the registers
// (at most 256 input channel and tap pairs) and through memory.
TEST(ConvDirect, PixelCountsAroundVectorsAndBlocks) {
  std::vector<ConvGeometry> v;
  for (int64_t N : {1, 3}) {
    for (int64_t w : {15, 16, 17, 31, 32, 33, 47, 48, 49, 383, 384, 385})
      v.push_back(make_geometry(N, 3, 5, 1, {{w, 3, 1, 1, 1, 1}}));
    for (int64_t w : {1, 2, 7, 14, 15, 16, 17})
      v.push_back(make_geometry(N, 2, 3, 1, {{w + 1, 3, 1, 1, 1, 1}, {w, 3, 1, 1, 1, 1}}));
  }
  v.push_back(make_geometry(1, 4, 9, 1, {{56, 3, 1, 1, 1, 1}, {56, 3, 1, 1, 1, 1}}));
  // Tiles over more than 256 (input channel, tap) pairs, stored through memory, not straight
  // from the registers: rows straddling vectors, odd channel counts.
  for (int64_t N : {1, 3})
    v.push_back(make_geometry(N, 29, 9, 1, {{10, 3, 1, 1, 1, 1}, {11, 3, 2, 1, 1, 1}}));
  check_threads(v);
}

// Output channels per group around the forward block (8) and the weight block (4).
TEST(ConvDirect, ChannelsAroundBlocksAndGroups) {
  std::vector<ConvGeometry> v;
  for (int64_t cog : {1, 3, 4, 5, 7, 8, 9, 16, 17})
    for (int64_t groups : {1, 2, 3}) {
      v.push_back(make_geometry(1, 2 * groups, cog * groups, groups,
                                {{9, 3, 1, 1, 1, 1}, {10, 3, 1, 1, 1, 1}}));
      v.push_back(make_geometry(3, 3 * groups, cog * groups, groups, {{20, 3, 1, 1, 1, 1}}));
    }
  // The grouped target shape (g=32, 8 channels per group), small plane; depthwise.
  v.push_back(make_geometry(2, 64, 64, 8, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}));
  v.push_back(make_geometry(1, 6, 6, 6, {{7, 3, 1, 1, 1, 1}, {9, 3, 1, 1, 1, 1}}));
  check_threads(v);
}

// Strides 1..3, dilations 1..2, asymmetric and transposed-style (negative hi) padding,
// kernels with 1..7 taps per axis (tap blocks of 6 and their remainders).
TEST(ConvDirect, StridesDilationsPaddings) {
  std::vector<ConvGeometry> v;
  for (int64_t s : {1, 2, 3})
    for (int64_t d : {1, 2})
      for (int64_t k : {1, 2, 3, 5})
        for (int64_t N : {1, 3}) {
          v.push_back(
              make_geometry(N, 3, 5, 1, {{13, k, s, d, k / 2, k / 2}, {12, k, s, d, 0, 1}}));
          v.push_back(make_geometry(N, 2, 9, 1, {{19, k, s, d, 1, k - 1}}));
        }
  v.push_back(make_geometry(1, 2, 3, 1, {{9, 3, 3, 1, 1, -1}, {9, 3, 3, 1, 2, 0}}));
  v.push_back(make_geometry(2, 2, 2, 1, {{8, 3, 1, 2, 0, -1}}));
  v.push_back(make_geometry(1, 1, 2, 1, {{5, 3, 1, 1, 3, 3}, {4, 2, 1, 1, 2, 2}}));
  // The ResNet stem: 7x7 stride 2, 3 input channels (49 taps: 9 tap blocks).
  v.push_back(make_geometry(2, 3, 10, 1, {{30, 7, 2, 1, 3, 3}, {29, 7, 2, 1, 3, 3}}));
  check_threads(v);
}

// Several chunks of images (the padded chunk holds about 128K floats; backward weight at
// least 1024 virtual outputs), backward-weight runs of 64 vectors and input-channel blocks of
// 16 (15, 16, 17); groups split over threads (at least twice as many groups as threads).
TEST(ConvDirect, ChunksOfImagesAndOutputs) {
  std::vector<ConvGeometry> v;
  v.push_back(make_geometry(3, 24, 5, 1, {{48, 3, 1, 1, 1, 1}, {48, 3, 1, 1, 1, 1}}));
  v.push_back(make_geometry(3, 24, 5, 1, {{48, 3, 2, 1, 1, 1}, {48, 3, 2, 1, 1, 1}}));
  for (int64_t cig : {15, 16, 17})
    v.push_back(make_geometry(5, cig, 5, 1, {{4, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}}));
  // Grouped (each thread takes whole groups) with one image per chunk.
  v.push_back(make_geometry(3, 8, 12, 4, {{100, 3, 1, 1, 1, 1}, {100, 3, 1, 1, 1, 1}}));
  // Planes too small for 1024 outputs each: chunks of many images, the last one partial.
  v.push_back(make_geometry(40, 2, 3, 1, {{3, 3, 1, 1, 1, 1}, {4, 3, 1, 1, 1, 1}}));
  check_threads(v);
}

// Backward weight with output channels in the lanes (one group, C_out a multiple of 16, at
// least 16 input channels): channel blocks of 1..3 vectors split evenly (16..112 channels),
// input-channel blocks of up to 64, tap blocks of up to 9 / 6 (1, 9, 10, 25, 27 taps), strides
// 1..3, dilation, 3D, and several chunks of images; two groups take the other kernel.
TEST(ConvDirect, WeightGradientWithChannelsInTheLanes) {
  std::vector<ConvGeometry> v;
  for (int64_t cog : {16, 32, 48, 64, 80, 112})
    v.push_back(make_geometry(2, 16, cog, 1, {{7, 3, 1, 1, 1, 1}, {9, 3, 2, 1, 1, 1}}));
  for (int64_t cig : {17, 33})
    v.push_back(make_geometry(1, cig, 32, 1, {{6, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}}));
  for (int64_t s : {1, 2, 3})
    for (int64_t k : {1, 2, 5})
      v.push_back(make_geometry(3, 16, 16, 1, {{11, k, s, 1, k / 2, k / 2}, {10, k, s, 1, 0, 1}}));
  v.push_back(make_geometry(2, 16, 16, 1, {{9, 3, 1, 2, 2, 2}, {12, 3, 2, 2, 1, 0}}));
  v.push_back(make_geometry(2, 32, 64, 2, {{8, 3, 2, 1, 1, 1}, {8, 3, 2, 1, 1, 1}}));
  // Chunks of 2 images (the padded chunk holds about 128K floats), the last one partial;
  // one chunk of many small images.
  v.push_back(make_geometry(5, 16, 32, 1, {{32, 3, 1, 1, 1, 1}, {32, 3, 1, 1, 1, 1}}));
  v.push_back(make_geometry(37, 16, 32, 1, {{4, 3, 1, 1, 1, 1}, {5, 3, 2, 1, 1, 1}}));
  v.push_back(
      make_geometry(2, 16, 32, 1, {{4, 3, 1, 1, 1, 1}, {6, 3, 2, 1, 1, 1}, {5, 3, 1, 1, 1, 1}}));
  check_threads(v);
}

// Backward weight with channels in the lanes at batch > 1, as ResNet-18's strided layers of
// more than 64 input channels take it: work items of ceil(C_in / threads) input channels (at
// most 64), each padding its channels chunk by chunk into its thread's copy: 65, 127 and 129
// input channels (items of 64 or 33..65 with a short last one); 16..64 take parts of the
// images (WeightGradientBatchesInParts), still checked here; output-channel blocks
// of 1..3 vectors (16, 48, 80), stride 2 on odd planes, several chunks of images with a short last
// one (5 images of 32x32: chunks of 4 and 1), one chunk of many small images, output tiles of
// 512-1024 outputs, which depend on the thread count (35 rows of 33: several tiles; a 1D row of
// 1050 outputs: one tile); results equal bit for bit on 1 and 2 threads.
TEST(ConvDirect, WeightGradientBatchesSplitByInputChannels) {
  std::vector<ConvGeometry> v;
  for (int64_t cig : {16, 17, 33, 64, 65, 127, 129})
    for (int64_t cog : {16, 48, 80})
      v.push_back(make_geometry(3, cig, cog, 1, {{9, 3, 2, 1, 1, 1}, {11, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(5, 33, 48, 1, {{32, 3, 2, 1, 1, 1}, {32, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(5, 20, 32, 1, {{31, 3, 2, 1, 1, 1}, {29, 3, 2, 1, 1, 0}}));
  v.push_back(make_geometry(16, 24, 32, 1, {{14, 3, 2, 1, 1, 1}, {15, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(3, 16, 32, 1, {{70, 3, 2, 1, 1, 1}, {66, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(2, 16, 32, 1, {{2100, 3, 2, 1, 1, 1}}));
  check_threads(v);
  if (!cpu_has_avx512()) return;
  for (const ConvGeometry& g : v)
    expect_same_bits_on_one_and_two_threads(algorithm_named("direct_avx512"), g, 7);
}

// Backward weight with channels in the lanes at batch 2 or more on at most 64 input channels:
// the images in min(N, 4) parts, each transposing its chunks' dy itself, added up at the end:
// parts of 1..3 images (N = 2, 3, 5, 9), chunks of 2 images inside a part (24x24 planes on 64
// channels, 9 images: parts of 2, 2, 2 and 3), 17 channels (the sums' last block of rows short)
// and 65 (one part, the shared transpose); with 3 and 8 threads too (more threads than parts:
// the input channels in blocks as well). Equal to the reference, and bit for bit on 1, 2, 3
// and 8 threads.
TEST(ConvDirect, WeightGradientBatchesInParts) {
  std::vector<ConvGeometry> v;
  for (int64_t N : {2, 3, 5})
    v.push_back(make_geometry(N, 17, 32, 1, {{10, 3, 1, 1, 1, 1}, {9, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(9, 64, 16, 1, {{24, 3, 1, 1, 1, 1}, {24, 3, 1, 1, 1, 1}}));
  v.push_back(make_geometry(5, 65, 16, 1, {{12, 3, 2, 1, 1, 1}, {13, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(4, 24, 48, 1, {{14, 1, 1, 1, 0, 0}, {14, 1, 1, 1, 0, 0}}));
  check_threads(v);
  const int before = omp_get_max_threads();
  for (const Row& row : rows()) {
    if (!row.runs) continue;
    const ConvAlgorithm& algo = algorithm_named(row.name);
    for (const ConvGeometry& g : v) {
      const ConvInputs in = random_inputs(g, 11);
      omp_set_num_threads(1);
      const auto one = run_pass(algo, g, ConvPass::kBackwardWeight, in, false);
      for (int threads : {2, 3, 8}) {
        omp_set_num_threads(threads);
        EXPECT_EQ(run_pass(algo, g, ConvPass::kBackwardWeight, in, false), one)
            << row.name << " on " << threads << " threads: " << describe(g);
      }
    }
  }
  omp_set_num_threads(before);
}

// Forward with output channels in the lanes (as above, planes of at most 196 outputs, larger
// ones without stride, or 3D, at least 96 outputs per channel; whole chunks of images per
// thread, or on two threads here, where every image is one chunk, shares of the channels that
// LanesSplitByChannels checks on its own): runs of 1..9 outputs (rows of 1..9 and 10,
// 19), channel blocks of 1..3 vectors split evenly, strides 1..3, groups, bands of rows padded
// one after the other, 3D; a 40x30 plane in two bands of rows per image, on two threads too.
TEST(ConvDirect, ForwardWithChannelsInTheLanes) {
  std::vector<ConvGeometry> v;
  for (int64_t w : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 19})
    v.push_back(
        make_geometry(3, 16, 16, 1, {{2 * (196 / w), 3, 2, 1, 1, 1}, {2 * w, 3, 2, 1, 1, 1}}));
  for (int64_t cog : {32, 48, 80})
    v.push_back(make_geometry(3, 16, cog, 1, {{28, 3, 2, 1, 1, 1}, {28, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(4, 17, 16, 1, {{40, 5, 3, 1, 2, 2}, {30, 3, 3, 1, 1, 1}}));
  v.push_back(make_geometry(4, 32, 64, 2, {{14, 3, 1, 2, 2, 2}, {24, 3, 2, 1, 1, 1}}));
  // Chunks of several 14x14 images: bands of 68 rows padded in turn span several images.
  v.push_back(make_geometry(8, 16, 16, 1, {{28, 3, 2, 1, 1, 1}, {28, 3, 2, 1, 1, 1}}));
  v.push_back(
      make_geometry(2, 16, 16, 1, {{16, 3, 2, 1, 1, 1}, {20, 3, 2, 1, 1, 1}, {40, 3, 2, 1, 1, 1}}));
  v.push_back(make_geometry(2, 64, 32, 1, {{40, 3, 1, 1, 1, 1}, {30, 3, 1, 1, 1, 1}}));
  // A strided plane of more than 196 outputs (20x20) in chunks of one image each: the lanes
  // kernel on AMD, the position kernel on Intel.
  v.push_back(make_geometry(4, 64, 32, 1, {{40, 3, 2, 1, 1, 1}, {40, 3, 2, 1, 1, 1}}));
  // 240 input channels of one vector of weights: slices of 227 and 13 channels (AMD) or 8 of 28
  // and one of 16 (Intel; lane_weight_floats), each tile carried on from one to the next.
  v.push_back(make_geometry(2, 240, 16, 1, {{16, 3, 1, 1, 1, 1}, {16, 3, 1, 1, 1, 1}}));
  check_threads(v);
}

// The blockings of the kernels with channels in the lanes (AVX-512: up to 16 / 14 / 9
// broadcasts for 1 / 2 / 3 vectors of channels, and 6 for 4 in the weight gradient, chosen per
// layer; the forward on one thread here, as above): forward rows of 13..17, 27..29 and 56
// outputs (runs of up to 16 for 16 channels, 14 for 32, 9 for 48, 64 in blocks of 2 vectors),
// 3D; weight-gradient blocks of (input channel, tap) pairs that straddle channels (27 and 25
// taps in blocks of 14 or 16 pairs, 9 taps of 3 channels in blocks of 9, 6 for 64 channels),
// short last items of input channels; weight gradients equal bit for bit on 1 and 2 threads.
TEST(ConvDirect, LaneBlockingsAroundRunsAndPairs) {
  std::vector<ConvGeometry> fwd;
  for (int64_t cog : {16, 32, 48, 64})
    for (int64_t w : {13, 14, 15, 16, 17, 27, 28, 29})
      fwd.push_back(
          make_geometry(3, 16, cog, 1, {{2 * (196 / w), 3, 2, 1, 1, 1}, {2 * w, 3, 2, 1, 1, 1}}));
  fwd.push_back(
      make_geometry(1, 16, 32, 1, {{3, 3, 1, 1, 1, 1}, {4, 3, 1, 1, 1, 1}, {56, 3, 1, 1, 1, 1}}));
  fwd.push_back(
      make_geometry(2, 17, 16, 1, {{4, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}, {17, 3, 1, 1, 1, 1}}));
  check_threads(fwd);
  std::vector<ConvGeometry> wgt;
  for (int64_t cog : {16, 32, 48, 64})
    for (int64_t cig : {16, 17, 24, 40}) {
      wgt.push_back(make_geometry(2, cig, cog, 1,
                                  {{4, 3, 1, 1, 1, 1}, {5, 3, 2, 1, 1, 1}, {9, 3, 1, 1, 1, 1}}));
      wgt.push_back(make_geometry(3, cig, cog, 1, {{9, 5, 1, 1, 2, 2}, {8, 5, 2, 1, 2, 1}}));
    }
  wgt.push_back(make_geometry(3, 33, 32, 1, {{11, 3, 2, 1, 1, 1}, {13, 3, 2, 1, 1, 1}}));
  check_threads(wgt);
  if (!cpu_has_avx512()) return;
  for (const ConvGeometry& g : wgt)
    expect_same_bits_on_one_and_two_threads(algorithm_named("direct_avx512"), g, 11);
}

// Backward data with channels in the lanes (stride 1, at least two vectors of the convolution's
// input channels and 16 of its output channels, 96 outputs per channel; whole chunks of images
// per thread, or shares of the channels): the weight packed from where it lies (K floats per pair
// of channels, the taps reversed), on rows of 7, 13, 14 and 15 outputs around the runs, 2 and 3
// vectors, 16 and 17 channels summed over, dilated, and 3D.
TEST(ConvDirect, BackwardDataWithChannelsInTheLanes) {
  std::vector<ConvGeometry> v;
  for (int64_t cin : {32, 48})
    for (int64_t w : {7, 13, 14, 15})
      v.push_back(make_geometry(w == 7 ? 11 : 3, cin, 16 + cin % 32 / 16, 1,
                                {{w, 3, 1, 1, 1, 1}, {w, 3, 1, 1, 1, 1}}));
  v.push_back(make_geometry(3, 32, 16, 1, {{12, 3, 1, 2, 2, 2}, {13, 3, 1, 1, 1, 1}}));
  v.push_back(
      make_geometry(3, 32, 16, 1, {{4, 3, 1, 1, 1, 1}, {6, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}));
  check_threads(v);
}

// The kernel with channels in the lanes split by channels (DirectPlan::lanes_by_channels, on 2
// threads): each thread takes a share of the vectors of output channels (2, 3 and 5 vectors:
// shares of 1 and 1, 1 and 2, 2 and 3; twice as many with AVX2), packs their weights and pads
// every chunk itself. On one chunk of every image (batch 1-2), from 96 outputs per channel: 7x7
// at batch 2, 10x10, 14x14 at stride 2 (forward only), 20x20 both ways round (so that backward
// data's shares are uneven too), kernels of 2 to 15 taps; and on two chunks of 16 2x2 images
// whose 512 input channels (forward; backward data's 512 output channels) make the weights
// outweigh twice the padded input, 9 vectors (shares of 4 and 5). Results equal bit for bit on
// 1 and 2 threads.
TEST(ConvDirect, LanesSplitByChannels) {
  std::vector<ConvGeometry> v;
  for (int64_t c : {32, 48, 80}) {
    v.push_back(make_geometry(2, 32, c, 1, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}));
    v.push_back(make_geometry(1, 32, c, 1, {{10, 3, 1, 1, 1, 1}, {10, 3, 1, 1, 1, 1}}));
    v.push_back(make_geometry(1, 16, c, 1, {{28, 3, 2, 1, 1, 1}, {28, 3, 2, 1, 1, 1}}));
    v.push_back(make_geometry(1, 32, c, 1, {{20, 3, 1, 1, 1, 1}, {20, 3, 1, 1, 1, 1}}));
    v.push_back(make_geometry(1, c, 32, 1, {{20, 3, 1, 1, 1, 1}, {20, 3, 1, 1, 1, 1}}));
  }
  // Backward data's weight packed from pieces of K = 2..15 floats (K >= 16 goes through whole
  // 16 x 16 blocks).
  for (auto [kh, kw] : {std::pair{1, 2}, {1, 3}, {2, 2}, {3, 5}, {5, 3}, {1, 7}})
    v.push_back(
        make_geometry(1, 48, 32, 1, {{12, kh, 1, 1, kh / 2, kh / 2}, {12, kw, 1, 1, 1, kw / 2}}));
  v.push_back(make_geometry(32, 512, 144, 1, {{2, 3, 1, 1, 1, 1}, {2, 3, 1, 1, 1, 1}}));
  v.push_back(make_geometry(32, 144, 512, 1, {{2, 3, 1, 1, 1, 1}, {2, 3, 1, 1, 1, 1}}));
  check_threads(v);
  if (!cpu_has_avx512()) return;
  for (const ConvGeometry& g : v)
    expect_same_bits_on_one_and_two_threads(algorithm_named("direct_avx512"), g, 13);
}

// Which forward kernel a 7x7 plane at batch 1 (49 outputs) gets: the lanes kernel only for
// AVX-512 on a CPU that halves its FMAs (kMinLaneOutputsHalfRate), where the position kernel's
// 64 lanes would be a quarter idle; never for AVX2 (56 lanes) or backward data. A 10x10 plane
// (100 outputs) shows the lanes kernel suits the layer otherwise; the 7x7 layer is then held
// equal to the reference.
TEST(ConvDirect, SevenBySevenForwardTakesTheLanesWhereFmasAreHalved) {
  const ConvGeometry small = make_geometry(1, 64, 64, 1, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}});
  const ConvGeometry large =
      make_geometry(1, 64, 64, 1, {{10, 3, 1, 1, 1, 1}, {10, 3, 1, 1, 1, 1}});
  testing::with_one_and_two_threads([&] {
    for (int lanes : {kAvx512Lanes, kAvx2Lanes}) {
      SCOPED_TRACE("vector lanes " + std::to_string(lanes));
      ASSERT_TRUE(direct_plan(large, ConvPass::kForward, lanes).fwd_lanes);
      EXPECT_EQ(direct_plan(small, ConvPass::kForward, lanes).fwd_lanes,
                lanes == kAvx512Lanes && cpu_halves_avx512());
      EXPECT_FALSE(direct_plan(small, ConvPass::kBackwardData, lanes).fwd_lanes);
    }
  });
  // And the 7x7 plane at batch 1 equals the reference whichever kernel it got.
  check_threads({small});
}

// One chunk holding every image (batch 1-3), each thread padding the rows its share reads
// into a buffer of its own (on 2 threads): shares of the output vectors (few output channels,
// large planes) or of the output-channel blocks (weights larger than the padded chunk), a
// thread left without vectors (one vector in all), several images in the chunk, two groups,
// backward data (stride 1: transposed weights), 3D; and the stride-2 split of input rows
// around its vectors of 16 outputs, both column phases 32 padded columns at a time (rows of
// 1..70 inputs, padding 0..2 on the left).
TEST(ConvDirect, OneChunkSharedOutByThreads) {
  std::vector<ConvGeometry> v;
  for (int64_t N : {1, 2, 3}) {
    v.push_back(make_geometry(N, 5, 9, 1, {{57, 3, 2, 1, 1, 1}, {57, 3, 2, 1, 1, 1}}));
    v.push_back(make_geometry(N, 6, 64, 1, {{9, 3, 2, 1, 1, 1}, {14, 3, 2, 1, 1, 1}}));
    v.push_back(make_geometry(N, 4, 6, 2, {{20, 3, 1, 1, 1, 1}, {23, 3, 1, 1, 1, 1}}));
  }
  v.push_back(make_geometry(1, 3, 5, 1, {{3, 3, 1, 1, 0, 0}, {3, 3, 1, 1, 0, 0}}));
  for (int64_t w : {1, 2, 3, 31, 32, 33, 34, 63, 64, 65, 70})
    for (int64_t lo : {0, 1, 2})
      v.push_back(make_geometry(1, 2, 3, 1, {{5, 3, 2, 1, 1, 1}, {w, 3, 2, 1, lo, 2}}));
  v.push_back(
      make_geometry(1, 3, 4, 1, {{6, 3, 2, 1, 1, 1}, {7, 3, 1, 1, 1, 1}, {9, 3, 2, 1, 1, 1}}));
  check_threads(v);
}

TEST(ConvDirect, ThreeDimensions) {
  std::vector<ConvGeometry> v;
  for (int64_t N : {1, 3}) {
    v.push_back(
        make_geometry(N, 3, 9, 1, {{5, 3, 1, 1, 1, 1}, {6, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}));
    v.push_back(
        make_geometry(N, 4, 4, 2, {{6, 3, 2, 1, 1, 0}, {7, 2, 1, 2, 0, 1}, {8, 3, 2, 1, 1, 1}}));
  }
  check_threads(v);
}

// Small planes padded by permutes (DirectPlan::spans): each span's 16 lanes are the padded
// plane's, input (jd, jh, jw) - pad_lo where that lies inside the input and zero elsewhere
// (the plane's tail too), from 16 floats that all lie inside the channel (the last spans'
// loads moved back from its end); worked out here position by position. Planes of 16..256
// floats, paddings 0..3 (asymmetric), rows of 16 (one vector), spans with no input at all
// (wide padding), 3D; none with stride, cropping (negative padding or trailing inputs
// unread), fewer than 16 inputs or more than 256 floats.
TEST(ConvDirect, SmallPlanesPaddedBySpans) {
  const std::vector<std::pair<ConvGeometry, bool>> cases = {
      {make_geometry(1, 1, 1, 1, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}), true},
      {make_geometry(1, 1, 1, 1, {{14, 3, 1, 1, 1, 1}, {14, 3, 1, 1, 1, 1}}), true},
      {make_geometry(1, 1, 1, 1, {{5, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}}), true},
      {make_geometry(1, 1, 1, 1, {{4, 1, 1, 1, 0, 0}, {4, 1, 1, 1, 0, 0}}), true},
      {make_geometry(1, 1, 1, 1, {{2, 3, 1, 1, 3, 2}, {16, 3, 1, 1, 0, 1}}), true},
      {make_geometry(1, 1, 1, 1, {{3, 7, 1, 1, 3, 3}, {6, 5, 1, 1, 3, 2}}), true},
      {make_geometry(1, 1, 1, 1, {{3, 3, 1, 1, 1, 1}, {3, 3, 1, 1, 1, 0}, {4, 3, 1, 1, 0, 1}}),
       true},
      {make_geometry(1, 1, 1, 1, {{7, 3, 2, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}), false},
      {make_geometry(1, 1, 1, 1, {{7, 3, 1, 1, 1, -1}, {7, 3, 1, 1, 1, 1}}), false},
      {make_geometry(1, 1, 1, 1, {{3, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}}), false},
      {make_geometry(1, 1, 1, 1, {{15, 3, 1, 1, 1, 1}, {15, 3, 1, 1, 1, 1}}), false},
  };
  for (const auto& [g, expected] : cases) {
    SCOPED_TRACE(describe(g));
    const DirectPlan p = direct_plan(g, ConvPass::kForward, kAvx512Lanes);
    ASSERT_EQ(p.spans > 0, expected);
    if (!expected) continue;
    ASSERT_EQ(p.spans * 16, p.plane);
    const int64_t in_pixels = g.in[0] * g.in[1] * g.in[2];
    for (int s = 0; s < p.spans; ++s) {
      const DirectSpan& span = p.span[s];
      EXPECT_GE(span.src, 0);
      EXPECT_LE(span.src + 16, in_pixels);
      for (int l = 0; l < 16; ++l) {
        const int64_t i = 16 * s + l, jw = i % p.q[2], jh = i / p.q[2] % p.q[1];
        const int64_t jd = i / (p.q[2] * p.q[1]);
        const int64_t d = jd - g.pad_lo[0], h = jh - g.pad_lo[1], w = jw - g.pad_lo[2];
        const bool inside =
            jd < p.q[0] && d >= 0 && d < g.in[0] && h >= 0 && h < g.in[1] && w >= 0 && w < g.in[2];
        const int64_t want = inside ? (d * g.in[1] + h) * g.in[2] + w : -1;
        const int64_t got = (span.keep >> l & 1) ? span.src + span.idx[l] : -1;
        EXPECT_EQ(got, want) << "span " << s << " lane " << l;
      }
    }
  }
}

// The input index along axis a (0: depth, 1: height, 2: width) that tap k of plan p reads for
// output coordinate o of that axis (outside [0, p.in[a]): padding), from the plan's geometry.
int64_t tap_input(const DirectPlan& p, int k, int a, int64_t o) {
  const int64_t pos = p.taps_reversed ? p.K - 1 - k : k;
  const int64_t along[3] = {pos / (p.kernel[1] * p.kernel[2]), pos / p.kernel[2] % p.kernel[1],
                            pos % p.kernel[2]};
  return o * p.stride[a] - p.pad_lo[a] + along[a] * p.dilation[a];
}
bool tap_reads_input(const DirectPlan& p, int k, int a, int64_t o) {
  const int64_t i = tap_input(p, k, a, o);
  return i >= 0 && i < p.in[a];
}

// The products the kernels with channels in the lanes leave out (direct_row_taps per output
// row, direct_run_edges per run of a row, direct_tap_window per tap) read padding only, and every
// tap a row needs is in its range, its first and last needed; a run's end output is left out
// wherever it alone reads padding there. Forward and backward data (taps reversed), strided,
// dilated, cropped, 1D and 3D, rows that read padding alone.
TEST(ConvDirect, LanesLeaveOutOnlyProductsWithPadding) {
  const std::vector<ConvGeometry> cases = {
      make_geometry(1, 16, 16, 1, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}),
      make_geometry(1, 16, 16, 1, {{14, 3, 2, 1, 1, 1}, {14, 3, 2, 1, 1, 1}}),
      make_geometry(1, 16, 16, 1, {{9, 5, 1, 1, 2, 2}, {8, 5, 1, 1, 2, 1}}),
      make_geometry(1, 16, 16, 1, {{12, 3, 1, 2, 2, 2}, {10, 3, 1, 3, 3, 0}}),
      make_geometry(1, 16, 16, 1, {{6, 3, 1, 1, 1, -1}, {9, 3, 2, 1, 2, 1}}),
      make_geometry(1, 16, 16, 1, {{2, 3, 1, 1, 2, 2}, {3, 5, 1, 1, 4, 4}}),
      make_geometry(1, 16, 16, 1, {{40, 7, 1, 1, 3, 3}}),
      make_geometry(1, 16, 16, 1, {{4, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}, {6, 3, 1, 1, 1, 1}}),
      make_geometry(1, 16, 16, 1, {{4, 3, 2, 1, 1, 1}, {5, 3, 1, 2, 2, 2}, {9, 3, 2, 1, 1, 1}}),
  };
  int left_out_taps = 0, left_out_ends = 0, left_out_windows = 0;
  for (const ConvGeometry& g : cases)
    for (ConvPass pass : {ConvPass::kForward, ConvPass::kBackwardData}) {
      if (!direct_supports(g, pass)) continue;
      SCOPED_TRACE(describe(g) + " " + std::string(to_string(pass)));
      const DirectPlan p = direct_plan(g, pass, kAvx512Lanes);
      const std::vector<TapRange> row_taps = direct_row_taps(p);
      ASSERT_EQ(row_taps.size(), static_cast<size_t>(p.out[0] * p.out[1]));
      for (int64_t od = 0; od < p.out[0]; ++od)
        for (int64_t oh = 0; oh < p.out[1]; ++oh) {
          const TapRange t = row_taps[od * p.out[1] + oh];
          std::vector<int> needed;
          for (int k = 0; k < p.K; ++k)
            if (tap_reads_input(p, k, 0, od) && tap_reads_input(p, k, 1, oh)) needed.push_back(k);
          if (needed.empty()) {
            EXPECT_EQ(t.k0, t.k1) << "row " << od << "," << oh;
          } else {
            EXPECT_EQ(t.k0, needed.front()) << "row " << od << "," << oh;
            EXPECT_EQ(t.k1, needed.back() + 1) << "row " << od << "," << oh;
          }
          left_out_taps += p.K - (t.k1 - t.k0);
        }
      for (int k = 0; k < p.K; ++k) {
        const TapWindow win = direct_tap_window(p, k);
        for (int a = 0; a < 3; ++a)
          for (int64_t o = 0; o < p.out[a]; ++o)
            EXPECT_EQ(o >= win.lo[a] && o < win.hi[a], tap_reads_input(p, k, a, o))
                << "tap " << k << " axis " << a << " output " << o;
        left_out_windows += win.hi[2] - win.lo[2] < p.out[2];
      }
      const int64_t ow = p.out[2];
      const std::pair<int64_t, int64_t> runs[] = {
          {0, ow}, {0, std::min<int64_t>(ow, 5)}, {ow / 2, ow - ow / 2}, {ow - 1, 1}, {1, 1}};
      for (const auto& [w0, len] : runs) {
        if (w0 + len > ow) continue;
        std::vector<uint8_t> edges(p.K);
        direct_run_edges(p, w0, len, edges.data());
        for (int k = 0; k < p.K; ++k) {
          // Outputs before the input's first column, and after its last.
          int64_t lead = 0, trail = 0;
          while (lead < len && tap_input(p, k, 2, w0 + lead) < 0) ++lead;
          while (trail < len - lead && tap_input(p, k, 2, w0 + len - 1 - trail) >= p.in[2]) ++trail;
          const int want = lead > 1 || trail > 1 ? 0 : static_cast<int>(lead + 2 * trail);
          EXPECT_EQ(edges[k], want) << "run " << w0 << "+" << len << " tap " << k;
          for (int64_t r = 0; r < len; ++r) {
            const bool left_out = ((edges[k] & 1) && r == 0) || ((edges[k] & 2) && r == len - 1);
            EXPECT_FALSE(left_out && tap_reads_input(p, k, 2, w0 + r))
                << "run " << w0 << "+" << len << " tap " << k << " output " << r;
          }
          left_out_ends += edges[k] != 0;
        }
      }
    }
  // The cases leave out both.
  EXPECT_GT(left_out_taps, 100);
  EXPECT_GT(left_out_ends, 100);
  EXPECT_GT(left_out_windows, 20);
}

// Stride-1 forwards and backward data in 1D and 2D read their input in place where every
// product with the padding is left out (direct_unpadded_plan, where direct_run_edges says all
// are): each product still computed, tap k of output (oh, ow) at u.tap[k] + oh * W + ow, reads
// the input the geometry names (backward data's taps in order, its weight packed reversed).
// Strided, 3D and the position kernel's backward data (taps reversed) keep the padded copy.
TEST(ConvDirect, UnpaddedPlanReadsTheInputsTheGeometryNames) {
  // The lanes kernel's backward data is chosen for two threads' shares (see the count below).
  const testing::ThreadCount two(2);
  const std::vector<std::pair<ConvGeometry, bool>> cases = {
      {make_geometry(4, 32, 16, 1, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}), true},
      {make_geometry(4, 32, 16, 1, {{9, 3, 1, 2, 2, 2}, {8, 3, 1, 1, 1, 0}}), true},
      {make_geometry(4, 32, 16, 1, {{6, 3, 1, 1, 1, -1}, {12, 5, 1, 1, 1, 1}}), true},
      {make_geometry(4, 32, 16, 1, {{40, 3, 1, 1, 1, 1}}), true},
      // Two outputs at a row's start read padding through tap kw = 0: the padded copy (not
      // exact).
      {make_geometry(4, 32, 16, 1, {{6, 3, 1, 1, 1, 1}, {9, 5, 1, 2, 2, 2}}), true},
      {make_geometry(4, 32, 16, 1, {{14, 3, 2, 1, 1, 1}, {14, 3, 1, 1, 1, 1}}), false},
      {make_geometry(4, 32, 16, 1, {{4, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}, {6, 3, 1, 1, 1, 1}}),
       false},
  };
  int read = 0, lanes_backward = 0;
  for (const auto& [g, expected] : cases)
    for (ConvPass pass : {ConvPass::kForward, ConvPass::kBackwardData}) {
      if (!direct_supports(g, pass)) continue;
      SCOPED_TRACE(describe(g) + " " + std::string(to_string(pass)));
      const DirectPlan p = direct_plan(g, pass, kAvx512Lanes);
      if (p.fwd_lanes) {
        ASSERT_FALSE(p.taps_reversed);
      }
      const std::optional<DirectPlan> u = direct_unpadded_plan(p);
      std::vector<uint8_t> edges(p.K);
      const bool exact = direct_run_edges(p, 0, p.out[2], edges.data());
      ASSERT_EQ(u.has_value(), expected && !p.taps_reversed);
      if (!u || !exact) continue;
      lanes_backward += p.fwd_lanes && pass == ConvPass::kBackwardData;
      const std::vector<TapRange> row_taps = direct_row_taps(p);
      for (int64_t oh = 0; oh < p.out[1]; ++oh) {
        const TapRange t = row_taps[oh];
        for (int k = t.k0; k < t.k1; ++k)
          for (int64_t ow = 0; ow < p.out[2]; ++ow) {
            if (((edges[k] & 1) && ow == 0) || ((edges[k] & 2) && ow == p.out[2] - 1)) continue;
            const int64_t ih = tap_input(p, k, 1, oh), iw = tap_input(p, k, 2, ow);
            EXPECT_TRUE(ih >= 0 && ih < p.in[1] && iw >= 0 && iw < p.in[2])
                << "row " << oh << " tap " << k << " output " << ow;
            EXPECT_EQ(u->tap[k] + oh * p.in[2] + ow, ih * p.in[2] + iw)
                << "row " << oh << " tap " << k << " output " << ow;
            ++read;
          }
      }
    }
  EXPECT_GT(read, 1500);
  EXPECT_GE(lanes_backward, 2);
  // One batch of a small plane, one vector of the convolution's input channels: the position
  // kernel, reading the weight in place with the taps reversed, on a padded copy.
  const DirectPlan small = direct_plan(make_geometry(1, 16, 16, 1, {{7, 3, 1, 1, 1, 1}}),
                                       ConvPass::kBackwardData, kAvx512Lanes);
  EXPECT_FALSE(small.fwd_lanes);
  EXPECT_TRUE(small.taps_reversed);
  EXPECT_FALSE(direct_unpadded_plan(small).has_value());
}

TEST(ConvDirect, RefusesWhatItDoesNotHandle) {
  const ConvGeometry plain = make_geometry(1, 1, 1, 1, {{5, 3}});
  const ConvGeometry strided = make_geometry(1, 2, 2, 1, {{8, 3, 1, 1, 1, 1}, {8, 3, 2, 1, 1, 1}});
  const ConvGeometry huge = make_geometry(1, 1, 1, 1, {{9, 9}, {9, 9}, {9, 9}});  // 729 taps
  for (const Row& row : rows()) {
    const ConvAlgorithm& a = algorithm_named(row.name);
    EXPECT_EQ(a.supports(plain, ConvPass::kForward), row.runs) << row.name;
    if (!row.runs) continue;
    // Backward data with stride > 1 on any axis.
    EXPECT_TRUE(a.supports(strided, ConvPass::kForward));
    EXPECT_TRUE(a.supports(strided, ConvPass::kBackwardWeight));
    EXPECT_FALSE(a.supports(strided, ConvPass::kBackwardData));
    for (ConvPass pass : kConvPasses) EXPECT_FALSE(a.supports(huge, pass)) << row.name;
  }
}

}  // namespace
}  // namespace fovea::kernels
