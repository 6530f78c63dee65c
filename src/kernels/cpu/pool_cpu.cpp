#include "kernels/cpu/pool_cpu.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

namespace fovea::kernels {
namespace {

// Calls f(std::integral_constant<int64_t, s>{}) with s = stride when it is 1 or 2, so the inner
// loops see those strides at compile time, and s = 0 (read at run time) otherwise.
template <class F>
void with_static_stride(int64_t stride, F&& f) {
  if (stride == 1)
    f(std::integral_constant<int64_t, 1>{});
  else if (stride == 2)
    f(std::integral_constant<int64_t, 2>{});
  else
    f(std::integral_constant<int64_t, 0>{});
}

// Outputs o in [lo, hi) are those whose tap at offset off (= k*dilation - pad) lands inside the
// input: 0 <= o*stride + off < n_in.
struct OutputRange {
  int64_t lo, hi;
};
OutputRange outputs_reading_inside(int64_t n_out, int64_t n_in, int64_t stride, int64_t off) {
  int64_t lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t hi = n_in - off <= 0 ? 0 : (n_in - off + stride - 1) / stride;
  lo = std::min(lo, n_out);
  return {lo, std::clamp(hi, lo, n_out)};
}

// PyTorch's first window position along axis a: the window start stepped by the dilation
// until it is inside the input.
int64_t first_inside(const PoolGeometry& g, int a, int64_t o) {
  const int64_t i = o * g.stride[a] - g.pad[a];
  return i >= 0 ? i : i + (-i + g.dilation[a] - 1) / g.dilation[a] * g.dilation[a];
}

// Calls tap(pos0, lo, hi) for each tap of output row (od, oh) that reads inside the input, in
// (kd, kh, kw) order, kw reversed when reverse_w: output ow in [lo, hi) of the row reads the
// in-plane position pos0 + ow * stride_w.
template <class F>
void for_each_row_tap(const PoolGeometry& g, int64_t od, int64_t oh, bool reverse_w, F&& tap) {
  for_each_window_row(g, od, oh, [&](int64_t row) {
    for (int64_t j = 0; j < g.kernel[2]; ++j) {
      const int64_t kw = reverse_w ? g.kernel[2] - 1 - j : j;
      const int64_t off = kw * g.dilation[2] - g.pad[2];
      const auto [lo, hi] = outputs_reading_inside(g.out[2], g.in[2], g.stride[2], off);
      tap(row + off, lo, hi);
    }
  });
}

// Calls row(plane, od, oh, scratch) for every output row, the rows split over the threads;
// scratch holds scratch_size values of type T private to the thread.
template <class T, class F>
void parallel_rows(const PoolGeometry& g, int64_t scratch_size, F&& row) {
  const int64_t per_plane = g.out[0] * g.out[1], rows = g.planes() * per_plane;
#pragma omp parallel
  {
    std::vector<T> scratch(scratch_size);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      row(r / per_plane, r % per_plane / g.out[1], r % g.out[1], scratch.data());
  }
}

// The inner loops, one tap over one output row. kS is the W stride (0: stride at run time).
// best holds the argmax positions as integers (kIndices; unused otherwise): a conditional
// int-to-float conversion could raise FE_INEXACT, which would keep the compiler from
// vectorising the loop.
template <int64_t kS, bool kIndices>
void max_sweep(const float* __restrict x, int64_t pos0, int64_t stride, int64_t lo, int64_t hi,
               float* __restrict y, int32_t* __restrict best) {
  const int64_t s = kS > 0 ? kS : stride;
  for (int64_t ow = lo; ow < hi; ++ow) {
    const float v = x[pos0 + ow * s];
    // PyTorch's rule, as in the reference; `|`, not `||`, keeps the loop branch-free.
    const bool take = (v > y[ow]) | std::isnan(v);
    y[ow] = take ? v : y[ow];
    if constexpr (kIndices) best[ow] = take ? static_cast<int32_t>(pos0 + ow * s) : best[ow];
  }
}

template <int64_t kS>
void sum_sweep(const float* __restrict x, int64_t pos0, int64_t stride, int64_t lo, int64_t hi,
               float* __restrict y) {
  const int64_t s = kS > 0 ? kS : stride;
  for (int64_t ow = lo; ow < hi; ++ow) y[ow] += x[pos0 + ow * s];
}

template <int64_t kS>
void spread_sweep(const float* __restrict share, int64_t pos0, int64_t stride, int64_t lo,
                  int64_t hi, float* __restrict dx) {
  const int64_t s = kS > 0 ? kS : stride;
  for (int64_t ow = lo; ow < hi; ++ow) dx[pos0 + ow * s] += share[ow];
}

// The average divisor as a product of per-axis factors (see the reference): divisor(o) =
// f[0][od] * f[1][oh] * f[2][ow], the override sitting in f[0] when there is one.
struct AvgDivisors {
  std::array<std::vector<int64_t>, 3> f;

