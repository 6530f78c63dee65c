#include "fovea/data/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "fovea/error.h"
#include "fovea/random.h"

namespace fovea::data {
namespace {

// splitmix64: decorrelates the per-epoch and per-image seeds derived from one user seed.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

DataLoader::DataLoader(const Dataset& data, LoaderOptions options)
    : data_(data), options_(std::move(options)) {
  if (data_.size() == 0)
    throw ValueError("DataLoader: dataset expects at least one example, got 0");
  if (options_.batch_size < 1)
    throw ValueError(
        fmt::format("DataLoader: batch_size expects a value >= 1, got {}", options_.batch_size));
  const int64_t channels = data_.images.size(1);
  if (options_.mean.size() != options_.std.size() ||
      (!options_.mean.empty() && static_cast<int64_t>(options_.mean.size()) != channels))
    throw ValueError(fmt::format(
        "DataLoader: mean and std expect {} values each (one per channel), got {} and {}", channels,
        options_.mean.size(), options_.std.size()));
  for (float s : options_.std)
    if (!(s > 0)) throw ValueError(fmt::format("DataLoader: std expects values > 0, got {}", s));
  if (options_.crop_padding < 0)
    throw ValueError(fmt::format("DataLoader: crop_padding expects a value >= 0, got {}",
                                 options_.crop_padding));
  start_epoch(0);
}

void DataLoader::start_epoch(int64_t epoch) {
  epoch_seed_ = mix(options_.seed ^ mix(static_cast<uint64_t>(epoch)));
  order_.resize(static_cast<size_t>(data_.size()));
  std::iota(order_.begin(), order_.end(), 0);
  if (options_.shuffle) {
    Generator gen(epoch_seed_);
    // Fisher-Yates with our own generator: the same order with any standard library.
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[gen.next_u64() % i]);
  }
}

int64_t DataLoader::num_batches() const {
  const int64_t n = data_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

Batch DataLoader::batch(int64_t i) const {
  if (i < 0 || i >= num_batches())
    throw ValueError(
        fmt::format("DataLoader::batch: index expects 0..{}, got {}", num_batches() - 1, i));
  const int64_t begin = i * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, data_.size() - begin);
  const int64_t C = data_.images.size(1), H = data_.images.size(2), W = data_.images.size(3);
  Batch out{Tensor::empty({count, C, H, W}), Tensor::empty({count})};
  const int64_t pad = options_.crop_padding;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < count; ++k) {
    const int64_t idx = order_[static_cast<size_t>(begin + k)];
    out.labels.data()[k] = data_.labels.data()[idx];
    // Each image's augmentation draws from its own stream: independent of threading.
    Generator gen(mix(epoch_seed_ ^ static_cast<uint64_t>(idx)));
    const int64_t dy = pad ? static_cast<int64_t>(gen.next_u64() % (2 * pad + 1)) - pad : 0;
    const int64_t dx = pad ? static_cast<int64_t>(gen.next_u64() % (2 * pad + 1)) - pad : 0;
    const bool flip = options_.horizontal_flip && (gen.next_u64() & 1);
    const float* src = data_.images.data() + idx * C * H * W;
    float* dst = out.images.data() + k * C * H * W;
    for (int64_t c = 0; c < C; ++c) {
      const float mean = options_.mean.empty() ? 0.0f : options_.mean[c];
      const float inv_std = options_.std.empty() ? 1.0f : 1.0f / options_.std[c];
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          // Output (y, x) shows padded-image pixel (y + pad + dy, x + pad + dx) of the crop,
          // i.e. source pixel (y + dy, x + dx); outside the source it is the zero padding.
          const int64_t sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
          const float v =
              (sy >= 0 && sy < H && sx >= 0 && sx < W) ? src[(c * H + sy) * W + sx] : 0.0f;
          dst[(c * H + y) * W + x] = (v - mean) * inv_std;
        }
    }
  }
  return out;
}

}  // namespace fovea::data
