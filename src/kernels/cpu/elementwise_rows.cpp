#include "kernels/cpu/elementwise_rows.h"

#include <algorithm>
#include <functional>

#include "kernels/cpu/vector_math.h"

namespace fovea::kernels {
namespace {

// Elements one task handles: enough to outweigh handing it to a thread, small enough to spread
// one long row over all threads.
constexpr int64_t kChunk = 1 << 14;
constexpr int kOuter = kBroadcastRank - 1;  // axes before the innermost

// The outer axes (all but the innermost) of a geometry, as (size, stride) lists per operand,
// with a flat index decoded into per-operand offsets.
struct OuterAxes {
  int count = 0;
  int64_t size[kOuter] = {}, stride0[kOuter] = {}, stride1[kOuter] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int k = 0; k < count; ++k) n *= size[k];
    return n;
  }
  void add(int64_t s, int64_t st0, int64_t st1) {
    size[count] = s;
    stride0[count] = st0;
    stride1[count] = st1;
    ++count;
  }
  void offsets(int64_t flat, int64_t& o0, int64_t& o1) const {
    o0 = o1 = 0;
    for (int k = count; k-- > 0;) {
      const int64_t i = flat % size[k];
      flat /= size[k];
      o0 += i * stride0[k];
      o1 += i * stride1[k];
    }
  }
};

// Rows of the innermost axis, each cut into chunks of at most kChunk elements: calls
// f(row, lo, hi) for every chunk, in parallel when there is enough work.
template <class F>
void for_each_chunk(int64_t rows, int64_t length, F&& f) {
  const int64_t per_row = (length + kChunk - 1) / kChunk;
  const int64_t tasks = rows * per_row;
#pragma omp parallel for schedule(static) if (rows * length > kChunk)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t lo = (t % per_row) * kChunk;
    f(t / per_row, lo, std::min(length, lo + kChunk));
  }
}

// The outer axes walked by the full shape (contiguous) and by operand a.
OuterAxes outer_full_and_a(const BroadcastGeometry& g) {
  BroadcastDims full_stride;
  int64_t acc = 1;
  for (int k = kBroadcastRank; k-- > 0;) {
    full_stride[k] = acc;
    acc *= g.sizes[k];
  }
  OuterAxes axes;
  for (int k = 0; k < kOuter; ++k) axes.add(g.sizes[k], full_stride[k], g.a_stride[k]);
  return axes;
}

template <class Op>
void binary_rows_with(const BroadcastGeometry& g, const float* a, const float* b, float* y, Op op) {
  OuterAxes outer;
  for (int k = 0; k < kOuter; ++k) outer.add(g.sizes[k], g.a_stride[k], g.b_stride[k]);
  const int64_t L = g.sizes[kOuter];
  const bool a_row = g.a_stride[kOuter] != 0, b_row = g.b_stride[kOuter] != 0;
  for_each_chunk(outer.numel(), L, [&](int64_t row, int64_t lo, int64_t hi) {
    int64_t oa, ob;
    outer.offsets(row, oa, ob);
    const float* ar = a + oa;
    const float* br = b + ob;
    float* yr = y + row * L;
    if (a_row && b_row) {
      for (int64_t i = lo; i < hi; ++i) yr[i] = op(ar[i], br[i]);
    } else if (a_row) {
      const float bv = br[0];
      for (int64_t i = lo; i < hi; ++i) yr[i] = op(ar[i], bv);
    } else if (b_row) {
      const float av = ar[0];
      for (int64_t i = lo; i < hi; ++i) yr[i] = op(av, br[i]);
    } else {
      std::fill(yr + lo, yr + hi, op(ar[0], br[0]));
    }
  });
}

}  // namespace

void binary_rows(const BroadcastGeometry& g, BinaryOp op, const float* a, const float* b,
                 float* y) noexcept {
  switch (op) {
    case BinaryOp::kAdd:
      return binary_rows_with(g, a, b, y, std::plus<float>{});
    case BinaryOp::kSub:
      return binary_rows_with(g, a, b, y, std::minus<float>{});
    case BinaryOp::kMul:
      return binary_rows_with(g, a, b, y, std::multiplies<float>{});
  }
}

void add_clamp_rows(const BroadcastGeometry& g, float lo, float hi, const float* a, const float* b,
                    float* y) noexcept {
  binary_rows_with(g, a, b, y, [lo, hi](float u, float v) { return vmath::clamp(u + v, lo, hi); });
}

void expand_rows(const BroadcastGeometry& g, float scale, const float* a, float* y) noexcept {
  OuterAxes outer;
  for (int k = 0; k < kOuter; ++k) outer.add(g.sizes[k], g.a_stride[k], 0);
  const int64_t L = g.sizes[kOuter];
  const bool a_row = g.a_stride[kOuter] != 0;
  for_each_chunk(outer.numel(), L, [&](int64_t row, int64_t lo, int64_t hi) {
    int64_t oa, unused;
    outer.offsets(row, oa, unused);
    float* yr = y + row * L;
    if (a_row) {
      for (int64_t i = lo; i < hi; ++i) yr[i] = scale * a[oa + i];
    } else {
      std::fill(yr + lo, yr + hi, scale * a[oa]);
    }
  });
}

// Splits the outer axes into those y keeps (a_stride != 0) and those summed away. Each output
// row (or element) is then owned by one task, so no two threads write the same place.
void reduce_sum_rows(const BroadcastGeometry& g, float scale, const float* x, float* y) noexcept {
  const OuterAxes all = outer_full_and_a(g);
  OuterAxes kept, summed;  // stride0: into x, stride1: into y
  for (int k = 0; k < all.count; ++k) {
    if (all.size[k] == 1) continue;
    (all.stride1[k] != 0 ? kept : summed).add(all.size[k], all.stride0[k], all.stride1[k]);
  }
  const int64_t L = g.sizes[kOuter], R = summed.numel();
  if (g.a_stride[kOuter] == 0) {
    // The innermost axis is summed: one output element per kept row, a contiguous sum per row.
    const int64_t K = kept.numel();
#pragma omp parallel for schedule(static) if (K * R * L > kChunk)
    for (int64_t k = 0; k < K; ++k) {
      int64_t xo, yo, unused;
      kept.offsets(k, xo, yo);
      float acc = 0.0f;
      for (int64_t r = 0; r < R; ++r) {
        int64_t xr;
        summed.offsets(r, xr, unused);
        const float* row = x + xo + xr;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < L; ++i) acc += row[i];
      }
      y[yo] = scale * acc;
    }
    return;
  }
  // The innermost axis is kept: add whole rows of x onto one row of y.
  for_each_chunk(kept.numel(), L, [&](int64_t k, int64_t lo, int64_t hi) {
    int64_t xo, yo, unused;
    kept.offsets(k, xo, yo);
    float* yr = y + yo;
    std::fill(yr + lo, yr + hi, 0.0f);
    for (int64_t r = 0; r < R; ++r) {
      int64_t xr;
      summed.offsets(r, xr, unused);
      const float* row = x + xo + xr;
      for (int64_t i = lo; i < hi; ++i) yr[i] += row[i];
    }
    for (int64_t i = lo; i < hi; ++i) yr[i] *= scale;
  });
}

}  // namespace fovea::kernels
