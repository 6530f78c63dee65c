// The options every computing subcommand shares: how many threads, which convolution
// algorithm. One place defines the flags and applies them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace fovea::cli {

struct ComputeOptions {
  int threads = 0;        // 0: OpenMP's default (all cores)
  std::string conv_algo;  // "" (auto), "autotune" or a kernel-table name
};

// Adds --threads and --conv-algo to `cmd`, writing into `o`.
void add_compute_options(CLI::App* cmd, ComputeOptions& o);

// Sets the thread count and the convolution algorithm for the rest of the process.
void apply_compute_options(const ComputeOptions& o);

}  // namespace fovea::cli
