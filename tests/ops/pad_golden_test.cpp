// pad forward and backward held equal to PyTorch on the golden cases written by
// tests/golden/gen_pad.py.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "fovea/functional/pad.h"
#include "golden_helpers.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::GoldenCase;

F::PadMode mode_of(const std::string& name) {
  static const std::map<std::string, F::PadMode> modes = {{"constant", F::PadMode::kConstant},
                                                          {"reflect", F::PadMode::kReflect},
                                                          {"replicate", F::PadMode::kReplicate},
                                                          {"circular", F::PadMode::kCircular}};
  const auto it = modes.find(name);
  if (it == modes.end()) throw std::invalid_argument("golden config: mode " + name);
  return it->second;
}

TEST(PadGolden, EveryCaseForwardAndBackward) {
  int cases = 0;
  for (const GoldenCase& gc : testing::golden_cases("pad")) {
    SCOPED_TRACE(gc.name);
    const auto pad = gc.config.at("pad").get<std::vector<int64_t>>();
    const F::PadMode mode = mode_of(gc.config.at("mode"));
    const Tensor x = gc.tensor("x"), gy = gc.tensor("gy");
    // Padding copies: the forward pass is exact.
    const Tensor y = F::pad(x, pad, mode, gc.config.at("value").get<float>());
    EXPECT_EQ(testing::compare_tensors(y, gc.tensor("y"), 0.0f, 0.0f), "") << "y";
    const Tensor gx = F::pad_backward(gy, x.shape(), pad, mode);
    EXPECT_EQ(testing::compare_tensors(gx, gc.tensor("gx"), 1e-6f, 1e-6f), "") << "gx";
    ++cases;
  }
  EXPECT_GE(cases, 15);
}

}  // namespace
}  // namespace fovea
