#include "kernels/cpu/activation_cpu.h"

#include "kernels/cpu/vector_math.h"

namespace fovea::kernels {
namespace {

// Below this many elements a call stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelElements = int64_t{1} << 15;

constexpr float kSqrt2OverPi = 0.797884560802865f;  // sqrt(2/pi)
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2Pi = 0.398942280401433f;  // 1/sqrt(2 pi)

// y[i] = f(x[i]). firstprivate gives each thread its own copy of the lambda: reading a
// captured alpha through the shared one, GCC cannot rule out that y aliases it and leaves
// the loop scalar.
template <class F>
void map(int64_t n, const float* x, float* y, F f) noexcept {
#pragma omp parallel for simd if (n >= kMinParallelElements) schedule(static) firstprivate(f)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// dx[i] = dy[i] * f'(saved[i]).
template <class F>
void map_grad(int64_t n, const float* dy, const float* saved, float* dx, F derivative) noexcept {
#pragma omp parallel for simd if (n >= kMinParallelElements) schedule(static) \
    firstprivate(derivative)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * derivative(saved[i]);
}

float relu6(float x) {
  return x < 0.0f ? 0.0f : x > 6.0f ? 6.0f : x;
}

// gelu_tanh = x/2 * (1 + tanh(u)) = x * sigmoid(2u): the same function without the
// cancellation of 1 + tanh(u) for negative x. Beyond |x| = 10 the sigmoid has saturated in
// float, so x is clamped there first, which keeps x^3 (and 0 * inf in the derivative) away.
float gelu_tanh_clamp(float x) {
  return x > 10.0f ? 10.0f : x < -10.0f ? -10.0f : x;
}
float gelu_tanh_2u(float x) {
  const float c = gelu_tanh_clamp(x);
  return 2.0f * kSqrt2OverPi * (c + kGeluCubic * c * c * c);
}

}  // namespace

void activation_forward_cpu(const Activation& a, int64_t n, const float* x, float* y) noexcept {
  const float alpha = a.alpha;
  switch (a.kind) {
    case ActivationKind::kRelu:
      return map(n, x, y, [](float v) { return v < 0.0f ? 0.0f : v; });
    case ActivationKind::kRelu6:
      return map(n, x, y, [](float v) { return relu6(v); });
    case ActivationKind::kLeakyRelu:
      return map(n, x, y, [alpha](float v) { return v > 0.0f ? v : alpha * v; });
    case ActivationKind::kElu:
      return map(n, x, y, [alpha](float v) { return v <= 0.0f ? alpha * vmath::expm1(v) : v; });
    case ActivationKind::kGelu:
      return map(n, x, y, [](float v) { return v * vmath::normal_cdf(v); });
    case ActivationKind::kGeluTanh:
      return map(n, x, y, [](float v) { return v * vmath::sigmoid(gelu_tanh_2u(v)); });
    case ActivationKind::kSilu:
      return map(n, x, y, [](float v) { return v * vmath::sigmoid(v); });
    case ActivationKind::kSigmoid:
      return map(n, x, y, [](float v) { return vmath::sigmoid(v); });
    case ActivationKind::kTanh:
      return map(n, x, y, [](float v) { return vmath::tanh(v); });
    case ActivationKind::kHardswish:
      return map(n, x, y, [](float v) { return v * relu6(v + 3.0f) * (1.0f / 6.0f); });
    case ActivationKind::kHardsigmoid:
      return map(n, x, y, [](float v) { return relu6(v + 3.0f) * (1.0f / 6.0f); });
  }
}

void activation_backward_cpu(const Activation& a, int64_t n, const float* dy, const float* saved,
                             float* dx) noexcept {
  const float alpha = a.alpha;
  const float* s = saved;
  switch (a.kind) {
    case ActivationKind::kRelu:
      return map_grad(n, dy, s, dx, [](float y) { return y <= 0.0f ? 0.0f : 1.0f; });
    case ActivationKind::kRelu6:
      return map_grad(n, dy, s, dx, [](float y) { return y <= 0.0f || y >= 6.0f ? 0.0f : 1.0f; });
    case ActivationKind::kLeakyRelu:
      return map_grad(n, dy, s, dx, [alpha](float x) { return x > 0.0f ? 1.0f : alpha; });
    case ActivationKind::kElu:
      return map_grad(n, dy, s, dx,
                      [alpha](float x) { return x <= 0.0f ? alpha * vmath::exp(x) : 1.0f; });
    case ActivationKind::kGelu:
      return map_grad(n, dy, s, dx, [](float x) {
        return vmath::normal_cdf(x) + x * kInvSqrt2Pi * vmath::exp(-0.5f * x * x);
      });
    case ActivationKind::kGeluTanh:
      // d/dx x*sg(2u) = sg + x * sg * (1 - sg) * 2u', sg = sigmoid(2u)
      return map_grad(n, dy, s, dx, [](float x) {
        const float c = gelu_tanh_clamp(x), sg = vmath::sigmoid(gelu_tanh_2u(c));
        const float du2 = 2.0f * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * c * c);
        return sg + c * sg * (1.0f - sg) * du2;
      });
    case ActivationKind::kSilu:
      return map_grad(n, dy, s, dx, [](float x) {
        const float sg = vmath::sigmoid(x);
        return sg * (1.0f + x * (1.0f - sg));
      });
    case ActivationKind::kSigmoid:
      return map_grad(n, dy, s, dx, [](float y) { return y * (1.0f - y); });
    case ActivationKind::kTanh:
      return map_grad(n, dy, s, dx, [](float y) { return 1.0f - y * y; });
    case ActivationKind::kHardswish:
      return map_grad(n, dy, s, dx, [](float x) {
        return x < -3.0f ? 0.0f : x < 3.0f ? x * (1.0f / 3.0f) + 0.5f : 1.0f;
      });
    case ActivationKind::kHardsigmoid:
      return map_grad(n, dy, s, dx,
                      [](float x) { return x > -3.0f && x < 3.0f ? 1.0f / 6.0f : 0.0f; });
  }
}

}  // namespace fovea::kernels
