// The fast CPU pooling kernels held bit-for-bit equal to the reference kernels on a sweep of
// window geometries (1D/2D/3D, every stride, padding, dilation and ceil_mode combination in a
// small range, plus the 2x2/2 and 3x3/2 pad 1 shapes of real networks), on inputs with ties,
// NaN and -inf. Outputs start as NaN so an element a kernel fails to write shows. The
// values-only max forward (no indices) is held to the reference bit for bit, NaN payloads and
// signed zeros included, on a sweep of row widths around its 16-output blocks.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/pool_cpu.h"
#include "kernels/reference/pool_reference.h"
#include "ops/pool_call.h"
#include "thread_counts.h"

namespace fovea {
namespace {

using kernels::PoolGeometry;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::string describe(const PoolGeometry& g) {
  return fmt::format("N{} C{} in {} out {} k {} s {} p {} d {} include_pad {} divisor {}", g.N, g.C,
                     fmt::join(g.in, "x"), fmt::join(g.out, "x"), fmt::join(g.kernel, "x"),
                     fmt::join(g.stride, "x"), fmt::join(g.pad, "x"), fmt::join(g.dilation, "x"),
                     g.count_include_pad, g.divisor_override);
}

// Geometry from per-axis values for the last D of (D, H, W); false when the door would reject
// it (no output, or a window reading only padding).
bool make_geometry(PoolGeometry& g, int D, const kernels::Dims3& in, const kernels::Dims3& k,
                   const kernels::Dims3& s, const kernels::Dims3& p, const kernels::Dims3& d,
                   bool ceil_mode) {
  g.spatial_dims = D;
  for (int i = 0; i < 3; ++i) {
    const bool used = i >= 3 - D;
    g.in[i] = used ? in[i] : 1;
    g.kernel[i] = used ? k[i] : 1;
    g.stride[i] = used ? s[i] : 1;
    g.pad[i] = used ? p[i] : 0;
    g.dilation[i] = used ? d[i] : 1;
    g.out[i] = ops::pool_output_size(g.in[i], g.kernel[i], g.stride[i], g.pad[i], g.dilation[i],
                                     ceil_mode);
    if (g.out[i] < 1 || !ops::pool_windows_read_input(g.in[i], g.kernel[i], g.stride[i], g.pad[i],
                                                      g.dilation[i], g.out[i]))
      return false;
  }
  return true;
}

// The shapes of real networks first, then a seeded sweep of everything else; dilation only when
// `dilated` (average pools have none).
std::vector<PoolGeometry> geometries(bool dilated) {
  std::vector<PoolGeometry> all;
  const auto add = [&](int64_t N, int64_t C, int D, kernels::Dims3 in, int64_t k, int64_t s,
                       int64_t p, bool ceil) {
    PoolGeometry g;
    g.N = N;
    g.C = C;
    if (make_geometry(g, D, in, {k, k, k}, {s, s, s}, {p, p, p}, {1, 1, 1}, ceil)) all.push_back(g);
  };
  for (bool ceil : {false, true})
    for (int64_t n : {7, 8, 33, 56}) {
      add(2, 3, 2, {1, n, n}, 2, 2, 0, ceil);      // VGG / LeNet
      add(2, 3, 2, {1, n, n + 1}, 3, 2, 1, ceil);  // ResNet stem
      add(1, 2, 2, {1, n, n}, 3, 1, 1, ceil);      // Inception branches
    }
  add(4, 16, 2, {1, 28, 28}, 2, 2, 0, false);  // many planes: every thread busy
  // 2x2/2 (its own AVX-512 kernel) on output widths 1..33 around the 16 lanes, odd input widths
  // (a column left over) and heights.
  for (int64_t w = 2; w <= 67; ++w) add(1, 2, 2, {1, 3 + w % 2, w}, 2, 2, 0, w % 3 == 0);

  std::mt19937 rng(42);
  const auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  while (all.size() < 400) {
    const int D = static_cast<int>(uniform(1, 3));
    kernels::Dims3 in, k, s, p, d;
    for (int i = 0; i < 3; ++i) {
      k[i] = uniform(1, D == 3 ? 3 : 4);
      s[i] = uniform(1, 3);
      p[i] = uniform(0, k[i] / 2);
      d[i] = dilated ? uniform(1, 2) : 1;
      in[i] = uniform(1, D == 3 ? 7 : D == 2 ? 12 : 20);
    }
    PoolGeometry g;
    g.N = uniform(1, 2);
    g.C = uniform(1, 3);
    if (make_geometry(g, D, in, k, s, p, d, uniform(0, 1) == 1)) all.push_back(g);
  }
  return all;
}

// Random values; with ties (small integers) or NaN/-inf sprinkled in, by `kind`.
std::vector<float> input(int64_t n, int kind, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) {
    x = normal(rng);
    if (kind == 1) x = std::round(x);
    if (kind == 2 && rng() % 13 == 0)
      x = rng() % 2 ? kNaN : -std::numeric_limits<float>::infinity();
  }
  return v;
}

// Bitwise equal, or both NaN.
void expect_identical(const std::vector<float>& actual, const std::vector<float>& expected,
                      const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    if (!(actual[i] == expected[i] || (std::isnan(actual[i]) && std::isnan(expected[i])))) {
      ADD_FAILURE() << what << ": element " << i << " is " << actual[i] << ", reference "
                    << expected[i];
      return;
    }
}

std::vector<float> nans(int64_t n) {
  return std::vector<float>(n, kNaN);
}

TEST(PoolKernels, MaxPoolCpuEqualsReference) {
  std::mt19937 rng(1);
  for (const PoolGeometry& g : geometries(true))
    for (int kind = 0; kind < 3; ++kind) {
      SCOPED_TRACE(describe(g) + " input kind " + std::to_string(kind));
      const int64_t n_in = g.planes() * g.in_pixels(), n_out = g.planes() * g.out_pixels();
      const std::vector<float> x = input(n_in, kind, rng), dy = input(n_out, 0, rng);
      std::vector<float> y_ref = nans(n_out), i_ref = nans(n_out), y = nans(n_out), i = nans(n_out);
      kernels::max_pool_forward_reference(g, x.data(), y_ref.data(), i_ref.data());
      kernels::max_pool_forward_cpu(g, x.data(), y.data(), i.data());
      expect_identical(y, y_ref, "y");
      expect_identical(i, i_ref, "indices");

      std::vector<float> dx_ref = nans(n_in), dx = nans(n_in);
      kernels::max_pool_backward_reference(g, dy.data(), i_ref.data(), dx_ref.data());
      kernels::max_pool_backward_cpu(g, dy.data(), i_ref.data(), dx.data());
      expect_identical(dx, dx_ref, "dx");
    }
}

// Bitwise equal: the values-only forward makes the reference's exact choice between equal
// values (+0 and -0: the first) and between NaNs (the last). With any_nan, two NaNs pass
// whatever their payloads: a sum of two NaNs keeps one of them, which one depending on the
// order the compiler gives the operands of a float add (it may swap them), so the reference's
// own differs between builds.
void expect_same_bits(const std::vector<float>& actual, const std::vector<float>& expected,
                      const std::string& what, bool any_nan = false) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    if (std::bit_cast<uint32_t>(actual[i]) != std::bit_cast<uint32_t>(expected[i]) &&
        !(any_nan && std::isnan(actual[i]) && std::isnan(expected[i]))) {
      ADD_FAILURE() << what << ": element " << i << " is " << actual[i]
                    << fmt::format(" ({:#x}), reference {} ({:#x})",
                                   std::bit_cast<uint32_t>(actual[i]), expected[i],
                                   std::bit_cast<uint32_t>(expected[i]));
      return;
    }
}

