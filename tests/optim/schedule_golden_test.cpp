// Learning-rate schedules held equal to torch.optim.lr_scheduler: the lr (and OneCycleLR's
// momentum) after construction and after each of 30 steps, from tests/golden/gen_optim.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "golden_helpers.h"
#include "optim/optim_config.h"

namespace fovea {
namespace {

// Element by element (not scaled by the largest value): the small lrs at the end of a cosine
// or one-cycle schedule must be right too.
constexpr double kRtol = 1e-5, kAtol = 1e-12;

void expect_close(double actual, double expected, const char* what, int64_t step) {
  EXPECT_LE(std::fabs(actual - expected), kAtol + kRtol * std::fabs(expected))
      << what << " at step " << step << ": " << actual << " vs PyTorch's " << expected;
}

TEST(ScheduleGolden, LearningRates) {
  int count = 0;
  for (const testing::GoldenCase& c : testing::golden_cases("optim")) {
    if (c.config.at("kind") != "schedule") continue;
    ++count;
    SCOPED_TRACE(c.name);
    Tensor param = Tensor::zeros({2}).requires_grad_();
    const bool sgd = c.config.at("optimizer") == "SGD";
    testing::Json options = {{"lr", c.config.at("lr")}};
    if (sgd) options["momentum"] = 0.9;
    auto opt = testing::make_optimizer(c.config.at("optimizer"), options, {param});
    auto schedule = testing::make_scheduler(*opt, c.config);
    const Tensor lr = c.tensor("lr");
    const bool cycles = c.has("momentum");
    const Tensor momentum = cycles ? c.tensor("momentum") : Tensor();
    for (int64_t s = 0; s < lr.numel(); ++s) {
      if (s > 0) schedule->step();
      EXPECT_EQ(schedule->last_epoch(), s);
      // OneCycleLR's linear anneal goes below zero at epoch total_steps in PyTorch; Fovea
      // clamps it at 0 (optimizers reject negative lrs).
      const double expected = std::max(0.0, static_cast<double>(lr(s)));
      expect_close(schedule->get_last_lr(), expected, "lr", s);
      expect_close(opt->lr(), expected, "optimizer lr", s);
      expect_close(schedule->lr_at(s), expected, "lr_at", s);
      if (cycles) expect_close(opt->momentum(), momentum(s), "momentum", s);
    }
  }
  EXPECT_GE(count, 10);
}

}  // namespace
}  // namespace fovea
