// The "pointwise_avx512" row (src/kernels/cpu/conv_pointwise.h) held equal to the reference on
// sweeps around its tiles: kPointwiseRows output rows × up to kPointwiseVectors vectors of 16
// pixels, the masked last vector or the dot products that replace it, pixel chunks that split an
// image, and row tiles split among threads; the weight gradient's kPointwiseWeightRows ×
// kPointwiseWeightCols tiles, its pixel slices and its transposed batch-1 path; strided and
// cropped (negative pad_hi) 1×1 convolutions through the sampled-pixel panel; backward_data's
// last pixels by column vectors; plus the shapes it must refuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "conv_harness.h"
#include "kernels/cpu/conv_pointwise.h"
#include "kernels/cpu/cpu_features.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr char kName[] = "pointwise";
constexpr int64_t kRows = kPointwiseRows, kTilePixels = kPointwiseVectors * 16;

// A 1×1 convolution over `pixels` pixels laid out as a 2D image of one row (1D when `one_d`).
ConvGeometry pointwise(int64_t N, int64_t C_in, int64_t C_out, int64_t pixels, bool one_d = false) {
  if (one_d) return make_geometry(N, C_in, C_out, 1, {{pixels}});
  return make_geometry(N, C_in, C_out, 1, {{1}, {pixels}});
}

// Pixel counts around the vector and the tile, output channels around the row tile, input
// channels 1 to 160, batches of 1 and 3.
TEST(ConvPointwise, TileEdges) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  const int64_t pixels[] = {1, 15, 16, 17, kTilePixels - 1, kTilePixels, kTilePixels + 1, 49, 196};
  const int64_t outs[] = {1, kRows - 1, kRows, kRows + 1, 2 * kRows + 3};
  const int64_t ins[] = {1, 3, 16, 17, 160};
  int i = 0;
  for (int64_t p : pixels)
    for (int64_t co : outs)
      for (int64_t ci : ins) {
        ++i;
        // A third of the shapes take a batch of 3, another third are 1D.
        v.push_back(pointwise(i % 3 == 0 ? 3 : 1, ci, co, p, i % 3 == 1));
      }
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// Real image shapes: 2D planes whose rows are not a multiple of the vector, 3D volumes, and
// MobileNet-v2-like 7×7 and 14×14 layers, whose pixels past the last whole vector go by dot
// products in the forward pass (input channels a multiple of 16 and not).
TEST(ConvPointwise, ImagesAndVolumes) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  const std::vector<ConvGeometry> v = {
      make_geometry(1, 160, 24, 1, {{7}, {7}}),   make_geometry(1, 100, 19, 1, {{7}, {7}}),
      make_geometry(2, 250, 13, 1, {{14}, {14}}), make_geometry(1, 333, 9, 1, {{3}, {5}, {5}}),
      make_geometry(3, 32, 19, 1, {{14}, {14}}),  make_geometry(2, 5, 11, 1, {{9}, {13}}),
      make_geometry(1, 7, 9, 1, {{3}, {5}, {7}}), make_geometry(3, 16, 17, 1, {{4}, {6}, {6}}),
  };
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// Images whose C_in × pixels pass the panel size go in several pixel chunks (a 56×56 image
// with 160 input channels: 8 chunks), and many rows split among threads.
TEST(ConvPointwise, PixelChunks) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  const std::vector<ConvGeometry> v = {
      make_geometry(1, 160, 9, 1, {{56}, {56}}),
      make_geometry(2, 48, 5, 1, {{37}, {41}}),
      make_geometry(1, 24, 70, 1, {{30}, {31}}),
  };
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// The weight gradient's tiles: output channels around kPointwiseWeightRows, input channels
// around kPointwiseWeightCols, pixels around the vector, the slice (pointwise_weight_chunk) and
// the batch-1 transposed path's limit, batches of 1 and 2.
TEST(ConvPointwise, WeightGradientTiles) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  constexpr int64_t kR = kPointwiseWeightRows, kC = kPointwiseWeightCols;
  // Up to 19 channels: slices of 432 pixels or more.
  constexpr int64_t kChunk = pointwise_weight_chunk(19, 19), kT = kPointwiseWeightTransposePixels;
  std::vector<ConvGeometry> v;
  const int64_t pixels[] = {1, 17, 49, kChunk - 1, kChunk + 1, kT, kT + 1, 2 * kChunk + 33};
  const int64_t outs[] = {1, kR - 1, kR + 1, 3 * kR};
  const int64_t ins[] = {1, kC - 1, kC + 1, 2 * kC, 19};
  int i = 0;
  for (int64_t p : pixels)
    for (int64_t co : outs)
      for (int64_t ci : ins) {
        ++i;
        v.push_back(pointwise(i % 4 == 0 ? 2 : 1, ci, co, p, i % 3 == 1));
      }
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// Strides 2 and 3 on every axis (the stride-2 rows go by permutes, the others lane by lane),
// odd sizes, pad_hi that crops trailing inputs or pads where no output reads, 1D and 3D;
// ResNet-18's downsampling shapes at batch 1 (the weight gradient over a transposed panel of the
// sampled pixels) and batches of 2 to 4 (dot-product tiles over the sampled panel).
TEST(ConvPointwise, StridedAndCropped) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  const std::vector<ConvGeometry> v = {
      make_geometry(1, 64, 128, 1, {{56, 1, 2}, {56, 1, 2}}),
      make_geometry(1, 128, 256, 1, {{28, 1, 2}, {28, 1, 2}}),
      make_geometry(1, 256, 512, 1, {{14, 1, 2}, {14, 1, 2}}),
      // Batch 1, input channels around the 16 that the weight gradient's threads take at a time
      // (3 blocks between 2 threads, a partial last block).
      make_geometry(1, 48, 20, 1, {{14, 1, 2}, {14, 1, 2}}),
      make_geometry(1, 33, 70, 1, {{12, 1, 2}, {16, 1, 2}}),
      make_geometry(2, 24, 13, 1, {{45, 1, 2}, {45, 1, 2}}),
      // Batches, as select_conv takes them for the forward and backward data.
      make_geometry(4, 40, 36, 1, {{14, 1, 2}, {14, 1, 2}}),
      make_geometry(3, 20, 24, 1, {{28, 1, 2}, {28, 1, 2}}),
      make_geometry(1, 17, 9, 1, {{13, 1, 2}, {37, 1, 2}}),
      make_geometry(1, 19, 10, 1, {{9, 1, 3}, {20, 1, 3}}),
      make_geometry(3, 5, 7, 1, {{11, 1, 1}, {33, 1, 2}}),
      make_geometry(1, 9, 18, 1, {{12, 1, 2}, {11, 1, 1}}),
      make_geometry(1, 16, 33, 1, {{5, 1, 2, 1, 0, 1}, {31, 1, 2, 1, 0, 1}}),
      make_geometry(2, 7, 6, 1, {{9, 1, 1, 1, 0, -2}, {30, 1, 1, 1, 0, -5}}),
      make_geometry(1, 18, 5, 1, {{9, 1, 1, 1, 0, -2}, {30, 1, 1, 1, 0, -5}}),
      make_geometry(1, 20, 12, 1, {{65, 1, 2}}),
      make_geometry(2, 6, 11, 1, {{7, 1, 2}, {9, 1, 3}, {40, 1, 2}}),
  };
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// One strided 1D or 2D image with enough pixels splits them between the threads, each sampling
// and multiplying its own (forward), whole vectors but for the last: rows split mid-row, strides
// 2 and 3, cropped trailing inputs, pixel chunks within a thread's share; with 2 and 3 threads.
TEST(ConvPointwise, ForwardSplitsThePixelsOfOneImage) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  const std::vector<ConvGeometry> v = {
      make_geometry(1, 24, 37, 1, {{57, 1, 2}, {61, 1, 2}}),
      make_geometry(1, 17, 20, 1, {{80, 1, 3}, {70, 1, 3}}),
      make_geometry(1, 9, 70, 1, {{60, 1, 2, 1, 0, -3}, {60, 1, 2, 1, 0, -1}}),
      make_geometry(1, 160, 8, 1, {{64, 1, 2}, {66, 1, 2}}),
      make_geometry(1, 20, 12, 1, {{1601, 1, 2}}),
  };
  for (int threads : {2, 3}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    const testing::ThreadCount count(threads);
    check_all(v, kName);
  }
  // 19 threads on 4870 pixels: shares of 272, so the last thread's starts past the end.
  const testing::ThreadCount many(19);
  check_all({make_geometry(1, 3, 5, 1, {{973, 1, 2}, {19, 1, 2}})}, kName);
}

