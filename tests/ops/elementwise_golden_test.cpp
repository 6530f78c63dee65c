// The shape and elementwise ops (broadcast add/sub/mul, scalar ops, sum, mean, cat, flatten),
// forward and backward, held equal to PyTorch on the golden cases written by
// tests/golden/gen_elementwise.py.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fovea/functional/elementwise.h"
#include "golden_helpers.h"
#include "golden_zero_dim.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::compare_tensors;
using testing::golden_tensor;
using testing::GoldenCase;

constexpr float kRtol = 1e-5f, kAtol = 1e-6f;

void expect_close(const Tensor& actual, const GoldenCase& gc, const std::string& key) {
  EXPECT_EQ(compare_tensors(actual, golden_tensor(gc, key), kRtol, kAtol), "") << key;
}

void check_binary(const GoldenCase& gc) {
  const std::string op = gc.config.at("op");
  const Tensor a = golden_tensor(gc, "a"), b = golden_tensor(gc, "b"), gy = golden_tensor(gc, "gy");
  using Forward = Tensor (*)(const Tensor&, const Tensor&);
  const std::map<std::string, Forward> forward = {
      {"add", F::add}, {"sub", F::sub}, {"mul", F::mul}};
  expect_close(forward.at(op)(a, b), gc, "y");
  const F::BinaryGradients g = op == "add"   ? F::add_backward(gy, a.shape(), b.shape())
                               : op == "sub" ? F::sub_backward(gy, a.shape(), b.shape())
                                             : F::mul_backward(gy, a, b);
  expect_close(g.a, gc, "ga");
  expect_close(g.b, gc, "gb");
}

void check_scalar(const GoldenCase& gc) {
  const std::string op = gc.config.at("op");
  const float s = gc.config.at("scalar").get<float>();
  const Tensor a = golden_tensor(gc, "a"), gy = golden_tensor(gc, "gy");
  if (op == "add_scalar") {
    expect_close(F::add(a, s), gc, "y");
    expect_close(gy, gc, "ga");  // the gradient passes through unchanged
  } else if (op == "sub_scalar") {
    expect_close(F::sub(a, s), gc, "y");
    expect_close(gy, gc, "ga");
  } else {
    expect_close(F::mul(a, s), gc, "y");
    expect_close(F::mul_backward(gy, s), gc, "ga");
  }
}

void check_reduce(const GoldenCase& gc) {
  const bool mean = gc.config.at("op") == "mean";
  const auto dim = gc.config.at("dim").get<std::vector<int64_t>>();
  const bool keepdim = gc.config.at("keepdim").get<bool>();
  const Tensor x = golden_tensor(gc, "x"), gy = golden_tensor(gc, "gy");
  expect_close(mean ? F::mean(x, dim, keepdim) : F::sum(x, dim, keepdim), gc, "y");
  expect_close(mean ? F::mean_backward(gy, x.shape(), dim, keepdim)
                    : F::sum_backward(gy, x.shape(), dim, keepdim),
               gc, "gx");
}

void check_cat(const GoldenCase& gc) {
  const int64_t dim = gc.config.at("dim"), count = gc.config.at("count");
  std::vector<Tensor> xs;
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < count; ++i) {
    xs.push_back(golden_tensor(gc, fmt::format("x{}", i)));
    sizes.push_back(xs.back().size(dim));
  }
  expect_close(F::cat(xs, dim), gc, "y");
  const std::vector<Tensor> g = F::cat_backward(golden_tensor(gc, "gy"), sizes, dim);
  ASSERT_EQ(static_cast<int64_t>(g.size()), count);
  for (int64_t i = 0; i < count; ++i) expect_close(g[i], gc, fmt::format("gx{}", i));
}

void check_flatten(const GoldenCase& gc) {
  const Tensor x = golden_tensor(gc, "x");
  expect_close(F::flatten(x, gc.config.at("start_dim"), gc.config.at("end_dim")), gc, "y");
  expect_close(F::flatten_backward(golden_tensor(gc, "gy"), x.shape()), gc, "gx");
}

void check_case(const GoldenCase& gc) {
  const std::string op = gc.config.at("op");
  if (op == "add" || op == "sub" || op == "mul") return check_binary(gc);
  if (op.ends_with("_scalar")) return check_scalar(gc);
  if (op == "sum" || op == "mean") return check_reduce(gc);
  if (op == "cat") return check_cat(gc);
  if (op == "flatten") return check_flatten(gc);
  FAIL() << "golden config: unknown op " << op;
}

TEST(ElementwiseGolden, MatchesPyTorch) {
  const auto cases = testing::golden_cases("elementwise");
  EXPECT_GE(cases.size(), 15u);
  testing::check_each_case(cases, check_case);
}

}  // namespace
}  // namespace fovea
