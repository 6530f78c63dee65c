#include "ops/workspace.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

namespace fovea::ops {

float* thread_workspace(size_t floats) {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<float, Free> buffer;
  thread_local size_t capacity = 0;
  if (floats == 0) return nullptr;
  if (floats > capacity) {
    // Grow by half again so a slowly growing sequence of shapes does not reallocate each time.
    const size_t want = (std::max(floats, capacity + capacity / 2) * sizeof(float) + 63) / 64 * 64;
    buffer.reset(static_cast<float*>(std::aligned_alloc(64, want)));
    if (!buffer) throw std::bad_alloc();
    capacity = want / sizeof(float);
  }
  return buffer.get();
}

}  // namespace fovea::ops
