// `fovea eval`: accuracy and loss of a checkpoint on a data set's test split.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "compute_options.h"
#include "data_source.h"
#include "fovea/error.h"
#include "fovea/train/checkpoint.h"
#include "fovea/train/trainer.h"

namespace fovea::cli {
namespace {

struct EvalArgs {
  std::string checkpoint, data;
  bool json = false;
  int64_t limit = 0;
  ComputeOptions compute;
};

void run(const EvalArgs& a) {
  apply_compute_options(a.compute);
  train::LoadedCheckpoint ck = train::load_checkpoint(a.checkpoint);
  const std::string source = a.data.empty() ? ck.info.data : a.data;
  const data::Dataset test = load_test_data(source, a.limit);
  const Shape example(test.images.shape().begin() + 1, test.images.shape().end());
  if (example != ck.info.input_shape)
    throw ValueError(fmt::format("eval: the checkpoint expects images of shape {}, '{}' has {}",
                                 shape_str(ck.info.input_shape), source, shape_str(example)));
  const train::EvalResult r = train::evaluate(*ck.model.model, test, ck.info.mean, ck.info.std);
  if (a.json) {
    fmt::print("{}\n", nlohmann::json{{"checkpoint", a.checkpoint},
                                      {"data", source},
                                      {"images", r.count},
                                      {"loss", r.loss},
                                      {"accuracy", r.acc}}
                           .dump());
  } else {
    fmt::print("{}: {} test images of {}\n  loss {:.4f}\n  accuracy {:.2f}%\n", a.checkpoint,
               r.count, source, r.loss, 100 * r.acc);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on the test split");
  cmd->add_option("--checkpoint", args->checkpoint, "Checkpoint to evaluate")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", args->data, "Data set (default: the one it was trained on)");
  cmd->add_flag("--json", args->json, "Print one JSON document");
  cmd->add_option("--limit", args->limit, "Use only the first N test images");
  add_compute_options(cmd, args->compute);
  cmd->callback([args] { run(*args); });
}

}  // namespace fovea::cli
