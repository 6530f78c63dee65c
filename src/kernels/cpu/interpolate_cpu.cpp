#include "kernels/cpu/interpolate_cpu.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_features.h"

namespace fovea::kernels {
namespace {

// Below this many output elements a call stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelElements = int64_t{1} << 15;

// Taps of one axis as a table: for position p and k < taps, (index(k)[p], weight(k)[p]);
// stored k-major, so loops over p are unit-stride. Entries equal to `pad` are empty.
struct AxisTable {
  int64_t positions = 0;
  int taps = 0;
  int32_t pad = -1;
  std::vector<int32_t> index;
  std::vector<float> weight;
  // For the AVX-512 gather: per block of 16 positions, the first of the 32 elements its
  // entries read; empty when some block reads wider or the CPU lacks AVX-512.
  std::vector<int32_t> window_start;
  bool unit_weight = false;  // one tap, weight 1 everywhere (nearest)

  AxisTable(int64_t p, int t, int32_t fill)
      : positions(p), taps(t), pad(fill), index(p * t, fill), weight(p * t, 0.0f) {}
  int32_t* idx(int k) { return index.data() + k * positions; }
  float* w(int k) { return weight.data() + k * positions; }
  const int32_t* idx(int k) const { return index.data() + k * positions; }
  const float* w(int k) const { return weight.data() + k * positions; }
};

// Output position o along axis reads input index(k)[o] with weight(k)[o]. An axis the call
// does not resample (H of a 1-D call) takes the reference's identity tap, not the mode's taps
// (which there add 0 * x, NaN where x is infinite).
AxisTable forward_table(const InterpolateGeometry& g, int axis) {
  const int64_t out = g.out[axis];
  const bool resampled = axis >= 3 - g.spatial_dims;
  const auto taps_of = [&](int64_t o) {
    return resampled ? interpolation_taps(g, axis, o) : InterpolationTaps{};
  };
  AxisTable t(out, taps_of(0).count, -1);  // every entry is filled
  for (int64_t o = 0; o < out; ++o) {
    const InterpolationTaps taps = taps_of(o);
    for (int k = 0; k < t.taps; ++k) {
      t.idx(k)[o] = static_cast<int32_t>(taps.index[k]);
      t.w(k)[o] = taps.weight[k];
    }
  }
  return t;
}

// The transpose of a forward table: input position i is read by the outputs index(k)[i] with
// weight(k)[i], k below the largest count; shorter lists are padded with (pad, 0).
AxisTable transposed_table(const AxisTable& f, int64_t in, int32_t pad) {
  std::vector<int> count(in, 0);
  for (int k = 0; k < f.taps; ++k)
    for (int64_t o = 0; o < f.positions; ++o) ++count[f.idx(k)[o]];
  AxisTable t(in, std::max(1, *std::max_element(count.begin(), count.end())), pad);
  std::fill(count.begin(), count.end(), 0);
  for (int64_t o = 0; o < f.positions; ++o)
    for (int k = 0; k < f.taps; ++k) {
      const int32_t i = f.idx(k)[o];
      t.idx(count[i])[i] = static_cast<int32_t>(o);
      t.w(count[i]++)[i] = f.w(k)[o];
    }
  return t;
}

// Fills t.window_start when every block of 16 positions reads within 32 elements.
void plan_windows(AxisTable& t) {
  if (!cpu_has_avx512()) return;
  std::vector<int32_t> start;
  for (int64_t p0 = 0; p0 < t.positions; p0 += 16) {
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int k = 0; k < t.taps; ++k)
      for (int64_t p = p0; p < std::min(p0 + 16, t.positions); ++p)
        if (const int32_t i = t.idx(k)[p]; i != t.pad) {
          lo = std::min(lo, i);
          hi = std::max(hi, i);
        }
    if (lo == INT32_MAX) lo = hi = 0;  // only padding: nothing is read
    if (hi - lo >= 32) return;
    start.push_back(lo);
  }
  t.window_start = std::move(start);
  t.unit_weight = t.taps == 1 &&
                  std::all_of(t.weight.begin(), t.weight.end(), [](float w) { return w == 1.0f; });
}

// The rows table t names for position p, combined: sum_k w(k)[p] * rows[idx(k)[p]] (rows of
// `length`, `stride` apart), into scratch; or the row itself when it is the only one, weight 1
// (nearest). nullptr when no row contributes.
const float* combine_rows(const AxisTable& t, int64_t p, const float* rows, int64_t stride,
                          int64_t length, float* __restrict scratch) {
  int used = 0;
  for (int k = 0; k < t.taps; ++k) {
    const int32_t r = t.idx(k)[p];
    if (r < 0) continue;
    const float w = t.w(k)[p];
    const float* __restrict row = rows + r * stride;
    if (used == 0 && t.taps == 1 && w == 1.0f) return row;
    // The first two rows in one pass over scratch (nearest and bilinear by 2: every row).
    if (used == 0 && k + 1 < t.taps && t.idx(k + 1)[p] >= 0) {
      const float w1 = t.w(k + 1)[p];
      const float* __restrict row1 = rows + t.idx(k + 1)[p] * stride;
#pragma omp simd
      for (int64_t i = 0; i < length; ++i) scratch[i] = w * row[i] + w1 * row1[i];
      used = 2;
      ++k;
      continue;
    }
    if (used++ == 0) {
#pragma omp simd
      for (int64_t i = 0; i < length; ++i) scratch[i] = w * row[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < length; ++i) scratch[i] += w * row[i];
    }
  }
  return used ? scratch : nullptr;
}

// out[p] = sum_k w(k)[p] * src[idx(k)[p]] for every position p of t: a gather from one row of
// src_length elements (padding entries name src[pad], which holds 0).
void gather_row(const AxisTable& t, const float* __restrict src, int64_t src_length,
                float* __restrict out) {
  if (!t.window_start.empty())
    return window_gather_row_avx512({t.positions, t.taps, t.index.data(), t.weight.data(),
                                     t.window_start.data(), t.pad, t.unit_weight},
                                    src, src_length, out);
  const int32_t* __restrict i0 = t.idx(0);
  const float* __restrict w0 = t.w(0);
#pragma omp simd
  for (int64_t p = 0; p < t.positions; ++p) out[p] = w0[p] * src[i0[p]];
  for (int k = 1; k < t.taps; ++k) {
    const int32_t* __restrict ik = t.idx(k);
    const float* __restrict wk = t.w(k);
#pragma omp simd
    for (int64_t p = 0; p < t.positions; ++p) out[p] += wk[p] * src[ik[p]];
  }
}

// Calls row(r, scratch) for each of `rows` rows, split over the threads when `elements` (the
// output's size) is worth it; scratch holds scratch_size floats private to the thread, the
// last one 0.
template <class F>
void parallel_rows(int64_t rows, int64_t elements, int64_t scratch_size, F&& row) {
#pragma omp parallel if (elements >= kMinParallelElements)
  {
    std::vector<float> scratch(scratch_size, 0.0f);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) row(r, scratch.data());
  }
}

}  // namespace

