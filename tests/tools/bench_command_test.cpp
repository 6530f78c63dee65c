// `fovea bench` through the command line: the JSON document of each suite (DESIGN.md's
// contract) on tiny cases, the human table, and the errors of bad invocations.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "run_cli.h"
#include "temp_dir.h"

namespace fovea {
namespace {

using testing::run_fovea;
using testing::TempDir;

// A two-layer suite in conv_layers.json's format: 4 -> 8 channels, 3x3 on 8x8 (padding 1),
// and the same as a transposed 4x4/2 to 16x16; gflop = 2 * multiply-adds.
void write_suite(const std::filesystem::path& path) {
  std::ofstream(path) << R"({"layers": [
    {"layer": "tiny3x3", "kind": "conv2d", "N": 1, "Cin": 4, "Cout": 8, "in_spatial": "8x8",
     "out_spatial": "8x8", "k": 3, "stride": 1, "pad": 1, "dilation": 1, "groups": 1,
     "gflop": 3.6864e-05},
    {"layer": "tinyT4x4s2", "kind": "convT2d", "N": 2, "Cin": 8, "Cout": 4, "in_spatial": "8x8",
     "out_spatial": "16x16", "k": 4, "stride": 2, "pad": 1, "dilation": 1, "groups": 1,
     "gflop": 0.000131072}]})";
}

// Parses stdout as the one JSON document --json promises, and checks the shared top level.
nlohmann::json parse_report(const testing::CliResult& r, const std::string& suite) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);  // throws (fails the test) on extra text
  EXPECT_EQ(doc.at("suite"), suite);
  EXPECT_EQ(doc.at("threads").get<int>(), 1);
  EXPECT_TRUE(doc.at("results").is_array());
  return doc;
}

TEST(CliBench, ConvSuiteJsonHasOneRowPerLayerAndPass) {
  TempDir tmp;
  write_suite(tmp / "suite.json");
  const auto r =
      run_fovea({"bench", "--suite", "conv", "--suite-file", (tmp / "suite.json").string(),
                 "--threads", "1", "--min-time", "0.001", "--json"});
  const nlohmann::json doc = parse_report(r, "conv");
  const auto& rows = doc["results"];
  ASSERT_EQ(rows.size(), 6u) << r.out;  // 2 layers x 3 passes
  const std::vector<std::string> passes = {"fwd", "bwd_data", "bwd_weight"};
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    EXPECT_EQ(row.at("layer"), i < 3 ? "tiny3x3" : "tinyT4x4s2");
    EXPECT_EQ(row.at("N").get<int>(), i < 3 ? 1 : 2);
    EXPECT_EQ(row.at("pass"), passes[i % 3]);
    EXPECT_FALSE(row.at("algorithm").get<std::string>().empty());
    EXPECT_GT(row.at("ms_median").get<double>(), 0);
    EXPECT_GT(row.at("gflops").get<double>(), 0);
  }
}

TEST(CliBench, ConvSuiteFiltersLayersAndForcesTheAlgorithm) {
  TempDir tmp;
  write_suite(tmp / "suite.json");
  const auto r =
      run_fovea({"bench", "--suite", "conv", "--suite-file", (tmp / "suite.json").string(),
                 "--layers", "^tiny3x3/N1$", "--conv-algo", "reference", "--threads", "1",
                 "--min-time", "0.001", "--json"});
  const nlohmann::json doc = parse_report(r, "conv");
  ASSERT_EQ(doc["results"].size(), 3u) << r.out;
  for (const auto& row : doc["results"]) EXPECT_EQ(row.at("algorithm"), "reference");

  // A kernel is timed only on the passes it supports: the depthwise one on none of these.
  const auto none =
      run_fovea({"bench", "--suite", "conv", "--suite-file", (tmp / "suite.json").string(),
                 "--conv-algo", "depthwise", "--threads", "1", "--min-time", "0.001", "--json"});
  EXPECT_TRUE(parse_report(none, "conv")["results"].empty()) << none.out;
}

TEST(CliBench, ConvSuiteTableWithoutJson) {
  TempDir tmp;
  write_suite(tmp / "suite.json");
  const auto r =
      run_fovea({"bench", "--suite", "conv", "--suite-file", (tmp / "suite.json").string(),
                 "--layers", "tiny3x3", "--threads", "1", "--min-time", "0.001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tiny3x3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bwd_weight"), std::string::npos) << r.out;
}

