// The Winograd rows F(4x4, 3x3) and F(2x2, 3x3) (every pass; the weight gradients F(3x3, 4x4)
// and F(3x3, 2x2)) held equal to the reference on sweeps around their tile sizes: 4x4 and 2x2
// output tiles (output sizes 1..13: remainders 0..3), segments of 8 and 15 tiles of a tile row,
// 16-tile lane groups and 64-tile blocks (partial groups and blocks, tiles spanning images), GEMM
// panels of 6/8/12/16 output channels (channel counts around them), every padding 0..2 per side,
// one and two threads (per-thread and shared blocks, fused and whole weight transforms),
// dilations 2 and 3 (phases of tiles); for the weight gradient also channels around its
// 16-channel vectors and 6 x 64 work units, sums over several 128-tile blocks (which may start
// inside an image), per-thread partial sums or shared blocks, one shared block split by M's columns
// (bitwise equal on 1 and 2 threads); plus the shapes they must refuse.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "conv_harness.h"
#include "fovea/random.h"
#include "kernels/conv_algorithm.h"
#include "thread_counts.h"
#include "winograd_row_test.h"

namespace fovea::kernels {
namespace {

constexpr std::string_view kName = "winograd_f4x3";

// A 3x3 stride-1 2D geometry with output size (oh, ow) and the given paddings.
ConvGeometry geometry(int64_t N, int64_t C_in, int64_t C_out, int64_t oh, int64_t ow,
                      int64_t top = 1, int64_t bottom = 1, int64_t left = 1, int64_t right = 1) {
  return make_geometry(N, C_in, C_out, 1,
                       {three_tap_axis(oh, top, bottom), three_tap_axis(ow, left, right)});
}

class ConvWinogradRows : public WinogradRowTest {};
INSTANTIATE_TEST_SUITE_P(BothTileSizes, ConvWinogradRows, kWinogradRows, winograd_row_name);

TEST_P(ConvWinogradRows, OutputSizesAroundTheTile) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t oh = 1; oh <= 13; ++oh)
    for (int64_t ow = 1; ow <= 13; ++ow, ++i) {
      // Paddings cycle through 0..2 per side, capped so the input keeps at least one pixel.
      const int64_t top = i % 3, left = (i / 9) % 3;
      const int64_t bottom = std::min<int64_t>((i / 3) % 3, oh + 1 - top);
      const int64_t right = std::min<int64_t>((i / 27) % 3, ow + 1 - left);
      v.push_back(geometry(i % 2 ? 3 : 1, 16, 17, oh, ow, top, bottom, left, right));
    }
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

TEST_P(ConvWinogradRows, EveryPaddingPerSide) {
  std::vector<ConvGeometry> v;
  for (int64_t top = 0; top <= 2; ++top)
    for (int64_t bottom = 0; bottom <= 2; ++bottom)
      for (int64_t left = 0; left <= 2; ++left)
        for (int64_t right = 0; right <= 2; ++right)
          v.push_back(
              make_geometry(2, 16, 16, 1, {{7, 3, 1, 1, top, bottom}, {6, 3, 1, 1, left, right}}));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

TEST_P(ConvWinogradRows, ChannelsAroundTheGemmPanels) {
  std::vector<ConvGeometry> v;
  for (int64_t C_in : {4, 5, 16, 17, 31})
    for (int64_t C_out : {4, 7, 16, 17, 23, 25, 33, 49})
      v.push_back(geometry(C_out % 2 ? 1 : 3, C_in, C_out, 6, 9));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// 20x20 outputs are 25 (F(2x2): 100) tiles per image: lane groups and 64-tile blocks that end
// mid-image, and (batch 3: 75 tiles) a partial last block; 1 and 2 groups (per-thread and shared
// work). Tile rows of 8 (16) tiles: F(4x4) rows of 32 and 33 outputs fill one or two segments,
// F(2x2) rows of 29..33 one or two 15-tile segments.
TEST_P(ConvWinogradRows, TileGroupsAndBlocks) {
  std::vector<ConvGeometry> v;
  for (int64_t N : {1, 2, 3}) v.push_back(geometry(N, 16, 20, 20, 20));
  v.push_back(geometry(1, 16, 16, 16, 16));  // exactly 16 tiles
  v.push_back(geometry(1, 16, 16, 16, 20));  // 20 tiles
  v.push_back(geometry(5, 24, 16, 16, 16));  // 80 tiles: 5 groups
  v.push_back(geometry(9, 16, 18, 12, 12));  // 81 tiles: a one-tile last group
  for (int64_t ow = 29; ow <= 33; ++ow) v.push_back(geometry(1 + ow % 2, 16, 16, 3, ow));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// One 7x7 image is 16 F(2x2) tiles: one vector, one block, weights transformed per GEMM panel
// (fused); batches 1..3 and ResNet-like channel counts around the panels (up to 80 channels:
// 5 panels of 16, shared by 2 threads unevenly), with padding 0..2.
TEST_P(ConvWinogradRows, SmallPlanesAtSmallBatches) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t N : {1, 2, 3})
    for (int64_t size : {7, 8, 9})
      for (int64_t C : {20, 65, 80}) {
        const int64_t pad = i++ % 3;
        v.push_back(geometry(N, C, C + N - 1, size, size, pad, pad, pad, pad));
      }
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// The weight gradient sums over every tile of every image: output sizes 1..9 and around the
// multiples of 4 and 2 (partial tiles at the bottom and right), paddings 0..2, batch 1 and 3.
TEST_P(ConvWinogradRows, WeightGradientAroundTheTiles) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t oh : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17})
    for (int64_t ow : {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17}) {
      const int64_t pad = i++ % 3;
      v.push_back(geometry(i % 2 ? 3 : 1, 5, 6, oh, ow, pad, std::min(pad, oh + 1 - pad), 2 - pad,
                           std::min(2 - pad, ow + pad - 1)));
    }
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// Channels around the weight gradient's 16-channel vectors (V and M padded to them) and its
// work units of 6 output x 64 input channels (partial units in both directions).
TEST_P(ConvWinogradRows, WeightGradientChannelsAroundTheItems) {
  std::vector<ConvGeometry> v;
  for (int64_t C_in : {4, 7, 64, 65, 100})
    for (int64_t C_out : {4, 5, 8, 63, 64, 66, 130})
      v.push_back(geometry(C_in % 2 ? 1 : 3, C_in, C_out, 5, 7));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// More than 128 tiles: M summed over several blocks (20x20 outputs are 25 (F(2x2): 100) tiles
// per image: 10, 11 and 21 images are 250, 275 and 525 (1000, 1100, 2100) tiles), with two
// threads over per-thread ranges of tiles whose partial Ms are added up, or (large M) over blocks
// shared by the team.
TEST_P(ConvWinogradRows, WeightGradientOverSeveralBlocks) {
  std::vector<ConvGeometry> v;
  for (int64_t N : {10, 11, 21}) v.push_back(geometry(N, 8, 12, 20, 20));
  v.push_back(geometry(1, 4, 4, 64, 68, 0, 2, 2, 0));  // 272 (1088) tiles of one image
  // M over 4 MB: two blocks shared by both threads (129 one-pixel images); M (36 x 460 x 64)
  // for F(4x4), (16 x 520 x 128) for F(2x2).
  v.push_back(geometry(129, 64, 460, 1, 1));
  v.push_back(geometry(129, 128, 520, 1, 1));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// Few tiles: one block shared by the team, each work unit's sums kept in its thread's scratch;
// split by M's columns where there are at least eight 16-channel groups (C_in 113..160: 8..10
// groups, split 4/4, 4/5 and 5/5), else by work units after shared transforms. Either way each
// element of dw is summed on one thread in one order: the bits do not depend on the thread count.
TEST_P(ConvWinogradRows, WeightGradientOneSharedBlock) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t C_in : {16, 113, 128, 130, 160})
    for (int64_t C_out : {5, 7, 13, 70}) {
      const int64_t pad = i++ % 3;
      v.push_back(geometry(1 + i % 2, C_in, C_out, 5 + i % 4, 9 - i % 3, pad, 2 - pad, 1, pad));
    }
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
  for (const ConvGeometry& g : v) expect_same_bits_on_one_and_two_threads(algo(), g, 3);
}

// A dilated 3x3 stride-1 2D geometry with output size (oh, ow) and the given paddings.
ConvGeometry dilated(int64_t N, int64_t C_in, int64_t C_out, int64_t d, int64_t oh, int64_t ow,
                     int64_t top, int64_t bottom, int64_t left, int64_t right) {
  return make_geometry(N, C_in, C_out, 1,
                       {{oh + 2 * d - top - bottom, 3, 1, d, top, bottom},
                        {ow + 2 * d - left - right, 3, 1, d, left, right}});
}

// Dilation 2 and 3: d² phases of tiles whose elements are d apart. Output sizes 1..20
// (phases of unequal sizes, partial and empty tiles in the smaller phases), paddings 0..2d
// per side (input sizes odd and even, divisible by d or not), channels 4, 5 and 17, batch 1
// and 2.
TEST_P(ConvWinogradRows, DilatedSizesAroundTheTilesAndPhases) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t d : {2, 3})
    for (int64_t oh = 1; oh <= 20; ++oh)
      for (int64_t ow = 1 + oh % 3; ow <= 20; ow += 3, ++i) {
        const int64_t pads = 2 * d + 1, top = i % pads, left = (i / 3) % pads;
        const int64_t bottom = std::min<int64_t>((i / 2) % pads, oh + 2 * d - 1 - top);
        const int64_t right = std::min<int64_t>((i / 5) % pads, ow + 2 * d - 1 - left);
        const int64_t channels[3] = {4, 5, 17};
        v.push_back(dilated(1 + i % 2, channels[i % 3], channels[(i / 3) % 3], d, oh, ow, top,
                            bottom, left, right));
      }
  // check_all skips the passes a row refuses: these must all be taken.
  for (const ConvGeometry& g : v)
    for (ConvPass pass : kConvPasses) ASSERT_TRUE(algo().supports(g, pass)) << describe(g);
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// Dilated layers large enough for several lane groups, 64-tile blocks and (weight gradient)
// 128-tile blocks, per-thread and shared: 56x56 at d = 2 is 4 phases of 7x7 (14x14) tiles.
TEST_P(ConvWinogradRows, DilatedGroupsAndBlocks) {
  std::vector<ConvGeometry> v;
  for (int64_t N : {1, 2}) v.push_back(dilated(N, 16, 20, 2, 56, 56, 2, 2, 2, 2));
  v.push_back(dilated(3, 8, 12, 3, 29, 31, 3, 3, 0, 6));
  v.push_back(dilated(1, 64, 70, 2, 24, 20, 4, 0, 1, 3));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// The weight gradient stages, image by image, the rows of x and dy its block's tiles read: images
// of more tiles than a block (52x44: 143 F(4x4), 572 F(2x2) tiles), so blocks start and end
// inside images, between tile rows and (dilated) between a tile row's phases; every top
// padding; 64 channels on one side, whose rows of U or V are a cache line longer.
TEST_P(ConvWinogradRows, WeightGradientImagesAcrossBlocks) {
  std::vector<ConvGeometry> v;
  for (int64_t top = 0; top <= 2; ++top) {
    v.push_back(geometry(1, 64, 4, 52, 44, top, 2 - top, 1, 1));
    v.push_back(dilated(1, 4, 64, 2, 52, 44, 2 * top, 4 - 2 * top, 2, 2));
  }
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// The kernel itself handles any channel count; the row refuses fewer than 4 only because it
// does not pay there. Channels 1..3 exercise the masked weight-transform lanes.
TEST_P(ConvWinogradRows, KernelHandlesFewChannels) {
  for (int64_t C_in = 1; C_in <= 3; ++C_in)
    for (int64_t C_out = 1; C_out <= 3; ++C_out)
      for (int64_t N : {1, 3}) {
        const ConvGeometry g =
            geometry(N, C_in, C_out, 5 + C_in, 4 + C_out, C_in % 3, 1, 2, C_out % 3);
        const ConvInputs in = random_inputs(g, static_cast<uint64_t>(C_in * 10 + C_out));
        for (ConvPass pass : kConvPasses) {
          const bool bias = pass == ConvPass::kForward;
          EXPECT_EQ(compare(run_pass(algo(), g, pass, in, bias),
                            run_pass(reference_algorithm(), g, pass, in, bias),
                            reduction_length(g, pass) + 1, tolerance_scale(name())),
                    "")
              << to_string(pass) << ": " << describe(g);
        }
      }
}

// y = conv(x, w) in double precision: a 2D 3x3 stride-1 forward without bias.
std::vector<double> forward_in_double(const ConvGeometry& g, const std::vector<float>& x,
                                      const std::vector<float>& w) {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  std::vector<double> y(static_cast<size_t>(g.N * g.C_out * OH * OW), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.C_out; ++oc) {
      double* yo = y.data() + (n * g.C_out + oc) * OH * OW;
      for (int64_t ic = 0; ic < g.C_in; ++ic)
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) {
            const double wv = w[((oc * g.C_in + ic) * 3 + kh) * 3 + kw];
            const float* xi = x.data() + (n * g.C_in + ic) * H * W;
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh - g.pad_lo[1] + kh;
              if (ih < 0 || ih >= H) continue;
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t iw = ow - g.pad_lo[2] + kw;
                if (iw >= 0 && iw < W) yo[oh * OW + ow] += wv * xi[ih * W + iw];
              }
            }
          }
    }
  return y;
}

