// The im2col + GEMM row held equal to the reference around its blocking thresholds
// (conv_im2col_gemm.h): images side by side below kIm2colNarrowPixels output pixels (blocks of
// nb-1, nb, nb+1 images and the batches between), images cut into chunks of lines when the
// col would pass kIm2colChunkFloats (chunk-1, chunk, chunk+1 lines), backward data's steps
// over input channels, the transposed backward-weight and backward-data GEMMs, strided 1x1 kernels
// moved as whole planes, and every pass with one and two threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <vector>

#include "conv_harness.h"
#include "kernels/cpu/conv_im2col_gemm.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

// Runs the harness on the geometries with one and then two threads.
void check_with_threads(const std::vector<ConvGeometry>& v) {
  testing::with_one_and_two_threads([&] { check_all(v, "im2col_gemm"); });
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// A 3x3 "same" convolution of an h x w image (stride 1: the contiguous runs) or a strided one.
ConvGeometry conv3x3(int64_t N, int64_t C_in, int64_t C_out, int64_t h, int64_t w,
                     int64_t stride = 1) {
  return make_geometry(N, C_in, C_out, 1, {{h, 3, stride, 1, 1, 1}, {w, 3, stride, 1, 1, 1}});
}

TEST(ConvIm2colGemm, NarrowImagesGoSideBySide) {
  // 8x8 = 64 pixels: nb = ceil(256 / 64) = 4 images per block with one thread.
  const int64_t nb = ceil_div(kIm2colMinColumns, 64);
  EXPECT_EQ(im2col_gemm_plan(conv3x3(16, 3, 4, 8, 8), ConvPass::kForward, 1).images, nb);
  // Blocks come in a multiple of the threads when the batch allows: 2 threads, 6 images -> 2
  // blocks of 3; 16 images of 7x7 (6 a block) -> 4 blocks of 4; 3 images -> 2 blocks.
  EXPECT_EQ(im2col_gemm_plan(conv3x3(6, 3, 4, 8, 8), ConvPass::kForward, 2).images, 3);
  EXPECT_EQ(im2col_gemm_plan(conv3x3(6, 3, 4, 8, 8), ConvPass::kForward, 2).split, true);
  EXPECT_EQ(im2col_gemm_plan(conv3x3(16, 3, 4, 7, 7), ConvPass::kForward, 2).images, 4);
  EXPECT_EQ(im2col_gemm_plan(conv3x3(16, 3, 4, 7, 7), ConvPass::kForward, 2).split, true);
  EXPECT_EQ(im2col_gemm_plan(conv3x3(3, 3, 4, 7, 7), ConvPass::kForward, 2).images, 2);
  // At least kIm2colNarrowPixels pixels, or backward weight: one image per block.
  EXPECT_EQ(im2col_gemm_plan(conv3x3(4, 3, 4, 12, 12), ConvPass::kForward, 1).images, 1);
  EXPECT_EQ(im2col_gemm_plan(conv3x3(4, 3, 4, 8, 8), ConvPass::kBackwardWeight, 1).images, 1);
  std::vector<ConvGeometry> v;
  for (int64_t N : {int64_t{1}, nb - 1, nb, nb + 1, 2 * nb + 1}) {
    v.push_back(conv3x3(N, 3, 5, 8, 8));
    v.push_back(conv3x3(N, 4, 6, 15, 15, 2));  // strided: 8x8 outputs, line by line
    v.push_back(conv3x3(N, 3, 5, 7, 7));       // 49 pixels, as ResNet's last stage
    // Grouped, pointwise (x copied side by side), dilated 3D.
    v.push_back(make_geometry(N, 4, 6, 2, {{8, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}}));
    v.push_back(make_geometry(N, 5, 7, 1, {{6, 1}, {9, 1}}));
    v.push_back(make_geometry(N, 2, 3, 1, {{4, 3, 1, 1, 1, 1}, {5, 3, 1, 2, 2, 2}, {5, 2}}));
  }
  // Output lengths around kIm2colNarrowPixels on a 1D convolution.
  for (int64_t L : {kIm2colNarrowPixels - 1, kIm2colNarrowPixels, kIm2colNarrowPixels + 1})
    for (int64_t N : {1, 2, 3, 5}) v.push_back(make_geometry(N, 2, 3, 1, {{L, 3, 1, 1, 1, 1}}));
  check_with_threads(v);
}

TEST(ConvIm2colGemm, BackwardDataStepsOverChannelsOfWideBlocks) {
  // 4 images of 8x8 side by side: 256 columns; 9 col rows per channel, so a step holds
  // budget / (9 * 256) channels.
  const int64_t step = kIm2colDcolStepFloats / (9 * 256);
  const ConvGeometry g = conv3x3(4, step + 1, 2, 8, 8);
  EXPECT_EQ(im2col_gemm_plan(g, ConvPass::kBackwardData, 1).images, 4);
  EXPECT_EQ(im2col_gemm_plan(g, ConvPass::kBackwardData, 1).channels, (step + 2) / 2);
  EXPECT_EQ(im2col_gemm_plan(g, ConvPass::kForward, 1).channels, step + 1);
  std::vector<ConvGeometry> v;
  for (int64_t C_in : {step - 1, step, step + 1, 2 * step + 1})
    for (int64_t N : {4, 5}) v.push_back(conv3x3(N, C_in, 2, 8, 8));
  check_with_threads(v);
}

TEST(ConvIm2colGemm, LargeImagesGoInChunksOfLines) {
  // K = 64 * 9 = 576 col rows, 32-pixel lines: chunk = max(budget / K, min columns) / 32 lines.
  const int64_t K = 64 * 9, w = 32;
  const int64_t chunk = std::max(kIm2colChunkFloats / K, kIm2colMinChunkColumns) / w;
  const ConvGeometry at = conv3x3(1, 64, 3, chunk * 2, w);
  EXPECT_EQ(im2col_gemm_plan(at, ConvPass::kBackwardData, 1).lines, chunk);
  EXPECT_EQ(im2col_gemm_plan(at, ConvPass::kBackwardData, 1).images, 1);
  std::vector<ConvGeometry> v;
  for (int64_t h : {chunk - 1, chunk, chunk + 1, 2 * chunk + 1})
    v.push_back(conv3x3(1, 64, 3, h, w));
  v.push_back(conv3x3(2, 64, 3, chunk + 1, w));
  // Strided, line by line.
  for (int64_t h : {chunk, chunk + 1}) v.push_back(conv3x3(1, 64, 3, 2 * h, 2 * w, 2));
  // Pointwise images are read in place, never chunked.
  EXPECT_EQ(im2col_gemm_plan(make_geometry(1, 600, 2, 1, {{64, 1}, {64, 1}}), ConvPass::kForward, 2)
                .lines,
            64);
  // 3D: chunks of 32 lines cross the 7-line planes (K = 64 * 27 = 1728).
  const ConvGeometry g3 =
      make_geometry(1, 64, 2, 1, {{9, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}, {10, 3, 1, 1, 1, 1}});
  EXPECT_LT(im2col_gemm_plan(g3, ConvPass::kForward, 1).lines, 9 * 7);
  EXPECT_NE(im2col_gemm_plan(g3, ConvPass::kForward, 1).lines % 7, 0);
  v.push_back(g3);
  check_with_threads(v);
}

TEST(ConvIm2colGemm, BatchOneSharesChunksAmongThreads) {
  // Forward and backward weight at batch 1: the chunks come in a multiple of the threads and
  // each thread takes its own; backward data keeps one image's chunks on one thread.
  const ConvGeometry g = conv3x3(1, 64, 8, 120, 16);
  const Im2colGemmPlan fwd = im2col_gemm_plan(g, ConvPass::kForward, 2);
  EXPECT_TRUE(fwd.split);
  EXPECT_LT(fwd.lines, 120);
  EXPECT_EQ(ceil_div(120, fwd.lines) % 2, 0);
  EXPECT_FALSE(im2col_gemm_plan(g, ConvPass::kBackwardData, 2).split);
  std::vector<ConvGeometry> v;
  for (int64_t N = 1; N <= 3; ++N) v.push_back(conv3x3(N, 64, 8, 120, 16));
  check_with_threads(v);
}

TEST(ConvIm2colGemm, BackwardWeightTransposesForFewOutputChannels) {
  auto transposed = [](const ConvGeometry& g) {
    return im2col_gemm_plan(g, ConvPass::kBackwardWeight, 1).transposed_dw;
  };
  EXPECT_TRUE(transposed(conv3x3(2, 4, 8, 9, 9)));
  EXPECT_TRUE(transposed(conv3x3(2, 1, 32, 9, 9)));  // K = 9 < 32 output channels
  EXPECT_FALSE(transposed(conv3x3(2, 1, 33, 9, 9)));
  EXPECT_FALSE(transposed(make_geometry(2, 4, 16, 2, {{9, 3, 1, 1, 1, 1}, {9, 3, 1, 1, 1, 1}})));
  // 64 output channels: only with blocks of 1536 columns or more.
  EXPECT_FALSE(transposed(conv3x3(2, 16, 64, 9, 9)));
  EXPECT_TRUE(transposed(conv3x3(1, 16, 64, 48, 32)));
  EXPECT_FALSE(transposed(conv3x3(1, 16, 65, 48, 32)));
  std::vector<ConvGeometry> v;
  for (int64_t N = 1; N <= 5; ++N) {
    // 32 and 33 output channels against K = 9.
    for (int64_t C_out : {32, 33}) v.push_back(conv3x3(N, 1, C_out, 9, 11));
    // Transposed partials summed in tiles of 16 col rows: K = 17 * 9.
    v.push_back(conv3x3(N, 17, 4, 20, 20));
  }
  // 64 and 65 output channels against K = 144, reductions of 1504 and 1536 pixels.
  for (int64_t C_out : {64, 65})
    for (int64_t h : {47, 48}) v.push_back(conv3x3(1, 16, C_out, h, 32));
  check_with_threads(v);
}

TEST(ConvIm2colGemm, BackwardDataTransposesTheDcolOfNarrowBlocks) {
  auto transposed = [](const ConvGeometry& g) {
    return im2col_gemm_plan(g, ConvPass::kBackwardData, 1).transposed_dcol;
  };
  // 7x7 outputs of one image: 49 columns against 9 dcol rows per input channel, so from 11
  // input channels (99 rows) on; two images side by side (98 columns) from 22.
  EXPECT_FALSE(transposed(conv3x3(1, 10, 4, 7, 7)));
  EXPECT_TRUE(transposed(conv3x3(1, 11, 4, 7, 7)));
  EXPECT_EQ(im2col_gemm_plan(conv3x3(2, 21, 4, 7, 7), ConvPass::kBackwardData, 1).images, 2);
  EXPECT_FALSE(transposed(conv3x3(2, 21, 4, 7, 7)));
  EXPECT_TRUE(transposed(conv3x3(2, 22, 4, 7, 7)));
  // Only backward data; not a pointwise block of one image (its GEMM writes dx in place).
  EXPECT_FALSE(im2col_gemm_plan(conv3x3(1, 11, 4, 7, 7), ConvPass::kForward, 1).transposed_dcol);
  EXPECT_FALSE(transposed(make_geometry(1, 128, 4, 1, {{7, 1}, {7, 1}})));
  EXPECT_TRUE(transposed(make_geometry(3, 300, 4, 1, {{7, 1}, {7, 1}})));
  // Steps over channels: 600 channels of 441 dcol floats each pass kIm2colDcolStepFloats.
  const ConvGeometry wide = conv3x3(1, 600, 2, 7, 7);
  EXPECT_LT(im2col_gemm_plan(wide, ConvPass::kBackwardData, 1).channels, 600);
  EXPECT_TRUE(transposed(wide));
  // Around the threshold, with edges of the 16 x 16 transpose blocks on both sides (49 and 98
  // columns, 90 to 297 rows), images side by side, strided, grouped, 1D and pointwise.
  std::vector<ConvGeometry> v = {wide};
  for (int64_t N : {1, 2, 3})
    for (int64_t C_in : {10, 11, 16, 22, 33}) v.push_back(conv3x3(N, C_in, 5, 7, 7));
  v.push_back(conv3x3(1, 24, 6, 14, 14, 2));
  v.push_back(make_geometry(2, 48, 8, 2, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}));
  v.push_back(make_geometry(1, 40, 6, 1, {{30, 5, 1, 2, 2, 2}}));
  v.push_back(make_geometry(3, 300, 4, 1, {{7, 1}, {7, 1}}));
  check_with_threads(v);
}

