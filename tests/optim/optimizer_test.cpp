// Optimizer behaviour beyond the golden numbers: zero_grad, skipped parameters, autograd
// integration, resuming from a saved state, and the multi-threaded update path.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/optim/adam.h"
#include "fovea/optim/constraint.h"
#include "fovea/optim/schedule.h"
#include "fovea/optim/sgd.h"
#include "fovea/random.h"
#include "golden_helpers.h"

namespace fovea {
namespace {

using testing::compare_tensors;

std::vector<Tensor> make_params(uint64_t seed) {
  Generator gen(seed);
  return {Tensor::randn({4, 3, 3, 3}, &gen).requires_grad_(),
          Tensor::randn({4}, &gen).requires_grad_()};
}

std::vector<Tensor> clones(const std::vector<Tensor>& params) {
  std::vector<Tensor> out;
  for (const Tensor& p : params) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

// Gives every parameter the same pseudo-random gradient for a given step in both runs.
void set_grads(const std::vector<Tensor>& params, int step) {
  Generator gen(1000 + step);
  for (Tensor p : params) p.set_grad(Tensor::randn(p.shape(), &gen));
}

void expect_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(compare_tensors(a[i], b[i], 0, 0), "") << "parameter " << i;
}

TEST(Optimizer, ZeroGradZeroesInPlace) {
  std::vector<Tensor> params = make_params(1);
  optim::SGD opt(params, {.lr = 0.1});
  set_grads(params, 0);
  const Tensor g0 = params[0].grad();
  params[1].set_grad(Tensor());
  opt.zero_grad();
  ASSERT_TRUE(params[0].grad().defined());
  EXPECT_TRUE(params[0].grad().is_same(g0));  // the same storage, now zero
  for (float v : g0.span()) EXPECT_EQ(v, 0.0f);
  EXPECT_FALSE(params[1].grad().defined());  // no gradient stays no gradient
}

TEST(Optimizer, ZeroGradSetToNone) {
  std::vector<Tensor> params = make_params(2);
  optim::Adam opt(params, {});
  set_grads(params, 0);
  opt.zero_grad(/*set_to_none=*/true);
  for (const Tensor& p : params) EXPECT_FALSE(p.grad().defined());
  const Tensor before = params[0].detach().clone();
  opt.step();  // nothing to do: no gradients
  EXPECT_EQ(compare_tensors(params[0], before, 0, 0), "");
  EXPECT_TRUE(opt.state_dict().tensors.empty());
}

TEST(Optimizer, SkipsParametersWithoutGradient) {
  std::vector<Tensor> params = make_params(3);
  optim::Adam opt(params, {.lr = 0.1});
  const Tensor bias = params[1].detach().clone();
  set_grads(params, 0);
  params[1].set_grad(Tensor());
  opt.step();
  EXPECT_EQ(compare_tensors(params[1], bias, 0, 0), "");
  const optim::OptimizerState s = opt.state_dict();
  EXPECT_TRUE(s.tensors.contains("0.exp_avg"));
  EXPECT_FALSE(s.tensors.contains("1.exp_avg"));
  EXPECT_FLOAT_EQ(s.tensors.at("0.step").data()[0], 1.0f);
  EXPECT_EQ(s.tensors.at("0.step").shape(), Shape{});
}

TEST(Optimizer, UpdatesTheParameterBackwardFilled) {
  // The optimizer's handles share storage and gradient with the caller's.
  Tensor w = Tensor::full({3}, 1.0f).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.5});
  Tensor y = w.reshape({1, 3});
  y.backward(Tensor::full({1, 3}, 2.0f));
  opt.step();
  for (float v : w.span()) EXPECT_FLOAT_EQ(v, 0.0f);  // 1 - 0.5 * 2
  EXPECT_TRUE(w.is_leaf());
  EXPECT_FALSE(w.grad_fn());
}

