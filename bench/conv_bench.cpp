// Convolution benchmarks: one case per layer of shared/bench/conv_layers.json × pass (fwd,
// bwd_data, bwd_weight) × algorithm (every row of the kernel table except the reference,
// which is far too slow for these shapes, plus "auto": the selector's choice, as a user's
// call gets it). Named conv/<layer>/N<batch>/<pass>/<algorithm>, e.g.
// conv/r18_l1_3x3/N16/fwd/im2col_gemm.
//
// Each case times one kernel call on buffers allocated and filled once per layer, with the
// workspace the door would hand the kernel (ops::thread_workspace): nothing is allocated in
// the timed loop. The GFLOP/s counter is the suite's gflop figure (2 · multiply-adds) over
// the wall time of a call. Threads: OpenMP's (OMP_NUM_THREADS).
//
// The suite's path: env FOVEA_CONV_LAYERS, else FOVEA_CONV_LAYERS_DEFAULT (set by CMake).
//
// Env FOVEA_CONV_COLD=1: the weights and the forward's output are flushed from every cache
// before each call (untimed), as in a network whose weights exceed L3: both come from DRAM on
// every forward, while the input was just written by the layer before.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <immintrin.h>
#include <omp.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "bench_suite/conv_suite.h"
#include "fovea/tensor.h"
#include "kernels/conv_algorithm.h"
#include "ops/workspace.h"

namespace fovea::bench {
namespace {

using kernels::ConvAlgorithm;
using kernels::ConvGeometry;
using kernels::ConvPass;

// The buffers of the layer being benchmarked. Cases run in registration order, layer by
// layer, so each layer's buffers are made once and freed when the next layer starts.
ConvBuffers& buffers_for(size_t layer_index, const ConvGeometry& g) {
  static size_t current = SIZE_MAX;
  static std::unique_ptr<ConvBuffers> buffers;
  if (layer_index != current) {
    buffers.reset();  // free the previous layer's memory first
    buffers = std::make_unique<ConvBuffers>(make_conv_buffers(g));
    current = layer_index;
  }
  return *buffers;
}

struct ConvCase {
  size_t layer_index;
  ConvLayer layer;
  ConvGeometry g;
  ConvPass pass;                   // the layer's pass, as the user sees it
  const ConvAlgorithm* algorithm;  // nullptr: "auto", the selector's choice
};

void run_conv_case(benchmark::State& state, const ConvCase& c) {
  const ConvPass kpass = kernel_pass(c.layer, c.pass);
  const ConvAlgorithm* a = c.algorithm ? c.algorithm : kernels::select_conv(c.g, kpass, "");
  ConvBuffers& b = buffers_for(c.layer_index, c.g);
  // As the door does it: sized now, because the size depends on the thread count.
  float* workspace = ops::thread_workspace(a->workspace_floats(c.g, kpass));
  auto call = [&] { run_conv_pass(*a, c.g, kpass, b, workspace); };
  call();  // warm-up: touches the workspace and loads the GEMM's code paths
  static const bool cold = [] {
    const char* env = std::getenv("FOVEA_CONV_COLD");
    return env && *env && *env != '0';
  }();
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      for (const Tensor* t : {&b.w, &b.y})
        for (int64_t i = 0; i < t->numel(); i += 16) _mm_clflush(t->data() + i);
      _mm_mfence();
      state.ResumeTiming();
    }
    call();
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(c.layer.gflop, benchmark::Counter::kIsIterationInvariantRate);
  if (!c.algorithm) state.SetLabel(std::string(a->name));
}

void register_conv_cases(const std::vector<ConvLayer>& layers) {
  constexpr std::array kPasses = {ConvPass::kForward, ConvPass::kBackwardData,
                                  ConvPass::kBackwardWeight};
  for (size_t i = 0; i < layers.size(); ++i) {
    const ConvLayer& l = layers[i];
    const ConvGeometry g = conv_suite_geometry(l);
    for (ConvPass pass : kPasses) {
      std::vector<const ConvAlgorithm*> algorithms;
      for (const ConvAlgorithm& a : kernels::conv_algorithms())
        if (a.name != "reference" && a.supports(g, kernel_pass(l, pass))) algorithms.push_back(&a);
      algorithms.push_back(nullptr);  // auto
      for (const ConvAlgorithm* a : algorithms) {
        const std::string name = fmt::format("conv/{}/N{}/{}/{}", l.name, l.N,
                                             kernels::to_string(pass), a ? a->name : "auto");
        benchmark::RegisterBenchmark(
            name.c_str(),
            [c = ConvCase{i, l, g, pass, a}](benchmark::State& state) { run_conv_case(state, c); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace
}  // namespace fovea::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  const char* env = std::getenv("FOVEA_CONV_LAYERS");
  const std::string path = env && *env ? env : FOVEA_CONV_LAYERS_DEFAULT;
  try {
    fovea::bench::register_conv_cases(fovea::bench::load_conv_suite(path));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conv_bench: error: %s\n", e.what());
    return 1;
  }
  benchmark::AddCustomContext("conv_layers", path);
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
