// The Winograd rows on 3D convolutions (3x3x3 kernel, stride 1; conv_winograd3d.cpp), every
// pass, held equal to the reference: output depths 1..5 with every padding 0..2 per side (zero
// planes at the depth borders, asymmetric too), planes around the 4x4 and 2x2 tiles and the
// 64-tile blocks, channels 1..5, 16 and 17 on either side (3C virtual channels), batches 1..3,
// output depths 7..9 (the ring of 8 transformed planes moving, or on two threads the planes cut
// into chunks), bias and clamp; the forward and backward data bitwise equal on one and two
// threads; the shapes they must refuse; and the largest error against double precision on the
// suite's layer at a smaller size.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "conv_harness.h"
#include "kernels/conv_algorithm.h"
#include "thread_counts.h"
#include "winograd_row_test.h"

namespace fovea::kernels {
namespace {

// A 3x3x3 stride-1 geometry with output size (od, oh, ow) and paddings (lo, hi) per axis.
ConvGeometry geometry(int64_t N, int64_t C_in, int64_t C_out, int64_t od, int64_t oh, int64_t ow,
                      int64_t front = 1, int64_t back = 1, int64_t top = 1, int64_t bottom = 1,
                      int64_t left = 1, int64_t right = 1) {
  return make_geometry(N, C_in, C_out, 1,
                       {three_tap_axis(od, front, back), three_tap_axis(oh, top, bottom),
                        three_tap_axis(ow, left, right)});
}

class ConvWinograd3dRows : public WinogradRowTest {};
INSTANTIATE_TEST_SUITE_P(BothTileSizes, ConvWinograd3dRows, kWinogradRows, winograd_row_name);

// Output depths 1..5 with every depth padding 0..2 per side (inputs down to one plane), and
// paddings of the plane cycling through 0..2 per side on planes not a multiple of the tiles.
TEST_P(ConvWinograd3dRows, DepthsAndPaddings) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t od = 1; od <= 5; ++od)
    for (int64_t front = 0; front <= 2; ++front)
      for (int64_t back = 0; back <= 2; ++back, ++i) {
        if (od + 2 - front - back < 1) continue;
        const int64_t top = i % 3, bottom = (i / 3) % 3, left = (i + 1) % 3, right = (i / 2) % 3;
        v.push_back(geometry(1 + i % 2, 3, 5, od, 5 + i % 4, 7 + i % 3, front, back, top, bottom,
                             left, right));
      }
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// Channels 1..5, 16 and 17 on either side: 3 to 51 virtual channels, GEMM panels of 1 to 17 rows.
TEST_P(ConvWinograd3dRows, Channels) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t C_in : {1, 2, 3, 4, 5, 16, 17})
    for (int64_t C_out : {1, 2, 3, 5, 16, 17})
      v.push_back(geometry(1 + i++ % 3, C_in, C_out, 2, 6, 9));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// Planes around the tiles (outputs 1..9 per side), one 64-tile block and more (20x20 and 33x17
// outputs: 25 and 45 F(4x4) tiles, 100 and 153 F(2x2) ones), and output depths 7, 8, 9 of one
// 16-tile group: on one thread the ring of 8 input planes is full and moves its last two to the
// front, on two the output planes are cut into 7 or 8 chunks (8 units for 2 threads); 3 over
// three images.
TEST_P(ConvWinograd3dRows, PlanesAndDepths) {
  std::vector<ConvGeometry> v;
  for (int64_t oh = 1; oh <= 9; oh += 2)
    for (int64_t ow = 1; ow <= 9; ow += 3) v.push_back(geometry(1, 4, 4, 2, oh, ow));
  v.push_back(geometry(2, 16, 17, 3, 20, 20));
  v.push_back(geometry(1, 5, 16, 2, 33, 17, 0, 2, 2, 0, 1, 2));
  for (int64_t od : {7, 8, 9}) v.push_back(geometry(1, 4, 5, od, 6, 6));
  v.push_back(geometry(3, 4, 5, 3, 6, 6, 2, 0));
  testing::with_one_and_two_threads([&] { check_all(v, name()); });
}

