#include "kernels/reference/elementwise_reference.h"

#include <algorithm>

namespace fovea::kernels {
namespace {

// Strides of `shape` broadcast to the last shape.size() axes of a full shape of rank `rank`:
// 0 where the operand is absent or has size 1, its contiguous stride elsewhere.
void operand_strides(std::span<const int64_t> shape, size_t rank, int64_t* strides) {
  std::fill_n(strides, rank, 0);
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1) strides[rank - shape.size() + i] = acc;
    acc *= shape[i];
  }
}

// Calls f(flat, offset_a, offset_b) for every element of the full shape, in row-major order.
template <class F>
void for_each_element(const BroadcastGeometry& g, F&& f) {
  const auto& s = g.sizes;
  int64_t flat = 0;
  for (int64_t i0 = 0; i0 < s[0]; ++i0)
    for (int64_t i1 = 0; i1 < s[1]; ++i1)
      for (int64_t i2 = 0; i2 < s[2]; ++i2)
        for (int64_t i3 = 0; i3 < s[3]; ++i3)
          for (int64_t i4 = 0; i4 < s[4]; ++i4, ++flat) {
            const BroadcastDims idx{i0, i1, i2, i3, i4};
            int64_t oa = 0, ob = 0;
            for (int k = 0; k < kBroadcastRank; ++k) {
              oa += idx[k] * g.a_stride[k];
              ob += idx[k] * g.b_stride[k];
            }
            f(flat, oa, ob);
          }
}

}  // namespace

int64_t BroadcastGeometry::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

int64_t BroadcastGeometry::a_numel() const {
  int64_t n = 1;
  for (int k = 0; k < kBroadcastRank; ++k)
    if (a_stride[k] != 0) n *= sizes[k];
  return n;
}

BroadcastGeometry broadcast_geometry(std::span<const int64_t> full, std::span<const int64_t> a,
                                     std::span<const int64_t> b) noexcept {
  const size_t rank = full.size();
  int64_t sa[kBroadcastRank], sb[kBroadcastRank];
  operand_strides(a, rank, sa);
  operand_strides(b, rank, sb);
  // Keep the axes of size != 1, merging axis k into the last kept one when both operands step
  // over the pair as over one axis (outer stride = inner stride * inner size; 0 = 0 * n too).
  BroadcastDims size{}, stride_a{}, stride_b{};
  int kept = 0;
  for (size_t k = 0; k < rank; ++k) {
    if (full[k] == 1) continue;
    if (kept > 0 && stride_a[kept - 1] == sa[k] * full[k] &&
        stride_b[kept - 1] == sb[k] * full[k]) {
      size[kept - 1] *= full[k];
      stride_a[kept - 1] = sa[k];
      stride_b[kept - 1] = sb[k];
      continue;
    }
    size[kept] = full[k];
    stride_a[kept] = sa[k];
    stride_b[kept] = sb[k];
    ++kept;
  }
  // Right-align the kept axes; the leading ones become size 1.
  BroadcastGeometry g;
  const int lead = kBroadcastRank - kept;
  for (int k = 0; k < kept; ++k) {
    g.sizes[lead + k] = size[k];
    g.a_stride[lead + k] = stride_a[k];
    g.b_stride[lead + k] = stride_b[k];
  }
  return g;
}

void binary_reference(const BroadcastGeometry& g, BinaryOp op, const float* a, const float* b,
                      float* y) noexcept {
  for_each_element(g, [&](int64_t i, int64_t oa, int64_t ob) {
    switch (op) {
      case BinaryOp::kAdd:
        y[i] = a[oa] + b[ob];
        break;
      case BinaryOp::kSub:
        y[i] = a[oa] - b[ob];
        break;
      case BinaryOp::kMul:
        y[i] = a[oa] * b[ob];
        break;
    }
  });
}

void expand_reference(const BroadcastGeometry& g, float scale, const float* a, float* y) noexcept {
  for_each_element(g, [&](int64_t i, int64_t oa, int64_t) { y[i] = scale * a[oa]; });
}

void reduce_sum_reference(const BroadcastGeometry& g, float scale, const float* x,
                          float* y) noexcept {
  const int64_t n = g.a_numel();
  std::fill_n(y, n, 0.0f);
  for_each_element(g, [&](int64_t i, int64_t oa, int64_t) { y[oa] += x[i]; });
  for (int64_t j = 0; j < n; ++j) y[j] *= scale;
}

void cat_reference(int64_t outer, std::span<const int64_t> chunks, const float* const* x,
                   float* y) noexcept {
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < chunks.size(); ++i) {
      std::copy_n(x[i] + o * chunks[i], chunks[i], y);
      y += chunks[i];
    }
}

void split_reference(int64_t outer, std::span<const int64_t> chunks, const float* y,
                     float* const* x) noexcept {
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < chunks.size(); ++i) {
      std::copy_n(y, chunks[i], x[i] + o * chunks[i]);
      y += chunks[i];
    }
}

}  // namespace fovea::kernels
