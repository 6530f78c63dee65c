// pad_backward held equal to central differences of pad, on tiny shapes, for every mode,
// batched and unbatched, including negative amounts (crops) and borders read several times.
#include <gtest/gtest.h>

#include <vector>

#include "fovea/functional/pad.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using Mode = F::PadMode;

void check(const Shape& x_shape, const std::vector<int64_t>& pad, Mode mode, float value = 0) {
  Generator gen(8765);
  const Tensor x = Tensor::randn(x_shape, &gen);
  const auto f = [&](const std::vector<Tensor>& in) { return F::pad(in[0], pad, mode, value); };
  const Tensor r = Tensor::randn(F::pad(x, pad, mode, value).shape(), &gen);
  const Tensor gx = F::pad_backward(r, x_shape, pad, mode);
  EXPECT_EQ(testing::check_gradients(f, {x}, {gx}, r), "");
}

TEST(PadGradcheck, Constant) {
  check({2, 3, 4}, {1, 2}, Mode::kConstant, 0.5f);
  check({1, 2, 3, 3}, {-1, 2, 1, -1}, Mode::kConstant);
  check({1, 1, 2, 2, 3}, {1, 0, 0, 1, 1, 1}, Mode::kConstant, -1.0f);
}

TEST(PadGradcheck, Reflect) {
  check({2, 5}, {4, 2}, Mode::kReflect);
  check({1, 2, 3, 4}, {3, 1, 2, 2}, Mode::kReflect);
  check({1, 1, 2, 3, 3}, {2, 1, 0, 2, 1, 1}, Mode::kReflect);
  check({1, 1, 5}, {-1, 3}, Mode::kReflect);
}

TEST(PadGradcheck, Replicate) {
  check({1, 2, 3}, {4, 1}, Mode::kReplicate);
  check({2, 3, 3}, {1, 2, 3, 0}, Mode::kReplicate);
  check({1, 1, 2, 2, 2}, {1, 1, 2, 0, 1, 2}, Mode::kReplicate);
}

TEST(PadGradcheck, Circular) {
  check({1, 2, 4}, {4, 3}, Mode::kCircular);
  check({1, 1, 3, 3}, {2, 1, 3, 3}, Mode::kCircular);
  check({1, 1, 2, 2, 3}, {1, 2, 1, 0, 2, 2}, Mode::kCircular);
  check({2, 5}, {2, -3}, Mode::kCircular);
}

}  // namespace
}  // namespace fovea
