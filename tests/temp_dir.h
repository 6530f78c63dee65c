// TempDir: a fresh folder per test and process (ctest runs tests, and other build trees
// theirs, in parallel), removed at the end of the test.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace fovea::testing {

struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      fmt::format("fovea_test_{}_{}_{}", ::getpid(),
                  ::testing::UnitTest::GetInstance()->current_test_suite()->name(),
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path / name; }
};

}  // namespace fovea::testing
