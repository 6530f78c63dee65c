#include "ops/broadcast.h"

#include <fmt/format.h>

#include <algorithm>

#include "fovea/error.h"
#include "kernels/cpu/elementwise_rows.h"

namespace fovea::ops {

Shape broadcast_shape(std::string_view op, const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    // Walk from the right; a missing axis counts as size 1.
    const int64_t sa = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t sb = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      throw ShapeError(fmt::format(
          "{}: operands expect shapes that broadcast (sizes equal or 1 from the right), got {} "
          "and {}",
          op, shape_str(a), shape_str(b)));
    out[out.size() - 1 - i] = sa == 1 ? sb : sa;
  }
  return out;
}

bool broadcasts_to(const Shape& shape, const Shape& full) {
  if (shape.size() > full.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t s = shape[shape.size() - 1 - i];
    if (s != 1 && s != full[full.size() - 1 - i]) return false;
  }
  return true;
}

Tensor expand_to(const Tensor& x, const Shape& full, float scale) {
  Tensor y = Tensor::empty(full);
  kernels::expand_rows(kernels::broadcast_geometry(full, x.shape()), scale, x.data(), y.data());
  return y;
}

Tensor sum_to(const Tensor& x, const Shape& shape, float scale) {
  Tensor y = Tensor::empty(shape);
  kernels::reduce_sum_rows(kernels::broadcast_geometry(x.shape(), shape), scale, x.data(),
                           y.data());
  return y;
}

}  // namespace fovea::ops
