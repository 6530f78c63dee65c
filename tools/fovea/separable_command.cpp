// `fovea separable`: how close each 2D convolution's kernels are to separable ones, and what
// separable or depthwise-separable replacements would cost.
#include <fmt/format.h>

#include "commands.h"
#include "fovea/analysis/separable.h"
#include "model_source.h"

namespace fovea::cli {
namespace {

struct SeparableArgs {
  std::string model, input;
  int64_t rank = 1;
  double tolerance = analysis::kRankTolerance;
  bool json = false;
};

void run(const SeparableArgs& a) {
  const ModelSource m = load_model_source(a.model, a.input);
  const analysis::SeparabilityReport r =
      analysis::analyze_separability(*m.model, m.name, a.rank, a.tolerance);
  if (a.json)
    fmt::print("{}\n", analysis::separability_json(r));
  else
    fmt::print("{}", analysis::format_separability(r));
}

}  // namespace

void add_separable_command(CLI::App& app) {
  auto args = std::make_shared<SeparableArgs>();
  CLI::App* cmd = app.add_subcommand(
      "separable",
      "Singular values of each conv layer's kernels and separable-factorisation costs");
  cmd->add_option("model", args->model,
                  "A .safetensors checkpoint, a zoo name or a spec string (untrained weights)")
      ->required();
  cmd->add_option("--rank", args->rank, "Separable pairs kept per kernel")->capture_default_str();
  cmd->add_option("--tol", args->tolerance,
                  "Relative tolerance of the numerical rank (σ_i > tol·σ_1 counts)")
      ->capture_default_str();
  cmd->add_option("--input", args->input,
                  "Input shape CxHxW for a spec string (sizes the linear layers)");
  cmd->add_flag("--json", args->json, "Print one JSON document");
  cmd->callback([args] { run(*args); });
}

}  // namespace fovea::cli
