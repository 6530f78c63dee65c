#include "compute_options.h"

#include <fmt/format.h>
#include <omp.h>

#include <vector>

#include "fovea/functional/conv.h"

namespace fovea::cli {

void add_compute_options(CLI::App* cmd, ComputeOptions& o) {
  cmd->add_option("--threads", o.threads, "OpenMP threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  std::vector<std::string> choices = {"auto", std::string(kConvAutotune)};
  for (const std::string& name : conv_algorithm_names()) choices.push_back(name);
  cmd->add_option("--conv-algo", o.conv_algo,
                  fmt::format("Convolution algorithm: auto (by shape, default), {} (time the "
                              "candidates once per shape), or one of {} (used wherever it "
                              "supports the shape)",
                              kConvAutotune, fmt::join(conv_algorithm_names(), ", ")))
      ->check(CLI::IsMember(choices));
}

void apply_compute_options(const ComputeOptions& o) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  set_conv_algorithm(o.conv_algo == "auto" ? "" : o.conv_algo);
}

}  // namespace fovea::cli
