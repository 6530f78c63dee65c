// `fovea bench`: times Fovea on fixed work and prints a table, or one JSON document
// (DESIGN.md's contract) with --json.
//
//   --suite conv    each layer of shared/bench/conv_layers.json x pass (fwd, bwd_data,
//                   bwd_weight): one call of the kernel the selector picks (or --conv-algo's) on
//                   buffers allocated once per layer, as bench/conv_bench times it
//   --suite models  inference of zoo networks (default resnet18 and mobilenet_v2) at batch 1
//                   on their input size (3x224x224): eval mode, batch norms folded into the
//                   convolutions before them and ReLU/ReLU6 fused into the convolutions'
//                   kernels (nn::optimize_for_inference), no graph recorded
//   --suite train   training steps of fmnist-cnn at batch 64 on synthetic data, run by
//                   train::train as `fovea train` runs them (Adam, cosine schedule, data
//                   loader included)
// --conv-algo picks the convolution kernel: per pass in the conv suite (a kernel is timed only
// on the passes it supports); process-wide for the others, as in `fovea train`.
//
// Every time is the median over calls run back to back for --min-time seconds, and at least
// kMinRuns calls, after a warm-up call. peak_rss_mib is the whole process's peak resident
// memory so far (VmHWM): it includes whatever ran before in the same process, so measure one
// model per process to compare memory (bench/compare/model_compare.py does).
#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "bench_suite/conv_suite.h"
#include "commands.h"
#include "compute_options.h"
#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/functional/conv.h"
#include "fovea/nn/fuse.h"
#include "fovea/random.h"
#include "fovea/train/trainer.h"
#include "fovea/zoo/zoo.h"
#include "ops/conv_autotune.h"
#include "ops/workspace.h"

namespace fovea::cli {
namespace {

using kernels::ConvAlgorithm;
using kernels::ConvPass;
using Clock = std::chrono::steady_clock;

constexpr int kMinRuns = 3;
// Steps per epoch of the train suite's synthetic data set: small enough to stay in memory
// at any batch size, large enough that epoch boundaries (an evaluation each) are rare.
constexpr int64_t kTrainStepsPerEpoch = 16;

struct BenchArgs {
  std::string suite;
  ComputeOptions compute;
  bool json = false;
  std::string layers;  // regex on "layer/N<batch>"
  std::string suite_file;
  std::vector<std::string> models;  // empty: the suite's default
  int64_t batch = 0;                // 0: the suite's default
  double min_time = 0;              // 0: the suite's default
  bool profile = false;             // models: also print the time per op
};

// One column of the human table: the row's JSON key, a header, and how numbers print.
struct Column {
  const char* key;
  const char* header;
  int width;
  int precision;  // -1: text (left-aligned); 0: an integer; else digits after the point
};

std::string cell(const nlohmann::ordered_json& v, const Column& c) {
  if (c.precision < 0) return fmt::format("{:<{}}", v.get<std::string>(), c.width);
  if (c.precision == 0) return fmt::format("{:>{}}", v.get<int64_t>(), c.width);
  return fmt::format("{:>{}.{}f}", v.get<double>(), c.width, c.precision);
}

// Rows are printed as they are measured (a whole suite takes a while) unless the output is
// one JSON document at the end.
class Report {
 public:
  Report(const BenchArgs& a, std::vector<Column> columns) : a_(a), columns_(std::move(columns)) {
    if (a_.json) return;
    std::string head;
    for (const Column& c : columns_)
      head += c.precision < 0 ? fmt::format("{:<{}}  ", c.header, c.width)
                              : fmt::format("{:>{}}  ", c.header, c.width);
    head.erase(head.find_last_not_of(' ') + 1);
    fmt::print("{}\n{}\n", head, std::string(head.size(), '-'));
  }

  void add(nlohmann::ordered_json row) {
    if (!a_.json) {
      std::string line;
      for (const Column& c : columns_) line += cell(row.at(c.key), c) + "  ";
      line.erase(line.find_last_not_of(' ') + 1);
      fmt::print("{}\n", line);
      std::fflush(stdout);
    }
    rows_.push_back(std::move(row));
  }

  void finish() const {
    if (a_.json)
      fmt::print("{}\n",
                 nlohmann::ordered_json{
                     {"suite", a_.suite}, {"threads", omp_get_max_threads()}, {"results", rows_}}
                     .dump());
  }

