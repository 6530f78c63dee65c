#include "fovea/nn/module.h"

#include <gtest/gtest.h>

#include <cmath>

#include "fovea/error.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/init.h"

namespace fovea::nn {
namespace {

std::shared_ptr<Sequential> small_net() {
  auto net = std::make_shared<Sequential>();
  net->push_back(std::make_shared<Conv2d>(
      Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}));
  net->push_back(std::make_shared<Conv2d>(Conv2dOptions{
      .in_channels = 4, .out_channels = 2, .kernel_size = 3, .stride = 2, .bias = false}));
  return net;
}

TEST(Module, StateDictNamesFollowPyTorch) {
  auto net = small_net();
  std::vector<std::string> names;
  for (auto& [name, t] : net->state_dict()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "1.weight"}));
  EXPECT_EQ(net->num_parameters(), 4 * 9 + 4 + 2 * 4 * 9);
  for (auto& t : net->parameters()) EXPECT_TRUE(t.requires_grad());
}

TEST(Module, LoadStateDictCopiesIntoExistingTensors) {
  auto a = small_net(), b = small_net();
  const Tensor handle = b->parameters()[0];
  b->load_state_dict(a->state_dict());
  EXPECT_TRUE(allclose(handle, a->parameters()[0], 0, 0));
  auto state = a->state_dict();
  state.pop_back();
  EXPECT_THROW(b->load_state_dict(state), ValueError);
  EXPECT_NO_THROW(b->load_state_dict(state, /*strict=*/false));
  state = a->state_dict();
  state[0].second = Tensor::zeros({1});
  EXPECT_THROW(b->load_state_dict(state, false), ShapeError);
}

TEST(Module, TrainEvalPropagatesAndForwardRuns) {
  auto net = small_net();
  net->eval();
  std::vector<std::string> names;
  for (auto& [name, m] : net->named_modules()) {
    EXPECT_FALSE(m->is_training()) << name;
    names.push_back(name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"", "0", "1"}));
  net->train();
  EXPECT_TRUE((*net)[1]->is_training());
  const Tensor y = net->forward(Tensor::randn({2, 1, 9, 9}));
  EXPECT_EQ(y.shape(), (Shape{2, 2, 4, 4}));
}

TEST(Module, ZeroGradAndPrinting) {
  auto net = small_net();
  Tensor y = net->forward(Tensor::randn({1, 1, 5, 5}));
  y.backward(Tensor::ones(y.shape()));
  net->zero_grad();
  for (auto& t : net->parameters()) {
    const Tensor g = t.grad();
    ASSERT_TRUE(g.defined());
    for (float v : g.span()) EXPECT_EQ(v, 0.0f);
  }
  const std::string s = net->to_string();
  EXPECT_NE(s.find("(1): Conv2d(4, 2, kernel_size=(3, 3), stride=(2, 2), bias=False)"),
            std::string::npos)
      << s;
}

TEST(Module, ForwardHooksSeeEveryChildInOrder) {
  auto net = small_net();
  std::vector<std::string> seen;
  std::vector<Shape> shapes;
  {
    ForwardHookGuard guard([&](const Module& m, const Tensor&, const Tensor& out) {
      seen.push_back(m.type_name());
      shapes.push_back(out.shape());
    });
    (*net)(Tensor::zeros({1, 1, 9, 9}));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"Conv2d", "Conv2d", "Sequential"}));
  EXPECT_EQ(shapes[1], (Shape{1, 2, 4, 4}));
  (*net)(Tensor::zeros({1, 1, 9, 9}));  // the guard is gone: nothing more is seen
  EXPECT_EQ(seen.size(), 3u);
}

TEST(Init, DefaultConvInitBoundsAndKaimingStd) {
  Conv2d conv({.in_channels = 8, .out_channels = 16, .kernel_size = 3});
  const float bound = 1.0f / std::sqrt(72.0f);
  for (float v : conv.weight.span()) EXPECT_LE(std::fabs(v), bound);
  for (float v : conv.bias.span()) EXPECT_LE(std::fabs(v), bound);
  Tensor w = Tensor::empty({256, 128, 3, 3});
  init::kaiming_normal_(w, 0.0f, init::FanMode::kFanIn, "relu");
  double sq = 0;
  for (float v : w.span()) sq += double(v) * v;
  EXPECT_NEAR(std::sqrt(sq / w.numel()), std::sqrt(2.0 / (128 * 9)), 2e-3);
  Tensor v = Tensor::empty({3});
  EXPECT_THROW(init::xavier_uniform_(v), ValueError);
}

TEST(Module, BadChannelsAndGroups) {
  EXPECT_THROW(Conv2d({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .groups = 2}),
               ValueError);
  EXPECT_THROW(Conv2d({.in_channels = 0, .out_channels = 4, .kernel_size = 3}), ValueError);
}

}  // namespace
}  // namespace fovea::nn
