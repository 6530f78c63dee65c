// Bad hyper-parameters, parameters, states and schedule settings raise errors that name the
// optimizer (or schedule, or function) and the argument.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/optim/adam.h"
#include "fovea/optim/constraint.h"
#include "fovea/optim/schedule.h"
#include "fovea/optim/sgd.h"

namespace fovea {
namespace {

using testing::expect_error;

std::vector<Tensor> params() {
  return {Tensor::zeros({2, 3}).requires_grad_(), Tensor::zeros({2}).requires_grad_()};
}

TEST(OptimErrors, SGDHyperParameters) {
  expect_error<ValueError>([] { optim::SGD(params(), {.lr = -1}); },
                           {"SGD: lr expects a value >= 0, got -1"});
  expect_error<ValueError>([] { optim::SGD(params(), {}); }, {"SGD:", "lr", "required"});
  expect_error<ValueError>([] { optim::SGD(params(), {.lr = 0.1, .momentum = -0.5}); },
                           {"SGD:", "momentum", "-0.5"});
  expect_error<ValueError>([] { optim::SGD(params(), {.lr = 0.1, .weight_decay = -1}); },
                           {"SGD:", "weight_decay", "-1"});
  expect_error<ValueError>([] { optim::SGD(params(), {.lr = 0.1, .nesterov = true}); },
                           {"SGD:", "nesterov", "momentum > 0", "dampening = 0"});
  expect_error<ValueError>(
      [] {
        optim::SGD(params(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true});
      },
      {"SGD:", "nesterov", "dampening 0.1"});
}

TEST(OptimErrors, AdamHyperParameters) {
  expect_error<ValueError>([] { optim::Adam(params(), {.lr = -1}); },
                           {"Adam: lr expects a value >= 0, got -1"});
  expect_error<ValueError>([] { optim::Adam(params(), {.eps = -1e-8}); }, {"Adam:", "eps"});
  expect_error<ValueError>(
      [] {
        optim::Adam(params(), {.betas = {1.0, 0.999}});
      },
      {"Adam: betas[0] expects a value in [0, 1), got 1"});
  expect_error<ValueError>(
      [] {
        optim::Adam(params(), {.betas = {0.9, -0.1}});
      },
      {"Adam:", "betas[1]", "-0.1"});
  expect_error<ValueError>([] { optim::Adam(params(), {.weight_decay = -1}); },
                           {"Adam:", "weight_decay"});
  expect_error<ValueError>([] { optim::AdamW(params(), {.weight_decay = -0.01}); },
                           {"AdamW:", "weight_decay", "-0.01"});
  expect_error<ValueError>(
      [] { optim::AdamW(params(), {.lr = std::numeric_limits<double>::quiet_NaN()}); },
      {"AdamW:", "lr", "nan"});
}

TEST(OptimErrors, SettersValidateAndKeepTheOldValue) {
  optim::SGD sgd(params(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  expect_error<ValueError>([&] { sgd.set_lr(-1); }, {"SGD: lr expects a value >= 0, got -1"});
  expect_error<ValueError>([&] { sgd.set_momentum(0); }, {"SGD:", "nesterov"});
  EXPECT_EQ(sgd.lr(), 0.1);
  EXPECT_EQ(sgd.momentum(), 0.9);
  optim::Adam adam(params(), {});
  expect_error<ValueError>([&] { adam.set_momentum(1.5); }, {"Adam:", "betas[0]", "1.5"});
  EXPECT_EQ(adam.momentum(), 0.9);
}

TEST(OptimErrors, Parameters) {
  expect_error<ValueError>([] { optim::SGD({}, {.lr = 0.1}); }, {"SGD:", "params", "none"});
  expect_error<ValueError>([] { optim::Adam({Tensor()}, {}); }, {"Adam:", "params[0]", "defined"});
  Tensor leaf = Tensor::zeros({3}).requires_grad_();
  expect_error<ValueError>([&] { optim::AdamW({leaf.clone()}, {}); },
                           {"AdamW:", "params[0]", "leaf"});
  expect_error<ValueError>(
      [&] {
        optim::SGD({leaf, leaf}, {.lr = 0.1});
      },
      {"SGD:", "params", "params[0] and params[1]"});
}

optim::OptimizerState adam_state() {
  std::vector<Tensor> p = params();
  optim::Adam opt(p, {.lr = 0.01});
  for (Tensor& t : p) t.set_grad(Tensor::ones(t.shape()));
  opt.step();
  return opt.state_dict();
}

// Loading `state` throws ValueError with the given parts and leaves the optimizer as it was.
void expect_load_error(const optim::OptimizerState& state,
                       std::initializer_list<std::string_view> parts) {
  optim::Adam opt(params(), {.lr = 0.5});
  expect_error<ValueError>([&] { opt.load_state_dict(state); }, parts);
  EXPECT_EQ(opt.lr(), 0.5);
  EXPECT_TRUE(opt.state_dict().tensors.empty());
}

TEST(OptimErrors, LoadStateDict) {
  optim::OptimizerState s = adam_state();
  s.optimizer = "SGD";
  expect_load_error(s, {"Adam:", "load_state_dict", "Adam optimizer", "SGD"});

  s = adam_state();
  s.hyper_parameters["momentum"] = 0.9;
  expect_load_error(s, {"Adam:", "unknown hyper-parameter 'momentum'"});

  s = adam_state();
  s.hyper_parameters.erase("beta2");
  expect_load_error(s, {"Adam:", "hyper-parameter 'beta2'"});

  s = adam_state();
  s.hyper_parameters["lr"] = -3;
  expect_load_error(s, {"Adam: lr expects a value >= 0, got -3"});

  s = adam_state();
  s.tensors["x.exp_avg"] = Tensor::zeros({2});
  expect_load_error(s, {"Adam:", "'x.exp_avg'", "<parameter index below 2>"});

  s = adam_state();
  s.tensors["2.exp_avg"] = Tensor::zeros({2});
  expect_load_error(s, {"Adam:", "'2.exp_avg'"});

  s = adam_state();
  s.tensors["0.momentum_buffer"] = Tensor::zeros({2, 3});
  expect_load_error(s, {"Adam:", "buffers", "'0.momentum_buffer'"});

  s = adam_state();
  s.tensors["0.exp_avg"] = Tensor::zeros({3, 2});
  expect_load_error(s, {"Adam:", "'0.exp_avg'", "[2, 3]", "[3, 2]"});

  s = adam_state();
  s.tensors["1.step"] = Tensor::zeros({1});
  expect_load_error(s, {"Adam:", "'1.step'", "shape []"});

  s = adam_state();
  s.tensors.erase("1.exp_avg_sq");
  expect_load_error(s, {"Adam:", "parameter 1", "all of its buffers", "got 2"});

  // amsgrad comes with the state's hyper-parameters and needs the running maximum too.
  s = adam_state();
  s.hyper_parameters["amsgrad"] = 1;
  expect_load_error(s, {"Adam:", "parameter 0", "max_exp_avg_sq"});
}

TEST(OptimErrors, Schedules) {
  std::vector<Tensor> p = params();
  optim::SGD opt(p, {.lr = 0.1, .momentum = 0.9});
  expect_error<ValueError>([&] { optim::StepLR(opt, {.step_size = 0}); },
                           {"StepLR: step_size expects a value >= 1, got 0"});
  expect_error<ValueError>([&] { optim::CosineAnnealingLR(opt, {.t_max = 0}); },
                           {"CosineAnnealingLR:", "t_max", "0"});
  expect_error<ValueError>([&] { optim::LinearLR(opt, {.start_factor = 1.5}); },
                           {"LinearLR:", "start_factor", "1.5"});
  expect_error<ValueError>([&] { optim::LinearLR(opt, {.end_factor = -0.1}); },
                           {"LinearLR:", "end_factor", "-0.1"});
  expect_error<ValueError>([&] { optim::LinearLR(opt, {.total_iters = 0}); },
                           {"LinearLR:", "total_iters"});
  expect_error<ValueError>([&] { optim::OneCycleLR(opt, {.max_lr = -1, .total_steps = 10}); },
                           {"OneCycleLR:", "max_lr", "-1"});
  expect_error<ValueError>([&] { optim::OneCycleLR(opt, {.max_lr = 1}); },
                           {"OneCycleLR:", "total_steps", "got 0"});
  expect_error<ValueError>(
      [&] { optim::OneCycleLR(opt, {.max_lr = 1, .total_steps = 10, .pct_start = 1.5}); },
      {"OneCycleLR:", "pct_start", "1.5"});
  expect_error<ValueError>(
      [&] { optim::OneCycleLR(opt, {.max_lr = 1, .total_steps = 10, .div_factor = 0}); },
      {"OneCycleLR:", "div_factor"});
  expect_error<ValueError>(
      [&] { optim::OneCycleLR(opt, {.max_lr = 1, .total_steps = 10, .final_div_factor = -1}); },
      {"OneCycleLR:", "final_div_factor"});
  optim::StepLR step(opt, {.step_size = 2});
  expect_error<ValueError>([&] { step.load_state_dict({.last_epoch = -1}); },
                           {"StepLR:", "last_epoch", "-1"});
}

TEST(OptimErrors, SequentialLR) {
  std::vector<Tensor> p = params(), q = params();
  optim::SGD opt(p, {.lr = 0.1}), other(q, {.lr = 0.1});
  auto two = [&](optim::Optimizer& second) {
    std::vector<std::unique_ptr<optim::LRScheduler>> v;
    v.push_back(std::make_unique<optim::LinearLR>(opt));
    v.push_back(std::make_unique<optim::StepLR>(second, optim::StepLROptions{.step_size = 3}));
    return v;
  };
  expect_error<ValueError>([&] { optim::SequentialLR(opt, {}, {}); },
                           {"SequentialLR:", "schedulers", "none"});
  expect_error<ValueError>(
      [&] {
        optim::SequentialLR(opt, two(opt), {5, 8});
      },
      {"SequentialLR:", "milestones", "one fewer", "got 2"});
  expect_error<ValueError>([&] { optim::SequentialLR(opt, two(opt), {0}); },
                           {"SequentialLR:", "milestones", "increasing values >= 1", "got 0"});
  expect_error<ValueError>([&] { optim::SequentialLR(opt, two(other), {4}); },
                           {"SequentialLR:", "schedulers", "same optimizer", "index 1"});
}

TEST(OptimErrors, Constraints) {
  Tensor bias = Tensor::ones({4});
  expect_error<ShapeError>([&] { optim::max_norm_(bias, 1.0); },
                           {"max_norm_:", "weight", "at least 2 dimensions", "[4]"});
  Tensor w = Tensor::ones({4, 3});
  expect_error<ShapeError>([&] { optim::max_norm_(w, 1.0, 2); }, {"max_norm_:", "dim", "got 2"});
  expect_error<ValueError>([&] { optim::max_norm_(w, -1.0); }, {"max_norm_:", "max_norm", "-1"});
  expect_error<ValueError>([&] { optim::max_norm_(w, 1.0, 0, 0.0); },
                           {"max_norm_:", "norm_type", "got 0"});

  std::vector<Tensor> p = params();
  for (Tensor& t : p) t.set_grad(Tensor::ones(t.shape()));
  expect_error<ValueError>([&] { optim::clip_grad_norm_(p, -1.0); },
                           {"clip_grad_norm_:", "max_norm", "-1"});
  expect_error<ValueError>([&] { optim::clip_grad_norm_(p, 1.0, -2.0); },
                           {"clip_grad_norm_:", "norm_type", "-2"});
  expect_error<ValueError>([&] { optim::clip_grad_value_(p, -0.5); },
                           {"clip_grad_value_:", "clip_value", "-0.5"});
  p[0].grad().data()[0] = std::numeric_limits<float>::quiet_NaN();
  expect_error<ValueError>([&] { optim::clip_grad_norm_(p, 1.0, 2.0, true); },
                           {"clip_grad_norm_:", "non-finite", "error_if_nonfinite"});
  // Without the flag, NaN scales everything to NaN, as in PyTorch (the max norm too).
  EXPECT_TRUE(std::isnan(optim::clip_grad_norm_(p, 1.0, std::numeric_limits<double>::infinity())));
  EXPECT_TRUE(std::isnan(optim::clip_grad_norm_(p, 1.0)));
  EXPECT_TRUE(std::isnan(p[1].grad().data()[0]));
}

}  // namespace
}  // namespace fovea
