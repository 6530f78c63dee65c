#include "optim/update_kernels.h"

#include <algorithm>
#include <cmath>
#include <experimental/simd>
#include <functional>
#include <limits>
#include <vector>

namespace fovea::kernels {
namespace {

namespace stdx = std::experimental;

// Elements per OpenMP work item. A parameter update streams 3-5 arrays, so below one chunk
// (~0.3-0.6 MiB of traffic) a single thread beats waking the team.
constexpr int64_t kChunk = 1 << 15;

int64_t chunk_count(int64_t n) {
  return (n + kChunk - 1) / kChunk;
}

// body(begin, end) over consecutive chunks of [0, n), spread across threads; each body is a
// serial, vectorised loop over its chunk.
template <class Body>
void for_chunks(int64_t n, const Body& body) {
  const int64_t chunks = chunk_count(n);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) body(c * kChunk, std::min(n, (c + 1) * kChunk));
}

// Folds body(begin, end) of every chunk into init with combine, in chunk order, so the result
// does not depend on the number of threads.
template <class T, class Body, class Combine>
T reduce_chunks(int64_t n, T init, const Body& body, const Combine& combine) {
  if (n <= kChunk) return combine(init, body(0, n));
  std::vector<T> partial(chunk_count(n));
  for_chunks(n, [&](int64_t b, int64_t e) { partial[b / kChunk] = body(b, e); });
  for (const T& part : partial) init = combine(init, part);
  return init;
}

template <bool kWeightDecay, bool kMomentum, bool kNesterov, bool kFirst>
void sgd_range(const SgdStep& s, float* p, const float* g, float* buf, int64_t begin, int64_t end) {
  const float keep = 1.0f - s.dampening;
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    float d = g[i];
    if constexpr (kWeightDecay) d += s.weight_decay * p[i];
    if constexpr (kMomentum) {
      // The first buffer is the gradient itself, not (1 - dampening) times it.
      const float b = kFirst ? d : s.momentum * buf[i] + keep * d;
      buf[i] = b;
      d = kNesterov ? d + s.momentum * b : b;
    }
    p[i] -= s.lr * d;
  }
}

template <bool kWeightDecay, bool kMomentum, bool kNesterov, bool kFirst>
void sgd_loop(const SgdStep& s, float* p, const float* g, float* buf, int64_t n) {
  for_chunks(n, [&](int64_t b, int64_t e) {
    sgd_range<kWeightDecay, kMomentum, kNesterov, kFirst>(s, p, g, buf, b, e);
  });
}

template <bool kWeightDecay>
void sgd_dispatch(const SgdStep& s, float* p, const float* g, float* buf, int64_t n) {
  if (buf == nullptr) return sgd_loop<kWeightDecay, false, false, false>(s, p, g, buf, n);
  if (s.first) {
    if (s.nesterov) return sgd_loop<kWeightDecay, true, true, true>(s, p, g, buf, n);
    return sgd_loop<kWeightDecay, true, false, true>(s, p, g, buf, n);
  }
  if (s.nesterov) return sgd_loop<kWeightDecay, true, true, false>(s, p, g, buf, n);
  sgd_loop<kWeightDecay, true, false, false>(s, p, g, buf, n);
}

// GCC 12 warns that _mm512_undefined_ps(), which stdx::sqrt passes as the masked-off source
// of vsqrtps, "may be used uninitialized" (or, with -fsanitize, "is used uninitialized"): it
// is meant to be undefined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

using Simd = stdx::native_simd<float>;
constexpr auto kAny = stdx::element_aligned;  // loads and stores at any float address

// One Adam update of a vector of elements.
template <bool kL2, bool kDecoupled, bool kAmsgrad>
void adam_update(const AdamStep& s, Simd& p, Simd d, Simd& m, Simd& v, Simd& v_max) {
  if constexpr (kL2) d += s.l2 * p;
  if constexpr (kDecoupled) p *= s.decay;
  m = s.beta1 * m + (1.0f - s.beta1) * d;
  v = s.beta2 * v + (1.0f - s.beta2) * d * d;
  Simd second = v;
  if constexpr (kAmsgrad) second = v_max = stdx::max(v_max, v);
  p -= s.step_size * m / (stdx::sqrt(second) / s.bias2_sqrt + s.eps);
}