// The plane sampler against each output's input worked out on its own: 1D, 2D and 3D planes,
// strides 1 to 3, trailing inputs left unread, rows of 1 to 17 outputs (by spans up to
// kSamplerMaxRow, row by row past it), planes around 32 inputs and kSamplerMaxSpans vectors of
// outputs. Nothing is written past a plane's outputs, and ResNet-18's layer-4 downsampling goes by
// spans.
TEST(ConvPointwise, PlaneSamplerReadsEachOutputsInput) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  int by_spans = 0, planes = 0;
  for (int64_t d : {1, 3})
    for (int64_t h : {1, 4, 9, 14, 17, 33})
      for (int64_t w : {3, 7, 14, 16, 17, 33})
        for (int64_t s : {1, 2, 3})
          for (int64_t crop : {0, 1}) {
            ConvGeometry g;
            g.in = {d, h, w};
            g.stride = {d > 1 ? 2 : 1, s, s == 3 ? 2 : s};
            for (int a = 0; a < 3; ++a)
              g.out[a] = std::max<int64_t>(1, (g.in[a] - 1) / g.stride[a] + 1 - crop);
            if (g.in == g.out) continue;  // nothing to sample
            const PlaneSampler sample(g);
            std::vector<float> src(g.in_pixels()), dst(g.out_pixels() + 32, -7.0f);
            for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
            sample(src.data(), dst.data());
            by_spans += sample.by_spans();
            ++planes;
            int64_t o = 0;
            for (int64_t od = 0; od < g.out[0]; ++od)
              for (int64_t oh = 0; oh < g.out[1]; ++oh)
                for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
                  const int64_t i =
                      (od * g.stride[0] * h + oh * g.stride[1]) * w + ow * g.stride[2];
                  ASSERT_EQ(dst[o], src[i]) << "in " << d << "x" << h << "x" << w << ", stride "
                                            << s << ", crop " << crop << ", output " << o;
                }
            for (size_t i = o; i < dst.size(); ++i)
              ASSERT_EQ(dst[i], -7.0f) << "written past the outputs: " << i;
          }
  EXPECT_GT(by_spans, 20);
  EXPECT_LT(by_spans, planes);
  EXPECT_TRUE(PlaneSampler(make_geometry(1, 1, 1, 1, {{14, 1, 2}, {14, 1, 2}})).by_spans());
  EXPECT_FALSE(PlaneSampler(make_geometry(1, 1, 1, 1, {{28, 1, 2}, {28, 1, 2}})).by_spans());
}

