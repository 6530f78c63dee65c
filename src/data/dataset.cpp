#include "fovea/data/dataset.h"

#include <fmt/format.h>

#include <algorithm>

#include "fovea/data/idx.h"
#include "fovea/error.h"

namespace fovea::data {
namespace {

std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    const auto p = dir / (stem + suffix);
    if (std::filesystem::exists(p)) return p;
  }
  throw IoError(
      fmt::format("load_idx_dataset: '{}' has no {} (or {}.gz)", dir.string(), stem, stem));
}

}  // namespace

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

Dataset load_idx_dataset(const std::filesystem::path& dir, bool train,
                         std::vector<std::string> classes) {
  if (!std::filesystem::is_directory(dir))
    throw IoError(fmt::format("load_idx_dataset: '{}' is not a directory", dir.string()));
  const std::string split = train ? "train" : "t10k";
  Tensor images = load_idx(find_file(dir, split + "-images-idx3-ubyte"));
  Tensor labels = load_idx(find_file(dir, split + "-labels-idx1-ubyte"));
  if (images.dim() != 3)
    throw IoError(fmt::format("load_idx_dataset: {} images expect 3 dimensions (N, H, W), got {}",
                              split, shape_str(images.shape())));
  if (labels.dim() != 1 || labels.size(0) != images.size(0))
    throw IoError(
        fmt::format("load_idx_dataset: {} labels expect shape [{}] (one per image), got {}", split,
                    images.size(0), shape_str(labels.shape())));
  if (classes.empty())
    for (int i = 0; i < 10; ++i) classes.push_back(std::to_string(i));
  for (int64_t i = 0; i < labels.numel(); ++i) {
    const float v = labels.data()[i];
    if (v < 0 || v >= static_cast<float>(classes.size()))
      throw IoError(fmt::format("load_idx_dataset: {} label {} is {}; expected 0..{}", split, i, v,
                                classes.size() - 1));
  }
  for (float& v : images.span()) v *= 1.0f / 255.0f;
  return {images.reshape({images.size(0), 1, images.size(1), images.size(2)}), labels,
          std::move(classes)};
}

Dataset take(const Dataset& data, int64_t n) {
  n = std::clamp<int64_t>(n, 0, data.size());
  Shape shape = data.images.shape();
  const int64_t per_image = data.images.numel() / std::max<int64_t>(1, data.size());
  shape[0] = n;
  Tensor images = Tensor::from_vector(shape, data.images.span().subspan(0, n * per_image));
  Tensor labels = Tensor::from_vector({n}, data.labels.span().subspan(0, n));
  return {images, labels, data.classes};
}

}  // namespace fovea::data
