#include "fovea/data/loader.h"

#include <gtest/gtest.h>

#include <set>

#include "fovea/error.h"

namespace fovea::data {
namespace {

Dataset numbered(int64_t n, int64_t hw = 4) {
  // Image i is filled with i / n; label i % 10.
  Tensor images = Tensor::empty({n, 1, hw, hw});
  Tensor labels = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < hw * hw; ++p) images.data()[i * hw * hw + p] = float(i) / n;
    labels.data()[i] = float(i % 10);
  }
  return {images, labels, {}};
}

TEST(DataLoader, EveryExampleOncePerEpochAndPartialLastBatch) {
  DataLoader loader(numbered(10), {.batch_size = 4, .seed = 3});
  ASSERT_EQ(loader.num_batches(), 3);
  std::multiset<float> seen;
  for (int64_t b = 0; b < 3; ++b) {
    const Batch batch = loader.batch(b);  // keep it alive while iterating its span
    for (float v : batch.labels.span()) seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(std::set<float>(seen.begin(), seen.end()).size(), 10u);
  EXPECT_EQ(loader.batch(2).images.size(0), 2);
  DataLoader drop(numbered(10), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(drop.num_batches(), 2);
}

TEST(DataLoader, OrderDependsOnlyOnSeedAndEpoch) {
  DataLoader a(numbered(50), {.batch_size = 50, .seed = 9});
  DataLoader b(numbered(50), {.batch_size = 50, .seed = 9});
  a.start_epoch(4);
  b.start_epoch(1);
  b.start_epoch(4);
  EXPECT_TRUE(allclose(a.batch(0).labels, b.batch(0).labels, 0, 0));
  b.start_epoch(5);
  EXPECT_FALSE(allclose(a.batch(0).images, b.batch(0).images, 0, 0));
  DataLoader ordered(numbered(5), {.batch_size = 5, .shuffle = false});
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(ordered.batch(0).labels(i), float(i));
}

TEST(DataLoader, NormalisesPerChannel) {
  DataLoader loader(numbered(4),
                    {.batch_size = 4, .shuffle = false, .mean = {0.5f}, .std = {0.25f}});
  const Batch b = loader.batch(0);
  EXPECT_FLOAT_EQ(b.images(1, 0, 0, 0), (0.25f - 0.5f) / 0.25f);
}

TEST(DataLoader, CropAndFlipMoveAndMirrorPixels) {
  // One 1x3x3 image with distinct pixels 1..9; padding 1 and flips over many epochs must give
  // only shifted/mirrored copies, zeros where the crop leaves the image, and some variety.
  Tensor img = Tensor::arange(1.0f, 10.0f).reshape({1, 1, 3, 3});
  Dataset ds{img, Tensor::zeros({1}), {}};
  DataLoader loader(ds, {.batch_size = 1, .crop_padding = 1, .horizontal_flip = true});
  std::set<std::vector<float>> variants;
  for (int64_t e = 0; e < 60; ++e) {
    loader.start_epoch(e);
    const Tensor x = loader.batch(0).images;
    variants.insert({x.span().begin(), x.span().end()});
    // The centre pixel always comes from the image (a shift of at most 1).
    EXPECT_GT(x(0, 0, 1, 1), 0.0f);
  }
  EXPECT_GT(variants.size(), 6u);
  EXPECT_LE(variants.size(), 18u);  // 9 offsets x 2 flips
}

TEST(DataLoader, RejectsBadOptions) {
  EXPECT_THROW(DataLoader(numbered(4), {.batch_size = 0}), ValueError);
  EXPECT_THROW(DataLoader(numbered(4), {.mean = {0.5f, 0.5f}, .std = {1, 1}}), ValueError);
  EXPECT_THROW(DataLoader(numbered(4), {.mean = {0.5f}, .std = {0.0f}}), ValueError);
  DataLoader ok(numbered(4), {});
  EXPECT_THROW(ok.batch(1), ValueError);
}

}  // namespace
}  // namespace fovea::data
