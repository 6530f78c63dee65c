// `fovea predict`: the top-k classes of images under a checkpoint.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "commands.h"
#include "compute_options.h"
#include "fovea/autograd.h"
#include "fovea/data/image.h"
#include "fovea/error.h"
#include "fovea/functional/activation.h"
#include "fovea/train/checkpoint.h"

namespace fovea::cli {
namespace {

namespace F = functional;

struct PredictArgs {
  std::string checkpoint;
  std::vector<std::string> images;
  int64_t top_k = 3;
  bool json = false;
  ComputeOptions compute;
};

// The image as the network saw its training data: (1, C, H, W), normalised. Images of another
// size are refused rather than silently resized: the model was trained at one size.
Tensor prepare(const std::string& path, const train::CheckpointInfo& info) {
  const Shape& want = info.input_shape;
  Tensor img = data::load_image(path, static_cast<int>(want[0]));
  if (img.shape() != want)
    throw ValueError(fmt::format(
        "predict: image '{}' is {}x{} but the checkpoint expects {}x{} images\nhint: resize it "
        "first (the network was trained at {}x{})",
        path, img.size(2), img.size(1), want[2], want[1], want[2], want[1]));
  const int64_t plane = img.numel() / want[0];
  for (int64_t c = 0; c < want[0]; ++c)
    for (int64_t i = 0; i < plane; ++i) {
      float& v = img.data()[c * plane + i];
      v = (v - info.mean[c]) / info.std[c];
    }
  Shape batched = want;
  batched.insert(batched.begin(), 1);
  return img.reshape(batched);
}

void run(const PredictArgs& a) {
  apply_compute_options(a.compute);
  train::LoadedCheckpoint ck = train::load_checkpoint(a.checkpoint);
  nn::Module& model = *ck.model.model;
  model.eval();
  autograd::NoGradGuard no_grad;
  const auto& classes = ck.info.classes;
  const int64_t k = std::min<int64_t>(a.top_k, static_cast<int64_t>(classes.size()));
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& path : a.images) {
    const Tensor probs = F::softmax(model.forward(prepare(path, ck.info)), 1);
    std::vector<int64_t> order(classes.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t i, int64_t j) { return probs.data()[i] > probs.data()[j]; });
    nlohmann::json top = nlohmann::json::array();
    if (!a.json) fmt::print("{}\n", path);
    for (int64_t r = 0; r < k; ++r) {
      const int64_t c = order[r];
      top.push_back({{"class", classes[c]}, {"index", c}, {"probability", probs.data()[c]}});
      if (!a.json) fmt::print("  {:>6.2f}%  {}\n", 100 * probs.data()[c], classes[c]);
    }
    results.push_back({{"image", path}, {"top", top}});
  }
  if (a.json) fmt::print("{}\n", results.dump());
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "Classify images with a trained checkpoint");
  cmd->add_option("--checkpoint", args->checkpoint, "Checkpoint to use")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("images", args->images, "Image files (PNG, JPEG, BMP, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--top-k", args->top_k, "How many classes to show")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "Print one JSON document");
  add_compute_options(cmd, args->compute);
  cmd->callback([args] { run(*args); });
}

}  // namespace fovea::cli
