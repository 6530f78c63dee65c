// Broadcasting at the door, shared by the elementwise ops and the losses: the result shape
// of two operands, and the two moves between a shape and one it broadcasts to.
#pragma once

#include <string_view>

#include "fovea/tensor.h"

namespace fovea::ops {

// The shape a and b broadcast to (NumPy rules); throws ShapeError naming `op` when they do not.
Shape broadcast_shape(std::string_view op, const Shape& a, const Shape& b);
// True when `shape` broadcasts to `full` without changing it.
bool broadcasts_to(const Shape& shape, const Shape& full);

// scale * x stretched to `full` (x's shape must broadcast to it).
Tensor expand_to(const Tensor& x, const Shape& full, float scale = 1.0f);
// scale * x (of shape `full`) summed over the axes that `shape` broadcasts along, returned
// with `shape`: the adjoint of expand_to, so the gradient of any broadcast.
Tensor sum_to(const Tensor& x, const Shape& shape, float scale = 1.0f);

}  // namespace fovea::ops
