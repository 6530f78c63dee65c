// Seeded random numbers: one Generator per stream, a global one for convenience.
#pragma once

#include <cstdint>
#include <random>

namespace fovea {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5EED) : engine_(seed) {}
  void seed(uint64_t s) {
    engine_.seed(s);
    has_spare_ = false;
  }
  float uniform(float lo, float hi);
  float normal(float mean = 0.0f, float stddev = 1.0f);
  uint64_t next_u64() { return engine_(); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
  // Box-Muller makes normals in pairs; the second waits here for the next call.
  bool has_spare_ = false;
  float spare_ = 0.0f;
};

Generator& default_generator();
// Seeds the global generator, like torch.manual_seed.
void manual_seed(uint64_t seed);

}  // namespace fovea
