// The fused inverted-residual block (src/kernels/cpu/inverted_residual.h) held equal to the
// composition of the reference convolutions (expand + bias + relu6, depthwise 3x3 + bias +
// relu6, project + bias, + x): channel counts around the GEMM tile (6 channels x 64 pixels) and
// the 16-lane vectors, planes 1..30 and 56 wide and high and rows up to 112 wide at stride 1 and
// 2, bands of one row up to the whole image (their carried rows), the split by rows and by
// channels, with and without expansion and residual, batch 1 and 3, on 1 and 2 threads
// (bitwise equal), into NaN-filled outputs with exact-size workspaces; and MobileNet-v2's own
// blocks.
#include <gtest/gtest.h>
#include <omp.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "conv_harness.h"
#include "fovea/random.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/inverted_residual.h"
#include "kernels/reference/conv_reference.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Block {
  InvertedResidualGeometry g;
  std::vector<float> x, we, be, wd, bd, wp, bp;

  InvertedResidualWeights weights() const {
    return {.expand_w = we.data(),
            .expand_b = be.data(),
            .dw_w = wd.data(),
            .dw_b = bd.data(),
            .project_w = wp.data(),
            .project_b = bp.data()};
  }
};

std::vector<float> uniform(int64_t n, float scale, Generator& gen) {
  std::vector<float> v(n);
  for (float& e : v) e = gen.uniform(-scale, scale);
  return v;
}

// Weights scaled so that both relu6 bounds cut: the expansion's outputs spread over about
// [-8, 8], the depthwise's too.
Block random_block(const InvertedResidualGeometry& g, uint64_t seed) {
  Generator gen(seed);
  Block b;
  b.g = g;
  b.x = uniform(g.N * g.C_in * g.H * g.W, 1.0f, gen);
  b.we = uniform(g.C_mid * g.C_in, 12.0f / std::sqrt(static_cast<float>(g.C_in)), gen);
  b.be = uniform(g.C_mid, 1.0f, gen);
  b.wd = uniform(g.C_mid * 9, 1.0f, gen);
  b.bd = uniform(g.C_mid, 1.0f, gen);
  b.wp = uniform(g.C_out * g.C_mid, 1.0f / std::sqrt(static_cast<float>(g.C_mid)), gen);
  b.bp = uniform(g.C_out, 1.0f, gen);
  return b;
}

// The block through the reference convolution, layer by layer.
std::vector<float> reference(const Block& b) {
  const InvertedResidualGeometry& g = b.g;
  const auto conv = [](const ConvGeometry& cg, const float* x, const float* w,
                       const std::vector<float>& bias, bool relu6) {
    std::vector<float> y(cg.N * cg.C_out * cg.out_pixels());
    ConvEpilogue ep{.bias = bias.data()};
    if (relu6) ep.lo = 0.0f, ep.hi = 6.0f;
    conv_forward_reference(cg, x, w, ep, y.data(), nullptr);
    return y;
  };
  const Axis h{.in = g.H}, w{.in = g.W};
  const std::vector<float> e = g.expand ? conv(make_geometry(g.N, g.C_in, g.C_mid, 1, {h, w}),
                                               b.x.data(), b.we.data(), b.be, true)
                                        : b.x;
  const Axis dh{.in = g.H, .k = 3, .s = g.stride, .lo = 1, .hi = 1};
  const Axis dw{.in = g.W, .k = 3, .s = g.stride, .lo = 1, .hi = 1};
  const std::vector<float> d = conv(make_geometry(g.N, g.C_mid, g.C_mid, g.C_mid, {dh, dw}),
                                    e.data(), b.wd.data(), b.bd, true);
  const Axis oh{.in = g.out_h()}, ow{.in = g.out_w()};
  std::vector<float> y =
      conv(make_geometry(g.N, g.C_mid, g.C_out, 1, {oh, ow}), d.data(), b.wp.data(), b.bp, false);
  if (g.residual)
    for (size_t i = 0; i < y.size(); ++i) y[i] += b.x[i];
  return y;
}

