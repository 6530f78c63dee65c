// Grouped convolution with few channels per group (ResNeXt's 3x3 layers: 32 groups of 4-8
// channels), 1D and 2D, stride 1, outputs as wide as the inputs ("same" padding along W; any
// kernel, dilation and padding along H). Each plane is read in place, flattened: output
// position q = oh·W + ow reads source element q + off[k] for tap k, so a vector of 16
// consecutive positions, rows included, is one masked load per tap (the masks stand for the
// padding and keep rows apart). No padded planes; 14x14 planes fill 196 of 208 lanes where
// row-wise vectors would fill 14 of 16.
//   forward          y  (N, C_out, P) = conv(x, w) + b: tiles of 8 (or 4) output channels x 3
//                    (or 6) vectors of positions, every input channel and tap summed in
//                    registers; each thread packs a group's weights for the tiles' broadcasts
//   backward_data    the same kernel on dy with the taps reversed and C_in / C_out swapped
//   backward_weight  dw = sum_n corr(x, dy): tiles of 8 (or 4) output channels x 3 (or 5) taps
//                    of vector sums over 4 images at a time (their dy planes copied to whole,
//                    aligned vectors), kept per thread in the workspace between passes and
//                    summed horizontally straight from the registers after the last
// Threads split (group, image) items, and groups for backward_weight, so every sum has one
// fixed order whatever the thread count. Needs AVX-512 (supports() says false without).
#pragma once

#include <cstddef>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

bool conv_grouped_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_grouped_workspace_floats(const ConvGeometry& g, ConvPass pass);

void conv_forward_grouped(const ConvGeometry& g, const float* x, const float* w,
                          const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_grouped(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                float* workspace) noexcept;
void conv_backward_weight_grouped(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                                  float* workspace) noexcept;

}  // namespace fovea::kernels
