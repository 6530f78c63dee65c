#include "kernels/reference/interpolate_reference.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace fovea::kernels {
namespace {

// Source step per output step, in float as PyTorch computes it (area_pixel_compute_scale).
float axis_scale(int64_t in, int64_t out, bool align_corners, double scale_factor) {
  if (align_corners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0;
  return scale_factor > 0 ? static_cast<float>(1.0 / scale_factor)
                          : static_cast<float>(in) / static_cast<float>(out);
}

// The source coordinate of output o (area_pixel_compute_source_index). The half-pixel form
// is evaluated in double and rounded to float, as in PyTorch.
float source_coordinate(float scale, int64_t o, bool align_corners) {
  if (align_corners) return scale * static_cast<float>(o);
  return static_cast<float>(scale * (static_cast<double>(o) + 0.5) - 0.5);
}

// Keys' cubic convolution weights for the taps at offsets -1, 0, 1, 2 from floor(src), with
// t = src - floor(src) and a = -0.75 (PyTorch's get_cubic_upsample_coefficients).
void cubic_weights(float t, float w[4]) {
  constexpr float a = -0.75f;
  auto near = [&](float x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };       // |x| <= 1
  auto far = [&](float x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };  // 1 < |x| < 2
  const float s = 1.0f - t;
  w[0] = far(t + 1.0f);
  w[1] = near(t);
  w[2] = near(s);
  w[3] = far(s + 1.0f);
}

int64_t floor_to_index(float v, int64_t in) {
  return std::min(static_cast<int64_t>(std::floor(v)), in - 1);
}

}  // namespace

InterpolationTaps interpolation_taps(const InterpolateGeometry& g, int axis, int64_t o) {
  const int64_t in = g.in[axis], out = g.out[axis];
  const float scale = axis_scale(in, out, g.align_corners, g.scale_factor[axis]);
  InterpolationTaps t;
  switch (g.kernel) {
    case InterpolationKernel::kNearest:
      t.index[0] = floor_to_index(static_cast<float>(o) * scale, in);
      break;
    case InterpolationKernel::kNearestExact:
      t.index[0] = floor_to_index(static_cast<float>((static_cast<double>(o) + 0.5) * scale), in);
      break;
    case InterpolationKernel::kLinear: {
      t.count = 2;
      if (out == in) {  // PyTorch copies whatever the scale factor says
        t.index[0] = t.index[1] = o;
        break;
      }
      const float src = std::max(source_coordinate(scale, o, g.align_corners), 0.0f);
      const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
      t.index[0] = i0;
      t.index[1] = i0 < in - 1 ? i0 + 1 : i0;
      t.weight[1] = std::clamp(src - static_cast<float>(i0), 0.0f, 1.0f);
      t.weight[0] = 1.0f - t.weight[1];
      break;
    }
    case InterpolationKernel::kCubic: {
      t.count = 4;
      const float src = source_coordinate(scale, o, g.align_corners);
      const int64_t i = static_cast<int64_t>(std::floor(src));
      cubic_weights(src - static_cast<float>(i), t.weight);
      for (int k = 0; k < 4; ++k) t.index[k] = std::clamp<int64_t>(i - 1 + k, 0, in - 1);
      break;
    }
  }
  return t;
}

namespace {

// Calls f(y_index, x_plane, td, th, tw) for every output element: y[y_index] is made from the
// input plane at offset x_plane (its (n, c) plane) through the taps td, th, tw of its D, H
// and W coordinates. Each axis's taps are tabulated once; planes run in parallel (they share
// nothing, in either direction).
template <class F>
void for_each_output(const InterpolateGeometry& g, F&& f) {
  std::array<std::vector<InterpolationTaps>, 3> taps;
  for (int axis = 0; axis < 3; ++axis) {
    if (axis < 3 - g.spatial_dims) {  // not resampled: in = out = 1, the identity
      taps[axis].emplace_back();
      continue;
    }
    for (int64_t o = 0; o < g.out[axis]; ++o) taps[axis].push_back(interpolation_taps(g, axis, o));
  }
  const int64_t P_in = g.in_pixels(), P_out = g.out_pixels();
#pragma omp parallel for schedule(static) if (g.N * g.C * P_out > (1 << 16))
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    int64_t yi = nc * P_out;
    for (const InterpolationTaps& td : taps[0])
      for (const InterpolationTaps& th : taps[1])
        for (const InterpolationTaps& tw : taps[2]) f(yi++, nc * P_in, td, th, tw);
  }
}

}  // namespace

void interpolate_forward_reference(const InterpolateGeometry& g, const float* x,
                                   float* y) noexcept {
  const int64_t H = g.in[1], W = g.in[2];
  // Innermost axis first, each partial sum scaled by the next axis's weight: PyTorch's order.
  auto one = [&](int64_t yi, int64_t plane, const InterpolationTaps& td,
                 const InterpolationTaps& th, const InterpolationTaps& tw) {
    float sum_d = 0;
    for (int a = 0; a < td.count; ++a) {
      float sum_h = 0;
      for (int b = 0; b < th.count; ++b) {
        const float* row = x + plane + (td.index[a] * H + th.index[b]) * W;
        float sum_w = 0;
        for (int c = 0; c < tw.count; ++c) sum_w += row[tw.index[c]] * tw.weight[c];
        sum_h += sum_w * th.weight[b];
      }
      sum_d += sum_h * td.weight[a];
    }
    y[yi] = sum_d;
  };
  for_each_output(g, one);
}

void interpolate_backward_reference(const InterpolateGeometry& g, const float* dy,
                                    float* dx) noexcept {
  std::fill_n(dx, g.N * g.C * g.in_pixels(), 0.0f);
  const int64_t H = g.in[1], W = g.in[2];
  auto one = [&](int64_t yi, int64_t plane, const InterpolationTaps& td,
                 const InterpolationTaps& th, const InterpolationTaps& tw) {
    for (int a = 0; a < td.count; ++a)
      for (int b = 0; b < th.count; ++b) {
        float* row = dx + plane + (td.index[a] * H + th.index[b]) * W;
        const float dy_ab = dy[yi] * td.weight[a] * th.weight[b];
        for (int c = 0; c < tw.count; ++c) row[tw.index[c]] += dy_ab * tw.weight[c];
      }
  };
  for_each_output(g, one);
}

}  // namespace fovea::kernels