// Inputs of the values-only sweep, by kind: 0 normal values; 1 only +-0 and +-1 (ties, signed
// zeros); 2 normal values with NaN (random payload and sign) and -inf sprinkled in; 3 -inf
// with NaN at both ends of every row (padding's neighbours) and a few numbers.
std::vector<float> values_input(const PoolGeometry& g, int kind, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  const auto nan = [&] {
    return std::bit_cast<float>(0x7fc00000u | (static_cast<uint32_t>(rng()) & 0x803fffffu));
  };
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v(g.planes() * g.in_pixels());
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t w = static_cast<int64_t>(i) % g.in[2];
    switch (kind) {
      case 0:
        v[i] = normal(rng);
        break;
      case 1:
        v[i] = std::array{0.0f, -0.0f, 1.0f, -1.0f}[rng() % 4];
        break;
      case 2:
        v[i] = rng() % 7 == 0 ? (rng() % 2 ? nan() : -inf) : normal(rng);
        break;
      default:
        v[i] = w == 0 || w == g.in[2] - 1 ? nan() : rng() % 9 == 0 ? normal(rng) : -inf;
    }
  }
  return v;
}

// Every width from 1 to 70 and 111..113 (the ResNet stem's 112), strides 1 to 3, kernels 1, 2,
// 3 and 5 with every padding, ceil_mode, dilation 1 and 2, the same window along H; then 1-D
// and 3-D versions, and the ResNet, VGG and Inception pools at full size (2 threads busy).
std::vector<PoolGeometry> values_geometries() {
  std::vector<PoolGeometry> all;
  std::vector<int64_t> widths;
  for (int64_t w = 1; w <= 70; ++w) widths.push_back(w);
  for (int64_t w : {111, 112, 113}) widths.push_back(w);
  for (const int64_t w : widths)
    for (const int64_t k : {1, 2, 3, 5})
      for (const int64_t s : {1, 2, 3})
        for (int64_t p = 0; p <= k / 2; ++p)
          for (const bool ceil : {false, true})
            for (const int64_t d : {1, 2}) {
              PoolGeometry g;
              g.C = 2;
              const int64_t span = d * (k - 1) + 1, h = span + w % 4;
              if (make_geometry(g, 2, {1, h, w}, {1, k, k}, {1, s, s}, {0, p, p}, {1, d, d}, ceil))
                all.push_back(g);
              if (w % 5 == 0 &&
                  make_geometry(g, 1, {1, 1, w}, {1, 1, k}, {1, 1, s}, {0, 0, p}, {1, 1, d}, ceil))
                all.push_back(g);
              if (w % 14 == 0 && make_geometry(g, 3, {span + w % 3, span + 1, w}, {k, k, k},
                                               {s, s, s}, {p, p, p}, {d, d, d}, ceil))
                all.push_back(g);
            }
  const auto add = [&](int64_t N, int64_t C, int64_t n, int64_t k, int64_t s, int64_t p) {
    PoolGeometry g;
    g.N = N;
    g.C = C;
    if (make_geometry(g, 2, {1, n, n}, {1, k, k}, {1, s, s}, {0, p, p}, {1, 1, 1}, false))
      all.push_back(g);
  };
  add(1, 64, 112, 3, 2, 1);  // ResNet stem
  add(2, 16, 56, 2, 2, 0);   // VGG
  add(1, 8, 35, 3, 1, 1);    // Inception
  return all;
}

