// Rank-generic names for the conv functions, so a test written once for ConvOptions<D> or
// ConvTransposeOptions<D> calls conv1d/2d/3d (or their transposed and backward forms).
#pragma once

#include <optional>

#include "fovea/functional/conv.h"

namespace fovea::testing {

inline Tensor conv(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                   const functional::Conv1dOptions& o) {
  return functional::conv1d(x, w, b, o);
}
inline Tensor conv(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                   const functional::Conv2dOptions& o) {
  return functional::conv2d(x, w, b, o);
}
inline Tensor conv(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                   const functional::Conv3dOptions& o) {
  return functional::conv3d(x, w, b, o);
}
inline Tensor conv(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                   const functional::ConvTranspose1dOptions& o) {
  return functional::conv_transpose1d(x, w, b, o);
}
inline Tensor conv(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                   const functional::ConvTranspose2dOptions& o) {
  return functional::conv_transpose2d(x, w, b, o);
}
inline Tensor conv(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                   const functional::ConvTranspose3dOptions& o) {
  return functional::conv_transpose3d(x, w, b, o);
}

inline functional::ConvGradients conv_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                               bool has_bias, const functional::Conv1dOptions& o) {
  return functional::conv1d_backward(dy, x, w, has_bias, o);
}
inline functional::ConvGradients conv_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                               bool has_bias, const functional::Conv2dOptions& o) {
  return functional::conv2d_backward(dy, x, w, has_bias, o);
}
inline functional::ConvGradients conv_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                               bool has_bias, const functional::Conv3dOptions& o) {
  return functional::conv3d_backward(dy, x, w, has_bias, o);
}
inline functional::ConvGradients conv_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                               bool has_bias,
                                               const functional::ConvTranspose1dOptions& o) {
  return functional::conv_transpose1d_backward(dy, x, w, has_bias, o);
}
inline functional::ConvGradients conv_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                               bool has_bias,
                                               const functional::ConvTranspose2dOptions& o) {
  return functional::conv_transpose2d_backward(dy, x, w, has_bias, o);
}
inline functional::ConvGradients conv_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                               bool has_bias,
                                               const functional::ConvTranspose3dOptions& o) {
  return functional::conv_transpose3d_backward(dy, x, w, has_bias, o);
}

}  // namespace fovea::testing
