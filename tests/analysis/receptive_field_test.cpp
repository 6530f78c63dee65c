// The receptive-field calculator: the course notes' worked example, the 1 + L(k−1) rule,
// Google's receptive_field table for VGG-16 and AlexNet, errors, and `fovea rf`.
#include "fovea/analysis/receptive_field.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "expect_error.h"
#include "fovea/error.h"
#include "run_cli.h"

namespace fovea::analysis {
namespace {

using fovea::testing::expect_error;
using fovea::testing::run_fovea;

void expect_step(const RfStep& s, int64_t n, double j, double r, double start) {
  EXPECT_EQ(s.n, n);
  EXPECT_EQ(s.rf.jump, j);
  EXPECT_EQ(s.rf.size, r);
  EXPECT_EQ(s.rf.start, start);
}

TEST(ReceptiveField, CourseExample) {
  // n0 = 5, r0 = 1, j0 = 1, start0 = 0.5; conv k3 p1 s2 twice.
  const auto steps = receptive_field(5, {{.k = 3, .s = 2, .p = 1}, {.k = 3, .s = 2, .p = 1}});
  ASSERT_EQ(steps.size(), 3u);
  expect_step(steps[0], 5, 1, 1, 0.5);
  expect_step(steps[1], 3, 2, 3, 0.5);
  expect_step(steps[2], 2, 4, 7, 0.5);
}

TEST(ReceptiveField, StackedConvolutionsSee1PlusLTimesKMinus1) {
  for (int64_t k : {3, 5, 7})
    for (int64_t layers = 1; layers <= 5; ++layers) {
      const auto steps = receptive_field(64, std::vector<RfLayer>(layers, {.k = k}));
      EXPECT_EQ(steps.back().rf.size, static_cast<double>(1 + layers * (k - 1)));
      EXPECT_EQ(steps.back().rf.jump, 1.0);
    }
  EXPECT_EQ(receptive_field(32, std::vector<RfLayer>(3, {.k = 3, .p = 1})).back().rf.size, 7.0);
}

TEST(ReceptiveField, DilationWidensTheKernel) {
  // k = 3, d = 2 acts as k_eff = 5: n 9 -> 5, r 5, start 0.5 + 2 = 2.5.
  expect_step(receptive_field(9, {{.k = 3, .d = 2}}).back(), 5, 1, 5, 2.5);
}

// Google's receptive_field table (github.com/google-research/receptive_field,
// RECEPTIVE_FIELD_TABLE.md, TF-Slim models): rf, effective stride and effective padding per
// end-point. Effective padding = size/2 − start in our units.
struct TableRow {
  size_t step;  // the calculator row of the end-point
  double rf, stride, padding;
};

void expect_table(const std::vector<RfStep>& steps, const std::vector<TableRow>& table) {
  for (const TableRow& row : table) {
    SCOPED_TRACE(row.step);
    const AxisRf& rf = steps.at(row.step).rf;
    EXPECT_EQ(rf.size, row.rf);
    EXPECT_EQ(rf.jump, row.stride);
    EXPECT_EQ(rf.size / 2 - rf.start, row.padding);
  }
}

TEST(ReceptiveField, Vgg16MatchesGooglesTable) {
  const RfLayer c{.k = 3, .p = 1}, pool{.k = 2, .s = 2};
  const auto steps =
      receptive_field(224, {c, c, pool, c, c, pool, c, c, c, pool, c, c, c, pool, c, c, c, pool});
  expect_table(steps, {{1, 3, 1, 1},
                       {3, 6, 2, 2},
                       {4, 10, 2, 4},
                       {6, 16, 4, 6},
                       {7, 24, 4, 10},
                       {8, 32, 4, 14},
                       {10, 44, 8, 18},
                       {11, 60, 8, 26},
                       {12, 76, 8, 34},
                       {14, 100, 16, 42},
                       {15, 132, 16, 58},
                       {16, 164, 16, 74},
                       {18, 212, 32, 90}});
  EXPECT_EQ(steps.back().n, 7);
}

TEST(ReceptiveField, AlexnetV2MatchesGooglesTable) {
  // TF-Slim alexnet_v2: conv1 11x11/4 VALID, 3x3/2 max pools, 5x5 and 3x3 SAME convs.
  const RfLayer pool{.k = 3, .s = 2};
  const auto steps = receptive_field(224, {{.k = 11, .s = 4},
                                           pool,
                                           {.k = 5, .p = 2},
                                           pool,
                                           {.k = 3, .p = 1},
                                           {.k = 3, .p = 1},
                                           {.k = 3, .p = 1},
                                           pool});
  expect_table(steps, {{1, 11, 4, 0},
                       {2, 19, 8, 0},
                       {3, 51, 8, 16},
                       {5, 99, 16, 32},
                       {6, 131, 16, 48},
                       {7, 163, 16, 64},
                       {8, 195, 32, 64}});
}

TEST(ReceptiveField, JsonFollowsTheContract) {
  const auto steps = receptive_field(5, {{.k = 3, .s = 2, .p = 1}, {.k = 3, .s = 2, .p = 1}});
  const auto j = nlohmann::json::parse(rf_json(steps));
  ASSERT_EQ(j["layers"].size(), 3u);
  EXPECT_EQ(j["layers"][0],
            nlohmann::json::parse(R"({"k":1,"s":1,"p":0,"d":1,"n":5,"j":1,"r":1,"start":0.5})"));
  EXPECT_EQ(j["layers"][2],
            nlohmann::json::parse(R"({"k":3,"s":2,"p":1,"d":1,"n":2,"j":4,"r":7,"start":0.5})"));
  EXPECT_TRUE(j["layers"][2]["r"].is_number_integer());
}

TEST(ReceptiveFieldErrors, OutputBelowOnePositionNamesTheLayer) {
  expect_error<ValueError>(
      [] {
        receptive_field(5, {{.k = 3}, {.k = 3}, {.k = 3}});
      },
      {"rf: layer 3", "k=3,s=1,p=0,d=1", "no positions"});
  expect_error<ValueError>([] { receptive_field(4, {{.k = 3, .d = 2}}); },
                           {"layer 1", "effective kernel 5"});
}

TEST(ReceptiveFieldErrors, BadArgumentsNameTheLayer) {
  expect_error<ValueError>([] { receptive_field(8, {{.k = 3}, {.k = 0}}); }, {"layer 2", "k=0"});
  expect_error<ValueError>([] { receptive_field(8, {{.k = 3, .s = 0}}); }, {"layer 1", "s=0"});
  expect_error<ValueError>([] { receptive_field(8, {{.k = 3, .p = -1}}); },
                           {"layer 1", "p >= 0", "-1"});
  expect_error<ValueError>([] { receptive_field(0, {{.k = 3}}); }, {"rf: input", "got 0"});
}

TEST(RfCli, CourseExampleAsJson) {
  FOVEA_REQUIRE_CLI();
  const auto r = run_fovea(
      {"rf", "--input", "5", "--layer", "k=3,s=2,p=1", "--layer", "k=3,s=2,p=1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j, nlohmann::json::parse(rf_json(
                   receptive_field(5, {{.k = 3, .s = 2, .p = 1}, {.k = 3, .s = 2, .p = 1}}))));
  EXPECT_EQ(j["layers"][2]["r"], 7);
}

TEST(RfCli, TableShowsEveryStep) {
  FOVEA_REQUIRE_CLI();
  const auto r =
      run_fovea({"rf", "--input", "5", "--layer", "k=3,s=2,p=1", "--layer", "s=2,k=3,p=1,d=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("input"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("      2      4      7     0.5"), std::string::npos) << r.out;
}

TEST(RfCli, BadLayersFailNamingTheLayer) {
  FOVEA_REQUIRE_CLI();
  auto r = run_fovea({"rf", "--input", "5", "--layer", "k=3", "--layer", "k=3,q=1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: rf: layer 2 'k=3,q=1' has an unknown key 'q'"), std::string::npos)
      << r.err;
  r = run_fovea({"rf", "--input", "5", "--layer", "k=3", "--layer", "k=3", "--layer", "k=3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: rf: layer 3"), std::string::npos) << r.err;
  r = run_fovea({"rf", "--input", "5", "--layer", "s=2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("layer 1 's=2' needs the kernel size k"), std::string::npos) << r.err;
  r = run_fovea({"rf", "--layer", "k=3"});  // --input missing: a usage error
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--input"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fovea::analysis
