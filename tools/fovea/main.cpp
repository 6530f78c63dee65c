// The fovea command-line program. Errors print `error: ...` and exit 1 (2 for usage errors).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "commands.h"
#include "fovea/error.h"

namespace {
constexpr const char* kVersion = "0.1.0";
}

int main(int argc, char** argv) {
  CLI::App app{"Fovea: convolutional neural networks in C++"};
  app.require_subcommand(1);
  app.add_subcommand("version", "Print the Fovea version")->callback([] {
    fmt::print("fovea {}\n", kVersion);
  });
  fovea::cli::add_train_command(app);
  fovea::cli::add_eval_command(app);
  fovea::cli::add_predict_command(app);
  fovea::cli::add_examples_command(app);
  fovea::cli::add_summary_command(app);
  fovea::cli::add_rf_command(app);
  fovea::cli::add_separable_command(app);
  fovea::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "error: {}\nhint: run '{} --help' for usage\n", e.what(), argv[0]);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
