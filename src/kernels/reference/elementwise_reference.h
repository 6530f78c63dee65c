// Reference elementwise kernels with NumPy/PyTorch broadcasting, the sums that undo a
// broadcast, and concatenation: plain loops of the definitions, the specification the kernels
// in kernels/cpu/elementwise_rows.h are tested against.
//
// Every broadcast op loops over one full shape `sizes` (row-major, at most 5 axes). Each
// operand is addressed through its own strides over those axes:
//   offset_a(index) = sum_k index[k] * a_stride[k],   a_stride[k] = 0 where a is broadcast,
// so a (1, C, 1, 1) bias and a (N, C, H, W) activation share one loop nest.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace fovea::kernels {

inline constexpr int kBroadcastRank = 5;
using BroadcastDims = std::array<int64_t, kBroadcastRank>;

struct BroadcastGeometry {
  BroadcastDims sizes{1, 1, 1, 1, 1};     // the full shape, leading axes padded with 1
  BroadcastDims a_stride{0, 0, 0, 0, 0};  // operand a (for expand/reduce: the small tensor)
  BroadcastDims b_stride{0, 0, 0, 0, 0};  // operand b (binary ops only)

  int64_t numel() const;
  // Elements of operand a: the product of the sizes along which it is not broadcast.
  int64_t a_numel() const;
};

// The geometry of broadcasting shapes a and b (either may be empty, i.e. unused or a scalar)
// to `full`, which the caller has checked they broadcast to (NumPy rules: align on the right,
// sizes equal or 1). Axes of size 1 are dropped and neighbouring axes that every operand walks
// the same way are merged, so the innermost axis is as long as possible and each operand's
// stride along it is 0 or 1: the fast kernels rely on that.
BroadcastGeometry broadcast_geometry(std::span<const int64_t> full, std::span<const int64_t> a,
                                     std::span<const int64_t> b = {}) noexcept;

enum class BinaryOp { kAdd, kSub, kMul };

// y[i] = a[offset_a(i)] op b[offset_b(i)], y contiguous over sizes.
void binary_reference(const BroadcastGeometry& g, BinaryOp op, const float* a, const float* b,
                      float* y) noexcept;
// y[i] = scale * a[offset_a(i)]: a broadcast (expanded) to the full shape; b_stride unused.
void expand_reference(const BroadcastGeometry& g, float scale, const float* a, float* y) noexcept;
// y[j] = scale * sum_{i : offset_a(i) = j} x[i]: x (contiguous over sizes) summed over the
// axes along which a is broadcast, written in a's layout (a_numel() elements). This is the
// adjoint of expand and so the gradient of every broadcast.
void reduce_sum_reference(const BroadcastGeometry& g, float scale, const float* x,
                          float* y) noexcept;

// Concatenation along one axis. With the axes before it flattened into `outer` and the axis
// itself with those after it flattened into one chunk per input, input i is (outer, chunk[i])
// and y is (outer, sum of chunks):  y[o, start_i + j] = x_i[o, j].
// Memory-bound copies of whole chunks, already as fast as one thread streams memory, so
// there is no separate fast version.
void cat_reference(int64_t outer, std::span<const int64_t> chunks, const float* const* x,
                   float* y) noexcept;
// The inverse (and adjoint) of cat: x_i[o, j] = y[o, start_i + j].
void split_reference(int64_t outer, std::span<const int64_t> chunks, const float* y,
                     float* const* x) noexcept;

}  // namespace fovea::kernels
