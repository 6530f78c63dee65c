// The 1D Winograd F(6, 3) row held equal to the reference on sweeps around its tile sizes:
// tiles of 6 outputs (output lengths 1..40: remainders 0..5, less than one tile), 16-tile
// lane groups (lengths around 96 and 192) and 4-group forward blocks / 8-group weight-gradient
// blocks (lengths up to 1100), paddings 0..3 per side (negative on the right, as transposed
// convolutions pad), GEMM panels of 6/8/12/16 output channels (channel counts around them and
// around the weight gradient's 16-channel vectors), batch 1..3, one and two threads; the error
// against double precision on the suite's layer; where select_conv takes it; and the shapes it
// must refuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "conv_harness.h"
#include "kernels/conv_algorithm.h"
#include "kernels/cpu/cpu_features.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr std::string_view kName = "winograd1d_f6x3";

// A 1D 3-tap stride-1 geometry with output length `out` and the given paddings.
ConvGeometry geometry(int64_t N, int64_t C_in, int64_t C_out, int64_t out, int64_t left = 1,
                      int64_t right = 1) {
  return make_geometry(N, C_in, C_out, 1, {{out + 2 - left - right, 3, 1, 1, left, right}});
}

class ConvWinograd1d : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  }
};

TEST_F(ConvWinograd1d, OutputLengthsAroundTheTile) {
  std::vector<ConvGeometry> v;
  for (int64_t out = 1; out <= 40; ++out) {
    // Paddings cycle through 0..3 per side, capped so the input keeps at least one element.
    const int64_t left = out % 4, right = std::min<int64_t>(out / 4 % 4, out + 1 - left);
    v.push_back(geometry(1 + out % 3, 5 + out % 4, 7 + out % 3, out, left, right));
  }
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// pad_hi below zero: trailing inputs unread (transposed-convolution style geometries).
TEST_F(ConvWinograd1d, EveryPaddingPerSide) {
  std::vector<ConvGeometry> v;
  for (int64_t left = 0; left <= 3; ++left)
    for (int64_t right = -2; right <= 3; ++right)
      for (int64_t in : {5, 17, 100})
        v.push_back(make_geometry(2, 16, 16, 1, {{in, 3, 1, 1, left, right}}));
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

TEST_F(ConvWinograd1d, ChannelsAroundTheGemmPanels) {
  std::vector<ConvGeometry> v;
  for (int64_t C_in : {1, 3, 16, 17, 33})
    for (int64_t C_out : {1, 5, 6, 7, 8, 12, 13, 16, 17, 25, 49, 64, 65})
      v.push_back(geometry(C_out % 2 ? 1 : 3, C_in, C_out, 50));
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// 96 outputs are one full group, 192 two; 1 to 4 groups per forward block and 8 per weight
// block, so lengths up to 1100 give several blocks of unequal sizes per image.
TEST_F(ConvWinograd1d, LaneGroupsAndBlocks) {
  std::vector<ConvGeometry> v;
  for (int64_t out : {95, 96, 97, 191, 192, 193, 383, 384, 385, 480, 767, 769, 1024, 1100})
    for (int64_t N : {1, 2})
      v.push_back(geometry(N, 16 + out % 5, 8 + out % 7, out, out % 3, (out / 3) % 3));
  v.push_back(geometry(3, 64, 64, 1024));  // the suite's layer at batch 3
  testing::with_one_and_two_threads([&] { check_all(v, kName); });
}

// Calls f(n, oc, ic, k, o, i) for every product w[oc, ic, k] · x[n, ic, i] of a 1D 3-tap
// stride-1 correlation, output o reading input i.
template <class F>
void for_each_product(const ConvGeometry& g, F&& f) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.C_out; ++oc)
      for (int64_t ic = 0; ic < g.C_in; ++ic)
        for (int64_t k = 0; k < 3; ++k)
          for (int64_t o = 0; o < g.out[2]; ++o) {
            const int64_t i = o - g.pad_lo[2] + k;
            if (i >= 0 && i < g.in[2]) f(n, oc, ic, k, o, i);
          }
}

// y = conv(x, w) in double precision: a 1D 3-tap stride-1 forward without bias.
std::vector<double> forward_in_double(const ConvGeometry& g, const std::vector<float>& x,
                                      const std::vector<float>& w) {
  const int64_t L = g.in[2], OL = g.out[2];
  std::vector<double> y(static_cast<size_t>(g.N * g.C_out * OL), 0.0);
  for_each_product(g, [&](int64_t n, int64_t oc, int64_t ic, int64_t k, int64_t o, int64_t i) {
    y[(n * g.C_out + oc) * OL + o] +=
        double{w[(oc * g.C_in + ic) * 3 + k]} * x[(n * g.C_in + ic) * L + i];
  });
  return y;
}

// dw = Σ_n corr(x, dy) in double precision.
std::vector<double> weight_gradient_in_double(const ConvGeometry& g, const std::vector<float>& x,
                                              const std::vector<float>& dy) {
  const int64_t L = g.in[2], OL = g.out[2];
  std::vector<double> dw(static_cast<size_t>(g.C_out * g.C_in * 3), 0.0);
  for_each_product(g, [&](int64_t n, int64_t oc, int64_t ic, int64_t k, int64_t o, int64_t i) {
    dw[(oc * g.C_in + ic) * 3 + k] +=
        double{dy[(n * g.C_out + oc) * OL + o]} * x[(n * g.C_in + ic) * L + i];
  });
  return dw;
}

// Largest |got - want|.
double max_error(const std::vector<float>& got, const std::vector<double>& want) {
  double err = 0.0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - want[i]));
  return err;
}

