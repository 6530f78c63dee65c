#include "model_source.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <filesystem>

#include "fovea/train/checkpoint.h"
#include "fovea/zoo/zoo.h"

namespace fovea::cli {
namespace {

// The classes a zoo network is usually built with: ImageNet's 1000, or 10 for the
// MNIST-sized ones (lenet5, fmnist-cnn).
int64_t zoo_classes(const std::string& name) {
  return zoo::model_input_shape(name)[0] == 1 ? 10 : 1000;
}

}  // namespace

Shape parse_input_shape(const std::string& text, const std::string& option) {
  Shape shape;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t x = std::min(text.find('x', pos), text.size());
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + x, v);
    if (ec != std::errc() || end != text.data() + x || v < 1)
      throw CLI::ValidationError(
          option,
          fmt::format("expects sizes >= 1 joined by 'x' (CxHxW, CxL or CxDxHxW), got '{}'", text));
    shape.push_back(v);
    pos = x + 1;
  }
  if (shape.size() > 4)
    throw CLI::ValidationError(
        option,
        fmt::format("expects at most 4 sizes (CxDxHxW), got {} in '{}'", shape.size(), text));
  return shape;
}

ModelSource load_model_source(const std::string& model, const std::string& input) {
  const bool checkpoint =
      model.ends_with(".safetensors") || std::filesystem::is_regular_file(model);
  if (checkpoint) {
    train::LoadedCheckpoint ck = train::load_checkpoint(model);
    return {ck.model.model, model, input.empty() ? ck.info.input_shape : parse_input_shape(input)};
  }
  const bool zoo = zoo::is_model_name(model);
  if (!zoo && input.empty())
    throw CLI::ValidationError("--input",
                               fmt::format("a spec string needs the input shape (e.g. --input "
                                           "1x28x28); '{}' is not a zoo name or a checkpoint",
                                           model));
  const Shape shape = input.empty() ? zoo::model_input_shape(model) : parse_input_shape(input);
  return {zoo::build_model(model, shape, zoo ? zoo_classes(model) : 1000).model, model, shape};
}

}  // namespace fovea::cli