// Largest |got - want| over the largest |want|.
std::pair<double, double> max_errors(const std::vector<float>& got,
                                     const std::vector<double>& want) {
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return {err, err / scale};
}

// The ResNet-18 3x3 layers (batch 1) against double precision, inputs uniform in [-1, 1) and
// activation-like (ReLU of standard normals, He-initialised weights): the figures quoted in
// docs/conv_algorithms.md. Winograd stays within the harness tolerance times its scale.
TEST_P(ConvWinogradRows, ErrorAgainstDoubleOnResNetShapes) {
  const ConvAlgorithm* im2col =
      select_conv(geometry(1, 16, 16, 4, 4), ConvPass::kForward, "im2col_gemm");
  ASSERT_NE(im2col, nullptr);
  for (auto [C, size] : {std::pair<int64_t, int64_t>{64, 56}, {128, 28}, {256, 14}, {512, 7}})
    for (bool relu_normal : {false, true}) {
      const ConvGeometry g = geometry(1, C, C, size, size);
      ConvInputs in = random_inputs(g, 5);
      if (relu_normal) {
        Generator gen(6);
        for (float& v : in.x) v = std::max(gen.normal(), 0.0f);
        for (float& v : in.w) v = gen.normal(0.0f, std::sqrt(2.0f / (9.0f * C)));
      }
      const std::vector<double> want = forward_in_double(g, in.x, in.w);
      const auto [wino_abs, wino_rel] =
          max_errors(run_pass(algo(), g, ConvPass::kForward, in, false), want);
      const auto [gemm_abs, gemm_rel] =
          max_errors(run_pass(*im2col, g, ConvPass::kForward, in, false), want);
      const double tolerance = 1e-5 * std::sqrt(9.0 * C);
      std::printf(
          "C=%-3lld %2lldx%-2lld %-11s %s abs %.2e rel %.2e (%.2f tol) | "
          "im2col_gemm abs %.2e rel %.2e (%.2f tol)\n",
          static_cast<long long>(C), static_cast<long long>(size), static_cast<long long>(size),
          relu_normal ? "relu-normal" : "uniform", std::string(name()).c_str(), wino_abs, wino_rel,
          wino_abs / tolerance, gemm_abs, gemm_rel, gemm_abs / tolerance);
      // The harness tolerance assumes inputs in [-1, 1): only the uniform case is held to it.
      // F(2x2) rounds about as little as the direct sums (0.05-0.11 of the tolerance): held to
      // the default tolerance, not the Winograd scale.
      if (!relu_normal) {
        const double scale = name() == kName ? tolerance_scale(name()) : 1.0;
        EXPECT_LE(wino_abs, scale * tolerance) << describe(g);
      }
    }
}

