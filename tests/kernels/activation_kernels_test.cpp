// Holds the CPU activation kernels (float, vectorised, threaded) equal to the double-precision
// reference (STYLE.md habit 2) for every activation, on lengths around the vector widths and
// above the OpenMP threshold, over values that sweep the kinks, the tails and NaN, with
// NaN-filled outputs so unwritten elements show.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fovea/random.h"
#include "kernels/activation_function.h"
#include "kernels/cpu/activation_cpu.h"
#include "kernels/reference/activation_reference.h"

namespace fovea::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Buffer = std::vector<float>;

// Within atol + rtol*(|expected| + |scale|) of the reference, both NaN or both equal
// (infinities). scale (or nullptr) widens the bound where a result cancels: the backward's
// dy * f'(x) is as precise as dy, not as f'(x) near f''s zeros (gelu' at x = -0.75).
std::string compare(const Buffer& actual, const Buffer& expected, const Buffer& x,
                    const float* scale, float rtol, float atol) {
  for (size_t i = 0; i < expected.size(); ++i) {
    const float a = actual[i], e = expected[i];
    if (std::isnan(a) && std::isnan(e)) continue;
    const float bound = atol + rtol * (std::fabs(e) + (scale ? std::fabs(scale[i]) : 0.0f));
    if (a == e || std::fabs(a - e) <= bound) continue;
    return fmt::format("x = {}: {} but expected {}", x[i], a, e);
  }
  return "";
}

// Kinks, their neighbours, tails and NaN first, then random values of spread 4.
Buffer inputs(int64_t n, Generator& gen) {
  const float special[] = {0.0f,   -0.0f, 3.0f,   -3.0f, 6.0f,  1e-6f,   -1e-6f, 2.999f, 3.001f,
                           -2.99f, 5.99f, 6.01f,  0.49f, 0.51f, -0.625f, 0.63f,  -8.0f,  9.5f,
                           -15.0f, 20.0f, -50.0f, 90.0f, -90.f, 1e30f,   -1e30f, kNaN,   -0.49f,
                           -5.0f,  -10.f, 4.0f,   -4.0f, 1.0f,  -1.0f,   0.25f,  -0.25f, 12.f};
  Buffer v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = i < std::size(special) ? special[i] : gen.normal(0.0f, 4.0f);
  return v;
}

struct Case {
  const char* name;
  Activation a;
};

constexpr Case kCases[] = {
    {"relu", {ActivationKind::kRelu}},
    {"relu6", {ActivationKind::kRelu6}},
    {"leaky_relu", {ActivationKind::kLeakyRelu, 0.01f}},
    {"leaky_relu_negative", {ActivationKind::kLeakyRelu, -0.3f}},
    {"elu", {ActivationKind::kElu, 1.0f}},
    {"elu_alpha_0.5", {ActivationKind::kElu, 0.5f}},
    {"gelu", {ActivationKind::kGelu}},
    {"gelu_tanh", {ActivationKind::kGeluTanh}},
    {"silu", {ActivationKind::kSilu}},
    {"sigmoid", {ActivationKind::kSigmoid}},
    {"tanh", {ActivationKind::kTanh}},
    {"hardswish", {ActivationKind::kHardswish}},
    {"hardsigmoid", {ActivationKind::kHardsigmoid}},
};

constexpr int64_t kLengths[] = {0, 1, 7, 16, 17, 36, 100, 1000, 70000};

// Close to float's own precision: a few ulps relative, and an absolute floor of 1e-7 for
// values that underflow differently (e^-90) or cancel (gelu's lower tail).
constexpr float kRtol = 2e-6f, kAtol = 1e-7f;

class ActivationKernels : public ::testing::TestWithParam<Case> {};

TEST_P(ActivationKernels, ForwardAndBackwardMatchReference) {
  const Activation a = GetParam().a;
  for (const int64_t n : kLengths) {
    SCOPED_TRACE(fmt::format("{} n={}", GetParam().name, n));
    Generator gen(static_cast<uint64_t>(n) + 1);
    const Buffer x = inputs(n, gen);
    Buffer dy(x.size());
    for (float& v : dy) v = gen.normal();

    Buffer y_ref(x.size(), kNaN), y(x.size(), kNaN);
    activation_forward_reference(a, n, x.data(), y_ref.data());
    activation_forward_cpu(a, n, x.data(), y.data());
    EXPECT_EQ(compare(y, y_ref, x, nullptr, kRtol, kAtol), "") << "forward";

    const Buffer& saved = backward_reads_output(a.kind) ? y_ref : x;
    Buffer dx_ref(x.size(), kNaN), dx(x.size(), kNaN);
    activation_backward_reference(a, n, dy.data(), saved.data(), dx_ref.data());
    activation_backward_cpu(a, n, dy.data(), saved.data(), dx.data());
    EXPECT_EQ(compare(dx, dx_ref, x, dy.data(), kRtol, kAtol), "") << "backward";
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ActivationKernels, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& ch : name)
                             if (ch == '.') ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace fovea::kernels