// The forward and backward data: each output is one GEMM over all 3C virtual channels, whichever
// thread runs it, so the same on any number of threads. (Not the weight gradient, whose threads
// may sum their own tiles, as in 2D.)
TEST_P(ConvWinograd3dRows, SameBitsOnOneAndTwoThreads) {
  const int before = omp_get_max_threads();
  for (const ConvGeometry& g :
       {geometry(1, 4, 5, 2, 9, 9), geometry(2, 16, 17, 5, 12, 12), geometry(1, 3, 4, 9, 7, 7)}) {
    const ConvInputs in = random_inputs(g, 3);
    for (ConvPass pass : {ConvPass::kForward, ConvPass::kBackwardData}) {
      omp_set_num_threads(1);
      const std::vector<float> one = run_pass(algo(), g, pass, in, true, true);
      omp_set_num_threads(2);
      EXPECT_EQ(run_pass(algo(), g, pass, in, true, true), one) << to_string(pass) << describe(g);
    }
  }
  omp_set_num_threads(before);
}

TEST_P(ConvWinograd3dRows, RefusesWhatItCannotDo) {
  const auto axes = [](Axis depth) {
    return std::vector<Axis>{depth, {8, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}};
  };
  const ConvGeometry good = make_geometry(1, 4, 4, 1, axes({6, 3, 1, 1, 1, 1}));
  EXPECT_TRUE(algo().supports(good, ConvPass::kForward));
  EXPECT_TRUE(algo().supports(good, ConvPass::kBackwardData));
  EXPECT_TRUE(algo().supports(good, ConvPass::kBackwardWeight));
  // Fewer than 4 channels on a side: the weight gradient is left to direct_avx512.
  EXPECT_FALSE(algo().supports(make_geometry(1, 3, 4, 1, axes({6, 3, 1, 1, 1, 1})),
                               ConvPass::kBackwardWeight));
  EXPECT_FALSE(algo().supports(make_geometry(1, 4, 3, 1, axes({6, 3, 1, 1, 1, 1})),
                               ConvPass::kBackwardWeight));
  std::vector<ConvGeometry> bad = {
      make_geometry(1, 4, 4, 1, axes({6, 3, 2, 1, 1, 1})),  // stride 2 in depth
      make_geometry(1, 4, 4, 1, axes({6, 3, 1, 2, 2, 2})),  // dilation 2 in depth
      make_geometry(1, 4, 4, 1, axes({6, 5, 1, 1, 2, 2})),  // kernel 5 in depth
      make_geometry(1, 4, 4, 1, axes({6, 3, 1, 1, 3, 1})),  // padding 3
      make_geometry(1, 4, 4, 2, axes({6, 3, 1, 1, 1, 1})),  // groups
      make_geometry(1, 4, 4, 1,
                    {{6, 3, 1, 1, 1, 1}, {8, 3, 2, 1, 1, 1}, {8, 3, 1, 1, 1, 1}}),  // stride 2
      make_geometry(1, 4, 4, 1,
                    {{6, 3, 1, 1, 1, 1}, {8, 5, 1, 1, 2, 2}, {8, 5, 1, 1, 2, 2}}),  // 3x5x5
      make_geometry(1, 4, 4, 1, {{6, 2, 1, 1, 0, 0}, {8, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}})};
  for (const ConvGeometry& g : bad)
    for (ConvPass pass : kConvPasses) EXPECT_FALSE(algo().supports(g, pass)) << describe(g);
}

