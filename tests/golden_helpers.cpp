#include "golden_helpers.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "fovea/error.h"
#include "fovea/io/npy.h"

namespace fovea::testing {

Tensor GoldenCase::tensor(const std::string& key) const {
  return io::load_npy(dir / (key + ".npy"));
}

bool GoldenCase::has(const std::string& key) const {
  return std::filesystem::exists(dir / (key + ".npy"));
}

std::vector<GoldenCase> golden_cases(const std::string& family) {
  const std::filesystem::path root = std::filesystem::path(FOVEA_GOLDEN_DIR) / family;
  if (!std::filesystem::is_directory(root))
    throw IoError(fmt::format("golden family '{}' not found at {}; run tests/golden/make_golden.py",
                              family, root.string()));
  std::vector<GoldenCase> cases;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    std::ifstream in(entry.path() / "config.json");
    cases.push_back({entry.path().filename().string(), nlohmann::json::parse(in), entry.path()});
  }
  std::ranges::sort(cases, {}, &GoldenCase::name);
  if (cases.empty()) throw IoError(fmt::format("golden family '{}' has no cases", family));
  return cases;
}

void check_each_case(const std::vector<GoldenCase>& cases,
                     const std::function<void(const GoldenCase&)>& check) {
  for (const GoldenCase& gc : cases) {
    SCOPED_TRACE("case " + gc.name);
    try {
      check(gc);
    } catch (const std::exception& e) {  // one bad case must not hide the others
      ADD_FAILURE() << "threw: " << e.what();
    }
  }
}

std::string compare_tensors(const Tensor& actual, const Tensor& expected, float rtol, float atol) {
  if (actual.shape() != expected.shape())
    return fmt::format("shape {} != expected {}", shape_str(actual.shape()),
                       shape_str(expected.shape()));
  // Scale the relative part by the largest expected magnitude: sums of many products have
  // elements near zero whose own relative error means nothing.
  float scale = 0.0f;
  for (float v : expected.span()) scale = std::max(scale, std::fabs(v));
  int64_t worst = -1;
  float worst_err = 0.0f;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const float err = std::fabs(actual.data()[i] - expected.data()[i]);
    if (!(err <= atol + rtol * scale) && (worst < 0 || !(err <= worst_err))) {
      worst = i;
      worst_err = err;
    }
  }
  if (worst < 0) return "";
  return fmt::format(
      "element {} is {} but expected {} (|diff| {:.3g} > atol {} + rtol {} * max|expected| {:.3g})",
      worst, actual.data()[worst], expected.data()[worst], worst_err, atol, rtol, scale);
}

}  // namespace fovea::testing
