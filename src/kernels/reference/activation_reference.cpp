#include "kernels/reference/activation_reference.h"

#include <cmath>
#include <numbers>

namespace fovea::kernels {
namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kGeluCubic = 0.044715;

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::numbers::sqrt2);
}
double normal_pdf(double x) {
  return std::exp(-0.5 * x * x) * 0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2;
}
double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
double relu6(double x) {
  return x < 0.0 ? 0.0 : x > 6.0 ? 6.0 : x;
}

double forward(const Activation& a, double x) {
  switch (a.kind) {
    case ActivationKind::kRelu:
      return x < 0.0 ? 0.0 : x;
    case ActivationKind::kRelu6:
      return relu6(x);
    case ActivationKind::kLeakyRelu:
      return x > 0.0 ? x : a.alpha * x;
    case ActivationKind::kElu:
      return x <= 0.0 ? a.alpha * std::expm1(x) : x;
    case ActivationKind::kGelu:
      return x * normal_cdf(x);
    case ActivationKind::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
    case ActivationKind::kSilu:
      return x * sigmoid(x);
    case ActivationKind::kSigmoid:
      return sigmoid(x);
    case ActivationKind::kTanh:
      return std::tanh(x);
    case ActivationKind::kHardswish:
      return x * relu6(x + 3.0) / 6.0;
    case ActivationKind::kHardsigmoid:
      return relu6(x + 3.0) / 6.0;
  }
  return x;
}

// f'(x), or f' expressed through y = f(x) where backward_reads_output(a.kind).
double derivative(const Activation& a, double s) {
  switch (a.kind) {
    case ActivationKind::kRelu:
      return s <= 0.0 ? 0.0 : 1.0;
    case ActivationKind::kRelu6:
      return s <= 0.0 || s >= 6.0 ? 0.0 : 1.0;
    case ActivationKind::kLeakyRelu:
      return s > 0.0 ? 1.0 : a.alpha;
    case ActivationKind::kElu:
      return s <= 0.0 ? a.alpha * std::exp(s) : 1.0;
    case ActivationKind::kGelu:
      return normal_cdf(s) + s * normal_pdf(s);
    case ActivationKind::kGeluTanh: {
      const double t = std::tanh(kSqrt2OverPi * (s + kGeluCubic * s * s * s));
      const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * s * s);
      return 0.5 * (1.0 + t) + 0.5 * s * (1.0 - t * t) * du;
    }
    case ActivationKind::kSilu: {
      const double sg = sigmoid(s);
      return sg * (1.0 + s * (1.0 - sg));
    }
    case ActivationKind::kSigmoid:
      return s * (1.0 - s);
    case ActivationKind::kTanh:
      return 1.0 - s * s;
    case ActivationKind::kHardswish:
      return s < -3.0 ? 0.0 : s < 3.0 ? s / 3.0 + 0.5 : 1.0;
    case ActivationKind::kHardsigmoid:
      return s > -3.0 && s < 3.0 ? 1.0 / 6.0 : 0.0;
  }
  return 1.0;
}

}  // namespace

void activation_forward_reference(const Activation& a, int64_t n, const float* x,
                                  float* y) noexcept {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(forward(a, x[i]));
}

void activation_backward_reference(const Activation& a, int64_t n, const float* dy,
                                   const float* saved, float* dx) noexcept {
  for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<float>(dy[i] * derivative(a, saved[i]));
}

}  // namespace fovea::kernels
