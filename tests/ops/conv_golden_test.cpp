// Conv and transposed conv, forward and backward, held equal to PyTorch on the golden cases
// written by tests/golden/gen_conv.py, under every algorithm in the kernel table (and the
// automatic choice).
#include <gtest/gtest.h>

#include <array>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "conv_dispatch.h"
#include "conv_harness.h"
#include "fovea/functional/conv.h"
#include "golden_helpers.h"
#include "kernels/conv_algorithm.h"
#include "ops/conv_call.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::GoldenCase;
using testing::per_axis;
using Json = nlohmann::json;

constexpr float kOutputRtol = 1e-4f, kOutputAtol = 1e-5f;
constexpr float kGradRtol = 1e-3f, kGradAtol = 1e-4f;

// The config's padding: {"mode": "explicit"|"same"|"valid"|"full", "lo": [..], "hi": [..]}.
template <int D>
Padding<D> padding_of(const Json& p) {
  const std::string mode = p.at("mode");
  if (mode == "same") return Same{};
  if (mode == "valid") return Valid{};
  if (mode == "full") return Full{};
  if (mode != "explicit") throw std::invalid_argument("golden config: padding mode " + mode);
  const auto lo = per_axis<D>(p.at("lo")), hi = per_axis<D>(p.at("hi"));
  return lo == hi ? Padding<D>(lo) : Padding<D>::asymmetric(lo, hi);
}

template <int D>
F::ConvOptions<D> conv_options(const Json& c) {
  return {.stride = per_axis<D>(c.at("stride")),
          .padding = padding_of<D>(c.at("padding")),
          .dilation = per_axis<D>(c.at("dilation")),
          .groups = c.at("groups").get<int64_t>(),
          .flip_kernel = c.at("flip").get<bool>()};
}

template <int D>
F::ConvTransposeOptions<D> conv_transpose_options(const Json& c) {
  const Json& p = c.at("padding");
  if (p.at("mode") != "explicit" || p.at("lo") != p.at("hi"))
    throw std::invalid_argument("golden config: transposed conv padding must be symmetric");
  return {.stride = per_axis<D>(c.at("stride")),
          .padding = per_axis<D>(p.at("lo")),
          .output_padding = per_axis<D>(c.at("output_padding")),
          .dilation = per_axis<D>(c.at("dilation")),
          .groups = c.at("groups").get<int64_t>()};
}

// Runs the case's forward and backward through Fovea and compares every output to PyTorch's.
template <class Options>
void check_case(const GoldenCase& gc, const Options& o) {
  const bool has_bias = gc.config.at("bias").get<bool>();
  const Tensor x = gc.tensor("x"), w = gc.tensor("w"), gy = gc.tensor("gy");
  const std::optional<Tensor> b = has_bias ? std::optional(gc.tensor("b")) : std::nullopt;

  const Tensor y = testing::conv(x, w, b, o);
  EXPECT_EQ(testing::compare_tensors(y, gc.tensor("y"), kOutputRtol, kOutputAtol), "") << "y";

  const F::ConvGradients g = testing::conv_backward(gy, x, w, has_bias, o);
  EXPECT_EQ(testing::compare_tensors(g.input, gc.tensor("gx"), kGradRtol, kGradAtol), "") << "gx";
  EXPECT_EQ(testing::compare_tensors(g.weight, gc.tensor("gw"), kGradRtol, kGradAtol), "") << "gw";
  if (has_bias)
    EXPECT_EQ(testing::compare_tensors(g.bias, gc.tensor("gb"), kGradRtol, kGradAtol), "") << "gb";
  else
    EXPECT_FALSE(g.bias.defined()) << "bias gradient of a layer without bias";
}

template <int D>
void check_case(const GoldenCase& gc) {
  if (gc.config.at("kind") == "conv")
    check_case(gc, conv_options<D>(gc.config));
  else
    check_case(gc, conv_transpose_options<D>(gc.config));
}

void check_case(const GoldenCase& gc) {
  switch (gc.config.at("dims").get<int>()) {
    case 1:
      return check_case<1>(gc);
    case 2:
      return check_case<2>(gc);
    case 3:
      return check_case<3>(gc);
  }
  FAIL() << "golden config: dims must be 1, 2 or 3";
}

