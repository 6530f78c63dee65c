// linear, forward and backward, held equal to PyTorch on the golden cases written by
// tests/golden/gen_linear.py.
#include <gtest/gtest.h>

#include <exception>
#include <optional>

#include "fovea/functional/linear.h"
#include "golden_helpers.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::compare_tensors;
using testing::GoldenCase;

constexpr float kRtol = 1e-5f, kAtol = 1e-6f;

void check_case(const GoldenCase& gc) {
  const bool has_bias = gc.config.at("bias").get<bool>();
  const Tensor x = gc.tensor("x"), w = gc.tensor("w"), gy = gc.tensor("gy");
  const std::optional<Tensor> b = has_bias ? std::optional(gc.tensor("b")) : std::nullopt;
  EXPECT_EQ(compare_tensors(F::linear(x, w, b), gc.tensor("y"), kRtol, kAtol), "") << "y";
  const F::LinearGradients g = F::linear_backward(gy, x, w, has_bias);
  EXPECT_EQ(compare_tensors(g.input, gc.tensor("gx"), kRtol, kAtol), "") << "gx";
  EXPECT_EQ(compare_tensors(g.weight, gc.tensor("gw"), kRtol, kAtol), "") << "gw";
  if (has_bias)
    EXPECT_EQ(compare_tensors(g.bias, gc.tensor("gb"), kRtol, kAtol), "") << "gb";
  else
    EXPECT_FALSE(g.bias.defined()) << "bias gradient of a layer without bias";
}

TEST(LinearGolden, MatchesPyTorch) {
  const auto cases = testing::golden_cases("linear");
  EXPECT_GE(cases.size(), 8u);
  testing::check_each_case(cases, check_case);
}

}  // namespace
}  // namespace fovea
