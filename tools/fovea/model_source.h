// Where a MODEL argument points (`fovea summary`, `fovea separable`): a .safetensors
// checkpoint (spec, weights and input shape come from the file), a zoo name, or a spec string.
#pragma once

#include <memory>
#include <string>

#include "fovea/nn/module.h"

namespace fovea::cli {

struct ModelSource {
  std::shared_ptr<nn::Module> model;
  std::string name;   // as given
  Shape input_shape;  // (C, *spatial)
};

// `input` ("3x224x224", "1x28x28", "16x100", "") overrides the shape; it defaults to the
// checkpoint's, or the zoo network's usual input (zoo::model_input_shape), and is required for
// spec strings (a usage error, CLI::ValidationError, without it). Zoo networks get 1000
// classes, 10 for the MNIST-sized lenet5 and fmnist-cnn.
ModelSource load_model_source(const std::string& model, const std::string& input);

// "CxHxW" (or C, CxL, CxDxHxW) as a shape; CLI::ValidationError naming `option` if malformed.
Shape parse_input_shape(const std::string& text, const std::string& option = "--input");

}  // namespace fovea::cli
