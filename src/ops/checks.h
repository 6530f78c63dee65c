// Argument checks shared by every op's door.
#pragma once

#include <string_view>

#include "fovea/tensor.h"

namespace fovea::ops {

// Throws ValueError "op: arg is undefined" for a default-constructed Tensor.
void check_defined(std::string_view op, std::string_view arg, const Tensor& t);

}  // namespace fovea::ops
