// interpolate forward and backward held equal to PyTorch on the golden cases written by
// tests/golden/gen_interpolate.py.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "fovea/functional/interpolate.h"
#include "golden_helpers.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::GoldenCase;
using Json = nlohmann::json;

// The forward pass reproduces PyTorch's float32 arithmetic, so its tolerance is tight.
constexpr float kOutputRtol = 1e-6f, kOutputAtol = 1e-6f;
constexpr float kGradRtol = 1e-5f, kGradAtol = 1e-5f;

F::InterpolateMode mode_of(const std::string& name) {
  static const std::map<std::string, F::InterpolateMode> modes = {
      {"nearest", F::InterpolateMode::kNearest},
      {"nearest-exact", F::InterpolateMode::kNearestExact},
      {"linear", F::InterpolateMode::kLinear},
      {"bilinear", F::InterpolateMode::kBilinear},
      {"bicubic", F::InterpolateMode::kBicubic},
      {"trilinear", F::InterpolateMode::kTrilinear}};
  const auto it = modes.find(name);
  if (it == modes.end()) throw std::invalid_argument("golden config: mode " + name);
  return it->second;
}

// A per-axis list of the config, or absent for null.
template <int D, class T>
F::OptionalPerAxis<D, T> per_axis(const Json& values) {
  if (values.is_null()) return {};
  return testing::per_axis<D, T>(values);
}

template <int D>
F::InterpolateOptions<D> options_of(const Json& c) {
  F::InterpolateOptions<D> o{.size = per_axis<D, int64_t>(c.at("size")),
                             .scale_factor = per_axis<D, double>(c.at("scale_factor")),
                             .mode = mode_of(c.at("mode")),
                             .recompute_scale_factor = c.at("recompute_scale_factor")};
  if (!c.at("align_corners").is_null()) o.align_corners = c.at("align_corners").get<bool>();
  return o;
}

template <int D>
void check_case(const GoldenCase& gc) {
  const auto o = options_of<D>(gc.config);
  const Tensor x = gc.tensor("x"), gy = gc.tensor("gy");
  const Tensor y = F::interpolate(x, o);
  EXPECT_EQ(testing::compare_tensors(y, gc.tensor("y"), kOutputRtol, kOutputAtol), "") << "y";
  const Tensor gx = F::interpolate_backward(gy, x.shape(), o);
  EXPECT_EQ(testing::compare_tensors(gx, gc.tensor("gx"), kGradRtol, kGradAtol), "") << "gx";
}

TEST(InterpolateGolden, EveryCaseForwardAndBackward) {
  int cases = 0;
  for (const GoldenCase& gc : testing::golden_cases("interpolate")) {
    SCOPED_TRACE(gc.name);
    switch (gc.config.at("dims").get<int>()) {
      case 1:
        check_case<1>(gc);
        break;
      case 2:
        check_case<2>(gc);
        break;
      case 3:
        check_case<3>(gc);
        break;
      default:
        FAIL() << "golden config: dims must be 1, 2 or 3";
    }
    ++cases;
  }
  EXPECT_GE(cases, 35);
}

}  // namespace
}  // namespace fovea