// backward_data's last 1..kColumnPixels (4) pixels past the whole vectors go by column
// vectors of 16 rows (input channels), 4 at a time: pixel counts 16q + 0..5, input channels
// around 16 and 64, output channels (the reduction) 1 to 40, row tiles split among threads,
// strided through the panel and not.
TEST(ConvPointwise, BackwardDataLastPixelsByColumns) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t left = 0; left <= 5; ++left)
    for (int64_t ci : {1, 15, 17, 64, 65, 130})
      for (int64_t co : {1, 3, 40}) {
        ++i;
        v.push_back(pointwise(i % 4 == 0 ? 2 : 1, ci, co, (i % 3) * 16 + left + (left == 0) * 16));
      }
  // Strided 7×7 and 14×14 outputs (1 and 4 left), as ResNet-18's downsampling, and 10×10 (4).
  v.push_back(make_geometry(1, 70, 24, 1, {{14, 1, 2}, {14, 1, 2}}));
  v.push_back(make_geometry(1, 33, 19, 1, {{28, 1, 2}, {28, 1, 2}}));
  v.push_back(make_geometry(2, 18, 5, 1, {{20, 1, 2}, {19, 1, 2}}));
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// Each output is one tile's sum over the whole reduction: results are bitwise the same for any
// thread count.
TEST(ConvPointwise, BitwiseSameWithOneAndTwoThreads) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  for (const ConvGeometry& g :
       {pointwise(3, 17, 19, 53), make_geometry(1, 64, 40, 1, {{7}, {7}}),
        make_geometry(1, 48, 9, 1, {{40}, {40}}), make_geometry(2, 30, 20, 1, {{33}, {33}}),
        make_geometry(1, 40, 30, 1, {{28, 1, 2}, {28, 1, 2}}),
        make_geometry(1, 90, 20, 1, {{14, 1, 2}, {14, 1, 2}}),
        make_geometry(5, 24, 40, 1, {{14, 1, 2}, {14, 1, 2}}),
        // Pixels split between the threads (ForwardSplitsThePixelsOfOneImage): 578, the last 2
        // by dot products.
        make_geometry(1, 64, 20, 1, {{68, 1, 2}, {34, 1, 2}})}) {
    const ConvAlgorithm* algo = select_conv(g, ConvPass::kForward, "pointwise_avx512");
    ASSERT_EQ(algo->name, "pointwise_avx512");
    expect_same_bits_on_one_and_two_threads(*algo, g, 7, true);
  }
}

TEST(ConvPointwise, RefusesWhatItDoesNotCover) {
  const ConvGeometry ok = pointwise(1, 4, 4, 9);
  const ConvGeometry strided = make_geometry(1, 4, 4, 1, {{6, 1, 2}, {6, 1, 2}});
  for (ConvPass pass : kConvPasses) {
    EXPECT_EQ(conv_pointwise_supports(ok, pass), cpu_has_avx512());
    EXPECT_EQ(conv_pointwise_supports(strided, pass), cpu_has_avx512());
  }
  EXPECT_EQ(conv_pointwise_workspace_floats(ok, ConvPass::kForward), 0u);
  EXPECT_EQ(conv_pointwise_workspace_floats(ok, ConvPass::kBackwardData), 0u);
  for (ConvPass pass : kConvPasses) {
    // Grouped, larger kernels and padding that an output reads are not a plain product.
    EXPECT_FALSE(conv_pointwise_supports(make_geometry(1, 4, 4, 2, {{6}, {6}}), pass));
    EXPECT_FALSE(conv_pointwise_supports(make_geometry(1, 4, 4, 1, {{6, 3}, {6, 3}}), pass));
    EXPECT_FALSE(
        conv_pointwise_supports(make_geometry(1, 4, 4, 1, {{6, 1, 1, 1, 1, 1}, {6}}), pass));
    EXPECT_FALSE(conv_pointwise_supports(make_geometry(1, 4, 4, 1, {{6, 1, 1, 1, 0, 1}}), pass));
    EXPECT_FALSE(conv_pointwise_supports(make_geometry(1, 4, 4, 1, {{4, 1, 2, 1, 0, 1}}), pass));
  }
}

}  // namespace
}  // namespace fovea::kernels