TEST(CliBench, ModelsSuiteJson) {
  const auto r = run_fovea({"bench", "--suite", "models", "--models", "lenet5", "fmnist-cnn",
                            "--batch", "2", "--threads", "1", "--min-time", "0.001", "--json"});
  const nlohmann::json doc = parse_report(r, "models");
  const auto& rows = doc["results"];
  ASSERT_EQ(rows.size(), 2u) << r.out;
  EXPECT_EQ(rows[0].at("model"), "lenet5");
  EXPECT_EQ(rows[1].at("model"), "fmnist-cnn");
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("batch").get<int>(), 2);
    const double ms = row.at("ms_median").get<double>();
    EXPECT_GT(ms, 0);
    EXPECT_NEAR(row.at("images_per_s").get<double>(), 2 / (ms / 1e3), 1e-6 * 2e3 / ms);
    EXPECT_GT(row.at("peak_rss_mib").get<double>(), 1);
  }
}

// lenet5 runs conv2d twice per forward, to two output shapes: one row each.
TEST(CliBench, ModelsProfileListsEveryOpWithItsCalls) {
  const auto r = run_fovea({"bench", "--suite", "models", "--models", "lenet5", "--threads", "1",
                            "--min-time", "0.001", "--profile"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lenet5 by op"), std::string::npos) << r.out;
  for (const std::string shape : {"[1, 6, 28, 28]", "[1, 16, 10, 10]"}) {
    const size_t at = r.out.find("conv2d -> " + shape);
    ASSERT_NE(at, std::string::npos) << shape << " in " << r.out;
    std::istringstream row(r.out.substr(at + std::string("conv2d -> ").size() + shape.size()));
    int64_t calls = 0;
    double ms = 0, percent = 0;
    row >> calls >> ms >> percent;
    EXPECT_EQ(calls, 1) << r.out;
    EXPECT_GT(ms, 0);
    EXPECT_GT(percent, 0);
    EXPECT_LE(percent, 100);
  }
}

TEST(CliBench, TrainSuiteJson) {
  const auto r = run_fovea({"bench", "--suite", "train", "--batch", "8", "--threads", "1",
                            "--min-time", "0.001", "--json"});
  const nlohmann::json doc = parse_report(r, "train");
  ASSERT_EQ(doc["results"].size(), 1u) << r.out;
  const auto& row = doc["results"][0];
  EXPECT_EQ(row.at("model"), "fmnist-cnn");
  EXPECT_EQ(row.at("batch").get<int>(), 8);
  EXPECT_GT(row.at("ms_median").get<double>(), 0);
  EXPECT_GT(row.at("images_per_s").get<double>(), 0);
  EXPECT_GT(row.at("peak_rss_mib").get<double>(), 1);
}

TEST(CliBench, UsageErrorsExitTwo) {
  TempDir tmp;
  write_suite(tmp / "suite.json");
  const std::string suite = (tmp / "suite.json").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"bench"}, "--suite"},
      {{"bench", "--suite", "gpu"}, "gpu"},
      {{"bench", "--suite", "conv", "--suite-file", suite, "--conv-algo", "magic"}, "magic"},
      {{"bench", "--suite", "conv", "--suite-file", suite, "--layers", "(unclosed"}, "regex"},
      {{"bench", "--suite", "conv", "--suite-file", suite, "--layers", "^resnet"}, "matches"},
      {{"bench", "--suite", "models", "--models", "resnet7"}, "resnet7"},
      {{"bench", "--suite", "models", "--layers", "x"}, "--suite conv only"},
      {{"bench", "--suite", "conv", "--suite-file", suite, "--batch", "2"}, "models and train"},
      {{"bench", "--suite", "conv", "--min-time", "0"}, "--min-time"},
      {{"bench", "--suite", "train", "--profile"}, "--profile"},
      {{"bench", "--suite", "models", "--profile", "--json"}, "--profile"},
  };
  for (const auto& [args, says] : cases) {
    const auto r = run_fovea(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << says << " in " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CliBench, MissingSuiteFileNamesTheFlag) {
  TempDir tmp;
  const auto r = run_fovea(
      {"bench", "--suite", "conv", "--suite-file", (tmp / "absent.json").string(), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--suite-file"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliBench, MalformedSuiteFileFails) {
  TempDir tmp;
  std::ofstream(tmp / "bad.json") << R"({"layers": [{"layer": "x"}]})";
  const auto r =
      run_fovea({"bench", "--suite", "conv", "--suite-file", (tmp / "bad.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fovea
