// Every pooling op, forward and backward, held equal to PyTorch on the golden cases written by
// tests/golden/gen_pool.py. Max values and argmax indices must match exactly.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "fovea/functional/pool.h"
#include "golden_helpers.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::GoldenCase;
using testing::per_axis;
using Json = nlohmann::json;

constexpr float kOutputRtol = 1e-4f, kOutputAtol = 1e-5f;
constexpr float kGradRtol = 1e-3f, kGradAtol = 1e-4f;

// Rank-generic names for the pooling functions, so each check is written once.
template <int D>
struct Pool;
template <>
struct Pool<1> {
  static constexpr auto max_pool = &F::max_pool1d;
  static constexpr auto max_pool_with_indices = &F::max_pool1d_with_indices;
  static constexpr auto max_pool_backward = &F::max_pool1d_backward;
  static constexpr auto avg_pool = &F::avg_pool1d;
  static constexpr auto avg_pool_backward = &F::avg_pool1d_backward;
  static constexpr auto lp_pool = &F::lp_pool1d;
  static constexpr auto lp_pool_backward = &F::lp_pool1d_backward;
  static constexpr auto adaptive_avg_pool = &F::adaptive_avg_pool1d;
  static constexpr auto adaptive_avg_pool_backward = &F::adaptive_avg_pool1d_backward;
  static constexpr auto adaptive_max_pool = &F::adaptive_max_pool1d;
  static constexpr auto adaptive_max_pool_with_indices = &F::adaptive_max_pool1d_with_indices;
  static constexpr auto adaptive_max_pool_backward = &F::adaptive_max_pool1d_backward;
  static constexpr auto max_unpool = &F::max_unpool1d;
  static constexpr auto max_unpool_backward = &F::max_unpool1d_backward;
};
template <>
struct Pool<2> {
  static constexpr auto max_pool = &F::max_pool2d;
  static constexpr auto max_pool_with_indices = &F::max_pool2d_with_indices;
  static constexpr auto max_pool_backward = &F::max_pool2d_backward;
  static constexpr auto avg_pool = &F::avg_pool2d;
  static constexpr auto avg_pool_backward = &F::avg_pool2d_backward;
  static constexpr auto lp_pool = &F::lp_pool2d;
  static constexpr auto lp_pool_backward = &F::lp_pool2d_backward;
  static constexpr auto adaptive_avg_pool = &F::adaptive_avg_pool2d;
  static constexpr auto adaptive_avg_pool_backward = &F::adaptive_avg_pool2d_backward;
  static constexpr auto adaptive_max_pool = &F::adaptive_max_pool2d;
  static constexpr auto adaptive_max_pool_with_indices = &F::adaptive_max_pool2d_with_indices;
  static constexpr auto adaptive_max_pool_backward = &F::adaptive_max_pool2d_backward;
  static constexpr auto max_unpool = &F::max_unpool2d;
  static constexpr auto max_unpool_backward = &F::max_unpool2d_backward;
};
template <>
struct Pool<3> {
  static constexpr auto max_pool = &F::max_pool3d;
  static constexpr auto max_pool_with_indices = &F::max_pool3d_with_indices;
  static constexpr auto max_pool_backward = &F::max_pool3d_backward;
  static constexpr auto avg_pool = &F::avg_pool3d;
  static constexpr auto avg_pool_backward = &F::avg_pool3d_backward;
  static constexpr auto lp_pool = &F::lp_pool3d;
  static constexpr auto lp_pool_backward = &F::lp_pool3d_backward;
  static constexpr auto adaptive_avg_pool = &F::adaptive_avg_pool3d;
  static constexpr auto adaptive_avg_pool_backward = &F::adaptive_avg_pool3d_backward;
  static constexpr auto adaptive_max_pool = &F::adaptive_max_pool3d;
  static constexpr auto adaptive_max_pool_with_indices = &F::adaptive_max_pool3d_with_indices;
  static constexpr auto adaptive_max_pool_backward = &F::adaptive_max_pool3d_backward;
  static constexpr auto max_unpool = &F::max_unpool3d;
  static constexpr auto max_unpool_backward = &F::max_unpool3d_backward;
};

// Max values (possibly -inf) and indices are chosen, not computed: they must match exactly.
void expect_identical(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const float a = actual.data()[i], e = expected.data()[i];
    if (!(a == e || (std::isnan(a) && std::isnan(e)))) {
      ADD_FAILURE() << what << " element " << i << " is " << a << ", expected " << e;
      return;
    }
  }
}

void expect_close(const Tensor& actual, const GoldenCase& gc, const std::string& key,
                  bool gradient) {
  EXPECT_EQ(testing::compare_tensors(actual, gc.tensor(key), gradient ? kGradRtol : kOutputRtol,
                                     gradient ? kGradAtol : kOutputAtol),
            "")
      << key;
}

template <int D>
F::MaxPoolOptions<D> max_options(const Json& c) {
  return {.kernel_size = per_axis<D>(c.at("kernel_size")),
          .stride = per_axis<D>(c.at("stride")),
          .padding = per_axis<D>(c.at("padding")),
          .dilation = per_axis<D>(c.at("dilation")),
          .ceil_mode = c.at("ceil_mode").get<bool>()};
}