// dw = Σ_n corr(x, dy) in double precision: a 2D 3x3 stride-1 weight gradient.
std::vector<double> weight_gradient_in_double(const ConvGeometry& g, const std::vector<float>& x,
                                              const std::vector<float>& dy) {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  std::vector<double> dw(static_cast<size_t>(g.C_out * g.C_in * 9), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.C_out; ++oc)
      for (int64_t ic = 0; ic < g.C_in; ++ic) {
        const float* d = dy.data() + (n * g.C_out + oc) * OH * OW;
        const float* xi = x.data() + (n * g.C_in + ic) * H * W;
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) {
            double sum = 0.0;
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh - g.pad_lo[1] + kh;
              if (ih < 0 || ih >= H) continue;
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t iw = ow - g.pad_lo[2] + kw;
                if (iw >= 0 && iw < W) sum += double{d[oh * OW + ow]} * xi[ih * W + iw];
              }
            }
            dw[((oc * g.C_in + ic) * 3 + kh) * 3 + kw] += sum;
          }
      }
  return dw;
}

// The weight gradient of the ResNet-18 3x3 layers (batch kWeightErrorBatch) against double
// precision, inputs uniform in [-1, 1): the figures quoted in docs/conv_algorithms.md. The sums
// run over N * OH * OW products, the harness tolerance grows with their square root.
TEST_P(ConvWinogradRows, WeightGradientErrorAgainstDoubleOnResNetShapes) {
  const ConvAlgorithm* im2col =
      select_conv(geometry(1, 16, 16, 4, 4), ConvPass::kBackwardWeight, "im2col_gemm");
  ASSERT_NE(im2col, nullptr);
  constexpr int64_t kWeightErrorBatch = 1;
  for (auto [C, size] : {std::pair<int64_t, int64_t>{64, 56}, {128, 28}, {256, 14}, {512, 7}}) {
    const ConvGeometry g = geometry(kWeightErrorBatch, C, C, size, size);
    const ConvInputs in = random_inputs(g, 7);
    const std::vector<double> want = weight_gradient_in_double(g, in.x, in.dy);
    const auto [wino_abs, wino_rel] =
        max_errors(run_pass(algo(), g, ConvPass::kBackwardWeight, in, false), want);
    const auto [gemm_abs, gemm_rel] =
        max_errors(run_pass(*im2col, g, ConvPass::kBackwardWeight, in, false), want);
    const double tolerance =
        1e-5 * std::sqrt(static_cast<double>(reduction_length(g, ConvPass::kBackwardWeight)));
    std::printf(
        "N=%lld C=%-3lld %2lldx%-2lld %s abs %.2e rel %.2e (%.2f tol) | "
        "im2col_gemm abs %.2e rel %.2e (%.2f tol)\n",
        static_cast<long long>(g.N), static_cast<long long>(C), static_cast<long long>(size),
        static_cast<long long>(size), std::string(name()).c_str(), wino_abs, wino_rel,
        wino_abs / tolerance, gemm_abs, gemm_rel, gemm_abs / tolerance);
    // F(3x3, 2x2) rounds about as little as the direct sums (0.04-0.06 of the tolerance): held to
    // the default tolerance, not the Winograd scale.
    const double scale = name() == kName ? tolerance_scale(name()) : 1.0;
    EXPECT_LE(wino_abs, scale * tolerance) << describe(g);
  }
}

