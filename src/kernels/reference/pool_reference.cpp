#include "kernels/reference/pool_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fovea::kernels {
namespace {

// The input positions one output reads along one axis: first, first + step, ... below end.
struct Taps {
  int64_t first = 0, end = 0, step = 1;
  int64_t padded = 0;  // avg pools: the window's length counting padding (count_include_pad)
  int64_t count() const { return end > first ? (end - first + step - 1) / step : 0; }
};

// PyTorch's max window: the dilated kernel from o*stride - pad, cut at the input's end, its
// start stepped forward by the dilation until it is inside the input.
Taps max_taps(const PoolGeometry& g, int a, int64_t o) {
  Taps t;
  t.step = g.dilation[a];
  t.first = o * g.stride[a] - g.pad[a];
  t.end = std::min(t.first + (g.kernel[a] - 1) * g.dilation[a] + 1, g.in[a]);
  while (t.first < 0) t.first += t.step;
  return t;
}

// PyTorch's average window: kernel positions from o*stride - pad, cut at the padded input
// (that length is the count_include_pad divisor), then at the input.
Taps avg_taps(const PoolGeometry& g, int a, int64_t o) {
  Taps t;
  const int64_t start = o * g.stride[a] - g.pad[a];
  const int64_t end = std::min(start + g.kernel[a], g.in[a] + g.pad[a]);
  t.padded = end - start;
  t.first = std::max<int64_t>(start, 0);
  t.end = std::min(end, g.in[a]);
  return t;
}

// [floor(o*in/out), ceil((o+1)*in/out)).
Taps adaptive_taps(const PoolGeometry& g, int a, int64_t o) {
  Taps t;
  t.first = o * g.in[a] / g.out[a];
  t.end = ((o + 1) * g.in[a] + g.out[a] - 1) / g.out[a];
  return t;
}

// Calls f(x_plane, o, d, h, w) for every output o (flat over all planes) with the Taps of its
// window along each axis, x_plane pointing at the input-sized plane the output belongs to
// (read from in forward passes, accumulated into in backward ones).
template <class T, class TapsFn, class F>
void for_each_window(const PoolGeometry& g, TapsFn&& taps, T* x, F&& f) {
  int64_t o = 0;
  for (int64_t plane = 0; plane < g.planes(); ++plane)
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o)
          f(x + plane * g.in_pixels(), o, taps(g, 0, od), taps(g, 1, oh), taps(g, 2, ow));
}

// Calls f(i) for every flat in-plane position i of the window, in (d, h, w) order.
template <class F>
void for_each_position(const PoolGeometry& g, const Taps& d, const Taps& h, const Taps& w, F&& f) {
  for (int64_t id = d.first; id < d.end; id += d.step)
    for (int64_t ih = h.first; ih < h.end; ih += h.step)
      for (int64_t iw = w.first; iw < w.end; iw += w.step) f((id * g.in[1] + ih) * g.in[2] + iw);
}

// max over the window and its position, with PyTorch's rule: strictly greater or NaN replaces.
void window_max(const PoolGeometry& g, const float* x, const Taps& d, const Taps& h, const Taps& w,
                float& y, float& index) {
  int64_t best = (d.first * g.in[1] + h.first) * g.in[2] + w.first;
  float m = -std::numeric_limits<float>::infinity();
  for_each_position(g, d, h, w, [&](int64_t i) {
    if (x[i] > m || std::isnan(x[i])) {
      m = x[i];
      best = i;
    }
  });
  y = m;
  index = static_cast<float>(best);
}

float avg_divisor(const PoolGeometry& g, const Taps& d, const Taps& h, const Taps& w) {
  if (g.divisor_override != 0) return static_cast<float>(g.divisor_override);
  if (g.count_include_pad) return static_cast<float>(d.padded * h.padded * w.padded);
  return static_cast<float>(d.count() * h.count() * w.count());
}

void scale_by_power_derivative(int64_t n, float p, const float* x, float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] *= p * std::pow(x[i], p - 1.0f);
}

}  // namespace

void max_pool_forward_reference(const PoolGeometry& g, const float* x, float* y,
                                float* indices) noexcept {
  for_each_window(g, max_taps, x, [&](const float* xp, int64_t o, Taps d, Taps h, Taps w) {
    window_max(g, xp, d, h, w, y[o], indices[o]);
  });
}

void max_pool_backward_reference(const PoolGeometry& g, const float* dy, const float* indices,
                                 float* dx) noexcept {
  std::fill_n(dx, g.planes() * g.in_pixels(), 0.0f);
  for (int64_t plane = 0; plane < g.planes(); ++plane)
    for (int64_t o = plane * g.out_pixels(); o < (plane + 1) * g.out_pixels(); ++o)
      dx[plane * g.in_pixels() + static_cast<int64_t>(indices[o])] += dy[o];
}

