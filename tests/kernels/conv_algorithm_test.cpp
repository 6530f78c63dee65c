// Every row of conv_algorithms() but "reference" held equal to the reference (the harness in
// tests/conv_harness.h), every pass it supports, on general sweeps of geometries built directly
// (not through the ops door); plus the selector's and the table's own contracts. Each fast
// kernel's test adds sweeps around its own tile sizes.
#include "kernels/conv_algorithm.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "conv_harness.h"
#include "kernels/conv_geometry.h"
#include "kernels/cpu/cpu_features.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Hand-picked shapes, each named for what it exercises.
std::vector<ConvGeometry> named_geometries() {
  std::vector<ConvGeometry> v;
  for (int64_t N : {1, 2, 3, 5}) {
    // 1D / 2D / 3D basics.
    v.push_back(make_geometry(N, 3, 4, 1, {{9, 3}}));
    v.push_back(make_geometry(N, 3, 5, 1, {{7, 3, 1, 1, 1, 1}, {8, 3, 1, 1, 1, 1}}));
    v.push_back(make_geometry(N, 2, 3, 1, {{4, 2}, {5, 3, 1, 1, 1, 1}, {6, 3, 2, 1, 1, 1}}));
    // Pointwise 1x1 stride 1 (x is the col matrix) and 1x1 stride 2 (not pointwise).
    v.push_back(make_geometry(N, 4, 6, 1, {{5, 1}, {7, 1}}));
    v.push_back(make_geometry(N, 4, 6, 2, {{5, 1}, {7, 1}}));
    v.push_back(make_geometry(N, 4, 6, 1, {{5, 1, 2}, {7, 1, 2}}));
    v.push_back(make_geometry(N, 3, 2, 1, {{9, 1, 2}}));
    v.push_back(make_geometry(N, 2, 3, 1, {{3, 1}, {4, 1}, {5, 1}}));
    // 1x1 with padding: kernel 1, stride 1, but not pointwise.
    v.push_back(make_geometry(N, 3, 2, 1, {{4, 1, 1, 1, 1, 1}, {5, 1, 1, 1, 0, 2}}));
    // Groups: 2, depthwise, depthwise with multiplier 2 and 3.
    v.push_back(make_geometry(N, 4, 6, 2, {{6, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}}));
    v.push_back(make_geometry(N, 5, 5, 5, {{6, 3, 1, 1, 1, 1}, {7, 3, 2, 1, 1, 1}}));
    v.push_back(make_geometry(N, 4, 8, 4, {{8, 3, 2, 1, 1, 1}, {8, 3, 2, 1, 1, 1}}));
    v.push_back(make_geometry(N, 3, 9, 3, {{11, 5, 1, 2, 4, 4}}));
    v.push_back(make_geometry(N, 2, 4, 2, {{4, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}, {5, 3}}));
    // Stride and dilation up to 3, non-square.
    v.push_back(make_geometry(N, 2, 3, 1, {{13, 3, 3, 1, 0, 0}, {11, 2, 2, 1, 0, 0}}));
    v.push_back(make_geometry(N, 2, 3, 1, {{12, 3, 1, 3, 3, 3}, {9, 3, 1, 2, 2, 2}}));
    v.push_back(make_geometry(N, 2, 2, 1, {{15, 4, 3, 2, 1, 2}, {10, 5, 2, 3, 0, 3}}));
    // Asymmetric padding, and padding as large as the kernel (outputs reading only padding).
    v.push_back(make_geometry(N, 2, 3, 1, {{6, 3, 1, 1, 0, 2}, {7, 4, 1, 1, 2, 1}}));
    v.push_back(make_geometry(N, 1, 2, 1, {{5, 3, 1, 1, 3, 3}, {4, 2, 1, 1, 2, 2}}));
    v.push_back(make_geometry(N, 2, 2, 1, {{6, 3, 2, 1, 3, 0}, {6, 3, 2, 2, 0, 3}}));
    // Transposed-conv style: pad_hi = padding - output_padding < pad_lo, even negative.
    v.push_back(make_geometry(N, 3, 2, 1, {{8, 3, 2, 1, 1, 0}, {10, 4, 2, 1, 1, 0}}));
    v.push_back(make_geometry(N, 2, 3, 1, {{9, 3, 3, 1, 1, -1}, {9, 3, 3, 1, 2, 0}}));
    v.push_back(make_geometry(N, 2, 2, 1, {{8, 3, 1, 2, 0, -1}}));
    v.push_back(make_geometry(N, 4, 2, 2, {{7, 2, 2, 1, 0, -1}, {6, 3, 2, 1, 1, 0}}));
    // Kernel as large as the (padded) input: one output pixel.
    v.push_back(make_geometry(N, 3, 4, 1, {{5, 5}, {3, 5, 1, 1, 1, 1}}));
  }
  // Output widths 1..17, around small tile sizes, for the reference-heavy 2D case.
  for (int64_t ow = 1; ow <= 17; ++ow)
    for (int64_t N : {1, 3})
      v.push_back(make_geometry(N, 3, 4, 1, {{4, 3, 1, 1, 1, 1}, {ow + 2, 3}}));
  return v;
}

