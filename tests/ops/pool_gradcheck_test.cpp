// Every pooling backward held equal to central differences of its forward on tiny shapes.
// Max pools get inputs whose values are at least 0.1 apart, so no perturbation of eps = 0.01
// changes which element wins a window.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "fovea/functional/pool.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::check_gradients;

// 0.1 * (a random permutation of 0 .. n-1), centred: distinct values 0.1 apart.
Tensor spread(const Shape& shape, unsigned seed = 7) {
  Tensor t = Tensor::empty(shape);
  std::vector<float> v(t.numel());
  std::iota(v.begin(), v.end(), 0.0f);
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.1f * (v[i] - 0.5f * t.numel());
  return t;
}

// Checks the gradient of L = sum(f(x) * r) for a random r against backward(r).
template <class Forward, class Backward>
void check(const Tensor& x, Forward&& forward, Backward&& backward) {
  Generator gen(99);
  const Tensor r = Tensor::randn(forward(x).shape(), &gen);
  const auto f = [&](const std::vector<Tensor>& in) { return forward(in[0]); };
  EXPECT_EQ(check_gradients(f, {x}, {backward(r)}, r), "");
}

template <class Options>
void check_max_pool(const Tensor& x, const Options& o) {
  constexpr int D = decltype(o.kernel_size)::size();
  const auto pool = [&](const Tensor& in) {
    if constexpr (D == 1) return F::max_pool1d_with_indices(in, o);
    if constexpr (D == 2) return F::max_pool2d_with_indices(in, o);
    if constexpr (D == 3) return F::max_pool3d_with_indices(in, o);
  };
  const Tensor indices = pool(x).indices;
  check(
      x, [&](const Tensor& in) { return pool(in).output; },
      [&](const Tensor& r) {
        if constexpr (D == 1) return F::max_pool1d_backward(r, x.shape(), indices, o);
        if constexpr (D == 2) return F::max_pool2d_backward(r, x.shape(), indices, o);
        if constexpr (D == 3) return F::max_pool3d_backward(r, x.shape(), indices, o);
      });
}

TEST(PoolGradcheck, MaxPool1dDilatedCeil) {
  check_max_pool(
      spread({2, 2, 9}),
      F::MaxPool1dOptions{
          .kernel_size = 3, .stride = 2, .padding = 1, .dilation = 2, .ceil_mode = true});
}

TEST(PoolGradcheck, MaxPool2dOverlappingPadded) {
  check_max_pool(spread({1, 2, 5, 6}),
                 F::MaxPool2dOptions{.kernel_size = 3, .stride = {1, 2}, .padding = 1});
}

TEST(PoolGradcheck, MaxPool3d) {
  check_max_pool(spread({1, 2, 3, 4, 4}),
                 F::MaxPool3dOptions{.kernel_size = 2, .stride = 1, .ceil_mode = true});
}

TEST(PoolGradcheck, AvgPool1d) {
  const F::AvgPool1dOptions o{
      .kernel_size = 4, .stride = 3, .padding = 2, .ceil_mode = true, .count_include_pad = false};
  check(
      spread({2, 2, 9}), [&](const Tensor& in) { return F::avg_pool1d(in, o); },
      [&](const Tensor& r) {
        return F::avg_pool1d_backward(r, {2, 2, 9}, o);
      });
}

TEST(PoolGradcheck, AvgPool2dOverlappingCeil) {
  const F::AvgPool2dOptions o{.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true};
  check(
      spread({1, 2, 6, 5}), [&](const Tensor& in) { return F::avg_pool2d(in, o); },
      [&](const Tensor& r) {
        return F::avg_pool2d_backward(r, {1, 2, 6, 5}, o);
      });
}

TEST(PoolGradcheck, AvgPool3dDivisorOverride) {
  const F::AvgPool3dOptions o{.kernel_size = 2, .stride = 1, .padding = 1, .divisor_override = 3};
  check(
      spread({1, 1, 3, 3, 4}), [&](const Tensor& in) { return F::avg_pool3d(in, o); },
      [&](const Tensor& r) {
        return F::avg_pool3d_backward(r, {1, 1, 3, 3, 4}, o);
      });
}

