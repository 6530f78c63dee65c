#include "conv_harness.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fovea/random.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_vector(int64_t n, Generator& gen) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = gen.uniform(-1.0f, 1.0f);
  return v;
}

// Every checked algorithm against the reference on g; one line per mismatch.
std::vector<std::string> check_geometry(const ConvGeometry& g, uint64_t seed, std::string_view only,
                                        int64_t& checks) {
  std::vector<std::string> failures;
  const ConvInputs in = random_inputs(g, seed);
  for (const ConvAlgorithm& algo : conv_algorithms()) {
    if (algo.name == reference_algorithm().name) continue;
    if (algo.name.find(only) == std::string_view::npos) continue;
    for (ConvPass pass : kConvPasses) {
      if (!algo.supports(g, pass)) continue;
      // Forward: plain, with bias, with bias and a fused clamp (the epilogue), and where the
      // row fuses one, with bias, a residual and the clamp.
      for (int variant = 0; variant < 4; ++variant) {
        if (variant > 0 && pass != ConvPass::kForward) continue;
        if (variant == 3 && !algo.fuses_residual) continue;
        const bool bias = variant > 0, clamp = variant >= 2, residual = variant == 3;
        const auto want = run_pass(reference_algorithm(), g, pass, in, bias, clamp, residual);
        const auto got = run_pass(algo, g, pass, in, bias, clamp, residual);
        ++checks;
        const std::string why =
            compare(got, want, reduction_length(g, pass) + (bias ? 1 : 0) + (residual ? 1 : 0),
                    tolerance_scale(algo.name));
        if (!why.empty())
          failures.push_back(fmt::format("{} {}{}{}{}: {}: {}", algo.name, to_string(pass),
                                         bias ? "+bias" : "", residual ? "+residual" : "",
                                         clamp ? "+clamp" : "", describe(g), why));
      }
    }
  }
  return failures;
}

}  // namespace

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

double tolerance_scale(std::string_view algorithm) {
  // Winograd F(4x4, 3x3) rounds in its transforms too (coefficients up to 8 in Aᵀ, 5 in Bᵀ,
  // 1/24 in G): on the ResNet-18 3x3 shapes with uniform inputs its largest error is 1.0-2.2
  // times the default tolerance, 15-35 times im2col_gemm's (docs/conv_algorithms.md).
  if (algorithm.starts_with("winograd")) return 5.0;
  return 1.0;
}

std::string compare(const std::vector<float>& actual, const std::vector<float>& expected,
                    int64_t reduction, double scale) {
  const double tol = scale * 1e-5 * std::sqrt(static_cast<double>(std::max<int64_t>(reduction, 1)));
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

ConvEpilogue forward_epilogue(const ConvInputs& in, bool with_bias, bool clamp, bool residual) {
  ConvEpilogue ep{.bias = with_bias ? in.b.data() : nullptr,
                  .residual = residual ? in.r.data() : nullptr};
  if (clamp) ep.lo = kClampLo, ep.hi = kClampHi;
  return ep;
}

ConvInputs random_inputs(const ConvGeometry& g, uint64_t seed) {
  Generator gen(seed);
  ConvInputs in;
  in.x = random_vector(g.N * g.C_in * g.in_pixels(), gen);
  in.w = random_vector(g.C_out * g.C_in_per_group() * g.kernel_pixels(), gen);
  in.b = random_vector(g.C_out, gen);
  in.dy = random_vector(g.N * g.C_out * g.out_pixels(), gen);
  in.r = random_vector(g.N * g.C_out * g.out_pixels(), gen);
  return in;
}

std::vector<float> run_pass(const ConvAlgorithm& algo, const ConvGeometry& g, ConvPass pass,
                            const ConvInputs& in, bool with_bias, bool clamp, bool residual) {
  std::vector<float> workspace(algo.workspace_floats(g, pass), kNaN);
  float* ws = workspace.empty() ? nullptr : workspace.data();
  std::vector<float> out;
  switch (pass) {
    case ConvPass::kForward:
      out.assign(in.dy.size(), kNaN);
      algo.forward(g, in.x.data(), in.w.data(), forward_epilogue(in, with_bias, clamp, residual),
                   out.data(), ws);
      break;
    case ConvPass::kBackwardData:
      out.assign(in.x.size(), kNaN);
      algo.backward_data(g, in.dy.data(), in.w.data(), out.data(), ws);
      break;
    case ConvPass::kBackwardWeight:
      out.assign(in.w.size(), kNaN);
      algo.backward_weight(g, in.x.data(), in.dy.data(), out.data(), ws);
      break;
  }
  return out;
}

void expect_same_bits_on_one_and_two_threads(const ConvAlgorithm& algo, const ConvGeometry& g,
                                             uint64_t seed, bool clamp) {
  const ConvInputs in = random_inputs(g, seed);
  const int before = omp_get_max_threads();
  for (ConvPass pass : kConvPasses) {
    if (!algo.supports(g, pass)) continue;
    omp_set_num_threads(1);
    const auto one = run_pass(algo, g, pass, in, true, clamp, algo.fuses_residual);
    omp_set_num_threads(2);
    EXPECT_EQ(run_pass(algo, g, pass, in, true, clamp, algo.fuses_residual), one)
        << algo.name << " " << to_string(pass) << ": " << describe(g);
  }
  omp_set_num_threads(before);
}

const ConvAlgorithm& reference_algorithm() {
  return conv_algorithms()[0];
}

const ConvAlgorithm& algorithm_named(std::string_view name) {
  const auto all = conv_algorithms();
  const auto it = std::ranges::find(all, name, &ConvAlgorithm::name);
  if (it == all.end()) throw std::logic_error("no " + std::string(name) + " row");
  return *it;
}

void check_all(const std::vector<ConvGeometry>& geometries, std::string_view only) {
  int64_t checks = 0, failed = 0;
  uint64_t seed = 1;
  for (const ConvGeometry& g : geometries) {
    ASSERT_TRUE(valid(g)) << describe(g);
    for (const std::string& f : check_geometry(g, seed++, only, checks))
      if (++failed <= 20) ADD_FAILURE() << f;
  }
  EXPECT_EQ(failed, 0) << "mismatches in " << checks << " checks";
  EXPECT_GT(checks, 0) << "no algorithm matching '" << only << "' supports these shapes";
}

}  // namespace fovea::kernels