TEST(ConvAlgorithm, MatchesReferenceOnNamedShapes) {
  check_all(named_geometries());
}

// Every kernel size 1..5 x stride 1..3 x dilation 1..3 x lo 0..k x hi in {lo-1, lo, lo+1} on
// a 1D convolution, batch 1 and 3, with and without groups.
TEST(ConvAlgorithm, MatchesReferenceOn1dSweep) {
  std::vector<ConvGeometry> v;
  int i = 0;
  for (int64_t k = 1; k <= 5; ++k)
    for (int64_t s = 1; s <= 3; ++s)
      for (int64_t d = 1; d <= 3; ++d)
        for (int64_t lo = 0; lo <= k; ++lo)
          for (int64_t hi = lo - 1; hi <= lo + 1; ++hi) {
            const int64_t in = d * (k - 1) + 1 + (i % 6);
            const int64_t groups = i % 3 == 2 ? 2 : 1;
            const ConvGeometry g = make_geometry(i % 2 ? 3 : 1, 2 * groups, 2 + groups, groups,
                                                 {{in, k, s, d, lo, hi}});
            ++i;
            if (valid(g)) v.push_back(g);
          }
  check_all(v);
}

// Seeded random 2D and 3D geometries: every option at once, output sizes 1..17.
std::vector<ConvGeometry> random_geometries(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<ConvGeometry> v;
  while (static_cast<int>(v.size()) < count) {
    const int dims = pick(0, 3) == 0 ? 3 : 2;
    const int64_t N = std::array<int64_t, 4>{1, 2, 3, 5}[pick(0, 3)];
    int64_t groups = 1, C_in = pick(1, 4), C_out = pick(1, 4);
    switch (pick(0, 3)) {
      case 0:
        break;
      case 1:  // two groups
        groups = 2, C_in *= 2, C_out *= 2;
        break;
      case 2:  // depthwise
        groups = C_in, C_out = C_in;
        break;
      case 3:  // depthwise with multiplier
        groups = C_in, C_out = C_in * pick(2, 3);
        break;
    }
    std::vector<Axis> axes;
    for (int a = 0; a < dims; ++a) {
      Axis x;
      const bool small = dims == 3;
      x.k = pick(1, small ? 3 : 5);
      x.s = pick(1, 3);
      x.d = pick(1, 3);
      x.lo = pick(0, x.k);
      x.hi = pick(0, 4) == 0 ? x.lo - pick(0, std::min<int64_t>(x.lo + 1, x.s)) : pick(0, x.k);
      const int64_t out = pick(1, small ? 5 : 17);
      // Smallest input giving `out` outputs, plus up to stride-1 unread trailing pixels.
      x.in = (out - 1) * x.s + x.d * (x.k - 1) + 1 - x.lo - x.hi + pick(0, x.s - 1);
      if (x.in < 1) x.in = 1;
      axes.push_back(x);
    }
    const ConvGeometry g = make_geometry(N, C_in, C_out, groups, axes);
    if (valid(g)) v.push_back(g);
  }
  return v;
}

TEST(ConvAlgorithm, MatchesReferenceOnRandomShapes) {
  check_all(random_geometries(300, 2024));
}