TEST(PoolGradcheck, LpPool) {
  Generator gen(5);
  const Tensor x = Tensor::rand({1, 2, 5, 6}, 0.5f, 1.5f, &gen);  // x > 0 for odd/fractional p
  for (double p : {1.0, 2.0, 3.0, 1.5}) {
    SCOPED_TRACE(p);
    const F::LpPool2dOptions o{.kernel_size = {2, 3}, .stride = {1, 2}, .ceil_mode = true};
    check(
        x, [&](const Tensor& in) { return F::lp_pool2d(in, p, o); },
        [&](const Tensor& r) { return F::lp_pool2d_backward(r, x, p, o); });
  }
  const Tensor signed_x = spread({2, 1, 7});
  const F::LpPool1dOptions o1{.kernel_size = 3, .stride = 2};
  check(
      signed_x, [&](const Tensor& in) { return F::lp_pool1d(in, 2.0, o1); },
      [&](const Tensor& r) { return F::lp_pool1d_backward(r, signed_x, 2.0, o1); });
  const Tensor x3 = Tensor::rand({1, 1, 3, 4, 4}, 0.5f, 1.5f, &gen);
  const F::LpPool3dOptions o3{.kernel_size = 2, .stride = 1};
  check(
      x3, [&](const Tensor& in) { return F::lp_pool3d(in, 2.0, o3); },
      [&](const Tensor& r) { return F::lp_pool3d_backward(r, x3, 2.0, o3); });
}

TEST(PoolGradcheck, AdaptiveAvgPool) {
  const Tensor x = spread({1, 2, 7, 5});
  check(
      x,
      [&](const Tensor& in) {
        return F::adaptive_avg_pool2d(in, {3, 4});
      },
      [&](const Tensor& r) { return F::adaptive_avg_pool2d_backward(r, x.shape()); });
  const Tensor x3 = spread({1, 1, 4, 3, 5});
  check(
      x3,
      [&](const Tensor& in) {
        return F::adaptive_avg_pool3d(in, {3, 2, 2});
      },
      [&](const Tensor& r) { return F::adaptive_avg_pool3d_backward(r, x3.shape()); });
}

TEST(PoolGradcheck, AdaptiveMaxPool) {
  const Tensor x = spread({1, 2, 7, 5});
  const Tensor indices = F::adaptive_max_pool2d_with_indices(x, {3, 4}).indices;
  check(
      x,
      [&](const Tensor& in) {
        return F::adaptive_max_pool2d(in, {3, 4});
      },
      [&](const Tensor& r) { return F::adaptive_max_pool2d_backward(r, x.shape(), indices); });
  const Tensor x1 = spread({2, 2, 11});
  const Tensor i1 = F::adaptive_max_pool1d_with_indices(x1, 4).indices;
  check(
      x1, [&](const Tensor& in) { return F::adaptive_max_pool1d(in, 4); },
      [&](const Tensor& r) { return F::adaptive_max_pool1d_backward(r, x1.shape(), i1); });
}

TEST(PoolGradcheck, GlobalPools) {
  const Tensor x = spread({2, 3, 4, 3});
  check(
      x, [](const Tensor& in) { return F::global_avg_pool(in); },
      [&](const Tensor& r) { return F::global_avg_pool_backward(r, x.shape()); });
  const Tensor indices = F::global_max_pool_with_indices(x).indices;
  check(
      x, [](const Tensor& in) { return F::global_max_pool(in); },
      [&](const Tensor& r) { return F::global_max_pool_backward(r, x.shape(), indices); });
}

TEST(PoolGradcheck, MaxUnpool) {
  // Unpooling is linear in its input for fixed indices.
  const auto pooled = F::max_pool2d_with_indices(spread({1, 2, 5, 6}), {.kernel_size = 2});
  const F::MaxUnpool2dOptions o{.kernel_size = 2, .output_size = Shape{5, 6}};
  check(
      pooled.output, [&](const Tensor& in) { return F::max_unpool2d(in, pooled.indices, o); },
      [&](const Tensor& r) { return F::max_unpool2d_backward(r, pooled.indices, o); });
  const auto p3 = F::max_pool3d_with_indices(spread({1, 1, 4, 4, 2}), {.kernel_size = 2});
  const F::MaxUnpool3dOptions o3{.kernel_size = 2};
  check(
      p3.output, [&](const Tensor& in) { return F::max_unpool3d(in, p3.indices, o3); },
      [&](const Tensor& r) { return F::max_unpool3d_backward(r, p3.indices, o3); });
}

}  // namespace
}  // namespace fovea
