// Reading golden cases written by tests/golden/make_golden.py:
// tests/golden/<family>/<case>/{config.json, *.npy}.
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
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

// Runs check(gc) on every case, each inside a SCOPED_TRACE naming it; an exception fails that
// case without hiding the others.
void check_each_case(const std::vector<GoldenCase>& cases,
                     const std::function<void(const GoldenCase&)>& check);

// A config value holding D numbers, one per spatial axis; throws std::invalid_argument
// (naming what it got) for anything else.
template <int D, class T = int64_t>
std::array<T, D> per_axis(const nlohmann::json& values) {
  if (!values.is_array() || values.size() != D)
    throw std::invalid_argument("golden config: expected " + std::to_string(D) +
                                " values per axis, got " + values.dump());
  std::array<T, D> a{};
  for (int i = 0; i < D; ++i) a[i] = values.at(i).get<T>();
  return a;
}

// Largest |a-b| / (atol + rtol*max|b|) style check with a readable failure message: returns
// "" when close, else a description of the worst element.
std::string compare_tensors(const Tensor& actual, const Tensor& expected, float rtol, float atol);

}  // namespace fovea::testing
