// Training checkpoints in the safetensors format (fovea/io/safetensors.h).
//
// Tensors: the model's state dict under PyTorch-style names ("0.weight", "1.running_mean", ...)
// and, for resuming, the optimizer's buffers under "optimizer.<index>.<buffer>". Metadata
// (string values): "format" = "fovea-checkpoint-1", "spec", "classes" and "input_shape" and
// "mean"/"std" (JSON arrays), "epoch" (epochs completed), "data", "seed", "batch_size",
// "optimizer" (name), "optimizer_hyper_parameters" (JSON object), "scheduler" (name) and
// "scheduler_last_epoch". Files are written to a temporary name and renamed, so an
// interrupted save never leaves a broken checkpoint.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fovea/nn/module.h"
#include "fovea/nn/spec.h"
#include "fovea/optim/optimizer.h"

namespace fovea::train {

struct CheckpointInfo {
  std::string spec;
  std::vector<std::string> classes;
  Shape input_shape;             // (C, H, W) of one example
  std::vector<float> mean, std;  // the normalisation the model was trained with
  int64_t epoch = 0;             // epochs completed
  std::string data;              // where the training data came from
  uint64_t seed = 0;
  int64_t batch_size = 0;
  std::string scheduler = "none";
  int64_t scheduler_last_epoch = 0;
};

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model,
                     const CheckpointInfo& info, const optim::Optimizer* optimizer = nullptr);

struct LoadedCheckpoint {
  nn::SpecModel model;  // rebuilt from the spec, with the saved weights and buffers
  CheckpointInfo info;
  std::optional<optim::OptimizerState> optimizer;  // present when the file has one
};

// Throws IoError for files that are not Fovea checkpoints (naming what is missing) and
// whatever load_safetensors throws for damaged ones.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& path);

}  // namespace fovea::train