  explicit AvgDivisors(const PoolGeometry& g) {
    for (int a = 0; a < 3; ++a)
      for (int64_t o = 0; o < g.out[a]; ++o) {
        const int64_t start = o * g.stride[a] - g.pad[a];
        const int64_t end = std::min(start + g.kernel[a], g.in[a] + g.pad[a]);
        const int64_t inside = std::min(end, g.in[a]) - std::max<int64_t>(start, 0);
        f[a].push_back(g.divisor_override != 0 ? (a == 0 ? g.divisor_override : 1)
                       : g.count_include_pad   ? end - start
                                               : inside);
      }
  }
  int64_t row(int64_t od, int64_t oh) const { return f[0][od] * f[1][oh]; }
};

// The divisors' factors as floats, for the AVX-512 kernels: per (od, oh) row and per column.
struct DivisorFactors {
  std::vector<float> row, col;

  DivisorFactors(const PoolGeometry& g, const AvgDivisors& div)
      : col(div.f[2].begin(), div.f[2].end()) {
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh) row.push_back(static_cast<float>(div.row(od, oh)));
  }
};

// The values alone: the tap sweeps of max_pool_forward_cpu without the positions.
void max_pool_values_forward_cpu(const PoolGeometry& g, const float* x, float* y) {
  with_static_stride(g.stride[2], [&](auto kS) {
    parallel_rows<float>(g, 0, [&](int64_t plane, int64_t od, int64_t oh, float*) {
      float* y_row = y + ((plane * g.out[0] + od) * g.out[1] + oh) * g.out[2];
      const float* xp = x + plane * g.in_pixels();
      std::fill_n(y_row, g.out[2], -std::numeric_limits<float>::infinity());
      for_each_row_tap(g, od, oh, false, [&](int64_t pos0, int64_t lo, int64_t hi) {
        max_sweep<kS, false>(xp, pos0, g.stride[2], lo, hi, y_row, nullptr);
      });
    });
  });
}

}  // namespace

void max_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y,
                          float* indices) noexcept {
  // The 2x2 kernel takes null indices too, and beats the general values-only one there (64 x
  // 64 x 28²: 226 us against 393 in layer_compare).
  if (max_pool_2x2_avx512_supports(g)) return max_pool_2x2_forward_avx512(g, x, y, indices);
  if (max_pool_avx512_supports(g)) return max_pool_forward_avx512(g, x, y, indices);
  if (indices == nullptr) return max_pool_values_forward_cpu(g, x, y);
  with_static_stride(g.stride[2], [&](auto kS) {
    // Positions fit int32: the door keeps planes below 2^24 elements.
    parallel_rows<int32_t>(g, g.out[2], [&](int64_t plane, int64_t od, int64_t oh, int32_t* best) {
      const int64_t o = (plane * g.out[0] + od) * g.out[1] + oh;
      float* y_row = y + o * g.out[2];
      const float* xp = x + plane * g.in_pixels();
      // A window keeps its first position when nothing beats -inf (see the reference).
      const int64_t first_row =
          (first_inside(g, 0, od) * g.in[1] + first_inside(g, 1, oh)) * g.in[2];
      const int64_t sw = g.stride[2], pw = g.pad[2];
      for (int64_t ow = 0; ow < g.out[2]; ++ow) {
        y_row[ow] = -std::numeric_limits<float>::infinity();
        best[ow] = static_cast<int32_t>(first_row + ow * sw - pw);
      }
      // Only windows starting in the left padding step their first position inward.
      for (int64_t ow = 0; ow < std::min(g.out[2], (pw + sw - 1) / sw); ++ow)
        best[ow] = static_cast<int32_t>(first_row + first_inside(g, 2, ow));
      for_each_row_tap(g, od, oh, false, [&](int64_t pos0, int64_t lo, int64_t hi) {
        max_sweep<kS, true>(xp, pos0, g.stride[2], lo, hi, y_row, best);
      });
      float* i_row = indices + o * g.out[2];
      for (int64_t ow = 0; ow < g.out[2]; ++ow) i_row[ow] = static_cast<float>(best[ow]);
    });
  });
}

