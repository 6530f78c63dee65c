// Reference convolution: the plain loops of the definition (see conv_geometry.h). It is the
// specification every other algorithm is tested against, and the fallback for any shape.
#pragma once

#include "kernels/conv_algorithm.h"
#include "kernels/conv_geometry.h"

namespace fovea::kernels {

void conv_forward_reference(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_reference(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float* workspace) noexcept;
void conv_backward_weight_reference(const ConvGeometry& g, const float* x, const float* dy,
                                    float* dw, float* workspace) noexcept;

}  // namespace fovea::kernels
