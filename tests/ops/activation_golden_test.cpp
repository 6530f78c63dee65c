// The activations and softmax, forward and backward, held equal to PyTorch on the golden
// cases written by tests/golden/gen_activation.py (kinks and tails included).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "fovea/functional/activation.h"
#include "golden_helpers.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using Json = nlohmann::json;
using testing::compare_tensors;
using testing::GoldenCase;

constexpr float kOutputRtol = 1e-5f, kOutputAtol = 1e-6f;
constexpr float kGradRtol = 1e-5f, kGradAtol = 1e-6f;

struct Op {
  std::function<Tensor(const Tensor& x, const Json& config)> forward;
  // saved is the input or the output, as the case's "saved" says.
  std::function<Tensor(const Tensor& gy, const Tensor& saved, const Json& config)> backward;
};

template <Tensor (*Forward)(const Tensor&), Tensor (*Backward)(const Tensor&, const Tensor&)>
Op plain() {
  return {[](const Tensor& x, const Json&) { return Forward(x); },
          [](const Tensor& gy, const Tensor& s, const Json&) { return Backward(gy, s); }};
}

F::LeakyReluOptions leaky_options(const Json& c) {
  return {.negative_slope = c.at("negative_slope").get<double>()};
}
F::EluOptions elu_options(const Json& c) {
  return {.alpha = c.at("alpha").get<double>()};
}
F::GeluOptions gelu_options(const Json& c) {
  return {.approximate = c.at("approximate").get<std::string>()};
}

const std::map<std::string, Op>& ops() {
  static const std::map<std::string, Op> table = {
      {"relu", plain<F::relu, F::relu_backward>()},
      {"relu6", plain<F::relu6, F::relu6_backward>()},
      {"silu", plain<F::silu, F::silu_backward>()},
      {"sigmoid", plain<F::sigmoid, F::sigmoid_backward>()},
      {"tanh", plain<F::tanh, F::tanh_backward>()},
      {"hardswish", plain<F::hardswish, F::hardswish_backward>()},
      {"hardsigmoid", plain<F::hardsigmoid, F::hardsigmoid_backward>()},
      {"leaky_relu",
       {[](const Tensor& x, const Json& c) { return F::leaky_relu(x, leaky_options(c)); },
        [](const Tensor& gy, const Tensor& x, const Json& c) {
          return F::leaky_relu_backward(gy, x, leaky_options(c));
        }}},
      {"elu",
       {[](const Tensor& x, const Json& c) { return F::elu(x, elu_options(c)); },
        [](const Tensor& gy, const Tensor& x, const Json& c) {
          return F::elu_backward(gy, x, elu_options(c));
        }}},
      {"gelu",
       {[](const Tensor& x, const Json& c) { return F::gelu(x, gelu_options(c)); },
        [](const Tensor& gy, const Tensor& x, const Json& c) {
          return F::gelu_backward(gy, x, gelu_options(c));
        }}},
      {"softmax",
       {[](const Tensor& x, const Json& c) { return F::softmax(x, c.at("dim").get<int64_t>()); },
        [](const Tensor& gy, const Tensor& y, const Json& c) {
          return F::softmax_backward(gy, y, c.at("dim").get<int64_t>());
        }}},
      {"log_softmax",
       {[](const Tensor& x, const Json& c) {
          return F::log_softmax(x, c.at("dim").get<int64_t>());
        },
        [](const Tensor& gy, const Tensor& y, const Json& c) {
          return F::log_softmax_backward(gy, y, c.at("dim").get<int64_t>());
        }}},
  };
  return table;
}

TEST(ActivationGolden, AllCases) {
  const auto cases = testing::golden_cases("activation");
  EXPECT_GE(cases.size(), 33u);
  for (const GoldenCase& gc : cases) {
    SCOPED_TRACE(gc.name + " " + gc.config.dump());
    const Op& op = ops().at(gc.config.at("op").get<std::string>());
    const Tensor x = gc.tensor("x"), y = gc.tensor("y");
    EXPECT_EQ(compare_tensors(op.forward(x, gc.config), y, kOutputRtol, kOutputAtol), "") << "y";
    // The backward reads PyTorch's output, so it is tested apart from our forward.
    const Tensor& saved = gc.config.at("saved") == "output" ? y : x;
    EXPECT_EQ(compare_tensors(op.backward(gc.tensor("gy"), saved, gc.config), gc.tensor("gx"),
                              kGradRtol, kGradAtol),
              "")
        << "gx";
  }
}

}  // namespace
}  // namespace fovea