bool max_pool_backward_cpu(const PoolGeometry& g, const float* dy, const float* indices,
                           float* dx) noexcept {
  const int64_t P_in = g.in_pixels(), P_out = g.out_pixels();
  // Planes the gather form wrote (all of them, unless an index lies outside its window).
  std::vector<uint8_t> gathered;
  if (max_pool_backward_gather_avx512_supports(g)) {
    gathered.resize(g.planes());
    max_pool_backward_gather_avx512(g, dy, indices, dx, gathered.data());
    if (std::ranges::all_of(gathered, [](uint8_t done) { return done != 0; })) return true;
  }
  const uint32_t limit = pool_index_limit(P_in);
  // Positions are checked and converted a block at a time (a vectorised loop) before the
  // scalar scatter, which then has only its loads, adds and stores left.
  constexpr int64_t kBlock = 256;
  bool valid = true;
#pragma omp parallel for schedule(static) reduction(&& : valid)
  for (int64_t plane = 0; plane < g.planes(); ++plane) {
    if (!gathered.empty() && gathered[plane] != 0) continue;
    float* dxp = dx + plane * P_in;
    const float* dyp = dy + plane * P_out;
    const float* ip = indices + plane * P_out;
    std::fill_n(dxp, P_in, 0.0f);
    for (int64_t o0 = 0; o0 < P_out && valid; o0 += kBlock) {
      const int64_t n = std::min(kBlock, P_out - o0);
      int32_t pos[kBlock];
      int32_t bad = 0;
#pragma omp simd reduction(+ : bad)
      for (int64_t i = 0; i < n; ++i) {
        const bool ok = pool_index_valid(ip[o0 + i], limit);
        pos[i] = ok ? static_cast<int32_t>(ip[o0 + i]) : 0;
        bad += ok ? 0 : 1;
      }
      valid = bad == 0;
      if (valid)
        for (int64_t i = 0; i < n; ++i) dxp[pos[i]] += dyp[o0 + i];
    }
  }
  return valid;
}

void avg_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y) noexcept {
  const AvgDivisors div(g);
  // The sweeps below are mostly scalar loop tails on short rows: 64 x 64 x 28² at 2x2/2 ran
  // 5x slower than the max pool's vectors.
  if (avg_pool_avx512_supports(g)) {
    const DivisorFactors f(g, div);
    return avg_pool_forward_avx512(g, x, f.row.data(), f.col.data(), y);
  }
  with_static_stride(g.stride[2], [&](auto kS) {
    parallel_rows<float>(g, 0, [&](int64_t plane, int64_t od, int64_t oh, float*) {
      float* y_row = y + ((plane * g.out[0] + od) * g.out[1] + oh) * g.out[2];
      const float* xp = x + plane * g.in_pixels();
      std::fill_n(y_row, g.out[2], 0.0f);
      for_each_row_tap(g, od, oh, false, [&](int64_t pos0, int64_t lo, int64_t hi) {
        sum_sweep<kS>(xp, pos0, g.stride[2], lo, hi, y_row);
      });
      const int64_t dh = div.row(od, oh);
      for (int64_t ow = 0; ow < g.out[2]; ++ow) y_row[ow] /= static_cast<float>(dh * div.f[2][ow]);
    });
  });
}

void avg_pool_backward_cpu(const PoolGeometry& g, const float* dy, float* dx) noexcept {
  const AvgDivisors div(g);
  // Short rows again: the scatter below ran 4-7x slower than the max pool's gather.
  if (avg_pool_avx512_supports(g)) {
    const DivisorFactors f(g, div);
    return avg_pool_backward_avx512(g, dy, f.row.data(), f.col.data(), dx);
  }
  const int64_t P_in = g.in_pixels();
  with_static_stride(g.stride[2], [&](auto kS) {
#pragma omp parallel
    {
      std::vector<float> share(g.out[2]);
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < g.planes(); ++plane) {
        float* dxp = dx + plane * P_in;
        std::fill_n(dxp, P_in, 0.0f);
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh) {
            const float* dy_row = dy + ((plane * g.out[0] + od) * g.out[1] + oh) * g.out[2];
            const int64_t dh = div.row(od, oh);
            for (int64_t ow = 0; ow < g.out[2]; ++ow)
              share[ow] = dy_row[ow] / static_cast<float>(dh * div.f[2][ow]);
            // The reference adds each output's share in output order; within one row an input
            // element hears from larger ow through smaller kw, so sweeping kw backwards keeps
            // every sum in the reference's order.
            for_each_row_tap(g, od, oh, true, [&](int64_t pos0, int64_t lo, int64_t hi) {
              spread_sweep<kS>(share.data(), pos0, g.stride[2], lo, hi, dxp);
            });
          }
      }
    }
  });
}

}  // namespace fovea::kernels