// The suite's layer (batch 4 here) against double precision with inputs uniform in [-1, 1):
// the figures quoted in docs/conv_algorithms.md, in units of the harness tolerance.
TEST_F(ConvWinograd1d, ErrorAgainstDoubleOnTheSuiteLayer) {
  const ConvGeometry g = geometry(4, 64, 64, 1024);
  const ConvAlgorithm* im2col = select_conv(g, ConvPass::kForward, "im2col_gemm");
  ASSERT_EQ(im2col->name, "im2col_gemm");
  const ConvInputs in = random_inputs(g, 11);
  for (ConvPass pass : {ConvPass::kForward, ConvPass::kBackwardWeight}) {
    const std::vector<double> want = pass == ConvPass::kForward
                                         ? forward_in_double(g, in.x, in.w)
                                         : weight_gradient_in_double(g, in.x, in.dy);
    const double tolerance = 1e-5 * std::sqrt(static_cast<double>(reduction_length(g, pass)));
    const double wino =
        max_error(run_pass(algorithm_named(kName), g, pass, in, false), want) / tolerance;
    const double gemm = max_error(run_pass(*im2col, g, pass, in, false), want) / tolerance;
    std::printf("%-10s winograd1d %.2f tol | im2col_gemm %.2f tol\n",
                std::string(to_string(pass)).c_str(), wino, gemm);
    EXPECT_LE(wino, tolerance_scale(kName)) << to_string(pass);
  }
}

// select_conv's rule (docs/conv_algorithms.md): from 64 tiles and 4 channels (8 input channels
// for the weight gradient).
TEST_F(ConvWinograd1d, SelectedWhereItWins) {
  auto pick = [](const ConvGeometry& g, ConvPass pass) {
    return std::string(select_conv(g, pass, "")->name);
  };
  for (ConvPass pass : kConvPasses) {
    EXPECT_EQ(pick(geometry(16, 64, 64, 1024), pass), kName) << "the suite's layer";
    EXPECT_EQ(pick(geometry(1, 32, 32, 4096), pass), kName) << "one long row";
    EXPECT_NE(pick(geometry(1, 256, 256, 64), pass), kName) << "11 tiles";
    EXPECT_NE(pick(geometry(16, 64, 3, 1024), pass), kName) << "3 output channels";
  }
  EXPECT_EQ(pick(geometry(16, 4, 4, 1024), ConvPass::kForward), kName);
  EXPECT_NE(pick(geometry(16, 4, 4, 1024), ConvPass::kBackwardWeight), kName)
      << "4 input channels in 16-channel vectors";
}

TEST_F(ConvWinograd1d, SupportsEveryPass) {
  const ConvGeometry g = geometry(1, 16, 16, 64);
  for (ConvPass pass : kConvPasses)
    EXPECT_TRUE(algorithm_named(kName).supports(g, pass)) << to_string(pass);
}

TEST_F(ConvWinograd1d, RefusesOtherShapes) {
  const std::vector<ConvGeometry> refused = {
      make_geometry(1, 16, 16, 2, {{33, 3, 1, 1, 1, 1}}),                     // groups
      make_geometry(1, 16, 16, 1, {{33, 3, 2, 1, 1, 1}}),                     // stride 2
      make_geometry(1, 16, 16, 1, {{33, 3, 1, 2, 2, 2}}),                     // dilation 2
      make_geometry(1, 16, 16, 1, {{33, 5, 1, 1, 2, 2}}),                     // kernel 5
      make_geometry(1, 16, 16, 1, {{33, 1}}),                                 // kernel 1
      make_geometry(1, 16, 16, 1, {{9, 3, 1, 1, 1, 1}, {9, 3, 1, 1, 1, 1}}),  // 2D 3x3
      make_geometry(1, 16, 16, 1, {{9, 3, 1, 1, 1, 1}, {9, 1}}),              // 2D 3x1
      make_geometry(1, 16, 16, 1, {{3, 3}, {6, 3}, {6, 3}}),                  // 3D
  };
  for (const ConvGeometry& g : refused)
    for (ConvPass pass : kConvPasses)
      EXPECT_FALSE(algorithm_named(kName).supports(g, pass)) << describe(g);
}

}  // namespace
}  // namespace fovea::kernels
