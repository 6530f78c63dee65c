// Reading golden cases written by tests/golden/make_golden.py:
// tests/golden/<family>/<case>/{config.json, *.npy}.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::testing {

struct GoldenCase {
  std::string name;
  nlohmann::json config;
  std::filesystem::path dir;
  // Loads <dir>/<key>.npy; throws IoError when absent.
  Tensor tensor(const std::string& key) const;
  bool has(const std::string& key) const;
};

// All cases of a family, sorted by name. Fails loudly (throws) when the family is missing,
// so a test can never pass by finding nothing.
std::vector<GoldenCase> golden_cases(const std::string& family);

// Largest |a-b| / (atol + rtol*max|b|) style check with a readable failure message: returns
// "" when close, else a description of the worst element.
std::string compare_tensors(const Tensor& actual, const Tensor& expected, float rtol, float atol);

}  // namespace fovea::testing
