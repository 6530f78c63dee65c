// Interpolation (up- and down-sampling) of 1-D, 2-D and 3-D signals, forward and backward, as
// torch.nn.functional.interpolate in PyTorch 1.13 computes it on float32.
//
// x (N, C, L), (N, C, H, W) or (N, C, D, H, W) -> y (N, C, *out); no unbatched form (PyTorch
// reads a 3-D input as N, C, L). Every axis is resampled on its own (separably): output
// position o reads the input at the source coordinate
//   align_corners = false   src = (o + 0.5) * scale - 0.5     (pixel centres line up)
//   align_corners = true    src = o * (in - 1) / (out - 1)    (corner pixels line up)
// with scale = 1 / scale_factor when a scale factor is given (and not recomputed), else
// in / out. Modes:
//   kNearest       x[min(floor(o * scale), in - 1)]: PyTorch's legacy 'nearest', which does
//                  not centre the pixels (downsampling by 2 takes x[0], x[2], ...)
//   kNearestExact  x[min(floor((o + 0.5) * scale), in - 1)]: 'nearest-exact' (x[1], x[3], ...)
//   kLinear (3-D input), kBilinear (4-D), kTrilinear (5-D): linear along each axis between
//                  floor(src) and the next index, src clamped to >= 0 and the upper index to
//                  in - 1; an axis with out == in is copied whatever the scale factor
//   kBicubic (4-D): Keys' cubic convolution (a = -0.75) on the taps floor(src)-1 .. +2, their
//                  indices clamped into the input (so the border pixel repeats)
// The output size is `size`, or floor(in * scale_factor) per axis. The backward pass is the
// exact adjoint of the forward one.
//
// PyTorch 1.13 departs from these definitions in corner cases of a given scale factor that
// disagrees with the sizes (1 / scale_factor != in / out); Fovea keeps the definitions:
// - nearest, out == in or out == 2 * in along an axis: PyTorch's backward copies (i = o) or
//   halves (i = o / 2) there, so it is not the gradient of its forward; so does its 2-D and
//   3-D forward when C == 1 (its channels-last kernel, which a contiguous 1-channel tensor
//   also fits, takes those shortcuts; its general kernel does not);
// - bicubic, out == in along both axes: PyTorch's backward copies.
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::interpolate(x, F::InterpolateOptions<2>{
//             .scale_factor = 2.0, .mode = F::InterpolateMode::kBilinear,
//             .align_corners = false});
//         Tensor dx = F::interpolate_backward(dy, x.shape(), same_options);
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <optional>

#include "fovea/tensor.h"

namespace fovea::functional {

// D values of type T, given as one for every axis or one per axis, or absent (the default):
// {.size = 8}, {.size = {8, 6}}, {.scale_factor = 1.5}.
template <int D, class T>
class OptionalPerAxis {
 public:
  OptionalPerAxis() = default;
  OptionalPerAxis(T all) : values_(std::array<T, D>{}) { values_->fill(all); }  // NOLINT
  OptionalPerAxis(const std::array<T, D>& each) : values_(each) {}              // NOLINT
  template <class... V>
  requires(sizeof...(V) == D && D > 1 && (std::convertible_to<V, T> && ...))
      OptionalPerAxis(V... each)  // NOLINT: implicit by design
      : values_(std::array<T, D>{static_cast<T>(each)...}) {}

  bool has_value() const { return values_.has_value(); }
  T operator[](size_t i) const { return (*values_)[i]; }

 private:
  std::optional<std::array<T, D>> values_;
};

enum class InterpolateMode { kNearest, kNearestExact, kLinear, kBilinear, kBicubic, kTrilinear };

// Options for D spatial axes (D = 1, 2, 3 for 3-D, 4-D, 5-D inputs).
template <int D>
struct InterpolateOptions {
  // Exactly one of the two: the output size, or a factor per axis (output size
  // floor(in * scale_factor)).
  OptionalPerAxis<D, int64_t> size = {};
  OptionalPerAxis<D, double> scale_factor = {};
  InterpolateMode mode = InterpolateMode::kNearest;
  // Linear, bilinear, bicubic and trilinear only; unset means false (PyTorch's None).
  std::optional<bool> align_corners = std::nullopt;
  // With a scale factor: map coordinates with in / out (the sizes) instead of 1 / scale_factor.
  bool recompute_scale_factor = false;
};

Tensor interpolate(const Tensor& input, const InterpolateOptions<1>& options);
Tensor interpolate(const Tensor& input, const InterpolateOptions<2>& options);
Tensor interpolate(const Tensor& input, const InterpolateOptions<3>& options);

// The input gradient of interpolate(input, options) for a grad_output of the output's shape;
// it needs only the input's shape (interpolation is linear in the input).
Tensor interpolate_backward(const Tensor& grad_output, const Shape& input_shape,
                            const InterpolateOptions<1>& options);
Tensor interpolate_backward(const Tensor& grad_output, const Shape& input_shape,
                            const InterpolateOptions<2>& options);
Tensor interpolate_backward(const Tensor& grad_output, const Shape& input_shape,
                            const InterpolateOptions<3>& options);

}  // namespace fovea::functional