template <int D>
F::AvgPoolOptions<D> avg_options(const Json& c) {
  const Json& divisor = c.at("divisor_override");
  return {
      .kernel_size = per_axis<D>(c.at("kernel_size")),
      .stride = per_axis<D>(c.at("stride")),
      .padding = per_axis<D>(c.at("padding")),
      .ceil_mode = c.at("ceil_mode").get<bool>(),
      .count_include_pad = c.at("count_include_pad").get<bool>(),
      .divisor_override = divisor.is_null() ? std::nullopt : std::optional(divisor.get<int64_t>())};
}

template <int D>
F::LpPoolOptions<D> lp_options(const Json& c) {
  return {.kernel_size = per_axis<D>(c.at("kernel_size")),
          .stride = per_axis<D>(c.at("stride")),
          .ceil_mode = c.at("ceil_mode").get<bool>()};
}

template <int D>
F::MaxUnpoolOptions<D> unpool_options(const Json& c) {
  F::MaxUnpoolOptions<D> o{.kernel_size = per_axis<D>(c.at("kernel_size")),
                           .stride = per_axis<D>(c.at("stride")),
                           .padding = per_axis<D>(c.at("padding"))};
  if (!c.at("output_size").is_null()) {
    const auto size = per_axis<D>(c.at("output_size"));
    o.output_size = Shape(size.begin(), size.end());
  }
  return o;
}

// Checks a max op's output and indices exactly, then its backward against gx.
void check_max(const GoldenCase& gc, const F::MaxPoolResult& r, const Tensor& plain,
               const Tensor& dx) {
  expect_identical(r.output, gc.tensor("y"), "y");
  expect_identical(r.indices, gc.tensor("indices"), "indices");
  expect_identical(plain, r.output, "output without indices");
  expect_close(dx, gc, "gx", true);
}

template <int D>
void check_case(const GoldenCase& gc) {
  using P = Pool<D>;
  const Json& c = gc.config;
  const std::string op = c.at("op");
  const Tensor x = gc.tensor("x"), gy = gc.tensor("gy");
  if (op == "max_pool") {
    const auto o = max_options<D>(c);
    const F::MaxPoolResult r = P::max_pool_with_indices(x, o);
    check_max(gc, r, P::max_pool(x, o), P::max_pool_backward(gy, x.shape(), r.indices, o));
  } else if (op == "avg_pool") {
    const auto o = avg_options<D>(c);
    expect_close(P::avg_pool(x, o), gc, "y", false);
    expect_close(P::avg_pool_backward(gy, x.shape(), o), gc, "gx", true);
  } else if (op == "lp_pool") {
    const auto o = lp_options<D>(c);
    const double p = c.at("norm_type").get<double>();
    expect_close(P::lp_pool(x, p, o), gc, "y", false);
    expect_close(P::lp_pool_backward(gy, x, p, o), gc, "gx", true);
  } else if (op == "adaptive_avg_pool") {
    expect_close(P::adaptive_avg_pool(x, per_axis<D>(c.at("output_size"))), gc, "y", false);
    expect_close(P::adaptive_avg_pool_backward(gy, x.shape()), gc, "gx", true);
  } else if (op == "adaptive_max_pool") {
    const auto size = per_axis<D>(c.at("output_size"));
    const F::MaxPoolResult r = P::adaptive_max_pool_with_indices(x, size);
    check_max(gc, r, P::adaptive_max_pool(x, size),
              P::adaptive_max_pool_backward(gy, x.shape(), r.indices));
  } else if (op == "global_avg_pool") {
    expect_close(F::global_avg_pool(x), gc, "y", false);
    expect_close(F::global_avg_pool_backward(gy, x.shape()), gc, "gx", true);
  } else if (op == "global_max_pool") {
    const F::MaxPoolResult r = F::global_max_pool_with_indices(x);
    check_max(gc, r, F::global_max_pool(x), F::global_max_pool_backward(gy, x.shape(), r.indices));
  } else if (op == "max_unpool") {
    const auto o = unpool_options<D>(c);
    const Tensor indices = gc.tensor("indices");
    expect_close(P::max_unpool(x, indices, o), gc, "y", false);
    expect_close(P::max_unpool_backward(gy, indices, o), gc, "gx", true);
  } else {
    FAIL() << "golden config: unknown op " << op;
  }
}

void check_case(const GoldenCase& gc) {
  switch (gc.config.at("dims").get<int>()) {
    case 1:
      return check_case<1>(gc);
    case 2:
      return check_case<2>(gc);
    case 3:
      return check_case<3>(gc);
  }
  FAIL() << "golden config: dims must be 1, 2 or 3";
}

TEST(PoolGolden, EveryCaseMatchesPyTorch) {
  testing::check_each_case(testing::golden_cases("pool"),
                           [](const GoldenCase& gc) { check_case(gc); });
}

// The golden set keeps its promised breadth: every op at every rank it exists in.
TEST(PoolGolden, CoversEveryOpAndRank) {
  const auto cases = testing::golden_cases("pool");
  EXPECT_GE(cases.size(), 40u);
  std::set<std::string> seen;
  for (const GoldenCase& gc : cases)
    seen.insert(gc.config.at("op").get<std::string>() +
                std::to_string(gc.config.at("dims").get<int>()));
  for (const char* op : {"max_pool", "avg_pool", "lp_pool", "adaptive_avg_pool",
                         "adaptive_max_pool", "global_avg_pool", "global_max_pool", "max_unpool"})
    for (int dims = 1; dims <= 3; ++dims)
      EXPECT_TRUE(seen.count(op + std::to_string(dims))) << op << dims << "d";
}

}  // namespace
}  // namespace fovea
