// Branch-free float approximations of exp, expm1, tanh, sigmoid and the normal CDF, written
// so that loops calling them vectorise: GCC only uses glibc's vector math under -ffast-math,
// and a loop calling std::exp stays scalar. Each is within a few float ulps of the exact
// value (tested through the activation kernels against the double-precision reference).
// NaN in gives NaN out.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace fovea::kernels::vmath {

// v clamped to [lo, hi], NaN staying NaN (as through an unfused relu), in selects: GCC 12
// leaves loops of std::min/std::max partly scalar. The fused activations' bound (relu: lo = 0,
// relu6: lo = 0, hi = 6), in the convolution epilogue, batch norm and add.
inline float clamp(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return hi < v ? hi : v;
}

// e^x = 2^n * e^r, n = round(x / ln 2), |r| <= ln(2)/2, with Cephes's degree-5 polynomial for
// e^r. x is clamped to [-87.3, 88] so 2^n stays a normal float: exp(-100) gives 1.2e-38
// (not 3.7e-44) and exp(100) gives 1.65e38 (not inf), harmless for the callers here.
inline float exp(float x) {
  x = x > 88.0f ? 88.0f : x;  // selects, not std::clamp: they keep NaN
  x = x < -87.3f ? -87.3f : x;
  // Adding 1.5 * 2^23 rounds to an integer that lands in the low mantissa bits.
  constexpr float kRound = 0x1.8p23f;
  const float shifted = x * 1.44269504088896341f + kRound;
  const float n = shifted - kRound;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n ln 2, in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float exp_r = p * r * r + r + 1.0f;
  // The low 9 bits of shifted's pattern hold n (mod 512): n + 127 is 2^n's exponent field.
  const float two_n = std::bit_cast<float>((std::bit_cast<uint32_t>(shifted) + 127u) << 23);
  return exp_r * two_n;
}

// e^x - 1 without the cancellation of exp(x) - 1 near 0 (a Taylor polynomial there).
inline float expm1(float x) {
  float p = 1.0f / 40320;
  p = p * x + 1.0f / 5040;
  p = p * x + 1.0f / 720;
  p = p * x + 1.0f / 120;
  p = p * x + 1.0f / 24;
  p = p * x + 1.0f / 6;
  p = p * x + 0.5f;
  const float small = (p * x + 1.0f) * x;
  return std::fabs(x) < 0.5f ? small : exp(x) - 1.0f;
}

// 1 / (1 + e^-x) from e^-|x| <= 1, which never overflows and keeps the tails' precision.
inline float sigmoid(float x) {
  const float e = exp(-std::fabs(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

// Cephes's odd polynomial below |x| = 0.625, (1 - e^-2|x|) / (1 + e^-2|x|) above.
inline float tanh(float x) {
  const float a = std::fabs(x), z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float e = exp(-2.0f * a);
  const float large = std::copysign((1.0f - e) / (1.0f + e), x);
  return a < 0.625f ? small : large;
}

// Phi(x) = erfc(-x/sqrt 2) / 2 with Numerical Recipes' erfc (relative error < 1.2e-7 in
// exact arithmetic), accurate in relative terms deep in the lower tail where 1 + erf is not.
inline float normal_cdf(float x) {
  const float u = -x * 0.70710678118654752f, z = std::fabs(u);
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float erfc_z = t * exp(p - z * z);
  return 0.5f * (u >= 0.0f ? erfc_z : 2.0f - erfc_z);
}

}  // namespace fovea::kernels::vmath
