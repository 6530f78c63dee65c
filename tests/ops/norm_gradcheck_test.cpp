// Batch norm backward held equal to central differences of the forward, in training (the
// gradient flows through the batch statistics) and evaluation, for input, weight and bias.
#include <gtest/gtest.h>

#include <vector>

#include "fovea/functional/norm.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

void check_batch_norm(const Shape& shape, bool training) {
  Generator gen(11);
  const int64_t C = shape[1];
  const Tensor x = Tensor::randn(shape, &gen), w = Tensor::randn({C}, &gen),
               b = Tensor::randn({C}, &gen);
  const Tensor running_mean = Tensor::randn({C}, &gen), running_var = Tensor::full({C}, 0.7f);
  const F::BatchNormOptions o{.training = training};
  // Training passes no running estimates, so f has no side effect between its calls.
  const auto f = [&](const std::vector<Tensor>& in) {
    return training ? F::batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], o)
                    : F::batch_norm(in[0], running_mean, running_var, in[1], in[2], o);
  };
  const Tensor r = Tensor::randn(shape, &gen);
  const F::BatchNormForward fwd =
      training ? F::batch_norm_forward(x, Tensor(), Tensor(), w, b, o)
               : F::batch_norm_forward(x, running_mean, running_var, w, b, o);
  const F::BatchNormGradients g =
      F::batch_norm_backward(r, x, w, fwd.save_mean, fwd.save_invstd, o);
  EXPECT_EQ(testing::check_gradients(f, {x, w, b}, {g.input, g.weight, g.bias}, r,
                                     {.eps = 1e-2f, .names = {"input", "weight", "bias"}}),
            "");
}

TEST(NormGradcheck, Training1d) {
  check_batch_norm({4, 3}, true);
}
TEST(NormGradcheck, Training2d) {
  check_batch_norm({2, 2, 3, 3}, true);
}
TEST(NormGradcheck, Training3d) {
  check_batch_norm({2, 2, 2, 2, 3}, true);
}
TEST(NormGradcheck, Evaluation1d) {
  check_batch_norm({3, 2, 5}, false);
}
TEST(NormGradcheck, Evaluation2d) {
  check_batch_norm({2, 3, 2, 3}, false);
}

}  // namespace
}  // namespace fovea
