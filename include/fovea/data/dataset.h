// In-memory labelled image data sets.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::data {

struct Dataset {
  Tensor images;  // (N, C, H, W), values in [0, 1]
  Tensor labels;  // (N), class indices stored as exact float integers
  std::vector<std::string> classes;
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// The ten Fashion-MNIST class names, index order.
const std::vector<std::string>& fashion_mnist_classes();

// MNIST-style directory: {train,t10k}-{images-idx3,labels-idx1}-ubyte, each optionally .gz.
// Images become (N, 1, H, W) scaled to [0, 1]. `classes` defaults to the digits "0".."9".
// Throws IoError naming the missing file or the mismatch (image and label counts, labels
// outside [0, classes)).
Dataset load_idx_dataset(const std::filesystem::path& dir, bool train,
                         std::vector<std::string> classes = {});

// The first `n` examples (or all when n >= size): for quick runs and tests.
Dataset take(const Dataset& data, int64_t n);

}  // namespace fovea::data