// Results do not depend on the thread count: one thread, and two (where N >= threads splits
// images over threads and N = 1 threads inside im2col and the GEMM).
TEST(ConvAlgorithm, SameResultsWithOneAndTwoThreads) {
  const int before = omp_get_max_threads();
  for (int64_t N : {1, 4}) {
    const ConvGeometry g = make_geometry(N, 4, 6, 2, {{9, 3, 2, 1, 1, 0}, {12, 3, 1, 2, 2, 2}});
    const ConvInputs in = random_inputs(g, 7);
    for (const ConvAlgorithm& algo : conv_algorithms()) {
      for (ConvPass pass : kConvPasses) {
        if (!algo.supports(g, pass)) continue;
        omp_set_num_threads(1);
        const auto one = run_pass(algo, g, pass, in, true);
        omp_set_num_threads(2);
        const auto two = run_pass(algo, g, pass, in, true);
        EXPECT_EQ(compare(two, one, reduction_length(g, pass), tolerance_scale(algo.name)), "")
            << algo.name << " " << to_string(pass) << ": " << describe(g);
        const auto want = run_pass(reference_algorithm(), g, pass, in, true);
        EXPECT_EQ(compare(two, want, reduction_length(g, pass), tolerance_scale(algo.name)), "")
            << algo.name << " " << to_string(pass) << ": " << describe(g);
      }
    }
  }
  omp_set_num_threads(before);
}

// A forced name wins wherever that algorithm supports the shape and pass; elsewhere, and for
// names not in the table, the default choice stands.
TEST(SelectConv, ForcedNames) {
  const ConvGeometry g = make_geometry(2, 3, 4, 1, {{8, 3}, {8, 3}});
  for (ConvPass pass : kConvPasses) {
    const ConvAlgorithm* chosen = select_conv(g, pass, "");
    ASSERT_NE(chosen, nullptr);
    EXPECT_EQ(select_conv(g, pass, "no_such_algorithm"), chosen);
    const ConvAlgorithm* ref = select_conv(g, pass, "reference");
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(ref, &conv_algorithms()[0]);
    for (const ConvAlgorithm& algo : conv_algorithms()) {
      const ConvAlgorithm* forced = select_conv(g, pass, algo.name);
      EXPECT_EQ(forced, algo.supports(g, pass) ? &algo : chosen) << algo.name;
    }
  }
}