// Both rows take every pass.
TEST_P(ConvWinogradRows, SupportsItsPasses) {
  const ConvGeometry g = geometry(1, 16, 16, 8, 8);
  for (ConvPass pass : kConvPasses) EXPECT_TRUE(algo().supports(g, pass)) << to_string(pass);
}

// (3x3x3 layers, which the rows take in the forward and backward data: conv_winograd3d_test.cpp.)
TEST_P(ConvWinogradRows, RefusesOtherShapes) {
  const std::vector<ConvGeometry> refused = {
      geometry(1, 3, 16, 8, 8),                                                // few channels
      geometry(1, 16, 3, 8, 8),                                                // few channels
      make_geometry(1, 16, 16, 2, {{8, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}}),   // groups
      make_geometry(1, 16, 16, 1, {{9, 3, 2, 1, 1, 1}, {9, 3, 1, 1, 1, 1}}),   // stride
      make_geometry(1, 16, 16, 1, {{9, 3, 1, 1, 1, 1}, {9, 3, 1, 2, 2, 2}}),   // dilation 1, 2
      make_geometry(1, 16, 16, 1, {{9, 3, 1, 2, 5, 2}, {9, 3, 1, 2, 2, 2}}),   // padding 2d + 1
      make_geometry(1, 16, 16, 1, {{9, 5, 1, 1, 2, 2}, {9, 5, 1, 1, 2, 2}}),   // kernel 5
      make_geometry(1, 16, 16, 1, {{9, 3, 1, 1, 1, 1}, {9, 1}}),               // kernel 3x1
      make_geometry(1, 16, 16, 1, {{9, 3, 1, 1, 3, 1}, {9, 3, 1, 1, 1, 1}}),   // padding 3
      make_geometry(1, 16, 16, 1, {{9, 3, 1, 1, 1, -1}, {9, 3, 1, 1, 1, 1}}),  // padding -1
      make_geometry(1, 16, 16, 1, {{33, 3, 1, 1, 1, 1}}),                      // 1D
      make_geometry(1, 16, 16, 1, {{3, 1}, {6, 3}, {6, 3}}),                   // 3D, kernel 1x3x3
  };
  for (const ConvGeometry& g : refused)
    for (ConvPass pass : kConvPasses) EXPECT_FALSE(algo().supports(g, pass)) << describe(g);
}

}  // namespace
}  // namespace fovea::kernels
