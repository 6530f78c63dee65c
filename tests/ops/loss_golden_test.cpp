// The losses, forward and backward, held equal to PyTorch on the golden cases written by
// tests/golden/gen_loss.py: every loss under every reduction, class weights, ignore_index,
// label smoothing, spatial targets, large logits.
#include <gtest/gtest.h>

#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "fovea/functional/loss.h"
#include "golden_helpers.h"
#include "golden_zero_dim.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::compare_tensors;
using testing::golden_tensor;
using testing::GoldenCase;

constexpr float kRtol = 1e-5f, kAtol = 1e-6f;

F::Reduction reduction_of(const GoldenCase& gc) {
  static const std::map<std::string, F::Reduction> table = {
      {"none", F::Reduction::kNone}, {"mean", F::Reduction::kMean}, {"sum", F::Reduction::kSum}};
  return table.at(gc.config.at("reduction"));
}

std::optional<Tensor> optional_tensor(const GoldenCase& gc, const std::string& key) {
  return gc.config.at(key).get<bool>() ? std::optional(gc.tensor(key)) : std::nullopt;
}

// The case's loss and its input gradient for grad_output gy, through Fovea.
std::pair<Tensor, Tensor> run(const GoldenCase& gc, const Tensor& x, const Tensor& t,
                              const Tensor& gy) {
  const std::string loss = gc.config.at("loss");
  const F::Reduction r = reduction_of(gc);
  if (loss == "cross_entropy") {
    const F::CrossEntropyOptions o{.weight = optional_tensor(gc, "weight"),
                                   .ignore_index = gc.config.at("ignore_index"),
                                   .reduction = r,
                                   .label_smoothing = gc.config.at("label_smoothing")};
    return {F::cross_entropy(x, t, o), F::cross_entropy_backward(gy, x, t, o)};
  }
  if (loss == "nll_loss") {
    const F::NllLossOptions o{.weight = optional_tensor(gc, "weight"),
                              .ignore_index = gc.config.at("ignore_index"),
                              .reduction = r};
    return {F::nll_loss(x, t, o), F::nll_loss_backward(gy, x, t, o)};
  }
  if (loss == "mse_loss") {
    const F::MseLossOptions o{.reduction = r};
    return {F::mse_loss(x, t, o), F::mse_loss_backward(gy, x, t, o)};
  }
  if (loss == "binary_cross_entropy_with_logits") {
    const F::BinaryCrossEntropyWithLogitsOptions o{.weight = optional_tensor(gc, "weight"),
                                                   .reduction = r,
                                                   .pos_weight = optional_tensor(gc, "pos_weight")};
    return {F::binary_cross_entropy_with_logits(x, t, o),
            F::binary_cross_entropy_with_logits_backward(gy, x, t, o)};
  }
  throw std::invalid_argument("golden config: unknown loss " + loss);
}

TEST(LossGolden, MatchesPyTorch) {
  const auto cases = testing::golden_cases("loss");
  EXPECT_GE(cases.size(), 25u);
  testing::check_each_case(cases, [](const GoldenCase& gc) {
    const auto [y, gx] =
        run(gc, golden_tensor(gc, "x"), golden_tensor(gc, "target"), golden_tensor(gc, "gy"));
    EXPECT_EQ(compare_tensors(y, golden_tensor(gc, "y"), kRtol, kAtol), "") << "y";
    EXPECT_EQ(compare_tensors(gx, gc.tensor("gx"), kRtol, kAtol), "") << "gx";
  });
}

// Every loss appears under every reduction.
TEST(LossGolden, CoversEveryLossAndReduction) {
  std::set<std::string> seen;
  for (const GoldenCase& gc : testing::golden_cases("loss"))
    seen.insert(gc.config.at("loss").get<std::string>() + "/" +
                gc.config.at("reduction").get<std::string>());
  for (const std::string loss :
       {"cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits"})
    for (const std::string r : {"none", "mean", "sum"})
      EXPECT_TRUE(seen.contains(loss + "/" + r)) << loss << "/" << r;
}

}  // namespace
}  // namespace fovea
