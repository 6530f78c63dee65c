// The one harness that holds every fast convolution kernel equal to the reference (STYLE.md
// habit 2): every row of conv_algorithms() but "reference", every pass it supports, on a sweep
// of geometries built directly (not through the ops door). Outputs and workspace are
// NaN-filled, so elements a kernel forgets to write show up; buffers are std::vectors of
// exactly the promised size, so an AddressSanitizer build catches overruns.
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

#include "fovea/random.h"
#include "kernels/conv_geometry.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr ConvPass kPasses[] = {ConvPass::kForward, ConvPass::kBackwardData,
                                ConvPass::kBackwardWeight};

// One spatial axis of a geometry. pad_hi may be below pad_lo (transposed-convolution style,
// pad_hi = padding - output_padding) and even negative: trailing inputs then go unread.
struct Axis {
  int64_t in, k = 1, s = 1, d = 1, lo = 0, hi = 0;
};

// Axes are given outermost first; a D-dimensional conv fills the last D of (D, H, W).
ConvGeometry make_geometry(int64_t N, int64_t C_in, int64_t C_out, int64_t groups,
                           const std::vector<Axis>& axes) {
  ConvGeometry g;
  g.N = N;
  g.C_in = C_in;
  g.C_out = C_out;
  g.groups = groups;
  g.spatial_dims = static_cast<int>(axes.size());
  for (size_t a = 0; a < axes.size(); ++a) {
    const size_t i = 3 - axes.size() + a;
    const Axis& x = axes[a];
    g.in[i] = x.in;
    g.kernel[i] = x.k;
    g.stride[i] = x.s;
    g.dilation[i] = x.d;
    g.pad_lo[i] = x.lo;
    g.pad_hi[i] = x.hi;
    g.out[i] = (x.in + x.lo + x.hi - x.d * (x.k - 1) - 1) / x.s + 1;
  }
  return g;
}

bool valid(const ConvGeometry& g) {
  if (g.groups < 1 || g.C_in % g.groups != 0 || g.C_out % g.groups != 0) return false;
  for (int i = 0; i < 3; ++i) {
    const int64_t span = g.in[i] + g.pad_lo[i] + g.pad_hi[i] - g.dilation[i] * (g.kernel[i] - 1);
    if (span < 1 || g.pad_lo[i] < 0 || g.out[i] < 1) return false;
  }
  return true;
}

std::string describe(const ConvGeometry& g) {
  auto axes = [&](const Dims3& v) {
    std::vector<int64_t> s(v.begin() + (3 - g.spatial_dims), v.end());
    return fmt::format("[{}]", fmt::join(s, ","));
  };
  return fmt::format(
      "{}D N={} C_in={} C_out={} groups={} in={} kernel={} stride={} dilation={} pad_lo={} "
      "pad_hi={} out={}",
      g.spatial_dims, g.N, g.C_in, g.C_out, g.groups, axes(g.in), axes(g.kernel), axes(g.stride),
      axes(g.dilation), axes(g.pad_lo), axes(g.pad_hi), axes(g.out));
}

std::vector<float> random_vector(int64_t n, Generator& gen) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = gen.uniform(-1.0f, 1.0f);
  return v;
}

// "" when every element of `actual` is within 1e-5 * sqrt(reduction) of `expected` (inputs
// are in [-1, 1], so a sum of L products has rounding error growing like sqrt(L)); NaN, from
// an unwritten element, always fails.
std::string compare(const std::vector<float>& actual, const std::vector<float>& expected,
                    int64_t reduction) {
  const double tol = 1e-5 * std::sqrt(static_cast<double>(std::max<int64_t>(reduction, 1)));
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double err = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (!(err <= tol)) {
      if (first < 0) first = static_cast<int64_t>(i);
      ++bad;
    }
  }
  if (bad == 0) return "";
  return fmt::format("{} of {} elements differ (tolerance {:.3g}); first at {}: got {}, want {}",
                     bad, actual.size(), tol, first, actual[first], expected[first]);
}

// Longest sum behind one output element of each pass.
int64_t reduction_length(const ConvGeometry& g, ConvPass pass) {
  switch (pass) {
    case ConvPass::kForward:
      return g.C_in_per_group() * g.kernel_pixels();
    case ConvPass::kBackwardData:
      return g.C_out_per_group() * g.kernel_pixels();
    case ConvPass::kBackwardWeight:
      return g.N * g.out_pixels();
  }
  return 1;
}

// Runs one pass of `algo` on NaN-filled output and workspace buffers of exactly the promised
// sizes; with_bias adds a bias to the forward pass.
std::vector<float> run_pass(const ConvAlgorithm& algo, const ConvGeometry& g, ConvPass pass,
                            const std::vector<float>& x, const std::vector<float>& w,
                            const std::vector<float>& b, const std::vector<float>& dy,
                            bool with_bias) {
  std::vector<float> workspace(algo.workspace_floats(g, pass), kNaN);
  float* ws = workspace.empty() ? nullptr : workspace.data();
  std::vector<float> out;
  switch (pass) {
    case ConvPass::kForward:
      out.assign(dy.size(), kNaN);
      algo.forward(g, x.data(), w.data(), with_bias ? b.data() : nullptr, out.data(), ws);
      break;
    case ConvPass::kBackwardData:
      out.assign(x.size(), kNaN);
      algo.backward_data(g, dy.data(), w.data(), out.data(), ws);
      break;
    case ConvPass::kBackwardWeight:
      out.assign(w.size(), kNaN);
      algo.backward_weight(g, x.data(), dy.data(), out.data(), ws);
      break;
  }
  return out;
}

