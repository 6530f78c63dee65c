// Layer benchmarks: the ops around the convolutions of a CNN (max and average pooling, batch
// norm, bilinear and nearest upsampling, relu, softmax, cross-entropy), forward and backward, on
// the shapes that bench/compare/layer_compare.py runs in PyTorch too. Named
// layer/<op>/<shape>/<pass>, e.g. layer/max_pool2d_k3s2p1/16x64x112x112/fwd.
//
// Unlike conv_bench, every call goes through the public door (F::max_pool2d,
// F::batch_norm_backward, ...), so what is timed is what a user's call costs: the argument
// checks and the allocation of the outputs included (PyTorch's times include its allocations
// too). The inputs, and what a backward pass takes from its forward (argmax indices, saved
// statistics, the forward's output), are made once per case, outside the timed loop. Inputs
// are uniform in [-1, 1); labels uniform over the classes.
//
// Counters: GB/s = the bytes of the tensors a pass must read and write, each counted once,
// over the wall time of a call (a floor on the traffic, not a measurement of it); for
// cross-entropy and softmax elem/s = logits per second. Threads: OpenMP's (OMP_NUM_THREADS).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <omp.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "fovea/functional/activation.h"
#include "fovea/functional/interpolate.h"
#include "fovea/functional/loss.h"
#include "fovea/functional/norm.h"
#include "fovea/functional/pool.h"
#include "fovea/random.h"
#include "fovea/tensor.h"

namespace fovea::bench {
namespace {

namespace F = functional;

// What a case's rate counter counts per call: bytes (reported as GB/s) or elements (elem/s).
enum class Rate { kBytes, kElements };

// The timed call of a case, owning its inputs, and the work per call its rate counts.
struct Timed {
  std::function<void()> call;
  double per_call = 0;
};

struct LayerCase {
  std::string name;  // layer/<op>/<shape>/<pass>
  Rate rate;
  std::function<Timed()> make;  // builds the inputs
};

// Google Benchmark runs a case's function several times while it sizes the iteration count,
// and the cases one after the other in registration order: the inputs are made on a case's
// first run and freed when the next case starts.
const Timed& timed_for(size_t index, const LayerCase& c) {
  static size_t current = SIZE_MAX;
  static Timed timed;
  if (index != current) {
    timed = {};  // free the previous case's inputs first
    timed = c.make();
    current = index;
  }
  return timed;
}

void run_layer_case(benchmark::State& state, size_t index, const LayerCase& c) {
  const Timed& t = timed_for(index, c);
  t.call();  // warm-up: first touch of the allocator's pages and the kernels' code
  for (auto _ : state) t.call();
  const bool bytes = c.rate == Rate::kBytes;
  state.counters[bytes ? "GB/s" : "elem/s"] = benchmark::Counter(
      bytes ? t.per_call * 1e-9 : t.per_call, benchmark::Counter::kIsIterationInvariantRate);
}

// Keeps the compiler from dropping a result; the tensor is freed right after, as a user's
// temporary would be.
void keep(const Tensor& t) {
  benchmark::DoNotOptimize(t.data());
}

double bytes_of(std::initializer_list<Shape> shapes) {
  double floats = 0;
  for (const Shape& s : shapes) floats += static_cast<double>(shape_numel(s));
  return 4 * floats;
}

std::string shape_name(const Shape& s) {
  return fmt::format("{}", fmt::join(s, "x"));
}

Tensor uniform(const Shape& shape, Generator& gen) {
  return Tensor::rand(shape, -1.0f, 1.0f, &gen);
}

class Cases {
 public:
  const std::vector<LayerCase>& all() const { return cases_; }

  void add(const std::string& op, const Shape& shape, const std::string& pass, Rate rate,
           std::function<Timed()> make) {
    cases_.push_back(
        {fmt::format("layer/{}/{}/{}", op, shape_name(shape), pass), rate, std::move(make)});
  }

