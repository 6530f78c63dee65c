// The door of dropout: validate, draw the mask from the generator, apply it.
#include "fovea/functional/dropout.h"

#include <fmt/format.h>

#include <string_view>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/reference/dropout_reference.h"
#include "ops/checks.h"

namespace fovea::functional {
namespace {

using ops::check_defined;

}  // namespace

DropoutForward dropout(const Tensor& x, const DropoutOptions& o, Generator* generator) {
  check_defined("dropout", "input", x);
  if (!(o.p >= 0.0 && o.p <= 1.0))
    throw ValueError(fmt::format("dropout: p expects a probability in [0, 1], got {}", o.p));
  if (!o.training || o.p == 0.0) return {x, Tensor()};
  // The uniform draws become the mask in place.
  Tensor mask = Tensor::rand(x.shape(), 0.0f, 1.0f, generator);
  kernels::dropout_mask_reference(mask.numel(), static_cast<float>(o.p), mask.data(), mask.data());
  Tensor y = Tensor::empty(x.shape());
  kernels::dropout_apply_reference(x.numel(), x.data(), mask.data(), y.data());
  autograd::record("dropout", {x}, y, [mask](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{dropout_backward(dy, mask)};
  });
  return {y, mask};
}

Tensor dropout_backward(const Tensor& dy, const Tensor& mask) {
  check_defined("dropout_backward", "grad_output", dy);
  if (!mask.defined()) return dy;
  if (dy.shape() != mask.shape())
    throw ShapeError(
        fmt::format("dropout_backward: grad_output expects the mask's shape {}, got {}",
                    shape_str(mask.shape()), shape_str(dy.shape())));
  Tensor dx = Tensor::empty(dy.shape());
  kernels::dropout_apply_reference(dy.numel(), dy.data(), mask.data(), dx.data());
  return dx;
}

}  // namespace fovea::functional
