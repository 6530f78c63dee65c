// linear's backward held equal to central differences of the forward, for input, weight and
// bias, on tiny shapes with none, one and two leading axes.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "fovea/functional/linear.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

void check_linear_gradients(const Shape& x_shape, int64_t out_features, bool has_bias) {
  Generator gen(4321);
  const Tensor x = Tensor::randn(x_shape, &gen);
  const Tensor w = Tensor::randn({out_features, x_shape.back()}, &gen);
  std::vector<Tensor> inputs = {x, w};
  if (has_bias) inputs.push_back(Tensor::randn({out_features}, &gen));
  const auto f = [&](const std::vector<Tensor>& in) {
    return F::linear(in[0], in[1], has_bias ? std::optional(in[2]) : std::nullopt);
  };
  const Tensor r = Tensor::randn(f(inputs).shape(), &gen);
  const F::LinearGradients g = F::linear_backward(r, x, w, has_bias);
  std::vector<Tensor> grads = {g.input, g.weight};
  if (has_bias) grads.push_back(g.bias);
  EXPECT_EQ(testing::check_gradients(f, inputs, grads, r, {.names = {"input", "weight", "bias"}}),
            "");
}

TEST(LinearGradcheck, Batch) {
  check_linear_gradients({3, 4}, 5, true);
}

TEST(LinearGradcheck, NoBias) {
  check_linear_gradients({2, 3}, 2, false);
}

TEST(LinearGradcheck, Unbatched) {
  check_linear_gradients({4}, 3, true);
}

TEST(LinearGradcheck, TwoLeadingAxes) {
  check_linear_gradients({2, 3, 2}, 3, true);
}

}  // namespace
}  // namespace fovea