  // Max pooling: fwd is F::max_pool2d with no gradient wanted (values only, as inference runs
  // it), fwd_indices the training forward that also writes the argmax indices (counted); bwd
  // scatters dy to the indices.
  void max_pool2d(const std::string& op, const Shape& shape, const F::MaxPool2dOptions& o) {
    add(op, shape, "fwd", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor x = uniform(shape, gen);
      const Shape y = F::max_pool2d(x, o).shape();
      return Timed{[=] { keep(F::max_pool2d(x, o)); }, bytes_of({shape, y})};
    });
    add(op, shape, "fwd_indices", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor x = uniform(shape, gen);
      const Shape y = F::max_pool2d(x, o).shape();
      return Timed{[=] { keep(F::max_pool2d_with_indices(x, o).output); }, bytes_of({shape, y, y})};
    });
    add(op, shape, "bwd", Rate::kBytes, [=] {
      Generator gen(42);
      const F::MaxPoolResult r = F::max_pool2d_with_indices(uniform(shape, gen), o);
      const Tensor dy = uniform(r.output.shape(), gen), indices = r.indices;
      return Timed{[=] { keep(F::max_pool2d_backward(dy, shape, indices, o)); },
                   bytes_of({dy.shape(), dy.shape(), shape})};
    });
  }

  void avg_pool2d(const std::string& op, const Shape& shape, const F::AvgPool2dOptions& o) {
    add(op, shape, "fwd", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor x = uniform(shape, gen);
      const Shape y = F::avg_pool2d(x, o).shape();
      return Timed{[=] { keep(F::avg_pool2d(x, o)); }, bytes_of({shape, y})};
    });
    add(op, shape, "bwd", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor dy = uniform(F::avg_pool2d(uniform(shape, gen), o).shape(), gen);
      return Timed{[=] { keep(F::avg_pool2d_backward(dy, shape, o)); },
                   bytes_of({dy.shape(), shape})};
    });
  }

  // Batch norm with weight and bias: training forward (batch statistics, running estimates
  // updated) and backward, and the evaluation forward.
  void batch_norm(const Shape& shape) {
    struct Inputs {
      Tensor x, weight, bias, running_mean, running_var;
    };
    const auto inputs = [shape] {
      Generator gen(42);
      const int64_t C = shape[1];
      return Inputs{uniform(shape, gen), uniform({C}, gen), uniform({C}, gen), Tensor::zeros({C}),
                    Tensor::rand({C}, 0.5f, 1.5f, &gen)};
    };
    const double x_y = bytes_of({shape, shape});
    add("batch_norm", shape, "fwd_train", Rate::kBytes, [=] {
      const Inputs in = inputs();
      return Timed{[=] {
                     keep(F::batch_norm(in.x, in.running_mean, in.running_var, in.weight, in.bias,
                                        {.training = true}));
                   },
                   x_y};
    });
    add("batch_norm", shape, "bwd_train", Rate::kBytes, [=] {
      Inputs in = inputs();
      const F::BatchNormForward f = F::batch_norm_forward(in.x, in.running_mean, in.running_var,
                                                          in.weight, in.bias, {.training = true});
      Generator gen(7);
      const Tensor dy = uniform(shape, gen);
      return Timed{[=] {
                     keep(F::batch_norm_backward(dy, in.x, in.weight, f.save_mean, f.save_invstd,
                                                 {.training = true})
                              .input);
                   },
                   bytes_of({shape, shape, shape})};
    });
    add("batch_norm", shape, "fwd_eval", Rate::kBytes, [=] {
      const Inputs in = inputs();
      return Timed{[=] {
                     keep(F::batch_norm(in.x, in.running_mean, in.running_var, in.weight, in.bias,
                                        {.training = false}));
                   },
                   x_y};
    });
  }

  // x2 upsampling, bilinear (align_corners false) or nearest, named <mode>_x2.
  void upsample_x2(const Shape& shape, F::InterpolateMode mode) {
    const bool bilinear = mode == F::InterpolateMode::kBilinear;
    F::InterpolateOptions<2> o{.scale_factor = 2.0, .mode = mode};
    if (bilinear) o.align_corners = false;
    const std::string op = bilinear ? "bilinear_x2" : "nearest_x2";
    const Shape y{shape[0], shape[1], 2 * shape[2], 2 * shape[3]};
    add(op, shape, "fwd", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor x = uniform(shape, gen);
      return Timed{[=] { keep(F::interpolate(x, o)); }, bytes_of({shape, y})};
    });
    add(op, shape, "bwd", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor dy = uniform(y, gen);
      return Timed{[=] { keep(F::interpolate_backward(dy, shape, o)); }, bytes_of({y, shape})};
    });
  }

  // relu's backward reads the forward's output, as PyTorch's does.
  void relu(const Shape& shape) {
    add("relu", shape, "fwd", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor x = uniform(shape, gen);
      return Timed{[=] { keep(F::relu(x)); }, bytes_of({shape, shape})};
    });
    add("relu", shape, "bwd", Rate::kBytes, [=] {
      Generator gen(42);
      const Tensor y = F::relu(uniform(shape, gen)), dy = uniform(shape, gen);
      return Timed{[=] { keep(F::relu_backward(dy, y)); }, bytes_of({shape, shape, shape})};
    });
  }

  // Softmax over the classes of (N, classes) logits, and the mean cross-entropy of those
  // logits, whose backward (from the logits and labels) is softmax minus one-hot, over N.
  void softmax_cross_entropy(int64_t N, int64_t classes) {
    const Shape shape{N, classes};
    const double elements = static_cast<double>(N * classes);
    add("softmax", shape, "fwd", Rate::kElements, [=] {
      Generator gen(42);
      const Tensor x = uniform(shape, gen);
      return Timed{[=] { keep(F::softmax(x, 1)); }, elements};
    });
    add("softmax", shape, "bwd", Rate::kElements, [=] {
      Generator gen(42);
      const Tensor y = F::softmax(uniform(shape, gen), 1), dy = uniform(shape, gen);
      return Timed{[=] { keep(F::softmax_backward(dy, y, 1)); }, elements};
    });
    const auto logits_and_labels = [=] {
      Generator gen(42);
      std::vector<float> labels(N);
      for (float& l : labels) l = static_cast<float>(gen.next_u64() % classes);
      return std::pair{uniform(shape, gen), Tensor::from_vector({N}, labels)};
    };
    add("cross_entropy", shape, "fwd", Rate::kElements, [=] {
      const std::pair<Tensor, Tensor> xt = logits_and_labels();
      return Timed{[=] { keep(F::cross_entropy(xt.first, xt.second)); }, elements};
    });
    add("cross_entropy", shape, "bwd", Rate::kElements, [=] {
      const std::pair<Tensor, Tensor> xt = logits_and_labels();
      const Tensor one = Tensor::ones({});
      return Timed{[=] { keep(F::cross_entropy_backward(one, xt.first, xt.second)); }, elements};
    });
  }

 private:
  std::vector<LayerCase> cases_;
};

