// A whole training step of the default Fashion-MNIST network, and its inference forward:
//
//   train_step/fmnist-cnn/64   zero_grad, forward, mean cross-entropy, backward, SGD step
//                              (lr 0.05, momentum 0.9: `fovea train`'s defaults) at batch 64
//   infer/fmnist-cnn/<N>       forward in evaluation mode without a graph, batch 64 and 1
//
// The network is nn::build_from_spec("fmnist-cnn", {1, 28, 28}), what `fovea train` trains:
//   conv(32,3,pad=1) bn relu maxpool(2) conv(64,3,pad=1) bn relu maxpool(2) flatten
//   linear(128) relu dropout(0.3) linear(10)
// Inputs are standard normal, labels uniform over the 10 classes, one fixed batch, made
// before the timed loop; one untimed step first creates the gradients and momentum buffers,
// so the loop times the steady state (as every step after the first of an epoch). Counter:
// images/s. Threads: OpenMP's (OMP_NUM_THREADS). bench/compare/layer_compare.py runs the same
// network in PyTorch.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <omp.h>

#include <cstdint>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/functional/loss.h"
#include "fovea/nn/spec.h"
#include "fovea/optim/sgd.h"
#include "fovea/random.h"
#include "fovea/tensor.h"

namespace fovea::bench {
namespace {

namespace F = functional;

constexpr const char* kModel = "fmnist-cnn";
constexpr int64_t kClasses = 10;

struct Batch {
  Tensor images, labels;  // (N, 1, 28, 28), (N) class indices as floats
};

Batch random_batch(int64_t N) {
  Generator gen(42);
  std::vector<float> labels(N);
  for (float& l : labels) l = static_cast<float>(gen.next_u64() % kClasses);
  return {Tensor::randn({N, 1, 28, 28}, &gen), Tensor::from_vector({N}, labels)};
}

nn::SpecModel build_model() {
  manual_seed(0);  // the initial weights and dropout masks, the same in every run
  return nn::build_from_spec(kModel, {1, 28, 28});
}

void train_step(benchmark::State& state, int64_t N) {
  const nn::SpecModel built = build_model();
  nn::Module& model = *built.model;
  model.train();
  optim::SGD sgd(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  const Batch batch = random_batch(N);
  const auto step = [&] {
    sgd.zero_grad();
    const Tensor loss = F::cross_entropy(model.forward(batch.images), batch.labels);
    loss.backward();
    sgd.step();
    return loss;
  };
  step();  // creates the gradients and momentum buffers
  for (auto _ : state) benchmark::DoNotOptimize(step().data());
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
}

void infer(benchmark::State& state, int64_t N) {
  const nn::SpecModel built = build_model();
  nn::Module& model = *built.model;
  model.eval();
  autograd::NoGradGuard no_grad;
  const Tensor images = random_batch(N).images;
  model.forward(images);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(model.forward(images).data());
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
}

void register_cases() {
  benchmark::RegisterBenchmark(fmt::format("train_step/{}/64", kModel).c_str(),
                               [](benchmark::State& state) { train_step(state, 64); })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  for (int64_t N : {64, 1})
    benchmark::RegisterBenchmark(fmt::format("infer/{}/{}", kModel, N).c_str(),
                                 [N](benchmark::State& state) { infer(state, N); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace fovea::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  fovea::bench::register_cases();
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
