// Whole networks with branches and merges (tests/nn/small_networks.h): forward, backward and
// two SGD steps against PyTorch on the same weights (tests/golden/gen_networks.py), gradient
// accumulation over a residual path, and short training runs on a synthetic task.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/functional/elementwise.h"
#include "fovea/functional/loss.h"
#include "fovea/optim/sgd.h"
#include "fovea/random.h"
#include "golden_helpers.h"
#include "small_networks.h"

namespace fovea::testing {
namespace {

namespace F = functional;

// Tolerances relative to the largest expected magnitude (see compare_tensors): float32
// sums in a different order, amplified through up to nine batch norms.
constexpr float kRtol = 1e-4f;
constexpr float kAtol = 1e-5f;

std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> names;
  for (const auto& [name, t] : named) names.push_back(name);
  return names;
}

// Every parameter and buffer of the case, read from "<prefix>.<key>".
nn::NamedTensors golden_state(const GoldenCase& c, const std::string& prefix) {
  nn::NamedTensors state;
  for (const char* kind : {"parameters", "buffers"})
    for (const auto& name : c.config[kind]) {
      const std::string key = name.get<std::string>();
      state.emplace_back(key, c.tensor(prefix + "." + key));
    }
  return state;
}

std::shared_ptr<nn::Module> golden_network(const GoldenCase& c) {
  auto net = make_small_network(c.config["network"].get<std::string>());
  net->load_state_dict(golden_state(c, "state"), /*strict=*/true);
  return net;
}

void expect_state_matches(const nn::Module& net, const GoldenCase& c, const std::string& prefix) {
  for (const auto& [name, t] : net.state_dict())
    EXPECT_EQ(compare_tensors(t, c.tensor(prefix + "." + name), kRtol, kAtol), "")
        << prefix << " " << name;
}

TEST(NetworkGolden, StateDictKeysAreTorchvisions) {
  for (const auto& c : golden_cases("networks")) {
    SCOPED_TRACE(c.name);
    auto net = make_small_network(c.config["network"].get<std::string>());
    EXPECT_EQ(names_of(net->named_parameters()),
              c.config["parameters"].get<std::vector<std::string>>());
    EXPECT_EQ(names_of(net->named_buffers()), c.config["buffers"].get<std::vector<std::string>>());
    EXPECT_NO_THROW(net->load_state_dict(golden_state(c, "state"), /*strict=*/true));
    nn::NamedTensors extra = golden_state(c, "state");
    extra.emplace_back("fc.extra", Tensor::zeros({1}));
    EXPECT_THROW(net->load_state_dict(extra, /*strict=*/true), ValueError);
  }
}

TEST(NetworkGolden, EvalModeMatchesPyTorchAndDiffersFromTrainMode) {
  for (const auto& c : golden_cases("networks")) {
    SCOPED_TRACE(c.name);
    auto net = golden_network(c);
    autograd::NoGradGuard no_grad;
    net->eval();
    const Tensor eval_logits = (*net)(c.tensor("input"));
    EXPECT_EQ(compare_tensors(eval_logits, c.tensor("eval_logits"), kRtol, kAtol), "");
    // Evaluation leaves the running statistics alone.
    expect_state_matches(*net, c, "state");
    net->train();
    const Tensor train_logits = (*net)(c.tensor("input"));
    EXPECT_EQ(compare_tensors(train_logits, c.tensor("logits"), kRtol, kAtol), "");
    EXPECT_NE(compare_tensors(train_logits, eval_logits, 1e-2f, 1e-2f), "")
        << "batch norm should normalise with batch statistics in training mode only";
  }
}

// Two steps of forward (training mode), cross entropy, backward, SGD with momentum and weight
// decay; every gradient after the first backward, and every parameter and running statistic
// after each step, against PyTorch.
TEST(NetworkGolden, TwoTrainingStepsMatchPyTorch) {
  for (const auto& c : golden_cases("networks")) {
    SCOPED_TRACE(c.name);
    auto net = golden_network(c);
    const auto& sgd = c.config["sgd"];
    optim::SGD opt(net->parameters(), {.lr = sgd["lr"].get<double>(),
                                       .momentum = sgd["momentum"].get<double>(),
                                       .weight_decay = sgd["weight_decay"].get<double>()});
    const Tensor target = c.tensor("target"), losses = c.tensor("loss");
    for (int64_t step = 1; step <= c.config["steps"].get<int64_t>(); ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      opt.zero_grad();
      Tensor x = c.tensor("input");
      x.requires_grad_();
      const Tensor logits = (*net)(x);
      const Tensor loss = F::cross_entropy(logits, target);
      EXPECT_NEAR(loss.data()[0], losses(step - 1), 1e-5 * std::fabs(losses(step - 1)));
      loss.backward();
      if (step == 1) {
        EXPECT_EQ(compare_tensors(logits, c.tensor("logits"), kRtol, kAtol), "");
        EXPECT_EQ(compare_tensors(x.grad(), c.tensor("input_grad"), kRtol, kAtol), "");
        for (const auto& [name, p] : net->named_parameters()) {
          ASSERT_TRUE(p.grad().defined()) << name;
          EXPECT_EQ(compare_tensors(p.grad(), c.tensor("grad." + name), kRtol, kAtol), "") << name;
        }
      }
      opt.step();
      expect_state_matches(*net, c, "step" + std::to_string(step));
    }
  }
}

// The stem's output feeds both the residual branch and the identity shortcut of the first
// block: its gradient is the sum of what flows back along each path.
TEST(NetworkGradients, AddUpOverTheResidualPath) {
  manual_seed(7);
  BasicBlock block(8, 8);
  const Tensor x = Tensor::randn({2, 8, 6, 6}), r = Tensor::randn({2, 8, 6, 6});
  const auto input_grad = [&](bool through_branch, bool through_shortcut) {
    Tensor a = x.clone();
    a.requires_grad_();
    const Tensor y =
        block.forward_paths(through_branch ? a : a.detach(), through_shortcut ? a : a.detach());
    F::sum(F::mul(y, r)).backward();
    return a.grad();
  };
  const Tensor both = input_grad(true, true);
  const Tensor branch = input_grad(true, false), shortcut = input_grad(false, true);
  EXPECT_EQ(compare_tensors(both, F::add(branch, shortcut), 1e-6f, 1e-6f), "");
  // Neither path alone is the whole gradient.
  EXPECT_NE(compare_tensors(both, branch, 1e-3f, 1e-3f), "");
  EXPECT_NE(compare_tensors(both, shortcut, 1e-3f, 1e-3f), "");
}

// Without zero_grad, a second backward adds to the parameters' gradients, as in PyTorch.
TEST(NetworkGradients, AccumulateOverBackwardPasses) {
  for (const auto& c : golden_cases("networks")) {
    SCOPED_TRACE(c.name);
    auto net = golden_network(c);
    for (int pass = 0; pass < 2; ++pass)
      F::cross_entropy((*net)(c.tensor("input")), c.tensor("target")).backward();
    for (const auto& [name, p] : net->named_parameters())
      EXPECT_EQ(compare_tensors(p.grad(), F::mul(c.tensor("grad." + name), 2.0f), kRtol, kAtol), "")
          << name;
  }
}

// 12x12 images of noise holding one bright stroke, 5 pixels long, at a random place; the
// label is its direction (0 horizontal, 1 vertical, 2 diagonal, 3 anti-diagonal). The
// networks end in global average pooling, so the task is one of what, not where.
struct StrokeData {
  Tensor images, labels;
};

StrokeData make_strokes(int64_t n, Generator& gen) {
  constexpr int64_t kSize = 12, kLength = 5;
  constexpr int64_t kStep[4][2] = {{0, 1}, {1, 0}, {1, 1}, {1, -1}};  // (dh, dw) per class
  StrokeData d{Tensor::empty({n, 1, kSize, kSize}), Tensor::empty({n})};
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t h = 0; h < kSize; ++h)
      for (int64_t w = 0; w < kSize; ++w) d.images(i, 0, h, w) = gen.normal(0.0f, 0.2f);
    const int64_t label = static_cast<int64_t>(gen.next_u64() % 4);
    const auto [dh, dw] = kStep[label];
    // A start from which the whole stroke stays inside the image.
    const auto start = [&](int64_t step) {
      const int64_t lo = step < 0 ? kLength - 1 : 0, hi = step > 0 ? kSize - kLength : kSize - 1;
      return lo + static_cast<int64_t>(gen.next_u64() % (hi - lo + 1));
    };
    const int64_t h0 = start(dh), w0 = start(dw);
    for (int64_t k = 0; k < kLength; ++k) d.images(i, 0, h0 + k * dh, w0 + k * dw) += 1.0f;
    d.labels(i) = static_cast<float>(label);
  }
  return d;
}