// Strided 1x1 kernels without padding move whole planes through the pointwise samplers (with
// AVX-512): blocks of one image (ResNet-18's l2 and l3 downsampling) and of images side by
// side (l4's 7x7 outputs), odd sizes (the last sampled input pixel ends the row), stride 3 and
// mixed strides, 1D and 3D, groups. Padded, cropping and chunked ones take the general path.
TEST(ConvIm2colGemm, StridedPointwiseMovesWholePlanes) {
  std::vector<ConvGeometry> v = {
      make_geometry(3, 16, 24, 1, {{28, 1, 2}, {28, 1, 2}}),
      make_geometry(5, 32, 40, 1, {{14, 1, 2}, {14, 1, 2}}),
      make_geometry(2, 9, 7, 1, {{13, 1, 2}, {37, 1, 2}}),
      make_geometry(4, 6, 5, 1, {{9, 1, 3}, {20, 1, 3}}),
      make_geometry(3, 5, 7, 1, {{11, 1, 1}, {33, 1, 2}}),
      make_geometry(2, 6, 8, 2, {{12, 1, 2}, {12, 1, 2}}),
      make_geometry(3, 4, 6, 1, {{65, 1, 2}}),
      make_geometry(2, 6, 11, 1, {{7, 1, 2}, {9, 1, 3}, {40, 1, 2}}),
      make_geometry(2, 8, 5, 1, {{9, 1, 2, 1, 1, 1}, {9, 1, 2, 1, 1, 1}}),
      make_geometry(2, 7, 6, 1, {{9, 1, 1, 1, 0, -2}, {30, 1, 2, 1, 0, -5}}),
  };
  // K * P over kIm2colChunkFloats: chunks of lines, not whole planes.
  const ConvGeometry chunked = make_geometry(1, 600, 3, 1, {{90, 1, 2}, {90, 1, 2}});
  EXPECT_LT(im2col_gemm_plan(chunked, ConvPass::kForward, 1).lines, 45);
  v.push_back(chunked);
  check_with_threads(v);
}

