// Golden tensors that PyTorch made 0-dim (a reduced loss, a sum over every axis).
// golden.Writer stores them through np.ascontiguousarray, which returns at least one axis,
// so they arrive as shape [1]. The generators that write 0-dim tensors list their keys in the
// case's config as "zero_dim"; golden_tensor() gives those back their true shape [].
#pragma once

#include <algorithm>
#include <string>

#include "golden_helpers.h"

namespace fovea::testing {

inline Tensor golden_tensor(const GoldenCase& gc, const std::string& key) {
  const Tensor t = gc.tensor(key);
  const auto& zero_dim = gc.config.value("zero_dim", nlohmann::json::array());
  const bool listed = std::find(zero_dim.begin(), zero_dim.end(), key) != zero_dim.end();
  return listed ? t.reshape({}) : t;
}

}  // namespace fovea::testing
