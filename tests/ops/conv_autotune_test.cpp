#include "ops/conv_autotune.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "conv_harness.h"
#include "fovea/functional/conv.h"
#include "fovea/random.h"

namespace fovea::ops {
namespace {

using kernels::ConvAlgorithm;
using kernels::ConvGeometry;
using kernels::ConvPass;
using kernels::make_geometry;

// The first call for a shape times every supporting candidate (more than once each) and picks
// one of them; a second call for the same shape and pass runs nothing.
TEST(ConvAutotune, TimesCandidatesOnceThenCaches) {
  const ConvGeometry g = make_geometry(2, 8, 8, 1, {{12, 3, 1, 1, 1, 1}, {13, 3, 1, 1, 1, 1}});
  for (ConvPass pass : kernels::kConvPasses) {
    std::map<std::string, int> runs;
    const auto count = [&](const ConvAlgorithm& a) { ++runs[std::string(a.name)]; };
    const ConvAlgorithm& first = autotuned_conv(g, pass, count);
    EXPECT_TRUE(first.supports(g, pass)) << first.name;
    EXPECT_NE(first.name, "reference") << "the reference is a candidate only as a last resort";
    int candidates = 0;
    for (const ConvAlgorithm& a : kernels::conv_algorithms())
      if (a.name != "reference" && a.supports(g, pass)) {
        ++candidates;
        if (runs.size() > 1) {
          EXPECT_GE(runs[std::string(a.name)], 2) << a.name;
        }
      }
    EXPECT_EQ(runs.size() > 1, candidates > 1);
    runs.clear();
    const ConvAlgorithm& again = autotuned_conv(g, pass, count);
    EXPECT_EQ(&again, &first);
    EXPECT_TRUE(runs.empty()) << "a cached shape ran " << runs.begin()->first;
  }
}

// Through the public API: "autotune" gives the reference's numbers, on the first (tuning)
// call and on later (cached) calls.
TEST(ConvAutotune, PublicModeMatchesTheReference) {
  namespace F = fovea::functional;
  Generator gen(5);
  const Tensor x = Tensor::randn({2, 6, 11, 9}, &gen), w = Tensor::randn({4, 3, 3, 3}, &gen);
  const Tensor b = Tensor::randn({4}, &gen);
  const F::Conv2dOptions o{.stride = {2, 1}, .padding = 1, .groups = 2};
  Tensor want;
  {
    ConvAlgorithmGuard guard("reference");
    want = F::conv2d(x, w, b, o);
  }
  ConvAlgorithmGuard guard(kConvAutotune);
  for (int call = 0; call < 2; ++call)
    EXPECT_TRUE(allclose(F::conv2d(x, w, b, o), want, 1e-4f, 1e-5f)) << "call " << call;
}

}  // namespace
}  // namespace fovea::ops