 private:
  const BenchArgs& a_;
  std::vector<Column> columns_;
  nlohmann::ordered_json rows_ = nlohmann::ordered_json::array();
};

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Median seconds per call of `call`, run back to back after one warm-up call until min_time
// has passed and at least kMinRuns calls were timed.
double median_seconds(const std::function<void()>& call, double min_time) {
  call();
  std::vector<double> times;
  const auto start = Clock::now();
  while (static_cast<int>(times.size()) < kMinRuns ||
         std::chrono::duration<double>(Clock::now() - start).count() < min_time) {
    const auto t0 = Clock::now();
    call();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return median(std::move(times));
}

// This process's peak resident set so far, in MiB: VmHWM of /proc/self/status. Not
// getrusage's ru_maxrss, which Linux carries over from the parent across fork and exec, so a
// child of a large process (a Python script that imported torch) would report its parent's.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / 1024.0;  // "... kB"
  rusage usage{};  // no procfs: the best there is
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// --suite-file, else $FOVEA_CONV_LAYERS, else the path compiled in (as bench/conv_bench).
std::string conv_suite_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FOVEA_CONV_LAYERS"); env && *env) return env;
#ifdef FOVEA_CONV_LAYERS_DEFAULT
  return FOVEA_CONV_LAYERS_DEFAULT;
#else
  return "";
#endif
}

// The kernel to time for one pass: the selector's choice ("" or "auto"), the autotuner's, or
// the named kernel where it supports the pass (nullptr elsewhere).
const ConvAlgorithm* conv_suite_algorithm(const std::string& name, const kernels::ConvGeometry& g,
                                          ConvPass kpass, bench::ConvBuffers& buffers) {
  if (name.empty() || name == "auto") return kernels::select_conv(g, kpass, "");
  if (name == kConvAutotune)
    return &ops::autotuned_conv(g, kpass, [&](const ConvAlgorithm& a) {
      bench::run_conv_pass(a, g, kpass, buffers,
                           ops::thread_workspace(a.workspace_floats(g, kpass)));
    });
  for (const ConvAlgorithm& a : kernels::conv_algorithms())
    if (a.name == name) return a.supports(g, kpass) ? &a : nullptr;
  return nullptr;
}

void run_conv_suite(const BenchArgs& a, const std::regex& filter) {
  const std::string path = conv_suite_path(a.suite_file);
  if (path.empty() || !std::filesystem::is_regular_file(path))
    throw IoError(
        fmt::format("bench: no convolution layer suite at '{}'; pass --suite-file PATH to "
                    "conv_layers.json (or set FOVEA_CONV_LAYERS)",
                    path));
  std::vector<bench::ConvLayer> layers = bench::load_conv_suite(path);
  std::erase_if(layers, [&](const bench::ConvLayer& l) {
    return !std::regex_search(fmt::format("{}/N{}", l.name, l.N), filter);
  });
  if (layers.empty())
    throw CLI::ValidationError("--layers",
                               fmt::format("no layer of '{}' matches '{}' (matched against "
                                           "'layer/N<batch>', e.g. 'r18_l1_3x3/N1')",
                                           path, a.layers));
  const double min_time = a.min_time > 0 ? a.min_time : 0.1;
  Report report(a, {{"layer", "layer", 22, -1},
                    {"N", "N", 3, 0},
                    {"pass", "pass", 10, -1},
                    {"algorithm", "algorithm", 14, -1},
                    {"ms_median", "ms", 9, 3},
                    {"gflops", "GFLOP/s", 8, 1}});
  for (const bench::ConvLayer& l : layers) {
    const kernels::ConvGeometry g = bench::conv_suite_geometry(l);
    bench::ConvBuffers buffers = bench::make_conv_buffers(g);
    for (ConvPass pass : {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardWeight}) {
      const ConvPass kpass = bench::kernel_pass(l, pass);
      const ConvAlgorithm* algorithm = conv_suite_algorithm(a.compute.conv_algo, g, kpass, buffers);
      if (!algorithm) continue;
      // As the door does it: sized per call, since the size depends on the thread count.
      float* workspace = ops::thread_workspace(algorithm->workspace_floats(g, kpass));
      const double s = median_seconds(
          [&] { bench::run_conv_pass(*algorithm, g, kpass, buffers, workspace); }, min_time);
      report.add({{"layer", l.name},
                  {"N", l.N},
                  {"pass", kernels::to_string(pass)},
                  {"algorithm", algorithm->name},
                  {"ms_median", s * 1e3},
                  {"gflops", l.gflop / s}});
    }
  }
  report.finish();
}

const std::vector<Column> kModelColumns = {{"model", "model", 14, -1},
                                           {"batch", "batch", 5, 0},
                                           {"ms_median", "ms", 9, 2},
                                           {"images_per_s", "images/s", 9, 1},
                                           {"peak_rss_mib", "peak RSS MiB", 12, 1}};

nlohmann::ordered_json model_row(const std::string& model, int64_t batch, double seconds) {
  return {{"model", model},
          {"batch", batch},
          {"ms_median", seconds * 1e3},
          {"images_per_s", static_cast<double>(batch) / seconds},
          {"peak_rss_mib", peak_rss_mib()}};
}

// --profile: where a forward's time goes, by op and output shape. The op observer reports each op
// as it ends; the time since the previous op ended (or the forward began) is charged to it, so work
// between ops (module glue, allocation) lands on the op after it.
void print_profile(const std::string& model, const std::function<void()>& forward,
                   double min_time) {
  struct OpTime {
    double seconds = 0;
    int64_t calls = 0;
  };
  std::map<std::string, OpTime> ops;
  Clock::time_point last;
  int64_t runs = 0;
  {
    autograd::OpObserverGuard observe(
        [&](const std::string& op, const std::vector<Tensor>&, const Tensor& output) {
          const Clock::time_point now = Clock::now();
          OpTime& t = ops[fmt::format("{} -> {}", op, shape_str(output.shape()))];
          t.seconds += std::chrono::duration<double>(now - last).count();
          ++t.calls;
          last = now;
        });
    const Clock::time_point start = Clock::now();
    while (runs == 0 || std::chrono::duration<double>(Clock::now() - start).count() < min_time) {
      last = Clock::now();
      forward();
      ++runs;
    }
  }
  std::vector<std::pair<std::string, OpTime>> rows(ops.begin(), ops.end());
  std::ranges::sort(rows, std::greater{}, [](const auto& r) { return r.second.seconds; });
  double total = 0;
  for (const auto& [op, t] : rows) total += t.seconds;
  fmt::print("\n{} by op ({} forwards, observer on):\n{:<40}  {:>6}  {:>9}  {:>6}\n", model, runs,
             "op", "calls", "ms", "%");
  for (const auto& [op, t] : rows)
    fmt::print("{:<40}  {:>6}  {:>9.3f}  {:>6.1f}\n", op, t.calls / runs, t.seconds / runs * 1e3,
               100 * t.seconds / total);
  fmt::print("\n");
}

void run_models_suite(const BenchArgs& a) {
  const int64_t batch = a.batch > 0 ? a.batch : 1;
  const double min_time = a.min_time > 0 ? a.min_time : 2.0;
  Report report(a, kModelColumns);
  for (const std::string& name :
       a.models.empty() ? std::vector<std::string>{"resnet18", "mobilenet_v2"} : a.models) {
    const Shape example = zoo::model_input_shape(name);
    manual_seed(0);
    const nn::SpecModel built = zoo::build_model(name, example);
    built.model->eval();
    autograd::NoGradGuard no_grad;
    Shape shape{batch};
    shape.insert(shape.end(), example.begin(), example.end());
    Generator gen(42);
    const Tensor images = Tensor::randn(shape, &gen);
    // Deployed as PyTorch's optimize_for_inference deploys it: batch norms folded into the
    // convolutions before them, activations fused into them. The rewrite traces a forward that
    // keeps every activation alive; which layers pair up does not depend on the image size, so a
    // small image keeps the trace from raising the peak memory measured below (networks that need
    // their full size, such as ones with a linear layer after flatten, are traced at it).
    Shape small = shape;
    for (size_t a = 2; a < small.size(); ++a) small[a] = std::min<int64_t>(small[a], 64);
    try {
      nn::optimize_for_inference(*built.model, Tensor::zeros(small));
    } catch (const ShapeError&) {
      nn::optimize_for_inference(*built.model, images);
    }
    const auto forward = [&] { built.model->forward(images); };
    const double s = median_seconds(forward, min_time);
    report.add(model_row(name, batch, s));
    if (a.profile) print_profile(name, forward, min_time);
  }
  report.finish();
}

// Uniform images of the model's input shape; labels cycle through 10 classes.
data::Dataset synthetic_dataset(const Shape& example, int64_t n) {
  Shape shape{n};
  shape.insert(shape.end(), example.begin(), example.end());
  Generator gen(42);
  data::Dataset d;
  d.images = Tensor::rand(shape, 0.0f, 1.0f, &gen);
  d.labels = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) d.labels.data()[i] = static_cast<float>(i % 10);
  for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
  return d;
}

// Seconds of each training step of `epochs` epochs of `steps_per_epoch` steps but the first
// (which creates Adam's state), timed by train::train's own per-batch clock.
std::vector<double> train_step_seconds(const std::string& model, int64_t batch,
                                       int64_t steps_per_epoch, int64_t epochs) {
  const Shape example = zoo::model_input_shape(model);
  const data::Dataset train_set = synthetic_dataset(example, batch * steps_per_epoch);
  train::TrainOptions o;
  o.model = model;
  o.epochs = epochs;
  o.batch_size = batch;
  o.mean.assign(example[0], 0.5f);  // known statistics: nothing to compute first
  o.std.assign(example[0], 0.29f);
  std::vector<double> steps;
  double last = 0;
  train::TrainCallbacks cb;
  cb.on_batch = [&](const train::Progress& p) {
    if (p.batch == 1) last = 0;  // the clock restarts each epoch
    if (p.epoch > 1 || p.batch > 1) steps.push_back(p.seconds - last);
    last = p.seconds;
  };
  train::train(o, train_set, data::take(train_set, 1), cb);
  return steps;
}

void run_train_suite(const BenchArgs& a) {
  const int64_t batch = a.batch > 0 ? a.batch : 64;
  const double min_time = a.min_time > 0 ? a.min_time : 2.0;
  Report report(a, kModelColumns);
  for (const std::string& name :
       a.models.empty() ? std::vector<std::string>{"fmnist-cnn"} : a.models) {
    // A short run sizes the measured one: as many epochs as min_time needs.
    const double estimate = median(train_step_seconds(name, batch, kMinRuns, 1));
    const int64_t steps =
        std::max<int64_t>(kMinRuns, static_cast<int64_t>(std::ceil(min_time / estimate)));
    const int64_t per_epoch = std::min(steps + 1, kTrainStepsPerEpoch);
    const double s =
        median(train_step_seconds(name, batch, per_epoch, (steps + per_epoch) / per_epoch));
    report.add(model_row(name, batch, s));
  }
  report.finish();
}

void run(const BenchArgs& a, const std::regex& filter) {
  apply_compute_options(a.compute);
  if (a.suite == "conv")
    run_conv_suite(a, filter);
  else if (a.suite == "models")
    run_models_suite(a);
  else
    run_train_suite(a);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd =
      app.add_subcommand("bench", "Time convolution kernels, network inference or training steps");
  cmd->add_option("--suite", args->suite,
                  "conv: the layer suite's kernels; models: inference at batch 1; train: "
                  "training steps of fmnist-cnn at batch 64")
      ->required()
      ->check(CLI::IsMember({"conv", "models", "train"}));
  add_compute_options(cmd, args->compute);
  cmd->add_flag("--json", args->json, "Print one JSON document");
  cmd->add_option("--min-time", args->min_time,
                  "Seconds to repeat each case for; the median call counts (default: 0.1 for "
                  "conv, 2 for models and train)")
      ->check(CLI::PositiveNumber);
  CLI::Option* layers =
      cmd->add_option("--layers", args->layers,
                      "conv: only layers whose 'layer/N<batch>' matches this regex (e.g. "
                      "'^r18_', 'N1$')");
  CLI::Option* suite_file =
      cmd->add_option("--suite-file", args->suite_file,
                      "conv: the layer suite (default: $FOVEA_CONV_LAYERS, else "
                      "../shared/bench/conv_layers.json next to the source tree)");
  CLI::Option* models =
      cmd->add_option("--models", args->models,
                      "models, train: zoo networks to run (default: resnet18 mobilenet_v2; "
                      "train: fmnist-cnn)")
          ->check(CLI::IsMember(zoo::model_names()));
  CLI::Option* profile =
      cmd->add_flag("--profile", args->profile,
                    "models: also print where a forward's time goes, op by op (text output only)");
  CLI::Option* batch = cmd->add_option("--batch", args->batch,
                                       "models, train: images per batch (default: 1; train: 64)")
                           ->check(CLI::PositiveNumber);
  cmd->callback([=] {
    const bool conv = args->suite == "conv";
    for (const CLI::Option* o : {layers, suite_file})
      if (!conv && o->count() > 0)
        throw CLI::ValidationError(o->get_name(), "applies to --suite conv only");
    for (const CLI::Option* o : {models, batch})
      if (conv && o->count() > 0)
        throw CLI::ValidationError(o->get_name(), "applies to --suite models and train only");
    if (profile->count() > 0 && (args->suite != "models" || args->json))
      throw CLI::ValidationError("--profile", "applies to --suite models without --json only");
    std::regex filter;
    try {
      filter = std::regex(args->layers);
    } catch (const std::regex_error& e) {
      throw CLI::ValidationError("--layers",
                                 fmt::format("'{}' is not a regex: {}", args->layers, e.what()));
    }
    run(*args, filter);
  });
}

}  // namespace fovea::cli
