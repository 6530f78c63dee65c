// Kernels split their work over OpenMP threads; their tests run each check with one thread and
// with two, so a result that depends on the split shows up.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <string>

namespace fovea::testing {

// Runs `body` with 1 thread, then with 2 (each failure says which), restoring the count.
template <class F>
void with_one_and_two_threads(F&& body) {
  const int before = omp_get_max_threads();
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    omp_set_num_threads(threads);
    body();
  }
  omp_set_num_threads(before);
}

}  // namespace fovea::testing