// Rows [begin, begin + count) of t.
Tensor rows(const Tensor& t, int64_t begin, int64_t count) {
  Shape shape = t.shape();
  const int64_t row = t.numel() / shape[0];
  shape[0] = count;
  return Tensor::from_vector(shape, t.span().subspan(begin * row, count * row));
}

TEST(NetworkTraining, LossFallsOnTheStrokeTask) {
  constexpr int64_t kExamples = 256, kBatch = 32, kEpochs = 8, kClasses = 4;
  Generator data_gen(2024);
  const StrokeData data = make_strokes(kExamples, data_gen);
  for (const char* name : {"small_resnet", "small_densenet", "small_inception"}) {
    SCOPED_TRACE(name);
    manual_seed(11);
    auto net = make_small_network(name, kClasses);
    optim::SGD opt(net->parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
    float first_loss = NAN, last_epoch_loss = 0.0f;
    for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
      last_epoch_loss = 0.0f;
      for (int64_t b = 0; b < kExamples; b += kBatch) {
        opt.zero_grad();
        const Tensor loss =
            F::cross_entropy((*net)(rows(data.images, b, kBatch)), rows(data.labels, b, kBatch));
        if (std::isnan(first_loss)) first_loss = loss.data()[0];
        last_epoch_loss += loss.data()[0] * kBatch / kExamples;
        loss.backward();
        opt.step();
      }
    }
    EXPECT_LT(last_epoch_loss, 0.5f * first_loss) << "first " << first_loss;
    // The trained network classifies fresh examples in evaluation mode too.
    Generator test_gen(99);
    const StrokeData test = make_strokes(128, test_gen);
    net->eval();
    autograd::NoGradGuard no_grad;
    const Tensor logits = (*net)(test.images);
    int64_t correct = 0;
    for (int64_t i = 0; i < 128; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < kClasses; ++k)
        if (logits(i, k) > logits(i, best)) best = k;
      correct += best == static_cast<int64_t>(test.labels(i));
    }
    EXPECT_GT(correct, 100) << "of 128; last epoch loss " << last_epoch_loss;
  }
}

}  // namespace
}  // namespace fovea::testing