// The forward on `all`, values only (null indices) or with indices, against the reference bit
// for bit; the input kinds take turns: the sweep is dense enough for each to meet every width.
void expect_forward_equals_reference(const std::vector<PoolGeometry>& all, bool with_indices,
                                     uint32_t seed) {
  std::mt19937 rng(seed);
  testing::with_one_and_two_threads([&] {
    for (size_t i = 0; i < all.size(); ++i) {
      const PoolGeometry& g = all[i];
      const int kind = static_cast<int>(i % 4);
      SCOPED_TRACE(describe(g) + " input kind " + std::to_string(kind));
      const int64_t n_out = g.planes() * g.out_pixels();
      const std::vector<float> x = values_input(g, kind, rng);
      std::vector<float> y_ref = nans(n_out), i_ref = nans(n_out), y = nans(n_out),
                         idx = nans(n_out);
      kernels::max_pool_forward_reference(g, x.data(), y_ref.data(), i_ref.data());
      kernels::max_pool_forward_cpu(g, x.data(), y.data(), with_indices ? idx.data() : nullptr);
      expect_same_bits(y, y_ref, "y");
      if (with_indices) expect_same_bits(idx, i_ref, "indices");
      if (::testing::Test::HasFailure()) return;
    }
  });
}

TEST(PoolKernels, MaxPoolValuesOnlyEqualsReference) {
  std::vector<PoolGeometry> all = values_geometries();
  for (const PoolGeometry& g : geometries(true)) all.push_back(g);
  expect_forward_equals_reference(all, false, 5);
}

