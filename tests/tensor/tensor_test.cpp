#include "fovea/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "fovea/error.h"
#include "fovea/random.h"

namespace fovea {
namespace {

TEST(Tensor, ShapeStridesAndAlignment) {
  Tensor t = Tensor::zeros({2, 3, 4, 5});
  EXPECT_EQ(t.dim(), 4);
  EXPECT_EQ(t.numel(), 120);
  EXPECT_EQ(t.size(-1), 5);
  EXPECT_EQ(t.strides(), (Shape{60, 20, 5, 1}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  EXPECT_THROW(t.size(4), ShapeError);
}

TEST(Tensor, RankLimitsAndNegativeSizes) {
  EXPECT_NO_THROW(Tensor::empty({1, 2, 3, 4, 5}));
  EXPECT_THROW(Tensor::empty({1, 2, 3, 4, 5, 6}), ShapeError);
  EXPECT_THROW(Tensor::empty({2, -1}), ShapeError);
}

TEST(Tensor, ElementAccessIsRowMajorAndChecked) {
  Tensor t = Tensor::arange(6).reshape({2, 3});
  EXPECT_EQ(t(1, 2), 5.0f);
  t(0, 1) = 42.0f;
  EXPECT_EQ(t.data()[1], 42.0f);
  EXPECT_THROW(t(2, 0), ShapeError);
  EXPECT_THROW(t(0), ShapeError);
}

TEST(Tensor, ReshapeSharesStorageAndInfersOneSize) {
  Tensor t = Tensor::arange(12);
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 4}));
  EXPECT_TRUE(r.is_same(t));
  EXPECT_THROW(t.reshape({5, -1}), ShapeError);
  Tensor c = t.clone();
  c.fill_(1.0f);
  EXPECT_EQ(t.data()[3], 3.0f);
}

TEST(Tensor, ArangeWithStep) {
  Tensor t = Tensor::arange(1.0f, 2.0f, 0.25f);
  ASSERT_EQ(t.numel(), 4);
  EXPECT_FLOAT_EQ(t.data()[3], 1.75f);
  EXPECT_THROW(Tensor::arange(0.0f, 1.0f, 0.0f), ValueError);
}

TEST(Tensor, RandomFactoriesAreSeededAndInRange) {
  Generator a(7), b(7);
  Tensor x = Tensor::rand({1000}, -2.0f, 3.0f, &a);
  Tensor y = Tensor::rand({1000}, -2.0f, 3.0f, &b);
  EXPECT_TRUE(allclose(x, y, 0.0f, 0.0f));
  for (float v : x.span()) {
    EXPECT_GE(v, -2.0f);
    EXPECT_LT(v, 3.0f);
  }
  Tensor n = Tensor::randn({20000}, &a);
  double mean = 0, sq = 0;
  for (float v : n.span()) mean += v, sq += double(v) * v;
  mean /= n.numel();
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(sq / n.numel() - mean * mean, 1.0, 0.05);
}

TEST(Tensor, FromVectorChecksCount) {
  const float v[] = {1, 2, 3};
  EXPECT_THROW(Tensor::from_vector({2, 2}, v), ShapeError);
  EXPECT_EQ(Tensor::from_vector({3}, v)(2), 3.0f);
}

TEST(Tensor, PrintsValuesAndShape) {
  const std::string s = Tensor::arange(4).reshape({2, 2}).to_string();
  EXPECT_NE(s.find("[[0, 1],"), std::string::npos) << s;
  EXPECT_NE(s.find("shape=[2, 2]"), std::string::npos) << s;
  const std::string long_s = Tensor::arange(100).to_string();
  EXPECT_NE(long_s.find("..."), std::string::npos) << long_s;
}

}  // namespace
}  // namespace fovea