bool interpolate_cpu_supports(const InterpolateGeometry& g) noexcept {
  return g.in[0] == 1 && g.out[0] == 1;
}

void interpolate_forward_cpu(const InterpolateGeometry& g, const float* x, float* y) noexcept {
  const AxisTable th = forward_table(g, 1);
  AxisTable tw = forward_table(g, 2);
  plan_windows(tw);
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int64_t rows = g.N * g.C * OH;
  parallel_rows(rows, rows * OW, W, [&](int64_t r, float* t) {
    const float* src = combine_rows(th, r % OH, x + r / OH * H * W, W, W, t);
    gather_row(tw, src, W, y + r * OW);
  });
}

void interpolate_backward_cpu(const InterpolateGeometry& g, const float* dy, float* dx) noexcept {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  // Rows no output reads are marked empty (-1); columns pad to t[OW], which stays 0.
  const AxisTable bh = transposed_table(forward_table(g, 1), H, -1);
  AxisTable bw = transposed_table(forward_table(g, 2), W, static_cast<int32_t>(OW));
  plan_windows(bw);
  const int64_t rows = g.N * g.C * H;
  parallel_rows(rows, rows * W, OW + 1, [&](int64_t r, float* t) {
    float* dx_row = dx + r * W;
    const float* src = combine_rows(bh, r % H, dy + r / H * OH * OW, OW, OW, t);
    if (src == nullptr) {
      std::fill_n(dx_row, W, 0.0f);
      return;
    }
    if (src != t) {  // one row, weight 1: copied so that the zero slot t[OW] follows it
      std::copy_n(src, OW, t);
      src = t;
    }
    gather_row(bw, src, OW + 1, dx_row);
  });
}

}  // namespace fovea::kernels
