// Padding, forward and backward, as torch.nn.functional.pad in PyTorch 1.13.
//
// `pad` lists (before, after) amounts from the last axis backwards, as in PyTorch:
// {left, right} pads W; {left, right, top, bottom} pads W and H; {left, right, top, bottom,
// front, back} pads W, H and D. Axis a grows by before + after; a negative amount crops. Modes:
//   kConstant   `value` outside the input; any rank <= 5, any number of axes up to the rank
//   kReflect    the input mirrored at its edges without repeating them (d c b | a b c d | c b a);
//               every amount must be smaller than the input's size along its axis
//   kReplicate  the edge element repeated (a a a | a b c d | d d d)
//   kCircular   the input wrapped around (b c d | a b c d | a b c); amounts at most the size
// The non-constant modes pad the last 1, 2 or 3 axes of an input with one or two more axes
// (unbatched (C, W) or batched (N, C, W) for 1 axis, and so on) and take no value.
//
// Backward: each input element receives the gradients of every output element that copied it
// (reflect, replicate and circular borders accumulate several); cropped elements receive 0.
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::pad(x, {1, 1, 2, 2}, F::PadMode::kReflect);   // W by 1+1, H by 2+2
//         Tensor dx = F::pad_backward(dy, x.shape(), {1, 1, 2, 2}, F::PadMode::kReflect);
#pragma once

#include <cstdint>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::functional {

enum class PadMode { kConstant, kReflect, kReplicate, kCircular };

Tensor pad(const Tensor& input, const std::vector<int64_t>& pad, PadMode mode = PadMode::kConstant,
           float value = 0.0f);

// The input gradient of pad(input, pad, mode, value) for a grad_output of the output's shape.
Tensor pad_backward(const Tensor& grad_output, const Shape& input_shape,
                    const std::vector<int64_t>& pad, PadMode mode = PadMode::kConstant);

}  // namespace fovea::functional