// The measured preferences of select_conv, on suite shapes (docs/conv_algorithms.md).
TEST(SelectConv, PicksTheKernelThatWonOnEachKindOfLayer) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "the fast rows need AVX-512";
  auto pick = [](const ConvGeometry& g, ConvPass pass) {
    return std::string(select_conv(g, pass, "")->name);
  };
  const auto same3x3 = Axis{56, 3, 1, 1, 1, 1};
  const ConvGeometry depthwise = make_geometry(1, 144, 144, 144, {same3x3, same3x3});
  const ConvGeometry dense = make_geometry(1, 64, 64, 1, {same3x3, same3x3});
  const ConvGeometry l4 = make_geometry(1, 512, 512, 1, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}});
  const ConvGeometry volume =
      make_geometry(2, 16, 32, 1, {{16, 3, 1, 1, 1, 1}, {16, 3, 1, 1, 1, 1}, {16, 3, 1, 1, 1, 1}});
  // 4 4x4 tiles per depth plane, 32 over the batch, but a tile group holds one plane's.
  const ConvGeometry small_planes =
      make_geometry(8, 64, 64, 1, {{4, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}});
  const ConvGeometry volume_stem = make_geometry(2, 1, 16, 1, {same3x3, same3x3, same3x3});
  const ConvGeometry l3 = make_geometry(1, 256, 256, 1, {{14, 3, 1, 1, 1, 1}, {14, 3, 1, 1, 1, 1}});
  const ConvGeometry grouped =
      make_geometry(1, 256, 256, 32, {{14, 3, 1, 1, 1, 1}, {14, 3, 1, 1, 1, 1}});
  const ConvGeometry strided =
      make_geometry(1, 64, 128, 1, {{56, 3, 2, 1, 1, 1}, {56, 3, 2, 1, 1, 1}});
  const ConvGeometry strided_batch =
      make_geometry(16, 64, 128, 1, {{56, 3, 2, 1, 1, 1}, {56, 3, 2, 1, 1, 1}});
  // grouped_avx512 takes stride 1 and at most 16 channels per group; the rest stays direct.
  const ConvGeometry grouped_strided =
      make_geometry(1, 256, 256, 32, {{28, 3, 2, 1, 1, 1}, {28, 3, 2, 1, 1, 1}});
  const ConvGeometry grouped_wide =
      make_geometry(1, 1024, 1024, 32, {{7, 3, 1, 1, 1, 1}, {7, 3, 1, 1, 1, 1}});
  const ConvGeometry pointwise = make_geometry(1, 960, 320, 1, {{7}, {7}});
  const ConvGeometry pointwise_batch = make_geometry(16, 32, 16, 1, {{112}, {112}});
  const ConvGeometry dilated =
      make_geometry(1, 128, 128, 1, {{28, 3, 1, 2, 2, 2}, {28, 3, 1, 2, 2, 2}});
  for (ConvPass pass : kConvPasses) {
    EXPECT_EQ(pick(dilated, pass), "winograd_f4x3") << "4 phases of 4x4 tiles";
    EXPECT_EQ(pick(depthwise, pass), "depthwise");
    EXPECT_EQ(pick(grouped, pass), "grouped_avx512");
    EXPECT_EQ(pick(grouped_wide, pass), "direct_avx512") << "32 channels per group";
    // 3D: no 27x column matrix; Winograd on 16 tiles of one depth plane (the weight gradient:
    // of all planes).
    const bool weight = pass == ConvPass::kBackwardWeight;
    EXPECT_EQ(pick(volume, pass), "winograd_f4x3");
    EXPECT_EQ(pick(small_planes, pass), weight ? "winograd_f4x3" : "winograd_f2x3");
    EXPECT_EQ(pick(volume_stem, pass), weight ? "direct_avx512" : "winograd_f4x3");
  }
  EXPECT_EQ(pick(strided, ConvPass::kForward), "direct_avx512") << "batch 1";
  EXPECT_EQ(pick(grouped_strided, ConvPass::kForward), "direct_avx512") << "stride 2";
  EXPECT_EQ(pick(strided, ConvPass::kBackwardData), "im2col_gemm");
  EXPECT_EQ(pick(strided_batch, ConvPass::kForward), "direct_avx512");
  EXPECT_EQ(pick(strided_batch, ConvPass::kBackwardWeight), "direct_avx512")
      << "each thread sums its own input channels";
  EXPECT_EQ(pick(strided_batch, ConvPass::kBackwardData), "im2col_gemm");
  EXPECT_EQ(pick(dense, ConvPass::kForward), "winograd_f4x3");
  EXPECT_EQ(pick(dense, ConvPass::kBackwardData), "winograd_f4x3");
  EXPECT_EQ(pick(dense, ConvPass::kBackwardWeight), "winograd_f4x3");
  // 4 tiles of 4x4 (F(4x4)'s lanes would idle), 16 of 2x2.
  EXPECT_EQ(pick(l4, ConvPass::kForward), "winograd_f2x3");
  EXPECT_EQ(pick(l4, ConvPass::kBackwardData), "winograd_f2x3");
  EXPECT_EQ(pick(l4, ConvPass::kBackwardWeight), "winograd_f2x3");
  EXPECT_EQ(pick(l3, ConvPass::kForward), "winograd_f4x3");
  EXPECT_EQ(pick(l3, ConvPass::kBackwardWeight), "winograd_f4x3") << "16 tiles";
  EXPECT_EQ(pick(pointwise, ConvPass::kForward), "pointwise_avx512") << "batch 1";
  EXPECT_EQ(pick(pointwise, ConvPass::kBackwardData), "im2col_gemm");
  EXPECT_EQ(pick(pointwise_batch, ConvPass::kForward), "im2col_gemm");
  const ConvGeometry downsample_batch = make_geometry(16, 128, 256, 1, {{28, 1, 2}, {28, 1, 2}});
  EXPECT_EQ(pick(downsample_batch, ConvPass::kForward), "pointwise_avx512") << "strided batch";
  EXPECT_EQ(pick(downsample_batch, ConvPass::kBackwardData), "pointwise_avx512");
  EXPECT_EQ(pick(downsample_batch, ConvPass::kBackwardWeight), "im2col_gemm");
  const ConvGeometry wide_downsample = make_geometry(16, 64, 128, 1, {{56, 1, 2}, {56, 1, 2}});
  EXPECT_EQ(pick(wide_downsample, ConvPass::kForward), "pointwise_avx512");
  EXPECT_EQ(pick(wide_downsample, ConvPass::kBackwardData), "im2col_gemm") << "784 pixels";
}

// Without AVX-512 (an AVX2 CPU such as AMD's Zen 3): depthwise layers on their AVX2 row, every
// pass (MobileNet-v2's 144-channel 56x56 layer 1.6-3.3x faster than on direct_avx2, whose tiles
// are blocks of output channels: one per group here); grouped ones on direct_avx2.
TEST(SelectConv, PicksTheAvx2RowsWithoutAvx512) {
  if (cpu_has_avx512() || !cpu_has_avx2_fma()) GTEST_SKIP() << "for CPUs with AVX2, not AVX-512";
  const auto same3x3 = Axis{56, 3, 1, 1, 1, 1};
  const ConvGeometry depthwise = make_geometry(1, 144, 144, 144, {same3x3, same3x3});
  const ConvGeometry grouped =
      make_geometry(1, 256, 256, 32, {{14, 3, 1, 1, 1, 1}, {14, 3, 1, 1, 1, 1}});
  for (ConvPass pass : kConvPasses) {
    EXPECT_EQ(std::string(select_conv(depthwise, pass, "")->name), "depthwise_avx2");
    EXPECT_EQ(std::string(select_conv(grouped, pass, "")->name), "direct_avx2");
  }
}

