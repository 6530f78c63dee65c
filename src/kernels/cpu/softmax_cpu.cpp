#include "kernels/cpu/softmax_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/row_exp_sum.h"
#include "kernels/cpu/vector_math.h"

namespace fovea::kernels {
namespace {

// Below this many elements a call stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelElements = int64_t{1} << 15;
// Lines handled together when they lie `inner` apart: one vector register's worth several
// times over, and each line's running values stay in a small stack array.
constexpr int64_t kTile = 64;

// Calls f(task) for task in [0, tasks), split over the threads when the call has enough work.
template <class F>
void for_each_task(const SoftmaxGeometry& g, int64_t tasks, F&& f) {
  const bool parallel = g.outer * g.size * g.inner >= kMinParallelElements;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t t = 0; t < tasks; ++t) f(t);
}

// ---- contiguous lines (inner == 1) ----

void forward_row(int64_t n, const float* __restrict x, float* __restrict y, bool log) {
  const auto [m, sum] = row_exp_sum(n, x, log ? nullptr : y);
  if (log) {
    const float log_sum = std::log(sum);
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) y[k] = (x[k] - m) - log_sum;
    return;
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) y[k] *= inv;
}

void backward_row(int64_t n, const float* __restrict dy, const float* __restrict y,
                  float* __restrict dx, bool log) {
  float sum = 0.0f;  // softmax: sum dy*y; log_softmax: sum dy
  if (log) {
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < n; ++k) sum += dy[k];
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) dx[k] = dy[k] - vmath::exp(y[k]) * sum;
    return;
  }
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < n; ++k) sum += dy[k] * y[k];
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) dx[k] = y[k] * (dy[k] - sum);
}

// ---- lines `inner` apart: a tile of B <= kTile adjacent lines, element (k, j) at k*step + j ----

void forward_tile(const SoftmaxGeometry& g, int64_t B, const float* __restrict x,
                  float* __restrict y) {
  const int64_t step = g.inner;
  float m[kTile], sum[kTile];
  std::fill_n(m, B, -INFINITY);
  std::fill_n(sum, B, 0.0f);
  for (int64_t k = 0; k < g.size; ++k)
#pragma omp simd
    for (int64_t j = 0; j < B; ++j) m[j] = x[k * step + j] > m[j] ? x[k * step + j] : m[j];
  for (int64_t k = 0; k < g.size; ++k)
#pragma omp simd
    for (int64_t j = 0; j < B; ++j) {
      const float e = vmath::exp(x[k * step + j] - m[j]);
      sum[j] += e;
      if (!g.log) y[k * step + j] = e;
    }
  if (g.log) {
    for (int64_t j = 0; j < B; ++j) sum[j] = std::log(sum[j]);
    for (int64_t k = 0; k < g.size; ++k)
#pragma omp simd
      for (int64_t j = 0; j < B; ++j) y[k * step + j] = (x[k * step + j] - m[j]) - sum[j];
    return;
  }
  for (int64_t j = 0; j < B; ++j) sum[j] = 1.0f / sum[j];
  for (int64_t k = 0; k < g.size; ++k)
#pragma omp simd
    for (int64_t j = 0; j < B; ++j) y[k * step + j] *= sum[j];
}

void backward_tile(const SoftmaxGeometry& g, int64_t B, const float* __restrict dy,
                   const float* __restrict y, float* __restrict dx) {
  const int64_t step = g.inner;
  float sum[kTile];
  std::fill_n(sum, B, 0.0f);
  for (int64_t k = 0; k < g.size; ++k)
#pragma omp simd
    for (int64_t j = 0; j < B; ++j)
      sum[j] += g.log ? dy[k * step + j] : dy[k * step + j] * y[k * step + j];
  for (int64_t k = 0; k < g.size; ++k)
#pragma omp simd
    for (int64_t j = 0; j < B; ++j) {
      const int64_t i = k * step + j;
      dx[i] = g.log ? dy[i] - vmath::exp(y[i]) * sum[j] : y[i] * (dy[i] - sum[j]);
    }
}

// Calls row(offset) for every line when lines are contiguous (inner == 1), else tile(offset, B)
// for every tile of B <= kTile adjacent lines; offset is the first element's.
template <class Row, class Tile>
void for_each_line(const SoftmaxGeometry& g, Row&& row, Tile&& tile) {
  if (g.size == 0) return;  // no lines, only empty ones
  const int64_t line = g.size * g.inner;
  if (g.inner == 1) {
    for_each_task(g, g.outer, [&](int64_t o) { row(o * line); });
    return;
  }
  const int64_t tiles = (g.inner + kTile - 1) / kTile;
  for_each_task(g, g.outer * tiles, [&](int64_t t) {
    const int64_t j0 = t % tiles * kTile;
    tile(t / tiles * line + j0, std::min(kTile, g.inner - j0));
  });
}

}  // namespace

void softmax_forward_cpu(const SoftmaxGeometry& g, const float* x, float* y) noexcept {
  for_each_line(
      g, [&](int64_t at) { forward_row(g.size, x + at, y + at, g.log); },
      [&](int64_t at, int64_t B) { forward_tile(g, B, x + at, y + at); });
}

void softmax_backward_cpu(const SoftmaxGeometry& g, const float* dy, const float* y,
                          float* dx) noexcept {
  for_each_line(
      g, [&](int64_t at) { backward_row(g.size, dy + at, y + at, dx + at, g.log); },
      [&](int64_t at, int64_t B) { backward_tile(g, B, dy + at, y + at, dx + at); });
}

}  // namespace fovea::kernels
