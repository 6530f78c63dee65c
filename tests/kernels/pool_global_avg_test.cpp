// The global average pool (kernels/cpu/pool_global_avg.h) held bit for bit equal to the
// reference adaptive average pool, on plane counts around its 16-plane vectors and planes of
// 1-3 spatial axes, with NaN, infinities and signed zeros among the inputs. Outputs start as NaN
// so a plane the kernel skips shows.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include "fovea/random.h"
#include "fovea/tensor.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pool_global_avg.h"
#include "kernels/reference/pool_reference.h"
#include "thread_counts.h"

namespace fovea::kernels {
namespace {

TEST(GlobalAvgPool, MatchesReferenceBitForBit) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "needs AVX-512";
  Generator gen(21);
  const std::vector<Dims3> planes = {{1, 1, 1}, {1, 7, 7}, {1, 3, 5},
                                     {1, 1, 9}, {2, 3, 4}, {1, 14, 14}};
  for (int64_t C : {1, 15, 16, 17, 33, 1280})
    for (const Dims3& in : planes) {
      PoolGeometry g;
      g.N = 2;
      g.C = C;
      g.in = in;
      g.out = {1, 1, 1};
      ASSERT_TRUE(global_avg_pool_avx512_supports(g));
      Tensor x = Tensor::randn({g.planes() * g.in_pixels()}, &gen);
      x.data()[0] = std::numeric_limits<float>::quiet_NaN();
      x.data()[x.numel() / 2] = std::numeric_limits<float>::infinity();
      x.data()[x.numel() - 1] = -0.0f;
      std::vector<float> ref(g.planes()), fast(g.planes());
      adaptive_avg_pool_forward_reference(g, x.data(), ref.data());
      testing::with_one_and_two_threads([&] {
        std::fill(fast.begin(), fast.end(), std::numeric_limits<float>::quiet_NaN());
        global_avg_pool_forward_avx512(g, x.data(), fast.data());
        for (int64_t p = 0; p < g.planes(); ++p)
          ASSERT_EQ(std::bit_cast<uint32_t>(fast[p]), std::bit_cast<uint32_t>(ref[p]))
              << "C " << C << " plane " << p << " of " << in[0] << "x" << in[1] << "x" << in[2];
      });
    }
}

TEST(GlobalAvgPool, SupportsOnlyOneOutputPerPlane) {
  PoolGeometry g;
  g.in = {1, 4, 4};
  g.out = {1, 2, 2};
  EXPECT_FALSE(global_avg_pool_avx512_supports(g));
}

}  // namespace
}  // namespace fovea::kernels
