// DataLoader: shuffled, normalised, optionally augmented mini-batches of a Dataset.
//
// The order and the augmentation of epoch e depend only on (seed, e), so a run resumed at
// epoch e sees exactly the batches the uninterrupted run saw.
#pragma once

#include <cstdint>
#include <vector>

#include "fovea/data/dataset.h"

namespace fovea::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
  // Per-channel (x - mean) / std after augmentation; empty means none.
  std::vector<float> mean = {}, std = {};
  // Random crop: pad each side with `crop_padding` zeros, then crop back to the original size
  // at a random offset (torchvision's RandomCrop(size, padding)). 0 disables.
  int64_t crop_padding = 0;
  bool horizontal_flip = false;  // flip each image left-right with probability 1/2
};

struct Batch {
  Tensor images;  // (B, C, H, W)
  Tensor labels;  // (B)
};

class DataLoader {
 public:
  DataLoader(const Dataset& data, LoaderOptions options);
  // Fixes the order and augmentation of this epoch (call before reading its batches).
  void start_epoch(int64_t epoch);
  int64_t num_batches() const;
  // Batch i of the current epoch, 0 <= i < num_batches().
  Batch batch(int64_t i) const;
  const LoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return data_; }

 private:
  Dataset data_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  uint64_t epoch_seed_ = 0;
};

}  // namespace fovea::data
