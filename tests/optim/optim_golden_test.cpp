// Optimizers, max-norm and gradient clipping held equal to torch.optim / torch.nn.utils on the
// golden cases written by tests/golden/gen_optim.py.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fovea/optim/constraint.h"
#include "golden_helpers.h"
#include "optim/optim_config.h"

namespace fovea {
namespace {

using testing::compare_tensors;
using testing::GoldenCase;

constexpr float kRtol = 1e-5f, kAtol = 1e-6f;

std::vector<GoldenCase> cases_of(const std::string& kind) {
  std::vector<GoldenCase> out;
  for (GoldenCase& c : testing::golden_cases("optim"))
    if (c.config.at("kind") == kind) out.push_back(std::move(c));
  return out;
}

TEST(OptimGolden, Optimizers) {
  const auto cases = cases_of("optimizer");
  ASSERT_GE(cases.size(), 15u);
  for (const GoldenCase& c : cases) {
    SCOPED_TRACE(c.name);
    const auto n = c.config.at("params").get<int64_t>();
    const auto steps = c.config.at("steps").get<int64_t>();
    const Tensor has_grad = c.tensor("has_grad");  // [steps, n]
    std::vector<Tensor> params, grads, expected;
    for (int64_t i = 0; i < n; ++i) {
      params.push_back(c.tensor("param" + std::to_string(i)));
      params.back().requires_grad_();
      grads.push_back(c.tensor("grad" + std::to_string(i)));
      expected.push_back(c.tensor("expected" + std::to_string(i)));
    }
    auto opt = testing::make_optimizer(c.config.at("optimizer"), c.config.at("options"), params);
    std::unique_ptr<optim::LRScheduler> schedule;
    if (c.config.contains("schedule"))
      schedule = testing::make_scheduler(*opt, c.config.at("schedule"));
    for (int64_t s = 0; s < steps; ++s) {
      for (int64_t i = 0; i < n; ++i)
        params[i].set_grad(has_grad(s, i) != 0 ? testing::row_of(grads[i], s) : Tensor());
      opt->step();
      if (schedule) schedule->step();
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(compare_tensors(params[i], testing::row_of(expected[i], s), kRtol, kAtol), "")
            << "parameter " << i << " after step " << s;
    }
  }
}

TEST(OptimGolden, MaxNorm) {
  const auto cases = cases_of("max_norm");
  ASSERT_GE(cases.size(), 5u);
  for (const GoldenCase& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor w = c.tensor("weight");
    optim::max_norm_(w, c.config.at("max_norm").get<double>(), c.config.at("dim").get<int64_t>(),
                     testing::norm_type_of(c.config.at("norm_type")));
    EXPECT_EQ(compare_tensors(w, c.tensor("expected"), kRtol, kAtol), "");
  }
}

// Parameters with the golden gradients (none where has_grad is 0).
std::vector<Tensor> params_with_grads(const GoldenCase& c) {
  std::vector<Tensor> params;
  for (int64_t i = 0; i < c.config.at("params").get<int64_t>(); ++i) {
    const Tensor g = c.tensor("grad" + std::to_string(i));
    params.push_back(Tensor::zeros(g.shape()).requires_grad_());
    if (!c.has("has_grad") || c.tensor("has_grad")(i) != 0) params.back().set_grad(g);
  }
  return params;
}

TEST(OptimGolden, ClipGradNorm) {
  const auto cases = cases_of("clip_grad_norm");
  ASSERT_GE(cases.size(), 5u);
  for (const GoldenCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<Tensor> params = params_with_grads(c);
    const double total = optim::clip_grad_norm_(params, c.config.at("max_norm").get<double>(),
                                                testing::norm_type_of(c.config.at("norm_type")));
    const float expected_total = c.tensor("total_norm")(0);
    EXPECT_NEAR(total, expected_total, kRtol * expected_total);
    for (size_t i = 0; i < params.size(); ++i) {
      if (!params[i].grad().defined()) continue;
      EXPECT_EQ(
          compare_tensors(params[i].grad(), c.tensor("expected" + std::to_string(i)), kRtol, kAtol),
          "")
          << "gradient " << i;
    }
  }
}

TEST(OptimGolden, ClipGradValue) {
  const auto cases = cases_of("clip_grad_value");
  ASSERT_GE(cases.size(), 1u);
  for (const GoldenCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<Tensor> params = params_with_grads(c);
    optim::clip_grad_value_(params, c.config.at("clip_value").get<double>());
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_EQ(compare_tensors(params[i].grad(), c.tensor("expected" + std::to_string(i)), 0, 0),
                "")
          << "gradient " << i;
  }
}

}  // namespace
}  // namespace fovea