// Every algorithm by name, then "" (Fovea's own choice per shape) and autotuning.
std::vector<std::string> algorithms_and_auto() {
  std::vector<std::string> names = conv_algorithm_names();
  names.emplace_back("");
  names.emplace_back(kConvAutotune);
  return names;
}

void check_kind(const std::string& kind) {
  int cases = 0;
  for (const GoldenCase& gc : testing::golden_cases("conv")) {
    if (gc.config.at("kind") != kind) continue;
    ++cases;
    for (const std::string& algo : algorithms_and_auto()) {
      SCOPED_TRACE("case " + gc.name + ", algorithm '" + (algo.empty() ? "auto" : algo) + "'");
      ConvAlgorithmGuard guard(algo);
      try {
        check_case(gc);
      } catch (const std::exception& e) {  // one bad case must not hide the others
        ADD_FAILURE() << "threw: " << e.what();
      }
    }
  }
  EXPECT_GT(cases, 0) << "no golden cases of kind " << kind;
}

TEST(ConvGolden, ConvMatchesPyTorch) {
  check_kind("conv");
}

TEST(ConvGolden, ConvTransposeMatchesPyTorch) {
  check_kind("conv_transpose");
}

// The golden set keeps its promised breadth: enough cases, every rank of both kinds.
TEST(ConvGolden, CoversEveryRankOfBothKinds) {
  const auto cases = testing::golden_cases("conv");
  EXPECT_GE(cases.size(), 70u);
  int transposed = 0;
  for (const std::string kind : {"conv", "conv_transpose"})
    for (int dims = 1; dims <= 3; ++dims) {
      int n = 0;
      for (const GoldenCase& gc : cases)
        n += gc.config.at("kind") == kind && gc.config.at("dims") == dims;
      EXPECT_GT(n, 0) << kind << dims << "d";
      if (kind == "conv_transpose") transposed += n;
    }
  EXPECT_GE(transposed, 20);
}

// The kernel passes a golden case runs: a transposed convolution's forward is its adjoint's
// backward_data and the other way round.
template <int D>
std::vector<std::pair<kernels::ConvGeometry, kernels::ConvPass>> kernel_calls(
    const GoldenCase& gc) {
  using kernels::ConvPass;
  const Shape x = gc.tensor("x").shape(), w = gc.tensor("w").shape();
  const std::optional<Shape> b;
  if (gc.config.at("kind") == "conv") {
    const auto g = ops::conv_call<D>("conv", x, w, b, conv_options<D>(gc.config)).g;
    return {{g, ConvPass::kForward}, {g, ConvPass::kBackwardData}, {g, ConvPass::kBackwardWeight}};
  }
  const auto g =
      ops::conv_transpose_call<D>("conv_transpose", x, w, b, conv_transpose_options<D>(gc.config))
          .g;
  return {{g, ConvPass::kBackwardData}, {g, ConvPass::kForward}, {g, ConvPass::kBackwardWeight}};
}

// Forcing an algorithm runs it wherever it supports the shape and the default elsewhere, so
// the golden tests above prove something about an algorithm only if some case reaches it:
// every pass of every algorithm must be reached by at least one case.
TEST(ConvGolden, EveryAlgorithmRunsEveryPassItHasOnSomeCase) {
  std::map<std::pair<std::string, kernels::ConvPass>, int> reached;
  for (const GoldenCase& gc : testing::golden_cases("conv")) {
    const int dims = gc.config.at("dims").get<int>();
    const auto calls = dims == 1   ? kernel_calls<1>(gc)
                       : dims == 2 ? kernel_calls<2>(gc)
                                   : kernel_calls<3>(gc);
    for (const auto& [g, pass] : calls)
      for (const kernels::ConvAlgorithm& a : kernels::conv_algorithms())
        if (a.supports(g, pass)) ++reached[{std::string(a.name), pass}];
  }
  for (const kernels::ConvAlgorithm& a : kernels::conv_algorithms()) {
    if (!kernels::isa_available(a.isa)) continue;  // this CPU runs none of its shapes
    const bool has[] = {a.forward != nullptr, a.backward_data != nullptr,
                        a.backward_weight != nullptr};
    for (int p = 0; p < 3; ++p)
      if (has[p]) {
        const auto pass = kernels::kConvPasses[p];
        EXPECT_GT((reached[{std::string(a.name), pass}]), 0)
            << a.name << " " << kernels::to_string(pass) << " runs on no golden case";
      }
  }
}

}  // namespace
}  // namespace fovea