TEST(SelectConv, DefaultChoiceSupportsTheShape) {
  std::vector<ConvGeometry> shapes = named_geometries();
  shapes.push_back(make_geometry(8, 64, 64, 1, {{28, 3, 1, 1, 1, 1}, {28, 3, 1, 1, 1, 1}}));
  shapes.push_back(make_geometry(1, 1, 1, 1, {{1, 1}}));
  for (const ConvGeometry& g : shapes)
    for (ConvPass pass : kConvPasses) {
      const ConvAlgorithm* a = select_conv(g, pass, "");
      ASSERT_NE(a, nullptr) << describe(g);
      EXPECT_TRUE(a->supports(g, pass)) << a->name << ": " << describe(g);
    }
}

TEST(SelectConv, TableRowsAreUniqueAndComplete) {
  const auto all = conv_algorithms();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].name, "reference");
  std::set<std::string_view> names;
  const std::vector<ConvGeometry> shapes = named_geometries();
  for (const ConvAlgorithm& algo : all) {
    EXPECT_FALSE(algo.name.empty());
    EXPECT_TRUE(names.insert(algo.name).second) << "duplicate name " << algo.name;
    ASSERT_NE(algo.supports, nullptr) << algo.name;
    ASSERT_NE(algo.workspace_floats, nullptr) << algo.name;
    // A missing pass function is allowed only where supports() refuses that pass.
    const bool has[] = {algo.forward != nullptr, algo.backward_data != nullptr,
                        algo.backward_weight != nullptr};
    for (int p = 0; p < 3; ++p) {
      if (has[p]) continue;
      for (const ConvGeometry& g : shapes)
        EXPECT_FALSE(algo.supports(g, kConvPasses[p]))
            << algo.name << " has no " << to_string(kConvPasses[p]) << " function but supports "
            << describe(g);
    }
  }
  // A row compiled for an instruction set this CPU lacks takes no shape.
  for (const ConvAlgorithm& algo : all) {
    if (isa_available(algo.isa)) continue;
    for (const ConvGeometry& g : shapes)
      for (ConvPass pass : kConvPasses) {
        EXPECT_FALSE(algo.supports(g, pass)) << algo.name << " without its ISA: " << describe(g);
      }
  }
  // The reference supports everything.
  for (const ConvGeometry& g : shapes)
    for (ConvPass pass : kConvPasses) EXPECT_TRUE(all[0].supports(g, pass)) << describe(g);
}

TEST(ConvBackwardBias, SumsOverBatchAndPixels) {
  // dy (N=2, C=2, P=3)
  const float dy[] = {1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60};
  float db[2] = {kNaN, kNaN};
  conv_backward_bias(2, 2, 3, dy, db);
  EXPECT_FLOAT_EQ(db[0], 21.0f);
  EXPECT_FLOAT_EQ(db[1], 210.0f);
}

// Large enough to run on the team: every channel's sum within float rounding of a double sum,
// the same bits on one thread and two, and an odd pixel count past the vector lanes.
TEST(ConvBackwardBias, LargeSumsAreAccurateAndIndependentOfThreads) {
  constexpr int64_t N = 8, C = 5, P = 28 * 28 + 3;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> dy(N * C * P);
  for (float& v : dy) v = u(rng) + 0.25f;  // a bias the sums keep
  const int before = omp_get_max_threads();
  std::array<std::vector<float>, 2> db;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    db[threads - 1].assign(C, kNaN);
    conv_backward_bias(N, C, P, dy.data(), db[threads - 1].data());
  }
  omp_set_num_threads(before);
  EXPECT_EQ(db[0], db[1]);
  for (int64_t c = 0; c < C; ++c) {
    double want = 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t p = 0; p < P; ++p) want += dy[(n * C + c) * P + p];
    EXPECT_NEAR(db[0][c], want, 1e-6 * std::fabs(want)) << "channel " << c;
  }
}

}  // namespace
}  // namespace fovea::kernels