// Explicit SIMD rather than a plain loop: under GCC's default -fmath-errno, std::sqrt keeps a
// branch (to set errno for negative inputs) that stops the loop from vectorising, and the
// no-math-errno function attribute does not lift it (GCC 12). The last partial vector goes
// through the same vector code from a padded copy: a scalar tail would round differently
// (the compiler fuses multiply-adds differently there), and an element's result would then
// depend on where it falls in its tensor.
template <bool kL2, bool kDecoupled, bool kAmsgrad>
void adam_range(const AdamStep& s, float* p, const float* g, float* m, float* v, float* v_max,
                int64_t begin, int64_t end) {
  constexpr int64_t kWidth = Simd::size();
  auto run = [&s](float* pp, const float* gp, float* mp, float* vp, float* xp) {
    Simd pv(pp, kAny), mv(mp, kAny), vv(vp, kAny), xv;
    if constexpr (kAmsgrad) xv.copy_from(xp, kAny);
    adam_update<kL2, kDecoupled, kAmsgrad>(s, pv, Simd(gp, kAny), mv, vv, xv);
    pv.copy_to(pp, kAny);
    mv.copy_to(mp, kAny);
    vv.copy_to(vp, kAny);
    if constexpr (kAmsgrad) xv.copy_to(xp, kAny);
  };
  int64_t i = begin;
  for (; i + kWidth <= end; i += kWidth)
    run(p + i, g + i, m + i, v + i, kAmsgrad ? v_max + i : nullptr);
  const int64_t n = end - i;
  if (n == 0) return;
  float tail[5][kWidth] = {};  // p, g, m, v, v_max, zero-padded
  std::copy_n(p + i, n, tail[0]);
  std::copy_n(g + i, n, tail[1]);
  std::copy_n(m + i, n, tail[2]);
  std::copy_n(v + i, n, tail[3]);
  if constexpr (kAmsgrad) std::copy_n(v_max + i, n, tail[4]);
  run(tail[0], tail[1], tail[2], tail[3], tail[4]);
  std::copy_n(tail[0], n, p + i);
  std::copy_n(tail[2], n, m + i);
  std::copy_n(tail[3], n, v + i);
  if constexpr (kAmsgrad) std::copy_n(tail[4], n, v_max + i);
}

#pragma GCC diagnostic pop

template <bool kL2, bool kDecoupled>
void adam_dispatch(const AdamStep& s, float* p, const float* g, float* m, float* v, float* v_max,
                   int64_t n) {
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v_max)
      adam_range<kL2, kDecoupled, true>(s, p, g, m, v, v_max, b, e);
    else
      adam_range<kL2, kDecoupled, false>(s, p, g, m, v, v_max, b, e);
  });
}

double sum_abs_pow_range(const float* x, int64_t begin, int64_t end, double p) {
  double sum = 0.0;
  if (p == 2.0) {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = begin; i < end; ++i) sum += static_cast<double>(x[i]) * x[i];
  } else if (p == 1.0) {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = begin; i < end; ++i) sum += std::fabs(static_cast<double>(x[i]));
  } else {
    for (int64_t i = begin; i < end; ++i) sum += std::pow(std::fabs(static_cast<double>(x[i])), p);
  }
  return sum;
}

float max_abs_range(const float* x, int64_t begin, int64_t end) {
  float best = 0.0f;
  int nan = 0;  // a select-based max drops NaN; PyTorch's max propagates it
#pragma omp simd reduction(max : best) reduction(| : nan)
  for (int64_t i = begin; i < end; ++i) {
    const float a = std::fabs(x[i]);
    best = a > best ? a : best;
    nan |= a != a;
  }
  return nan ? std::numeric_limits<float>::quiet_NaN() : best;
}

}  // namespace

void sgd_step(const SgdStep& s, float* p, const float* g, float* buf, int64_t n) noexcept {
  if (s.weight_decay != 0.0f) return sgd_dispatch<true>(s, p, g, buf, n);
  sgd_dispatch<false>(s, p, g, buf, n);
}

void adam_step(const AdamStep& s, float* p, const float* g, float* m, float* v, float* v_max,
               int64_t n) noexcept {
  // Adam and AdamW never both decay: l2 == 0 or decay == 1.
  if (s.l2 != 0.0f) return adam_dispatch<true, false>(s, p, g, m, v, v_max, n);
  if (s.decay != 1.0f) return adam_dispatch<false, true>(s, p, g, m, v, v_max, n);
  adam_dispatch<false, false>(s, p, g, m, v, v_max, n);
}

double sum_abs_pow(const float* x, int64_t n, double p) noexcept {
  return reduce_chunks(
      n, 0.0, [&](int64_t b, int64_t e) { return sum_abs_pow_range(x, b, e, p); },
      std::plus<double>());
}

float max_abs(const float* x, int64_t n) noexcept {
  return reduce_chunks(
      n, 0.0f, [&](int64_t b, int64_t e) { return max_abs_range(x, b, e); },
      [](float a, float b) { return a != a || b <= a ? a : b; });  // NaN sticks
}

void scale(float* x, int64_t n, float scale) noexcept {
  for_chunks(n, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) x[i] *= scale;
  });
}

void clamp(float* x, int64_t n, float lo, float hi) noexcept {
  for_chunks(n, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float a = x[i] < lo ? lo : x[i];  // selects keep NaN, like torch.clamp
      x[i] = a > hi ? hi : a;
    }
  });
}

}  // namespace fovea::kernels