// The fused kernel on NaN-filled output and workspace of exactly the promised size.
std::vector<float> fused(const Block& b) {
  const InvertedResidualGeometry& g = b.g;
  std::vector<float> y(g.N * g.C_out * g.out_h() * g.out_w(), kNaN);
  std::vector<float> workspace(inverted_residual_workspace_floats(g), kNaN);
  inverted_residual_forward(g, b.x.data(), b.weights(), y.data(), workspace.data());
  return y;
}

std::string describe(const InvertedResidualGeometry& g) {
  return fmt::format("N={} C={}->{}->{} {}x{} stride {}{}{} band {}", g.N, g.C_in, g.C_mid, g.C_out,
                     g.H, g.W, g.stride, g.expand ? "" : " no-expand",
                     g.residual ? " residual" : "", g.max_band);
}

// Each geometry against the reference on 1 thread and on 2, the two bitwise equal.
void check(const std::vector<InvertedResidualGeometry>& geometries) {
  uint64_t seed = 1;
  for (const InvertedResidualGeometry& g : geometries) {
    SCOPED_TRACE(describe(g));
    ASSERT_TRUE(inverted_residual_supports(g));
    const Block b = random_block(g, seed++);
    const std::vector<float> want = reference(b);
    std::vector<std::vector<float>> got;
    testing::with_one_and_two_threads([&] {
      got.push_back(fused(b));
      const std::string why = compare(got.back(), want, 9 * g.C_in * g.C_mid);
      EXPECT_TRUE(why.empty()) << why;
    });
    EXPECT_EQ(std::memcmp(got[0].data(), got[1].data(), got[0].size() * sizeof(float)), 0)
        << "1 and 2 threads differ";
  }
}

// A block as MobileNet-v2 builds it: expansion unless t = 1, residual where the shape allows.
InvertedResidualGeometry block(int64_t N, int64_t C_in, int64_t t, int64_t C_out, int64_t H,
                               int64_t W, int64_t stride, int64_t max_band = 0) {
  return {.N = N,
          .C_in = C_in,
          .C_mid = C_in * t,
          .C_out = C_out,
          .H = H,
          .W = W,
          .stride = stride,
          .expand = t != 1,
          .residual = stride == 1 && C_in == C_out,
          .max_band = max_band};
}

TEST(InvertedResidual, ChannelsAroundTheTiles) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<InvertedResidualGeometry> v;
  int i = 0;
  for (int64_t c_in : {3, 5, 7, 13, 16, 17})
    for (int64_t c_mid : {3, 6, 7, 12, 13, 16, 31, 40})
      for (int64_t c_out : {1, 5, 6, 7, 12, 17, 33}) {
        ++i;
        InvertedResidualGeometry g =
            block(1 + 2 * (i % 2), c_in, 1, c_out, 5 + i % 4, 6 + i % 5, 1 + i % 3 / 2, i % 4);
        g.C_mid = c_mid;
        g.expand = c_mid != c_in || i % 3 != 0;
        v.push_back(g);
      }
  check(v);
}

TEST(InvertedResidual, PlanesBandsAndStrides) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<InvertedResidualGeometry> v;
  for (int64_t h = 1; h <= 30; ++h)
    for (int64_t s : {1, 2}) {
      const int64_t w = 31 - h, band = h % 5;  // 0: the whole plane in one band
      v.push_back(block(1 + 2 * (h % 2), 6, 3, 6, h, w, s, band));
      v.push_back(block(1, 5, 1, h % 3 ? 5 : 7, w, h, s, band));
    }
  for (int64_t s : {1, 2}) {
    for (int64_t band : {0, 1, 2, 3, 7}) v.push_back(block(1, 8, 4, 8, 56, 56, s, band));
    // Wide rows: vectors inside the row (no masks) at stride 2 too.
    for (int64_t w : {63, 64, 95, 112}) v.push_back(block(1, 8, 4, 8, 5, w, s));
  }
  check(v);
}

