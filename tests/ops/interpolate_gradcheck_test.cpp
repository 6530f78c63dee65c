// interpolate_backward held equal to central differences of interpolate, on tiny shapes, for
// every mode, both align_corners settings, up and down sampling, size or scale factor given.
#include <gtest/gtest.h>

#include <vector>

#include "fovea/functional/interpolate.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using Mode = F::InterpolateMode;

template <int D>
void check(const Shape& x_shape, const F::InterpolateOptions<D>& o) {
  Generator gen(4321);
  const Tensor x = Tensor::randn(x_shape, &gen);
  const auto f = [&](const std::vector<Tensor>& in) { return F::interpolate(in[0], o); };
  const Tensor r = Tensor::randn(F::interpolate(x, o).shape(), &gen);
  const Tensor gx = F::interpolate_backward(r, x_shape, o);
  EXPECT_EQ(testing::check_gradients(f, {x}, {gx}, r), "");
}

TEST(InterpolateGradcheck, Nearest) {
  check<1>({2, 2, 5}, {.scale_factor = 1.7});
  check<1>({1, 2, 3}, {.scale_factor = 2.3});  // out == 2 * in with a scale factor
  check<2>({1, 2, 4, 5}, {.size = {7, 3}});
  check<2>({1, 2, 3, 4}, {.scale_factor = {2.3, 1.1}});
  check<3>({1, 1, 2, 3, 3}, {.scale_factor = {1.5, 0.7, 2.0}});
}

TEST(InterpolateGradcheck, NearestExact) {
  check<1>({1, 2, 6}, {.scale_factor = 0.7, .mode = Mode::kNearestExact});
  check<2>({1, 2, 3, 4}, {.size = {5, 7}, .mode = Mode::kNearestExact});
  check<3>({1, 1, 2, 3, 2}, {.scale_factor = 1.5, .mode = Mode::kNearestExact});
}

TEST(InterpolateGradcheck, Linear) {
  for (bool align : {false, true}) {
    SCOPED_TRACE(align ? "align_corners" : "half pixel");
    check<1>({2, 2, 5}, {.size = 9, .mode = Mode::kLinear, .align_corners = align});
    check<1>({1, 2, 8}, {.scale_factor = 0.6, .mode = Mode::kLinear, .align_corners = align});
  }
  check<1>({1, 2, 4}, {.scale_factor = 1.2, .mode = Mode::kLinear});  // out == in: a copy
}

TEST(InterpolateGradcheck, Bilinear) {
  for (bool align : {false, true}) {
    SCOPED_TRACE(align ? "align_corners" : "half pixel");
    check<2>({1, 2, 3, 4}, {.scale_factor = 2.0, .mode = Mode::kBilinear, .align_corners = align});
    check<2>({1, 1, 6, 5}, {.size = {4, 3}, .mode = Mode::kBilinear, .align_corners = align});
    check<2>({2, 1, 4, 4},
             {.scale_factor = {1.5, 0.75}, .mode = Mode::kBilinear, .align_corners = align});
  }
}

TEST(InterpolateGradcheck, Bicubic) {
  for (bool align : {false, true}) {
    SCOPED_TRACE(align ? "align_corners" : "half pixel");
    check<2>({1, 2, 3, 4}, {.scale_factor = 2.0, .mode = Mode::kBicubic, .align_corners = align});
    check<2>({1, 1, 7, 6}, {.size = {4, 3}, .mode = Mode::kBicubic, .align_corners = align});
  }
  check<2>({1, 1, 2, 1}, {.size = {5, 3}, .mode = Mode::kBicubic});       // clamped border taps
  check<2>({1, 1, 3, 3}, {.scale_factor = 1.2, .mode = Mode::kBicubic});  // out == in
}

TEST(InterpolateGradcheck, Trilinear) {
  for (bool align : {false, true}) {
    SCOPED_TRACE(align ? "align_corners" : "half pixel");
    check<3>({1, 1, 2, 3, 2},
             {.scale_factor = {2.0, 1.5, 1.7}, .mode = Mode::kTrilinear, .align_corners = align});
    check<3>({1, 2, 3, 4, 3},
             {.size = {2, 3, 2}, .mode = Mode::kTrilinear, .align_corners = align});
  }
}

TEST(InterpolateGradcheck, RecomputeScaleFactor) {
  check<2>({1, 1, 5, 3},
           {.scale_factor = {1.3, 2.6}, .mode = Mode::kBilinear, .recompute_scale_factor = true});
}

}  // namespace
}  // namespace fovea
