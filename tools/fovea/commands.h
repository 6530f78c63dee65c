// Each subcommand registers itself on the CLI11 app; main.cpp only wires them together.
#pragma once

#include <CLI/CLI.hpp>

namespace fovea::cli {

// `fovea examples`: the course notes' worked examples, computed by the library.
void add_examples_command(CLI::App& app);
// `fovea train`, `fovea eval`, `fovea predict`: the main job (see DESIGN.md's CLI contract).
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
// `fovea summary`, `fovea rf`, `fovea separable`: the arithmetic of a network (see
// fovea/analysis/).
void add_summary_command(CLI::App& app);
void add_rf_command(CLI::App& app);
void add_separable_command(CLI::App& app);
// `fovea bench`: times convolution kernels, network inference and training steps.
void add_bench_command(CLI::App& app);

}  // namespace fovea::cli