// The forward (backward data with dy for x, transposed: y[n][c] += dy[n][k] * w[k][c]) of a
// 3x3x3 stride-1 convolution in double precision.
std::vector<double> pass_in_double(const ConvGeometry& g, ConvPass pass, const ConvInputs& in) {
  const bool bwd = pass == ConvPass::kBackwardData;
  const Dims3 &src = bwd ? g.out : g.in, &dst = bwd ? g.in : g.out;
  const int64_t C = bwd ? g.C_out : g.C_in, K = bwd ? g.C_in : g.C_out;
  const std::vector<float>& x = bwd ? in.dy : in.x;
  std::vector<double> y(static_cast<size_t>(g.N * K * dst[0] * dst[1] * dst[2]), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < 27; ++t) {
          const int64_t kd = t / 9, kh = t / 3 % 3, kw = t % 3;
          // Backward data reads the flipped taps with padding 2 - pad.
          const double wt = bwd ? in.w[(c * K + k) * 27 + 26 - t] : in.w[(k * C + c) * 27 + t];
          for (int64_t o0 = 0; o0 < dst[0]; ++o0) {
            const int64_t i0 = o0 + kd - (bwd ? 2 - g.pad_lo[0] : g.pad_lo[0]);
            if (i0 < 0 || i0 >= src[0]) continue;
            for (int64_t o1 = 0; o1 < dst[1]; ++o1) {
              const int64_t i1 = o1 + kh - (bwd ? 2 - g.pad_lo[1] : g.pad_lo[1]);
              if (i1 < 0 || i1 >= src[1]) continue;
              for (int64_t o2 = 0; o2 < dst[2]; ++o2) {
                const int64_t i2 = o2 + kw - (bwd ? 2 - g.pad_lo[2] : g.pad_lo[2]);
                if (i2 < 0 || i2 >= src[2]) continue;
                y[(((n * K + k) * dst[0] + o0) * dst[1] + o1) * dst[2] + o2] +=
                    wt * x[(((n * C + c) * src[0] + i0) * src[1] + i1) * src[2] + i2];
              }
            }
          }
        }
  return y;
}

// dw = Σ_n corr(x, dy) of a 3x3x3 stride-1 layer in double precision.
std::vector<double> weight_gradient_in_double(const ConvGeometry& g, const ConvInputs& in) {
  std::vector<double> dw(static_cast<size_t>(g.C_out * g.C_in * 27), 0.0);
  const Dims3 &I = g.in, &O = g.out;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t k = 0; k < g.C_out; ++k)
      for (int64_t c = 0; c < g.C_in; ++c)
        for (int64_t t = 0; t < 27; ++t) {
          double sum = 0.0;
          for (int64_t o0 = 0; o0 < O[0]; ++o0) {
            const int64_t i0 = o0 + t / 9 - g.pad_lo[0];
            if (i0 < 0 || i0 >= I[0]) continue;
            for (int64_t o1 = 0; o1 < O[1]; ++o1) {
              const int64_t i1 = o1 + t / 3 % 3 - g.pad_lo[1];
              if (i1 < 0 || i1 >= I[1]) continue;
              for (int64_t o2 = 0; o2 < O[2]; ++o2) {
                const int64_t i2 = o2 + t % 3 - g.pad_lo[2];
                if (i2 < 0 || i2 >= I[2]) continue;
                sum += static_cast<double>(
                           in.dy[(((n * g.C_out + k) * O[0] + o0) * O[1] + o1) * O[2] + o2]) *
                       in.x[(((n * g.C_in + c) * I[0] + i0) * I[1] + i1) * I[2] + i2];
              }
            }
          }
          dw[(k * g.C_in + c) * 27 + t] += sum;
        }
  return dw;
}

// The suite's layer (16 -> 32 channels, padding 1) at 4x32x32: the largest error against double
// precision in units of the harness tolerance (1e-5 sqrt(reduction)), printed for
// docs/conv_algorithms.md, held to the Winograd scale.
TEST_P(ConvWinograd3dRows, ErrorAgainstDoubleOnTheSuiteLayer) {
  const ConvGeometry g = geometry(1, 16, 32, 4, 32, 32);
  const ConvInputs in = random_inputs(g, 11);
  for (ConvPass pass : kConvPasses) {
    const std::vector<float> got = run_pass(algo(), g, pass, in, false);
    const std::vector<double> want = pass == ConvPass::kBackwardWeight
                                         ? weight_gradient_in_double(g, in)
                                         : pass_in_double(g, pass, in);
    ASSERT_EQ(got.size(), want.size());
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
    const double tolerance = 1e-5 * std::sqrt(static_cast<double>(reduction_length(g, pass)));
    std::printf("%s %s: max abs error %.2e (%.2f tol)\n", std::string(name()).c_str(),
                std::string(to_string(pass)).c_str(), worst, worst / tolerance);
    EXPECT_LE(worst, tolerance_scale(name()) * tolerance) << to_string(pass);
  }
}

}  // namespace
}  // namespace fovea::kernels