TEST(Optimizer, StateDictNamesAndHyperParameters) {
  std::vector<Tensor> params = make_params(4);
  optim::SGD opt(params, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  set_grads(params, 0);
  opt.step();
  const optim::OptimizerState s = opt.state_dict();
  EXPECT_EQ(s.optimizer, "SGD");
  EXPECT_EQ(s.hyper_parameters.at("lr"), 0.1);
  EXPECT_EQ(s.hyper_parameters.at("nesterov"), 1.0);
  EXPECT_FALSE(s.hyper_parameters.contains("initial_lr"));
  EXPECT_EQ(s.tensors.size(), 2u);
  EXPECT_EQ(s.tensors.at("1.momentum_buffer").shape(), Shape{4});
}

TEST(Optimizer, StateDictIsACopy) {
  std::vector<Tensor> params = make_params(5);
  optim::Adam opt(params, {.lr = 0.1});
  set_grads(params, 0);
  opt.step();
  const optim::OptimizerState s = opt.state_dict();
  const Tensor saved = s.tensors.at("0.exp_avg").clone();
  set_grads(params, 1);
  opt.step();
  EXPECT_EQ(compare_tensors(s.tensors.at("0.exp_avg"), saved, 0, 0), "");
  EXPECT_FLOAT_EQ(s.tensors.at("0.step").data()[0], 1.0f);
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Runs `before` steps, saves, restores into a fresh optimizer (built with other
// hyper-parameters, which the state overrides) on copies of the parameters, then runs
// `after` more steps on both: they must agree bit for bit.
void check_resume(const MakeOptimizer& make, const MakeOptimizer& make_other) {
  std::vector<Tensor> params = make_params(6);
  auto opt = make(params);
  int step = 0;
  for (; step < 3; ++step) {
    set_grads(params, step);
    if (step == 1) params[1].set_grad(Tensor());  // parameters at different step counts
    opt->step();
  }
  std::vector<Tensor> copies = clones(params);
  auto resumed = make_other(copies);
  resumed->load_state_dict(opt->state_dict());
  EXPECT_EQ(resumed->lr(), opt->lr());
  for (; step < 6; ++step) {
    set_grads(params, step);
    set_grads(copies, step);
    opt->step();
    resumed->step();
  }
  expect_identical(params, copies);
}

TEST(Optimizer, ResumeSGD) {
  check_resume(
      [](std::vector<Tensor> p) {
        return std::make_unique<optim::SGD>(
            std::move(p),
            optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
      },
      [](std::vector<Tensor> p) {
        return std::make_unique<optim::SGD>(std::move(p), optim::SGDOptions{.lr = 1});
      });
}

TEST(Optimizer, ResumeAdamAmsgrad) {
  check_resume(
      [](std::vector<Tensor> p) {
        return std::make_unique<optim::Adam>(
            std::move(p), optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
      },
      [](std::vector<Tensor> p) {
        return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{});
      });
}

TEST(Optimizer, ResumeAdamW) {
  check_resume(
      [](std::vector<Tensor> p) {
        return std::make_unique<optim::AdamW>(std::move(p),
                                              optim::AdamWOptions{.lr = 0.01, .betas = {0.8, 0.9}});
      },
      [](std::vector<Tensor> p) { return std::make_unique<optim::AdamW>(std::move(p)); });
}

TEST(Optimizer, ResumeWithSchedule) {
  // A training run with warm-up then cosine, stopped after 7 steps and resumed from the saved
  // optimizer and schedule states, matches one that never stopped.
  auto make_schedule = [](optim::Optimizer& opt) {
    std::vector<std::unique_ptr<optim::LRScheduler>> parts;
    parts.push_back(std::make_unique<optim::LinearLR>(
        opt, optim::LinearLROptions{.start_factor = 0.1, .total_iters = 4}));
    parts.push_back(std::make_unique<optim::CosineAnnealingLR>(
        opt, optim::CosineAnnealingLROptions{.t_max = 8}));
    return std::make_unique<optim::SequentialLR>(opt, std::move(parts), std::vector<int64_t>{4});
  };
  std::vector<Tensor> params = make_params(7);
  optim::SGD opt(params, {.lr = 0.2, .momentum = 0.9});
  auto schedule = make_schedule(opt);
  int step = 0;
  for (; step < 7; ++step) {
    set_grads(params, step);
    opt.step();
    schedule->step();
  }
  const optim::OptimizerState saved = opt.state_dict();
  EXPECT_DOUBLE_EQ(saved.hyper_parameters.at("initial_lr"), 0.2);

  std::vector<Tensor> copies = clones(params);
  optim::SGD resumed(copies, {.lr = 0.2, .momentum = 0.9});
  resumed.load_state_dict(saved);
  auto resumed_schedule = make_schedule(resumed);
  resumed_schedule->load_state_dict(schedule->state_dict());
  EXPECT_EQ(resumed_schedule->last_epoch(), 7);
  EXPECT_EQ(resumed.lr(), opt.lr());
  for (; step < 12; ++step) {
    set_grads(params, step);
    set_grads(copies, step);
    opt.step();
    resumed.step();
    schedule->step();
    resumed_schedule->step();
    EXPECT_EQ(resumed_schedule->get_last_lr(), schedule->get_last_lr());
  }
  expect_identical(params, copies);
}

// Splits a tensor's values into pieces of `piece` elements (the last one shorter).
std::vector<Tensor> pieces_of(const Tensor& t, int64_t piece) {
  std::vector<Tensor> out;
  for (int64_t at = 0; at < t.numel(); at += piece) {
    const int64_t n = std::min(piece, t.numel() - at);
    out.push_back(Tensor::from_vector({n}, t.span().subspan(at, n)).requires_grad_());
  }
  return out;
}

void check_large_equals_pieces(const MakeOptimizer& make) {
  // Large enough for several OpenMP chunks; pieces of a prime size put every element at a
  // different offset from the SIMD width and the chunk boundaries.
  constexpr int64_t kSize = 200003, kPiece = 7919;
  Generator gen(8);
  Tensor large = Tensor::randn({kSize}, &gen).requires_grad_();
  std::vector<Tensor> small = pieces_of(large, kPiece);
  auto big_opt = make({large});
  auto small_opt = make(small);
  for (int step = 0; step < 3; ++step) {
    Generator g(50 + step);
    const Tensor grad = Tensor::randn({kSize}, &g);
    large.set_grad(grad);
    std::vector<Tensor> grads = pieces_of(grad, kPiece);
    for (size_t i = 0; i < small.size(); ++i) small[i].set_grad(grads[i].detach());
    big_opt->step();
    small_opt->step();
  }
  std::vector<Tensor> rejoined = pieces_of(large, kPiece);
  expect_identical(rejoined, small);
}

TEST(Optimizer, LargeTensorsMatchSmallOnesAdam) {
  check_large_equals_pieces([](std::vector<Tensor> p) {
    return std::make_unique<optim::Adam>(std::move(p),
                                         optim::AdamOptions{.lr = 0.01, .amsgrad = true});
  });
  check_large_equals_pieces([](std::vector<Tensor> p) {
    return std::make_unique<optim::AdamW>(std::move(p), optim::AdamWOptions{.lr = 0.01});
  });
}

TEST(Optimizer, LargeTensorsMatchSmallOnesSGD) {
  check_large_equals_pieces([](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(
        std::move(p),
        optim::SGDOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  });
}

TEST(Optimizer, LargeClipGradNorm) {
  Generator gen(9);
  Tensor large = Tensor::zeros({300007}).requires_grad_();
  large.set_grad(Tensor::randn({300007}, &gen));
  std::vector<Tensor> small = pieces_of(large, 7919);
  std::vector<Tensor> grads = pieces_of(large.grad(), 7919);
  for (size_t i = 0; i < small.size(); ++i) small[i].set_grad(grads[i].detach());
  for (double p : {1.0, 2.0, 3.0, std::numeric_limits<double>::infinity()}) {
    SCOPED_TRACE(p);
    const double a = optim::clip_grad_norm_({large}, 1e9, p);
    const double b = optim::clip_grad_norm_(small, 1e9, p);
    EXPECT_NEAR(a, b, 1e-12 * b);
  }
}

TEST(Optimizer, OneCycleTurnsOnSGDMomentum) {
  // As in PyTorch, cycling momentum sets it even where SGD was built without it.
  std::vector<Tensor> params = make_params(10);
  optim::SGD opt(params, {.lr = 0.1});
  optim::OneCycleLR schedule(opt, {.max_lr = 1.0, .total_steps = 10});
  EXPECT_DOUBLE_EQ(opt.momentum(), 0.95);
  EXPECT_NEAR(opt.lr(), 1.0 / 25, 1e-15);
  EXPECT_EQ(opt.initial_lr(), 1.0 / 25);
  for (int i = 0; i < 10; ++i) schedule.step();
  EXPECT_THROW(schedule.step(), ValueError);  // past total_steps
  EXPECT_EQ(schedule.last_epoch(), 10);       // unchanged by the failed step
}

TEST(Optimizer, MaxNormOverloadForSeveralWeights) {
  Tensor a = Tensor::full({2, 4}, 1.0f), b = Tensor::full({3, 2, 2}, 0.1f);
  optim::max_norm_(std::vector<Tensor>{a, b}, 1.0);
  for (float v : a.span()) EXPECT_NEAR(v, 0.5f, 1e-6f);  // rows of norm 2 -> 1
  for (float v : b.span()) EXPECT_EQ(v, 0.1f);           // norm 0.2: untouched
}

}  // namespace
}  // namespace fovea
