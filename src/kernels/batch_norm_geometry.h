// BatchNormGeometry: the sizes a batch-norm kernel works on, computed once at the door.
//
// Every input rank is seen as x (N, C, P): P is the product of the spatial sizes (1 for an
// (N, C) input), so one kernel serves BatchNorm1d, 2d and 3d. Element (n, c, p) lives at
// (n*C + c)*P + p; channel c's M = N*P values are normalised together.
#pragma once

#include <cstdint>

namespace fovea::kernels {

struct BatchNormGeometry {
  int64_t N = 1, C = 1, P = 1;

  int64_t count() const { return N * P; }  // M: values per channel
  int64_t numel() const { return N * C * P; }
};

}  // namespace fovea::kernels
