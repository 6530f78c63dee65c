// The Winograd rows winograd_f4x3 and winograd_f2x3 on 3D convolutions with a 3x3x3 kernel,
// stride 1, dilation 1 (conv_winograd3d.cpp), every pass: each output depth plane is a 2D
// convolution over 3C virtual input channels, run by the 2D kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

// Whether g is for the 3D driver (a depth kernel other than 1: 2D geometries have 1), which then
// decides alone whether it supports g.
bool winograd3d_geometry(const ConvGeometry& g);

bool winograd3d_supports(const ConvGeometry& g, ConvPass pass);
size_t winograd3d_workspace_floats(const ConvGeometry& g, ConvPass pass, int64_t tile);
void winograd3d_forward(const ConvGeometry& g, int64_t tile, const float* x, const float* w,
                        const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void winograd3d_backward_data(const ConvGeometry& g, int64_t tile, const float* dy, const float* w,
                              float* dx, float* workspace) noexcept;
void winograd3d_backward_weight(const ConvGeometry& g, int64_t tile, const float* x,
                                const float* dy, float* dw, float* workspace) noexcept;

}  // namespace fovea::kernels