// The forward with indices on the values-only sweep: the AVX-512 row kernel keeps the
// reference's argmax (ties to the first position, NaN taking over, windows of -inf and padding
// keeping their first position inside the input).
TEST(PoolKernels, MaxPoolIndicesEqualReferenceOnRowSweep) {
  expect_forward_equals_reference(values_geometries(), true, 6);
}

// Gradients for the backward: normal values, with small integers (sums of ties), -0 and NaN
// (random payload and sign) among them.
std::vector<float> gradients(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) {
    const uint32_t r = rng() % 8;
    x = r == 0   ? std::round(normal(rng))
        : r == 1 ? -0.0f
        : r == 2 ? std::bit_cast<float>(0x7fc00000u | (static_cast<uint32_t>(rng()) & 0x803fffffu))
                 : normal(rng);
  }
  return v;
}

// The backward (its gather form where the windows allow it) on the row sweep, with gradients
// holding NaN, -0 and ties (sums of equal values): indices from the forward, then the same with
// some of the last plane's moved elsewhere in the plane (duplicates, out of their windows and of
// output order), which the reference scatters too and the kernel must then match.
TEST(PoolKernels, MaxPoolBackwardEqualsReferenceOnRowSweep) {
  std::vector<PoolGeometry> all = values_geometries();
  for (const PoolGeometry& g : geometries(true)) all.push_back(g);
  std::mt19937 rng(7);
  testing::with_one_and_two_threads([&] {
    for (size_t i = 0; i < all.size(); ++i) {
      const PoolGeometry& g = all[i];
      const int kind = static_cast<int>(i % 4);
      SCOPED_TRACE(describe(g) + " input kind " + std::to_string(kind));
      const int64_t n_in = g.planes() * g.in_pixels(), n_out = g.planes() * g.out_pixels();
      const std::vector<float> x = values_input(g, kind, rng);
      const std::vector<float> dy = gradients(n_out, rng);
      std::vector<float> y = nans(n_out), idx = nans(n_out);
      kernels::max_pool_forward_reference(g, x.data(), y.data(), idx.data());
      for (const bool moved : {false, true}) {
        SCOPED_TRACE(moved ? "moved indices" : "forward's indices");
        std::vector<float> indices = idx;
        if (moved)  // in the last plane only: the others gathered, it scattered
          for (int64_t o = n_out - g.out_pixels() + static_cast<int64_t>(i % 3); o < n_out; o += 7)
            indices[o] = static_cast<float>(rng() % g.in_pixels());
        std::vector<float> dx_ref = nans(n_in), dx = nans(n_in);
        kernels::max_pool_backward_reference(g, dy.data(), indices.data(), dx_ref.data());
        EXPECT_TRUE(kernels::max_pool_backward_cpu(g, dy.data(), indices.data(), dx.data()));
        expect_same_bits(dx, dx_ref, "dx", true);
        if (HasFailure()) return;
      }
    }
  });
}

