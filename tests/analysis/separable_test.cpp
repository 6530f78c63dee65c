// Separable kernels: Sobel is rank 1 and its factors reproduce it (as kernels and as two
// convolutions), random kernels are full rank, rank-r errors shrink to 0, the course notes'
// depthwise-separable counts, a network report, errors, and `fovea separable`.
#include "fovea/analysis/separable.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/functional/conv.h"
#include "fovea/nn/conv.h"
#include "fovea/random.h"
#include "fovea/zoo/zoo.h"
#include "run_cli.h"

namespace fovea::analysis {
namespace {

namespace F = functional;
using fovea::testing::expect_error;
using fovea::testing::run_fovea;

const std::vector<float> kSobel = {1, 0, -1, 2, 0, -2, 1, 0, -1};

double frobenius(const Tensor& t) {
  double s = 0;
  for (float v : t.span()) s += static_cast<double>(v) * v;
  return std::sqrt(s);
}

Tensor difference(const Tensor& a, const Tensor& b) {
  Tensor d = a.clone();
  for (int64_t i = 0; i < d.numel(); ++i) d.data()[i] -= b.data()[i];
  return d;
}

TEST(Separable, SobelIsRankOne) {
  const KernelSpectrum s = kernel_spectrum(Tensor::from_vector({3, 3}, kSobel));
  ASSERT_EQ(s.singular_values.size(), 3u);
  EXPECT_NEAR(s.singular_values[0], std::sqrt(6.0) * std::sqrt(2.0),
              1e-12);  // ‖[1,2,1]‖·‖[1,0,−1]‖
  EXPECT_NEAR(s.singular_values[1], 0.0, 1e-12);
  EXPECT_EQ(s.rank, 1);
  EXPECT_TRUE(s.separable());
}

TEST(Separable, SobelFactorsReproduceIt) {
  const Tensor w = Tensor::from_vector({1, 1, 3, 3}, kSobel);
  const SeparableFactors f = separable_factors(w, 1);
  EXPECT_EQ(f.vertical.shape(), (Shape{1, 1, 1, 3}));
  EXPECT_EQ(f.horizontal.shape(), (Shape{1, 1, 1, 3}));
  EXPECT_LT(f.relative_error, 1e-12);
  EXPECT_TRUE(allclose(f.reconstruct(), w, 1e-6f, 1e-6f));
  // The column is ∝ [1, 2, 1], the row ∝ [1, 0, −1].
  const float* u = f.vertical.data();
  const float* v = f.horizontal.data();
  EXPECT_NEAR(u[1] / u[0], 2.0, 1e-6);
  EXPECT_NEAR(u[2] / u[0], 1.0, 1e-6);
  EXPECT_NEAR(v[1], 0.0, 1e-6);
  EXPECT_NEAR(v[2] / v[0], -1.0, 1e-6);
  // A k×1 convolution then a 1×k one equals the 3×3 convolution.
  const Tensor x = Tensor::randn({1, 1, 9, 11});
  const Tensor two_pass = F::conv2d(F::conv2d(x, f.vertical.reshape({1, 1, 3, 1}), std::nullopt),
                                    f.horizontal.reshape({1, 1, 1, 3}), std::nullopt);
  EXPECT_TRUE(allclose(two_pass, F::conv2d(x, w, std::nullopt), 1e-5f, 1e-5f));
}

TEST(Separable, RandomKernelIsFullRank) {
  Generator gen(7);
  for (int trial = 0; trial < 10; ++trial) {
    const KernelSpectrum s = kernel_spectrum(Tensor::randn({3, 3}, &gen));
    EXPECT_EQ(s.rank, 3);
    EXPECT_FALSE(s.separable());
    EXPECT_GE(s.singular_values[0], s.singular_values[1]);
    EXPECT_GE(s.singular_values[1], s.singular_values[2]);
  }
  EXPECT_EQ(kernel_spectrum(Tensor::randn({5, 3}, &gen)).singular_values.size(), 3u);
  EXPECT_EQ(kernel_spectrum(Tensor::zeros({3, 3})).rank, 0);
}

TEST(Separable, RankRErrorShrinksToZero) {
  Generator gen(11);
  const Tensor w = Tensor::randn({4, 3, 5, 5}, &gen);
  double previous = 2.0;
  for (int64_t r = 1; r <= 5; ++r) {
    const SeparableFactors f = separable_factors(w, r);
    EXPECT_EQ(f.vertical.shape(), (Shape{4, 3, r, 5}));
    EXPECT_LT(f.relative_error, previous);
    previous = f.relative_error;
    // The reported error is the reconstruction's.
    EXPECT_NEAR(f.relative_error, frobenius(difference(w, f.reconstruct())) / frobenius(w), 1e-5);
  }
  EXPECT_LT(previous, 1e-6);
  EXPECT_TRUE(allclose(separable_factors(w, 5).reconstruct(), w, 1e-4f, 1e-5f));
}

TEST(Separable, CourseDepthwiseSeparableCounts) {
  const ConvCost small = depthwise_separable_cost(3, 3, 3, 5);
  EXPECT_EQ(small.standard, 135);  // 3·3·3·5
  EXPECT_EQ(small.cheaper, 42);    // 3·3·3 + 3·5
  const ConvCost large = depthwise_separable_cost(5, 5, 64, 128);
  EXPECT_EQ(large.standard, 204800);  // 5·5·64·128
  EXPECT_EQ(large.cheaper, 9792);     // 5·5·64 + 64·128
  EXPECT_NEAR(large.ratio(), 9792.0 / 204800.0, 1e-15);
}

TEST(Separable, FactoredCost) {
  // k² vs 2k·r per (out, in) pair: 3×3 → 6 at rank 1, 7×7 → 28 at rank 2.
  EXPECT_EQ(factored_cost(3, 3, 1, 1).standard, 9);
  EXPECT_EQ(factored_cost(3, 3, 1, 1).cheaper, 6);
  EXPECT_EQ(factored_cost(7, 7, 10, 2).standard, 490);
  EXPECT_EQ(factored_cost(7, 7, 10, 2).cheaper, 280);
}

TEST(Separable, NetworkReport) {
  nn::Sequential model;
  auto edges = std::make_shared<nn::Conv2d>(
      nn::Conv2dOptions{.in_channels = 1, .out_channels = 2, .kernel_size = 3});
  for (int64_t i = 0; i < 9; ++i) {
    edges->weight.data()[i] = kSobel[i];                        // Sobel x
    edges->weight.data()[9 + i] = kSobel[(i % 3) * 3 + i / 3];  // Sobel y (transposed)
  }
  model.push_back(edges);
  model.push_back(std::make_shared<nn::Conv2d>(
      nn::Conv2dOptions{.in_channels = 2, .out_channels = 4, .kernel_size = 1}));
  model.push_back(std::make_shared<nn::Conv2d>(
      nn::Conv2dOptions{.in_channels = 4, .out_channels = 4, .kernel_size = 5, .groups = 4}));
  const SeparabilityReport r = analyze_separability(model, "edges", 2);
  ASSERT_EQ(r.layers.size(), 2u);  // the 1×1 convolution is left out
  const LayerSeparability& sobel = r.layers[0];
  EXPECT_EQ(sobel.name, "0");
  EXPECT_EQ(sobel.kernels, 2);
  EXPECT_EQ(sobel.rank1_kernels, 2);
  EXPECT_NEAR(sobel.mean_spectrum[0], 1.0, 1e-12);
  EXPECT_NEAR(sobel.mean_spectrum[1], 0.0, 1e-6);
  EXPECT_LT(sobel.relative_error, 1e-6);
  EXPECT_EQ(sobel.factored.standard, 18);
  EXPECT_EQ(sobel.factored.cheaper, 24);  // rank 2 of a 3×3 kernel costs more than it saves
  ASSERT_TRUE(sobel.depthwise.has_value());
  EXPECT_EQ(sobel.depthwise->standard, 18);
  const LayerSeparability& dw = r.layers[1];
  EXPECT_EQ(dw.name, "2");
  EXPECT_EQ(dw.groups, 4);
  EXPECT_EQ(dw.kernels, 4);
  EXPECT_FALSE(dw.depthwise.has_value());
  EXPECT_EQ(dw.rank1_kernels, 0);  // random initialisation
  EXPECT_GT(dw.relative_error, 0.0);
  const auto j = nlohmann::json::parse(separability_json(r));
  EXPECT_EQ(j["layers"][0]["rank1_kernels"], 2);
  EXPECT_EQ(j["layers"][0]["macs_per_position"]["full"], 18);
  EXPECT_TRUE(j["layers"][1]["depthwise_separable"].is_null());
  EXPECT_NE(format_separability(r).find("2/2"), std::string::npos);
}

TEST(Separable, ZooNetworks) {
  // AlexNet: five convolutions (11×11, 5×5, 3×3 ×3), none grouped.
  const SeparabilityReport alexnet = analyze_separability(*zoo::create_model("alexnet"), "a", 1);
  ASSERT_EQ(alexnet.layers.size(), 5u);
  EXPECT_EQ(alexnet.layers[0].name, "features.0");
  EXPECT_EQ(alexnet.layers[0].factored.standard, 11 * 11 * 64 * 3);
  EXPECT_EQ(alexnet.layers[0].factored.cheaper, 22 * 64 * 3);
  const LayerSeparability& conv2 = alexnet.layers[1];
  EXPECT_EQ(conv2.name, "features.3");
  ASSERT_TRUE(conv2.depthwise.has_value());
  EXPECT_EQ(conv2.depthwise->standard, 25 * 64 * 192);      // 307,200
  EXPECT_EQ(conv2.depthwise->cheaper, 25 * 64 + 64 * 192);  // 13,888
  EXPECT_GT(conv2.relative_error, 0.5);                     // random kernels are far from separable
  // MobileNet v1: the stem and 13 depthwise convolutions (already depthwise: no comparison).
  const SeparabilityReport mobilenet =
      analyze_separability(*zoo::create_model("mobilenet_v1"), "m", 1);
  ASSERT_EQ(mobilenet.layers.size(), 14u);
  EXPECT_TRUE(mobilenet.layers[0].depthwise.has_value());
  EXPECT_EQ(mobilenet.layers[1].name, "features.1.0.0");
  EXPECT_EQ(mobilenet.layers[1].groups, 32);
  EXPECT_FALSE(mobilenet.layers[1].depthwise.has_value());
}

TEST(SeparableErrors, BadArguments) {
  const Tensor w = Tensor::zeros({2, 2, 3, 3});
  expect_error<ValueError>([&] { separable_factors(w, 0); },
                           {"separable_factors", "rank", "1..3", "got 0"});
  expect_error<ValueError>([&] { separable_factors(w, 4); }, {"separable_factors", "got 4"});
  expect_error<ShapeError>(
      [] {
        separable_factors(Tensor::zeros({3, 3}), 1);
      },
      {"separable_factors", "weight", "[3, 3]"});
  expect_error<ShapeError>(
      [] {
        kernel_spectrum(Tensor::zeros({1, 3, 3}));
      },
      {"kernel_spectrum", "kernel", "[1, 3, 3]"});
  expect_error<ValueError>(
      [] {
        kernel_spectrum(Tensor::zeros({3, 3}), 1.5);
      },
      {"kernel_spectrum", "rtol", "1.5"});
  nn::Sequential model;
  expect_error<ValueError>([&] { analyze_separability(model, "m", 0); }, {"separable", "rank"});
}

TEST(SeparableCli, ZooNetworkAsJson) {
  FOVEA_REQUIRE_CLI();
  const auto r = run_fovea({"separable", "fmnist-cnn", "--rank", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rank"], 2);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][1]["weight_shape"], nlohmann::json::parse("[64, 32, 3, 3]"));
  EXPECT_EQ(j["layers"][1]["depthwise_separable"]["standard"], 9 * 32 * 64);
  EXPECT_EQ(j["layers"][1]["depthwise_separable"]["separable"], 9 * 32 + 32 * 64);
}

TEST(SeparableCli, Errors) {
  FOVEA_REQUIRE_CLI();
  auto r = run_fovea({"separable", "fmnist-cnn", "--rank", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: separable: rank"), std::string::npos) << r.err;
  r = run_fovea({"separable", "fmnist-cnn", "--rank", "two"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace fovea::analysis
