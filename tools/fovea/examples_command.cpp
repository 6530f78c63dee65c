#include <fmt/format.h>

#include <array>

#include "commands.h"
#include "fovea/conv_arithmetic.h"
#include "fovea/functional/conv.h"

namespace fovea::cli {
namespace {

void run_examples() {
  namespace F = fovea::functional;
  fmt::print("1. Cross-correlation of a 5x5 image with a 3x3 kernel (stride 1, no padding)\n");
  const std::array<float, 25> image = {3, 3, 2, 1, 0, 0, 0, 1, 3, 1, 3, 1, 2,
                                       2, 3, 2, 0, 0, 2, 2, 2, 0, 0, 0, 1};
  const std::array<float, 9> kernel = {0, 1, 2, 2, 2, 0, 0, 1, 2};
  const Tensor x = Tensor::from_vector({1, 1, 5, 5}, image);
  const Tensor w = Tensor::from_vector({1, 1, 3, 3}, kernel);
  fmt::print("image  = {}\nkernel = {}\noutput = {}\n\n", x.reshape({5, 5}).to_string(),
             w.reshape({3, 3}).to_string(), F::conv2d(x, w).reshape({3, 3}).to_string());

  fmt::print("2. Output size floor((n + 2p - d(k-1) - 1)/s) + 1 for n = 7, k = 3\n");
  for (int64_t s : {1, 2, 3}) fmt::print("   stride {}: {}\n", s, conv_output_size(7, 3, s));
  fmt::print("   padding 1, stride 1: {} (size kept)\n\n", conv_output_size(7, 3, 1, 1, 1));

  fmt::print("3. 32x32x3 input, ten 5x5 filters, stride 1, padding 2\n");
  const Tensor big = F::conv2d(Tensor::randn({1, 3, 32, 32}), Tensor::randn({10, 3, 5, 5}),
                               Tensor::zeros({10}), {.padding = 2});
  const std::array<int64_t, 2> k5 = {5, 5};
  fmt::print("   output shape {} , parameters {} (10 x (5*5*3) weights + 10 biases)\n",
             shape_str(big.shape()), conv_param_count(3, 10, k5));
}

}  // namespace

void add_examples_command(CLI::App& app) {
  app.add_subcommand("examples", "Run the course notes' worked convolution examples")
      ->callback(run_examples);
}

}  // namespace fovea::cli
