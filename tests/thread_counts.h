// Kernels split their work over OpenMP threads; their tests run each check with one thread and
// with two, so a result that depends on the split shows up.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <string>

namespace fovea::testing {

// The thread count set for a scope, the one before restored at its end (however the scope
// ends: a failed ASSERT returns early). Plans choose their splits by the count, so a check of
// what a plan chose sets the count it was written for: under OMP_NUM_THREADS=1 or 3 the suite
// must pass as under the default.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : before_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ThreadCount() { omp_set_num_threads(before_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int before_;
};

// Runs `body` with 1 thread, then with 2 (each failure says which), restoring the count.
template <class F>
void with_one_and_two_threads(F&& body) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    const ThreadCount count(threads);
    body();
  }
}

}  // namespace fovea::testing
