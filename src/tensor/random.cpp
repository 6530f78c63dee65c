#include "fovea/random.h"

#include <cmath>
#include <numbers>

namespace fovea {

// Our own transforms of the raw 64-bit stream rather than std::*_distribution, whose
// output is implementation-defined: a seed gives the same numbers with any standard library.
float Generator::uniform(float lo, float hi) {
  const float u = static_cast<float>(engine_() >> 40) * 0x1.0p-24f;  // [0, 1)
  return lo + (hi - lo) * u;
}

float Generator::normal(float mean, float stddev) {
  if (has_spare_) {
    has_spare_ = false;
    return mean + stddev * spare_;
  }
  // Box-Muller; u1 in (0, 1] so the log is finite. Both values of the pair are used.
  const double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53;
  const double u2 = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * std::numbers::pi * u2;
  spare_ = static_cast<float>(r * std::sin(theta));
  has_spare_ = true;
  return mean + stddev * static_cast<float>(r * std::cos(theta));
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) {
  default_generator().seed(seed);
}

}  // namespace fovea
