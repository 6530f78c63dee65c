// What the AVX-512 translation units of the pointwise kernels (conv_pointwise.h) share: the
// threading helpers, the image-by-image product C = A · B of the register tiles
// (conv_pointwise_product_avx512.cpp) and the weight gradient's dot-product tiles
// (conv_pointwise_weight_avx512.cpp), both called by the entry points
// (conv_pointwise_avx512.cpp). For those translation units only, included after their standard
// and project headers: everything here is compiled for AVX-512 (the target pragma below), is
// inline or defined once, in a namespace of its own, and is called only after supports() said
// yes.
#pragma once

#include <immintrin.h>
#include <omp.h>

#include <cstdint>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/rounding.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels::pointwise_avx512 {

inline constexpr int64_t kLanes = 16;

// The threads that share a call's tasks: the team's when `team` (see with_team), else those of
// a team the call starts, or one where a thread of a team calls alone (as each thread does on
// its own pixels of an image, see splits_pixels in conv_pointwise_avx512.cpp).
inline int64_t task_threads(bool team) {
  if (team) return omp_get_num_threads();
  return omp_in_parallel() ? 1 : omp_get_max_threads();
}

// Runs task(i) for i in [0, tasks) over the threads, in contiguous static shares: those of the
// team every thread of which makes this call when `team` (see with_team), else a team started
// here (or the calling thread alone, see task_threads). `last`: the team's last step, whose end
// needs no barrier of its own (the team's end is one): a barrier is a wait for the slowest thread,
// and on a loaded machine for one the OS has put off.
template <class Task>
void run_tasks(int64_t tasks, bool team, Task&& task, bool last = false) {
  if (team && last) {
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  if (team) {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  // One thread, or one thread of a team working alone: no team to start.
  if (task_threads(false) == 1 || tasks == 1) {
    for (int64_t i = 0; i < tasks; ++i) task(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tasks; ++i) task(i);
}

// body(team) run by every thread of one team (team = true), or by the calling thread alone when
// there is one thread: a pass made of two steps (gather, then multiply) starts one team, not
// two; their run_tasks calls end in a barrier, so each step sees the previous one's results.
template <class Body>
void with_team(Body&& body) {
  if (omp_get_max_threads() == 1) {
    body(false);
    return;
  }
#pragma omp parallel
  body(true);
}

using avx512::horizontal_sum;

// A register tile's accumulators at its start: 0, or the R·C vectors stored row by row at
// `from` (a weight tile's partial sums from its last slice). Unrolled: an indexed access would
// keep acc in memory.
template <int R, int C>
[[gnu::always_inline]] inline void start_tile(__m512 (&acc)[R][C], const float* from = nullptr) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c)
      acc[r][c] = from ? _mm512_loadu_ps(from + (r * C + c) * kLanes) : _mm512_setzero_ps();
}

// C[n] = A · B[n] for every image, B[n] = b + n·K·ldb (rows of B at stride ldb: P, or more)
// and C[n] = c + n·M·ldc (rows at stride ldc: P, or more), with `ep` (bias of C's rows, clamp)
// applied before the store.
struct Product {
  int64_t N, M, K, P;
  const float* a;
  int64_t a_row, a_step;
  const float* b;
  float* c;
  ConvEpilogue ep;
  int64_t ldb = 0;  // 0: P
  int64_t ldc = 0;  // rows of C at this stride; 0: P
};

// Over the team when `team`; `last` says, as to run_tasks, that it is the team's last step.
void multiply(const Product& pr, bool team, bool last = true) noexcept;

// dw (M, K) = sum_n a[n] (M, P) · b[n] (K, P)ᵀ, called by every thread of the team when
// `team` (see with_team), else by one thread alone. Threads take contiguous shares of the tiles,
// ordered so that a thread's consecutive tiles share the tile of the operand with more rows and
// sweep every tile of the other. Images of more than pointwise_weight_chunk pixels go in slices
// of that many, image by image, each thread sweeping its tiles slice after slice: the slice of
// the operand with fewer rows stays in L1, and the accumulators wait in `partial` in between.
void weight_product(int64_t N, int64_t M, int64_t K, int64_t P, const float* a, const float* b,
                    float* dw, float* partial, bool team) noexcept;

}  // namespace fovea::kernels::pointwise_avx512

#pragma GCC pop_options
