// Every zoo model against its PyTorch twin (tests/golden/gen_zoo.py: torchvision 0.14, the
// standard MobileNet v1, the spec networks): the same state-dict keys in the same order with
// the same shapes, the same parameter count, and the same output for the same weights and
// input — one forward pass per model, at 224x224 (28x28 for lenet5 and fmnist-cnn), batch 1,
// in eval mode without gradients. The forward runs under a hook that checks every layer
// holding weights was called through Module::operator() (what `fovea summary` relies on).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "fovea/autograd.h"
#include "fovea/zoo/zoo.h"
#include "golden_helpers.h"
#include "zoo/zoo_fill.h"

namespace fovea {
namespace {

using testing::GoldenCase;

GoldenCase golden_case(const std::string& name) {
  for (auto& c : testing::golden_cases("zoo"))
    if (c.name == name) return c;
  throw std::runtime_error("no golden case tests/golden/zoo/" + name);
}

class ZooGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooGolden, MatchesPyTorch) {
  const GoldenCase golden = golden_case(GetParam());
  auto model = zoo::create_model(GetParam(), golden.tensor("output").size(1));

  EXPECT_EQ(model->num_parameters(), golden.config["num_parameters"].get<int64_t>());
  const nn::NamedTensors state = model->state_dict();
  const auto& expected = golden.config["state_dict"];
  ASSERT_EQ(state.size(), expected.size());
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(state[i].first, expected[i][0].get<std::string>()) << "state-dict entry " << i;
    EXPECT_EQ(state[i].second.shape(), expected[i][1].get<Shape>()) << state[i].first;
  }

  testing::fill_state(*model);
  model->eval();
  std::set<const nn::Module*> called;
  nn::ForwardHookGuard hook(
      [&](const nn::Module& m, const Tensor&, const Tensor&) { called.insert(&m); });
  autograd::NoGradGuard no_grad;
  const Tensor y = (*model)(testing::hash_input(golden.config["input"].get<Shape>()));

  // Float32 sums in another order through up to ~120 layers: observed within 5e-6 of the
  // largest output; 1e-4 leaves room for other CPUs' kernels and still catches any wrong layer,
  // padding or epsilon.
  EXPECT_EQ(testing::compare_tensors(y, golden.tensor("output"), 1e-4f, 0.0f), "");
  for (const auto& [name, m] : model->named_modules()) {
    if (m->named_parameters(false).empty()) continue;
    EXPECT_TRUE(called.contains(m)) << name << " (" << m->type_name() << ") ran unhooked";
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooGolden, ::testing::ValuesIn(zoo::model_names()),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::ranges::replace(s, '-', '_');
                           return s;
                         });

}  // namespace
}  // namespace fovea