TEST(InvertedResidual, MobileNetV2Blocks) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  // (C_in, t, C_out, stride, plane) of each distinct block, the 112 x 112 planes at 56.
  struct Shape {
    int64_t c_in, t, c_out, s, plane;
  };
  const Shape shapes[] = {{32, 1, 16, 1, 56},  {16, 6, 24, 2, 56},  {24, 6, 24, 1, 56},
                          {24, 6, 32, 2, 56},  {32, 6, 32, 1, 28},  {32, 6, 64, 2, 28},
                          {64, 6, 64, 1, 14},  {64, 6, 96, 1, 14},  {96, 6, 96, 1, 14},
                          {96, 6, 160, 2, 14}, {160, 6, 160, 1, 7}, {160, 6, 320, 1, 7}};
  std::vector<InvertedResidualGeometry> v;
  for (const Shape& s : shapes) v.push_back(block(1, s.c_in, s.t, s.c_out, s.plane, s.plane, s.s));
  v.push_back(block(3, 24, 6, 24, 28, 28, 1));
  check(v);
}

// Planes of fewer than 64 output pixels, whose GEMMs hand the 1-4 pixels past their last whole
// vector to dot products where the sums are long enough (7x7: 49 = 3 x 16 + 1; 6x6: 36; 5x10:
// 50; 3x17: 51; 2x2: 4, no whole vector at all): rows in the tiles' sixes and a partial last
// tile, with and without expansion and residual, stride 2 from planes whose own pixels go either
// way (14x14: 196 = 12 x 16 + 4), sums too short for the dots beside them, batch 1 and 3; the
// split by channels on 2 threads and one band on 1 sum each pixel the same way (bitwise equal).
TEST(InvertedResidual, SmallPlanesSumTheirLastPixelsAsDots) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::vector<InvertedResidualGeometry> v;
  int i = 0;
  for (auto [h, w] : {std::pair<int64_t, int64_t>{7, 7}, {6, 6}, {5, 10}, {3, 17}, {2, 2}})
    for (auto [c_in, t, c_out] : {std::tuple<int64_t, int64_t, int64_t>{160, 6, 160},
                                  {24, 4, 18},
                                  {96, 1, 97},
                                  {7, 3, 5},
                                  {33, 6, 31}})
      v.push_back(block(1 + 2 * (i++ % 2), c_in, t, c_out, h, w, 1));
  for (auto [c_in, c_out] : {std::pair<int64_t, int64_t>{96, 160}, {20, 21}})
    for (int64_t hw : {13, 14}) v.push_back(block(1, c_in, 6, c_out, hw, hw, 2));
  check(v);
  // Whole planes on any number of threads: the dots there; not where bands or parts cut them.
  for (int threads : {1, 2, 3}) {
    EXPECT_TRUE(inverted_residual_plan(block(1, 160, 6, 160, 7, 7, 1), threads).pixel_dots);
    EXPECT_TRUE(inverted_residual_plan(block(2, 16, 6, 24, 14, 14, 2), threads).pixel_dots);
    // 576 expanded channels of 14 x 14 rows overflow one band's L2 budget on one thread.
    EXPECT_FALSE(inverted_residual_plan(block(1, 96, 6, 160, 14, 14, 2), threads).pixel_dots);
    EXPECT_FALSE(inverted_residual_plan(block(1, 96, 6, 96, 14, 14, 1), threads).pixel_dots);
    EXPECT_FALSE(inverted_residual_plan(block(1, 160, 6, 160, 7, 7, 1, 3), threads).pixel_dots);
  }
}

TEST(InvertedResidual, SupportedShapes) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512";
  EXPECT_TRUE(inverted_residual_supports(block(1, 8, 6, 8, 9, 9, 1)));
  EXPECT_FALSE(inverted_residual_supports(block(1, 8, 6, 8, 9, 9, 3)));
  InvertedResidualGeometry residual_at_stride_2 = block(1, 8, 6, 8, 9, 9, 2);
  residual_at_stride_2.residual = true;
  EXPECT_FALSE(inverted_residual_supports(residual_at_stride_2));
  InvertedResidualGeometry unexpanded_widening = block(1, 8, 1, 8, 9, 9, 1);
  unexpanded_widening.C_mid = 16;
  EXPECT_FALSE(inverted_residual_supports(unexpanded_widening));
}

}  // namespace
}  // namespace fovea::kernels
