// The deterministic weights and inputs of tests/golden/gen_zoo.py, bit for bit: each value is
// a hash of (state-dict key, element index), so the golden data stores no weights.
//   h = fmix32(fnv1a32(key) ^ fmix32(i)),  v = 2 * (h >> 8) / 2^24 - 1  in [-1, 1)  (exact)
//   weight of rank >= 2 : v * float(sqrt(6 / fan_in));  running_var: 1 + v/2;
//   num_batches_tracked : 0;  weight of rank 1: 1 + v/8;  anything else: v/8;  input: v.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "fovea/nn/module.h"
#include "fovea/tensor.h"

namespace fovea::testing {

inline uint32_t fnv1a32(const std::string& s) {
  uint32_t h = 0x811C9DC5u;
  for (unsigned char c : s) h = (h ^ c) * 0x01000193u;
  return h;
}

inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

// t filled with hash values v in [-1, 1), then mapped by f(v).
template <class Fn>
void hash_fill(Tensor& t, const std::string& key, Fn f) {
  const uint32_t seed = fnv1a32(key);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint32_t h = fmix32(seed ^ fmix32(static_cast<uint32_t>(i)));
    const float u = static_cast<float>(h >> 8) * 0x1p-24f;
    p[i] = f(2.0f * u - 1.0f);
  }
}

inline void fill_state(nn::Module& model) {
  for (auto& [key, t] : model.state_dict()) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    if (leaf == "num_batches_tracked") {
      t.fill_(0.0f);
    } else if (leaf == "running_var") {
      hash_fill(t, key, [](float v) { return 1.0f + v * 0.5f; });
    } else if (t.dim() >= 2) {
      const int64_t fan_in = t.numel() / t.size(0);
      const float scale = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in)));
      hash_fill(t, key, [scale](float v) { return v * scale; });
    } else if (leaf == "weight") {
      hash_fill(t, key, [](float v) { return 1.0f + v * 0.125f; });
    } else {
      hash_fill(t, key, [](float v) { return v * 0.125f; });
    }
  }
}

inline Tensor hash_input(const Shape& shape) {
  Tensor x = Tensor::empty(shape);
  hash_fill(x, "input", [](float v) { return v; });
  return x;
}

}  // namespace fovea::testing
