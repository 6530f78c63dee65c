// `fovea summary`: layers, output shapes, parameters, MACs and receptive fields of a model.
#include <fmt/format.h>

#include "commands.h"
#include "fovea/analysis/summary.h"
#include "model_source.h"

namespace fovea::cli {
namespace {

struct SummaryArgs {
  std::string model, input;
  bool json = false;
};

void run(const SummaryArgs& a) {
  const ModelSource m = load_model_source(a.model, a.input);
  const analysis::Summary s = analysis::summarize(*m.model, m.input_shape, m.name);
  if (a.json)
    fmt::print("{}\n", analysis::summary_json(s));
  else
    fmt::print("{}", analysis::format_summary(s));
}

}  // namespace

void add_summary_command(CLI::App& app) {
  auto args = std::make_shared<SummaryArgs>();
  CLI::App* cmd = app.add_subcommand(
      "summary", "Layers of a model: output shapes, parameters, MACs and receptive fields");
  cmd->add_option("model", args->model, "Zoo name, spec string or .safetensors checkpoint")
      ->required();
  cmd->add_option("--input", args->input,
                  "Input shape CxHxW (or CxL, CxDxHxW); default: the checkpoint's, or the zoo "
                  "network's (3x224x224, 1x28x28 for fmnist-cnn and lenet5)");
  cmd->add_flag("--json", args->json, "Print one JSON document");
  cmd->callback([args] { run(*args); });
}

}  // namespace fovea::cli