std::vector<LayerCase> layer_cases() {
  Cases c;
  // The ResNet stem's pool, on one image and on a batch of 16.
  const F::MaxPool2dOptions stem{.kernel_size = 3, .stride = 2, .padding = 1};
  c.max_pool2d("max_pool2d_k3s2p1", {1, 64, 112, 112}, stem);
  c.max_pool2d("max_pool2d_k3s2p1", {16, 64, 112, 112}, stem);
  // The Fashion-MNIST CNN's pools (its first, at batch 64).
  c.max_pool2d("max_pool2d_k2", {64, 64, 28, 28}, {.kernel_size = 2});
  c.avg_pool2d("avg_pool2d_k2", {64, 64, 28, 28}, {.kernel_size = 2});
  c.batch_norm({16, 64, 56, 56});
  c.batch_norm({64, 32, 28, 28});  // the Fashion-MNIST CNN's first
  c.upsample_x2({8, 64, 56, 56}, F::InterpolateMode::kBilinear);
  c.upsample_x2({8, 64, 56, 56}, F::InterpolateMode::kNearest);
  c.relu({16, 64, 56, 56});
  c.softmax_cross_entropy(64, 10);
  c.softmax_cross_entropy(256, 1000);
  return c.all();
}

void register_layer_cases(const std::vector<LayerCase>& cases) {
  for (size_t i = 0; i < cases.size(); ++i)
    benchmark::RegisterBenchmark(
        cases[i].name.c_str(),
        [i, c = cases[i]](benchmark::State& state) { run_layer_case(state, i, c); })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace fovea::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  fovea::bench::register_layer_cases(fovea::bench::layer_cases());
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
