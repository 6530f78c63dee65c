#include "fovea/functional/conv.h"

#include <gtest/gtest.h>

#include "fovea/error.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

TEST(Conv2d, CourseNotesCrossCorrelation) {
  const float image[] = {3, 3, 2, 1, 0, 0, 0, 1, 3, 1, 3, 1, 2, 2, 3, 2, 0, 0, 2, 2, 2, 0, 0, 0, 1};
  const float kernel[] = {0, 1, 2, 2, 2, 0, 0, 1, 2};
  const float expected[] = {12, 12, 17, 10, 17, 19, 9, 6, 14};
  for (const std::string& algo : conv_algorithm_names()) {
    ConvAlgorithmGuard guard(algo);
    const Tensor y = F::conv2d(Tensor::from_vector({1, 1, 5, 5}, image),
                               Tensor::from_vector({1, 1, 3, 3}, kernel));
    EXPECT_TRUE(allclose(y, Tensor::from_vector({1, 1, 3, 3}, expected))) << algo << y;
  }
}

TEST(Conv2d, ThirtyTwoByThirtyTwoWithTenFilters) {
  const Tensor y = F::conv2d(Tensor::randn({1, 3, 32, 32}), Tensor::randn({10, 3, 5, 5}),
                             Tensor::zeros({10}), {.padding = 2});
  EXPECT_EQ(y.shape(), (Shape{1, 10, 32, 32}));
}

}  // namespace
}  // namespace fovea
