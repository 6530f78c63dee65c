// The fixture of the Winograd rows' tests (conv_winograd_test.cpp, conv_winograd3d_test.cpp):
// each test runs for both rows, its parameter a row's name, and is skipped without AVX-512.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "conv_harness.h"
#include "kernels/cpu/cpu_features.h"

namespace fovea::kernels {

class WinogradRowTest : public ::testing::TestWithParam<std::string_view> {
 protected:
  void SetUp() override {
    if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  }
  static std::string_view name() { return GetParam(); }
  static const ConvAlgorithm& algo() { return algorithm_named(GetParam()); }
};

// An axis of a 3-tap, stride-1 convolution giving `out` outputs with padding (lo, hi): the
// geometries both tests sweep.
inline Axis three_tap_axis(int64_t out, int64_t lo, int64_t hi) {
  return {out + 2 - lo - hi, 3, 1, 1, lo, hi};
}

// The two rows, and gtest's name of each instance: the row's name.
inline const auto kWinogradRows = ::testing::Values("winograd_f4x3", "winograd_f2x3");
inline std::string winograd_row_name(const ::testing::TestParamInfo<std::string_view>& info) {
  return std::string(info.param);
}

}  // namespace fovea::kernels
