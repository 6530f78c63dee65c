// Every activation's and softmax's backward held equal to central differences of its
// forward, on inputs kept at least 0.1 away from the kinks (where the derivative jumps).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "fovea/functional/activation.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

using Forward = std::function<Tensor(const Tensor&)>;
using Backward = std::function<Tensor(const Tensor& gy, const Tensor& x, const Tensor& y)>;

// Random values of spread 3, nudged off the kinks at 0, +-3 and 6.
Tensor inputs_off_kinks(const Shape& shape, Generator& gen) {
  Tensor x = Tensor::randn(shape, &gen);
  for (float& v : x.span()) {
    v *= 3.0f;
    for (const float kink : {0.0f, 3.0f, -3.0f, 6.0f})
      if (std::fabs(v - kink) < 0.1f) v = kink + (v < kink ? -0.1f : 0.1f);
  }
  return x;
}

void check(const Forward& forward, const Backward& backward, const Shape& shape = {2, 3, 4}) {
  Generator gen(21);
  const Tensor x = inputs_off_kinks(shape, gen);
  const Tensor y = forward(x);
  const Tensor r = Tensor::randn(y.shape(), &gen);
  EXPECT_EQ(testing::check_gradients([&](const std::vector<Tensor>& in) { return forward(in[0]); },
                                     {x}, {backward(r, x, y)}, r),
            "");
}

// Backward taking the input (the others take the output).
template <class Fn>
Backward from_input(Fn fn) {
  return [fn](const Tensor& gy, const Tensor& x, const Tensor&) { return fn(gy, x); };
}
template <class Fn>
Backward from_output(Fn fn) {
  return [fn](const Tensor& gy, const Tensor&, const Tensor& y) { return fn(gy, y); };
}

TEST(ActivationGradcheck, Relu) {
  check(F::relu, from_output(F::relu_backward));
}
TEST(ActivationGradcheck, Relu6) {
  check(F::relu6, from_output(F::relu6_backward));
}
TEST(ActivationGradcheck, LeakyRelu) {
  const F::LeakyReluOptions o{.negative_slope = 0.2};
  check([&](const Tensor& x) { return F::leaky_relu(x, o); },
        from_input(
            [&](const Tensor& gy, const Tensor& x) { return F::leaky_relu_backward(gy, x, o); }));
}
TEST(ActivationGradcheck, Elu) {
  const F::EluOptions o{.alpha = 0.7};
  check([&](const Tensor& x) { return F::elu(x, o); },
        from_input([&](const Tensor& gy, const Tensor& x) { return F::elu_backward(gy, x, o); }));
}
TEST(ActivationGradcheck, Gelu) {
  for (const std::string approximate : {"none", "tanh"}) {
    SCOPED_TRACE(approximate);
    const F::GeluOptions o{.approximate = approximate};
    check(
        [&](const Tensor& x) { return F::gelu(x, o); },
        from_input([&](const Tensor& gy, const Tensor& x) { return F::gelu_backward(gy, x, o); }));
  }
}
TEST(ActivationGradcheck, Silu) {
  check(F::silu, from_input(F::silu_backward));
}
TEST(ActivationGradcheck, Sigmoid) {
  check(F::sigmoid, from_output(F::sigmoid_backward));
}
TEST(ActivationGradcheck, Tanh) {
  check(F::tanh, from_output(F::tanh_backward));
}
TEST(ActivationGradcheck, Hardswish) {
  check(F::hardswish, from_input(F::hardswish_backward));
}
TEST(ActivationGradcheck, Hardsigmoid) {
  check(F::hardsigmoid, from_input(F::hardsigmoid_backward));
}

TEST(ActivationGradcheck, SoftmaxAndLogSoftmaxOverEveryDim) {
  for (const int64_t dim : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    check([dim](const Tensor& x) { return F::softmax(x, dim); },
          from_output([dim](const Tensor& gy, const Tensor& y) {
            return F::softmax_backward(gy, y, dim);
          }));
    check([dim](const Tensor& x) { return F::log_softmax(x, dim); },
          from_output([dim](const Tensor& gy, const Tensor& y) {
            return F::log_softmax_backward(gy, y, dim);
          }));
  }
}

}  // namespace
}  // namespace fovea
