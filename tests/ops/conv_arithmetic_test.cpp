#include "fovea/conv_arithmetic.h"

#include <gtest/gtest.h>

#include "fovea/error.h"

namespace fovea {
namespace {

TEST(ConvArithmetic, CourseNotesOutputSizes) {
  EXPECT_EQ(conv_output_size(7, 3, 1), 5);
  EXPECT_EQ(conv_output_size(7, 3, 2), 3);
  EXPECT_EQ(conv_output_size(7, 3, 3), 2);
  EXPECT_EQ(conv_output_size(7, 3, 1, 1, 1), 7);
  EXPECT_EQ(conv_output_size(32, 5, 1, 2, 2), 32);
  const int64_t k5[] = {5, 5};
  EXPECT_EQ(conv_param_count(3, 10, k5), 760);
}

TEST(ConvArithmetic, DilationAndAsymmetricPadding) {
  EXPECT_EQ(conv_output_size(10, 3, 1, 0, 0, 2), 6);
  EXPECT_EQ(conv_output_size(10, 4, 2, 1, 2), 5);
}

TEST(ConvArithmetic, PaddingModes) {
  // Same: total d(k-1); odd totals put the extra pixel at the end, as PyTorch does.
  PadAmount p = resolve_padding(PaddingMode::kSame, 0, 0, 4, 1, 1);
  EXPECT_EQ(p.lo, 1);
  EXPECT_EQ(p.hi, 2);
  p = resolve_padding(PaddingMode::kSame, 0, 0, 3, 2, 1);
  EXPECT_EQ(p.lo, 2);
  EXPECT_EQ(p.hi, 2);
  p = resolve_padding(PaddingMode::kFull, 0, 0, 3, 1, 1);
  EXPECT_EQ(conv_output_size(5, 3, 1, p), 7);
  p = resolve_padding(PaddingMode::kValid, 9, 9, 3, 1, 1);
  EXPECT_EQ(p.lo + p.hi, 0);
  EXPECT_THROW(resolve_padding(PaddingMode::kSame, 0, 0, 3, 1, 2), ValueError);
  EXPECT_THROW(resolve_padding(PaddingMode::kExplicit, -1, 0, 3, 1, 1), ValueError);
}

TEST(ConvArithmetic, KernelMustFit) {
  try {
    conv_output_size(4, 3, 1, 0, 0, 2, "conv2d");
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("conv2d: kernel"), std::string::npos) << e.what();
  }
  EXPECT_THROW(conv_output_size(7, 3, 0), ValueError);
  EXPECT_THROW(conv_output_size(7, 3, 1, 0, 0, 0), ValueError);
}

TEST(ConvArithmetic, TransposedSizeInvertsConvolution) {
  for (int64_t n : {5, 8, 13})
    for (int64_t s : {1, 2, 3})
      for (int64_t op = 0; op < s; ++op) {
        const int64_t out = conv_transpose_output_size(n, 3, s, 1, op);
        EXPECT_EQ(conv_output_size(out, 3, s, 1, 1), n) << n << " " << s << " " << op;
      }
  EXPECT_THROW(conv_transpose_output_size(5, 3, 2, 1, 2), ValueError);
}

}  // namespace
}  // namespace fovea