// Lines strided along W (AVX-512: im2col's row sampler, col2im's taps added a dx line at a
// time in vectors of 16 pixels): lines of 1 to 40 outputs (1, 2, 3 vectors of dx pixels) on
// ResNet-18's 3x3 stride-2 kernel, odd and even input widths; kernel widths 1 to 7 and one
// wider than kCol2imTapGroup (scalar loops), strides 2 and 3, dilation, padding on both sides,
// on one side (taps that read padding only) and cropping; images side by side.
TEST(ConvIm2colGemm, StridedLinesSweep) {
  std::vector<ConvGeometry> v;
  for (int64_t ow = 1; ow <= 40; ++ow)
    for (int64_t extra : {0, 1})
      v.push_back(
          make_geometry(2, 3, 4, 1, {{7, 3, 2, 1, 1, 1}, {2 * ow - 1 + extra, 3, 2, 1, 1, 1}}));
  for (int64_t k = 1; k <= 7; ++k)
    for (int64_t s : {2, 3})
      for (int64_t d : {1, 2})
        for (int64_t ow : {1, 5, 16, 17, 33}) {
          const int64_t reach = (k - 1) * d, span = (ow - 1) * s + 1 + reach;
          v.push_back(make_geometry(
              1, 2, 3, 1,
              {{5, 3, 1, 1, 1, 1}, {span - 2 * (reach / 2), k, s, d, reach / 2, reach / 2}}));
          if (reach > 0)
            v.push_back(
                make_geometry(2, 2, 3, 1, {{6, 2, 2, 1, 1, 0}, {span - reach, k, s, d, reach, 0}}));
          v.push_back(
              make_geometry(1, 2, 3, 1, {{4, 3, 2, 1, 0, 0}, {span + s - 1, k, s, d, 0, 1 - s}}));
        }
  v.push_back(make_geometry(2, 2, 3, 1, {{5, 3, 2, 1, 1, 1}, {40, 9, 2, 1, 4, 4}}));
  // 7x7 outputs (ResNet-18's l4): images side by side.
  v.push_back(conv3x3(9, 6, 5, 14, 14, 2));
  check_with_threads(v);
}

}  // namespace
}  // namespace fovea::kernels