const ConvAlgorithm& reference() {
  return conv_algorithms()[0];
}

struct Inputs {
  std::vector<float> x, w, b, dy;
};

Inputs random_inputs(const ConvGeometry& g, uint64_t seed) {
  Generator gen(seed);
  Inputs in;
  in.x = random_vector(g.N * g.C_in * g.in_pixels(), gen);
  in.w = random_vector(g.C_out * g.C_in_per_group() * g.kernel_pixels(), gen);
  in.b = random_vector(g.C_out, gen);
  in.dy = random_vector(g.N * g.C_out * g.out_pixels(), gen);
  return in;
}

// Every non-reference algorithm against the reference on g, every pass it supports (forward
// with and without bias). Returns one line per mismatch; counts the checks run.
std::vector<std::string> check_geometry(const ConvGeometry& g, uint64_t seed, int64_t& checks) {
  std::vector<std::string> failures;
  const Inputs in = random_inputs(g, seed);
  for (const ConvAlgorithm& algo : conv_algorithms()) {
    if (algo.name == reference().name) continue;
    for (ConvPass pass : kPasses) {
      if (!algo.supports(g, pass)) continue;
      for (bool bias : {false, true}) {
        if (bias && pass != ConvPass::kForward) continue;
        const auto want = run_pass(reference(), g, pass, in.x, in.w, in.b, in.dy, bias);
        const auto got = run_pass(algo, g, pass, in.x, in.w, in.b, in.dy, bias);
        ++checks;
        const std::string why = compare(got, want, reduction_length(g, pass) + (bias ? 1 : 0));
        if (!why.empty())
          failures.push_back(fmt::format("{} {}{}: {}: {}", algo.name, to_string(pass),
                                         bias ? "+bias" : "", describe(g), why));
      }
    }
  }
  return failures;
}

void check_all(const std::vector<ConvGeometry>& geometries) {
  int64_t checks = 0, failed = 0;
  uint64_t seed = 1;
  for (const ConvGeometry& g : geometries) {
    ASSERT_TRUE(valid(g)) << describe(g);
    for (const std::string& f : check_geometry(g, seed++, checks))
      if (++failed <= 20) ADD_FAILURE() << f;
  }
  EXPECT_EQ(failed, 0) << "mismatches in " << checks << " checks";
  EXPECT_GT(checks, 0);
}

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
    const Inputs in = random_inputs(g, 7);
    for (const ConvAlgorithm& algo : conv_algorithms()) {
      for (ConvPass pass : kPasses) {
        if (!algo.supports(g, pass)) continue;
        omp_set_num_threads(1);
        const auto one = run_pass(algo, g, pass, in.x, in.w, in.b, in.dy, true);
        omp_set_num_threads(2);
        const auto two = run_pass(algo, g, pass, in.x, in.w, in.b, in.dy, true);
        EXPECT_EQ(compare(two, one, reduction_length(g, pass)), "")
            << algo.name << " " << to_string(pass) << ": " << describe(g);
        const auto want = run_pass(reference(), g, pass, in.x, in.w, in.b, in.dy, true);
        EXPECT_EQ(compare(two, want, reduction_length(g, pass)), "")
            << algo.name << " " << to_string(pass) << ": " << describe(g);
      }
    }
  }
  omp_set_num_threads(before);
}

TEST(SelectConv, ForcedNames) {
  const ConvGeometry g = make_geometry(2, 3, 4, 1, {{8, 3}, {8, 3}});
  for (ConvPass pass : kPasses) {
    EXPECT_EQ(select_conv(g, pass, "no_such_algorithm"), nullptr);
    const ConvAlgorithm* ref = select_conv(g, pass, "reference");
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(ref->name, "reference");
    EXPECT_EQ(ref, &conv_algorithms()[0]);
    for (const ConvAlgorithm& algo : conv_algorithms()) {
      const ConvAlgorithm* forced = select_conv(g, pass, algo.name);
      EXPECT_EQ(forced, algo.supports(g, pass) ? &algo : nullptr) << algo.name;
    }
  }
}

TEST(SelectConv, DefaultChoiceSupportsTheShape) {
  std::vector<ConvGeometry> shapes = named_geometries();
  shapes.push_back(make_geometry(8, 64, 64, 1, {{28, 3, 1, 1, 1, 1}, {28, 3, 1, 1, 1, 1}}));
  shapes.push_back(make_geometry(1, 1, 1, 1, {{1, 1}}));
  for (const ConvGeometry& g : shapes)
    for (ConvPass pass : kPasses) {
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
        EXPECT_FALSE(algo.supports(g, kPasses[p]))
            << algo.name << " has no " << to_string(kPasses[p]) << " function but supports "
            << describe(g);
    }
  }
  // The reference supports everything.
  for (const ConvGeometry& g : shapes)
    for (ConvPass pass : kPasses) EXPECT_TRUE(all[0].supports(g, pass)) << describe(g);
}

TEST(ConvBackwardBias, SumsOverBatchAndPixels) {
  // dy (N=2, C=2, P=3)
  const float dy[] = {1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60};
  float db[2] = {kNaN, kNaN};
  conv_backward_bias(2, 2, 3, dy, db);
  EXPECT_FLOAT_EQ(db[0], 21.0f);
  EXPECT_FLOAT_EQ(db[1], 210.0f);
}

}  // namespace
}  // namespace fovea::kernels