TEST(PoolKernels, IndexValidityIsIntegerPositionInPlane) {
  for (const int64_t plane :
       {int64_t{1}, int64_t{2}, int64_t{3136}, int64_t{12544}, int64_t{1} << 24}) {
    const uint32_t limit = kernels::pool_index_limit(plane);
    const auto expected = [plane](float v) {
      return v >= 0.0f && v < static_cast<float>(plane) && v == std::floor(v);
    };
    std::vector<float> values = {
        0.0f, -0.0f, 0.5f, 1e-30f, -1.0f, kNaN, std::numeric_limits<float>::infinity(), 1e30f};
    for (int64_t i = 1; i < std::min<int64_t>(plane + 2, 1 << 16); ++i) {
      values.push_back(static_cast<float>(i));
      values.push_back(static_cast<float>(i) + 0.5f);
    }
    values.push_back(static_cast<float>(plane - 1));
    values.push_back(static_cast<float>(plane));
    for (const float v : values)
      EXPECT_EQ(kernels::pool_index_valid(v, limit), expected(v))
          << "plane " << plane << " v " << v;
  }
}

// The backward reports an index outside the plane (or not an integer) instead of scattering it;
// one inside the plane but outside its window is scattered.
TEST(PoolKernels, MaxPoolBackwardRefusesBadIndices) {
  PoolGeometry g;
  g.N = 2;
  g.C = 3;
  ASSERT_TRUE(make_geometry(g, 2, {1, 6, 6}, {1, 2, 2}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, false));
  const int64_t n_in = g.planes() * g.in_pixels(), n_out = g.planes() * g.out_pixels();
  std::mt19937 rng(3);
  const std::vector<float> x = input(n_in, 0, rng), dy = input(n_out, 0, rng);
  std::vector<float> y = nans(n_out), indices = nans(n_out), dx = nans(n_in);
  kernels::max_pool_forward_cpu(g, x.data(), y.data(), indices.data());
  EXPECT_TRUE(kernels::max_pool_backward_cpu(g, dy.data(), indices.data(), dx.data()));
  // An index elsewhere in the plane (not in its window) is valid: scattered as the reference does.
  std::vector<float> moved = indices, dx_ref = nans(n_in);
  moved[n_out - 2] = 0.0f;
  kernels::max_pool_backward_reference(g, dy.data(), moved.data(), dx_ref.data());
  EXPECT_TRUE(kernels::max_pool_backward_cpu(g, dy.data(), moved.data(), dx.data()));
  expect_identical(dx, dx_ref, "dx with an index outside its window");
  for (const float bad : {-1.0f, 36.0f, 2.5f, kNaN, 1e30f}) {
    std::vector<float> broken = indices;
    broken[n_out - 2] = bad;
    EXPECT_FALSE(kernels::max_pool_backward_cpu(g, dy.data(), broken.data(), dx.data())) << bad;
  }
}

// Bit for bit, on one and two threads, with -0, NaN and infinities among the inputs and -0 and
// NaN among the gradients: the AVX-512 kernels' sums start at +0 and add +0 for lanes outside
// the input (or no window), where the reference skips them.
TEST(PoolKernels, AvgPoolCpuEqualsReference) {
  std::mt19937 rng(2);
  testing::with_one_and_two_threads([&] {
    int variant = 0;
    for (PoolGeometry g : geometries(false)) {
      g.count_include_pad = variant % 2 == 0;
      g.divisor_override = variant % 5 == 4 ? 3 : 0;
      const int kind = variant++ % 4;
      SCOPED_TRACE(describe(g) + " input kind " + std::to_string(kind));
      const int64_t n_in = g.planes() * g.in_pixels(), n_out = g.planes() * g.out_pixels();
      const std::vector<float> x = values_input(g, kind, rng), dy = gradients(n_out, rng);
      std::vector<float> y_ref = nans(n_out), y = nans(n_out);
      kernels::avg_pool_forward_reference(g, x.data(), y_ref.data());
      kernels::avg_pool_forward_cpu(g, x.data(), y.data());
      expect_same_bits(y, y_ref, "y", true);

      std::vector<float> dx_ref = nans(n_in), dx = nans(n_in);
      kernels::avg_pool_backward_reference(g, dy.data(), dx_ref.data());
      kernels::avg_pool_backward_cpu(g, dy.data(), dx.data());
      expect_same_bits(dx, dx_ref, "dx", true);
      if (HasFailure()) return;
    }
  });
}

}  // namespace
}  // namespace fovea