// The door keeps padding <= kernel/2 and ceil_mode's last window starting inside the input,
// so every window holds at least one input position and the divisor is never zero.
void avg_pool_forward_reference(const PoolGeometry& g, const float* x, float* y) noexcept {
  for_each_window(g, avg_taps, x, [&](const float* xp, int64_t o, Taps d, Taps h, Taps w) {
    float sum = 0.0f;
    for_each_position(g, d, h, w, [&](int64_t i) { sum += xp[i]; });
    y[o] = sum / avg_divisor(g, d, h, w);
  });
}

void avg_pool_backward_reference(const PoolGeometry& g, const float* dy, float* dx) noexcept {
  std::fill_n(dx, g.planes() * g.in_pixels(), 0.0f);
  for_each_window(g, avg_taps, dx, [&](float* dxp, int64_t o, Taps d, Taps h, Taps w) {
    const float share = dy[o] / avg_divisor(g, d, h, w);
    for_each_position(g, d, h, w, [&](int64_t i) { dxp[i] += share; });
  });
}

void lp_pool_forward_reference(const PoolGeometry& g, float p, const float* x, float* y,
                               float* workspace) noexcept {
  const int64_t n_in = g.planes() * g.in_pixels(), n_out = g.planes() * g.out_pixels();
  for (int64_t i = 0; i < n_in; ++i) workspace[i] = std::pow(x[i], p);
  avg_pool_forward_reference(g, workspace, y);
  const float K = static_cast<float>(g.kernel_pixels());
  const float inv_p = static_cast<float>(1.0 / p);
  // sign(a) * relu(|a|) is a itself, except that it turns -0 into +0.
  for (int64_t o = 0; o < n_out; ++o) y[o] = std::pow((y[o] == 0.0f ? 0.0f : y[o]) * K, inv_p);
}

void lp_pool_backward_reference(const PoolGeometry& g, float p, const float* x, const float* dy,
                                float* dx, float* workspace) noexcept {
  const int64_t n_in = g.planes() * g.in_pixels(), n_out = g.planes() * g.out_pixels();
  // dx holds x^p until the average pool's backward overwrites it.
  for (int64_t i = 0; i < n_in; ++i) dx[i] = std::pow(x[i], p);
  float* da = workspace;
  avg_pool_forward_reference(g, dx, da);
  const float K = static_cast<float>(g.kernel_pixels());
  const float inv_p = static_cast<float>(1.0 / p);
  // PyTorch's chain through pow(1/p), mul(K), sign*relu(abs): relu's gradient is 0 at a = 0
  // (where pow's derivative is infinite), and sign(a)^2 = 1 elsewhere.
  for (int64_t o = 0; o < n_out; ++o) {
    const float a = da[o];
    da[o] = a == 0.0f ? 0.0f : dy[o] * (inv_p * std::pow(a * K, inv_p - 1.0f)) * K;
  }
  avg_pool_backward_reference(g, da, dx);
  scale_by_power_derivative(n_in, p, x, dx);
}

void adaptive_avg_pool_forward_reference(const PoolGeometry& g, const float* x, float* y) noexcept {
  for_each_window(g, adaptive_taps, x, [&](const float* xp, int64_t o, Taps d, Taps h, Taps w) {
    float sum = 0.0f;
    for_each_position(g, d, h, w, [&](int64_t i) { sum += xp[i]; });
    y[o] = sum / static_cast<float>(d.count() * h.count() * w.count());
  });
}

void adaptive_avg_pool_backward_reference(const PoolGeometry& g, const float* dy,
                                          float* dx) noexcept {
  std::fill_n(dx, g.planes() * g.in_pixels(), 0.0f);
  for_each_window(g, adaptive_taps, dx, [&](float* dxp, int64_t o, Taps d, Taps h, Taps w) {
    const float share = dy[o] / static_cast<float>(d.count() * h.count() * w.count());
    for_each_position(g, d, h, w, [&](int64_t i) { dxp[i] += share; });
  });
}

void adaptive_max_pool_forward_reference(const PoolGeometry& g, const float* x, float* y,
                                         float* indices) noexcept {
  for_each_window(g, adaptive_taps, x, [&](const float* xp, int64_t o, Taps d, Taps h, Taps w) {
    window_max(g, xp, d, h, w, y[o], indices[o]);
  });
}

void max_unpool_forward_reference(const PoolGeometry& g, const float* x, const float* indices,
                                  float* y) noexcept {
  std::fill_n(y, g.planes() * g.out_pixels(), 0.0f);
  for (int64_t plane = 0; plane < g.planes(); ++plane)
    for (int64_t i = plane * g.in_pixels(); i < (plane + 1) * g.in_pixels(); ++i)
      y[plane * g.out_pixels() + static_cast<int64_t>(indices[i])] = x[i];
}

void max_unpool_backward_reference(const PoolGeometry& g, const float* dy, const float* indices,
                                   float* dx) noexcept {
  for (int64_t plane = 0; plane < g.planes(); ++plane)
    for (int64_t i = plane * g.in_pixels(); i < (plane + 1) * g.in_pixels(); ++i)
      dx[i] = dy[plane * g.out_pixels() + static_cast<int64_t>(indices[i])];
}

}  // namespace fovea::kernels
