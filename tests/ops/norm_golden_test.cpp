// Batch norm forward, backward and running-estimate updates held equal to PyTorch on the
// golden cases written by tests/golden/gen_norm.py, step after step.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "fovea/functional/norm.h"
#include "golden_helpers.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::compare_tensors;
using testing::GoldenCase;

constexpr float kOutputRtol = 1e-5f, kOutputAtol = 1e-5f;
constexpr float kGradRtol = 1e-4f, kGradAtol = 1e-5f;

void check_case(const GoldenCase& gc) {
  const auto& c = gc.config;
  const F::BatchNormOptions o{.training = c.at("training").get<bool>(),
                              .momentum = c.at("momentum").get<double>(),
                              .eps = c.at("eps").get<double>()};
  const bool affine = c.at("affine").get<bool>(), running = c.at("running").get<bool>();
  // The case's running estimates before the first step, updated by every training step.
  const Tensor running_mean = running ? gc.tensor("running_mean") : Tensor();
  const Tensor running_var = running ? gc.tensor("running_var") : Tensor();
  const std::optional<Tensor> weight = affine ? std::optional(gc.tensor("weight")) : std::nullopt;
  const std::optional<Tensor> bias = affine ? std::optional(gc.tensor("bias")) : std::nullopt;

  for (int step = 0; step < c.at("steps").get<int>(); ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    auto at = [&](const std::string& key) { return gc.tensor(key + "_" + std::to_string(step)); };
    const Tensor x = at("x");
    const F::BatchNormForward f =
        F::batch_norm_forward(x, running_mean, running_var, weight, bias, o);
    EXPECT_EQ(compare_tensors(f.output, at("y"), kOutputRtol, kOutputAtol), "") << "y";
    if (running) {
      EXPECT_EQ(compare_tensors(running_mean, at("running_mean"), kOutputRtol, kOutputAtol), "")
          << "running_mean";
      EXPECT_EQ(compare_tensors(running_var, at("running_var"), kOutputRtol, kOutputAtol), "")
          << "running_var";
    }
    if (o.training) {
      EXPECT_EQ(compare_tensors(f.save_mean, at("save_mean"), kOutputRtol, kOutputAtol), "")
          << "save_mean";
      EXPECT_EQ(compare_tensors(f.save_invstd, at("save_invstd"), kOutputRtol, kOutputAtol), "")
          << "save_invstd";
    }

    const F::BatchNormGradients g =
        F::batch_norm_backward(at("gy"), x, weight, f.save_mean, f.save_invstd, o);
    EXPECT_EQ(compare_tensors(g.input, at("gx"), kGradRtol, kGradAtol), "") << "gx";
    if (affine) {
      EXPECT_EQ(compare_tensors(g.weight, at("gw"), kGradRtol, kGradAtol), "") << "gw";
      EXPECT_EQ(compare_tensors(g.bias, at("gb"), kGradRtol, kGradAtol), "") << "gb";
    }
  }
}

TEST(NormGolden, AllCases) {
  const auto cases = testing::golden_cases("norm");
  EXPECT_GE(cases.size(), 15u);
  for (const GoldenCase& gc : cases) {
    SCOPED_TRACE(gc.name + " " + gc.config.dump());
    check_case(gc);
  }
}

}  // namespace
}  // namespace fovea
