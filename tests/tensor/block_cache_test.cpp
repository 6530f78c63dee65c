#include "tensor/block_cache.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "fovea/tensor.h"

namespace fovea::detail {
namespace {

// A freed large tensor's block is handed to the next tensor of the same size: no fresh pages.
TEST(BlockCache, ReusesFreedBlocksOfTheSameSize) {
  const size_t before = cached_block_bytes();
  const float* first = nullptr;
  {
    Tensor t = Tensor::empty({3, 64, 129});  // 99,072 bytes: above the caching threshold
    first = t.data();
  }
  EXPECT_GE(cached_block_bytes(), before + 3 * 64 * 129 * sizeof(float));
  Tensor again = Tensor::zeros({3, 64, 129});
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again.data()) % 64, 0u);
  for (float v : again.span()) ASSERT_EQ(v, 0.0f) << "a reused block is still filled as asked";
}

TEST(BlockCache, SmallBlocksAreNotCached) {
  const size_t before = cached_block_bytes();
  { Tensor t = Tensor::empty({16}); }
  EXPECT_EQ(cached_block_bytes(), before);
}

TEST(BlockCache, DifferentSizesGetDifferentBlocks) {
  Tensor a = Tensor::empty({40000});
  const float* pa = a.data();
  a = Tensor();
  Tensor b = Tensor::empty({40001});
  EXPECT_NE(b.data(), pa);
  Tensor c = Tensor::empty({40000});
  EXPECT_EQ(c.data(), pa);
}

}  // namespace
}  // namespace fovea::detail
