// Holds the CPU interpolation kernels equal to the reference (STYLE.md habit 2), forward and
// backward, for every kernel (nearest, nearest-exact, linear, cubic) with align_corners both
// ways, sizes given and scale factors given (up, down, fractional), 1-D and 2-D, widths 1..33
// around the vector widths, one and two threads, with NaN-filled outputs so unwritten elements
// show. The sums run in another order than the reference's, so equality is to float rounding.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fovea/random.h"
#include "kernels/cpu/interpolate_cpu.h"
#include "kernels/reference/interpolate_reference.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Buffer = std::vector<float>;

std::string describe(const InterpolateGeometry& g) {
  return fmt::format("N{} C{} dims {} in {} out {} kernel {} align_corners {} scale {}", g.N, g.C,
                     g.spatial_dims, fmt::join(g.in, "x"), fmt::join(g.out, "x"),
                     static_cast<int>(g.kernel), g.align_corners, fmt::join(g.scale_factor, ","));
}

// Within bound of the reference, equal (infinities), or both NaN.
std::string compare(const Buffer& actual, const Buffer& expected, float bound) {
  for (size_t i = 0; i < expected.size(); ++i) {
    const float a = actual[i], e = expected[i];
    if ((std::isnan(a) && std::isnan(e)) || a == e || std::fabs(a - e) <= bound) continue;
    return fmt::format("element {}: {} but expected {}", i, a, e);
  }
  return "";
}

// 2-D (or 1-D when h_in == 0) geometry; scale > 0 gives out = floor(in * scale) with the
// scale used for the mapping, else out = the sizes given.
InterpolateGeometry geometry(int64_t N, int64_t C, int64_t h_in, int64_t w_in, int64_t h_out,
                             int64_t w_out, double scale, InterpolationKernel kernel, bool align) {
  InterpolateGeometry g;
  g.N = N;
  g.C = C;
  g.spatial_dims = h_in == 0 ? 1 : 2;
  g.kernel = kernel;
  g.align_corners = align;
  g.in = {1, std::max<int64_t>(h_in, 1), w_in};
  g.out = {1, std::max<int64_t>(h_out, 1), w_out};
  if (scale > 0)
    for (int a = 3 - g.spatial_dims; a < 3; ++a) {
      g.out[a] = static_cast<int64_t>(std::floor(static_cast<double>(g.in[a]) * scale));
      g.scale_factor[a] = scale;
    }
  return g;
}

std::vector<InterpolateGeometry> geometries() {
  std::vector<InterpolateGeometry> all;
  const struct {
    InterpolationKernel kernel;
    bool align;
  } modes[] = {{InterpolationKernel::kNearest, false}, {InterpolationKernel::kNearestExact, false},
               {InterpolationKernel::kLinear, false},  {InterpolationKernel::kLinear, true},
               {InterpolationKernel::kCubic, false},   {InterpolationKernel::kCubic, true}};
  for (const auto& m : modes) {
    // Scale forms: widths 1..33 at x2, and other factors on a few sizes.
    for (int64_t w = 1; w <= 33; ++w)
      all.push_back(geometry(1, 2, 3, w, 0, 0, 2.0, m.kernel, m.align));
    for (double scale : {0.5, 1.0, 1.7, 3.0, 0.3})
      for (int64_t w : {5, 16, 17, 31})
        if (std::floor(w * scale) >= 1 && std::floor(5 * scale) >= 1)
          all.push_back(geometry(2, 1, 5, w, 0, 0, scale, m.kernel, m.align));
    // Size forms, up and down, both axes, and 1-D.
    for (int64_t w_out = 1; w_out <= 33; w_out += 4) {
      all.push_back(geometry(1, 3, 7, 9, 4, w_out, 0, m.kernel, m.align));
      all.push_back(geometry(2, 2, 0, 13, 0, w_out, 0, m.kernel, m.align));
    }
    all.push_back(geometry(1, 1, 1, 1, 5, 6, 0, m.kernel, m.align));      // one pixel spread
    all.push_back(geometry(2, 8, 40, 40, 0, 0, 2.0, m.kernel, m.align));  // threaded
  }
  return all;
}

TEST(InterpolateKernels, CpuMatchesReference) {
  testing::with_one_and_two_threads([&] {
    for (const InterpolateGeometry& g : geometries()) {
      ASSERT_TRUE(interpolate_cpu_supports(g));
      SCOPED_TRACE(describe(g));
      const int64_t n_in = g.N * g.C * g.in_pixels(), n_out = g.N * g.C * g.out_pixels();
      Generator gen(static_cast<uint64_t>(n_in + 7 * n_out));
      Buffer x(n_in), dy(n_out);
      for (float& v : x) v = gen.normal();
      // An infinity in 1-D calls: their H axis (not resampled) must not mix it into NaN.
      if (g.spatial_dims == 1) x[x.size() / 2] = std::numeric_limits<float>::infinity();
      for (float& v : dy) v = gen.normal();
      const auto max_abs = [](const Buffer& b) {  // of the finite values
        float m = 0.0f;
        for (float v : b)
          if (std::isfinite(v)) m = std::max(m, std::fabs(v));
        return m;
      };

      Buffer y_ref(n_out, kNaN), y(n_out, kNaN);
      interpolate_forward_reference(g, x.data(), y_ref.data());
      interpolate_forward_cpu(g, x.data(), y.data());
      // A few ulps of the sum of |weight * x| (cubic weights add to at most 1.5 per axis).
      EXPECT_EQ(compare(y, y_ref, 1e-6f * 4.0f * max_abs(x)), "") << "forward";

      Buffer dx_ref(n_in, kNaN), dx(n_in, kNaN);
      interpolate_backward_reference(g, dy.data(), dx_ref.data());
      interpolate_backward_cpu(g, dy.data(), dx.data());
      // Each dx sums about (out / in + 4) taps per axis.
      const float fan = static_cast<float>((g.out[1] / g.in[1] + 4) * (g.out[2] / g.in[2] + 4));
      EXPECT_EQ(compare(dx, dx_ref, 1e-6f * 2.0f * fan * max_abs(dy)), "") << "backward";
    }
  });
}

// 3-D calls stay with the reference.
TEST(InterpolateKernels, CpuRefusesThreeDimensions) {
  InterpolateGeometry g;
  g.spatial_dims = 3;
  g.in = {2, 3, 4};
  g.out = {4, 6, 8};
  EXPECT_FALSE(interpolate_cpu_supports(g));
}

}  // namespace
}  // namespace fovea::kernels
