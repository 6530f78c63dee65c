// core_probe: how fast the two threads of an OpenMP team pass data to each other right now.
//
// On this shared host the two virtual CPUs are at times placed far apart: for seconds to
// minutes a barrier takes about 0.4 us instead of 0.1, a thread writes lines the other thread
// holds in its cache at 2-6 GB/s instead of 33-40 (each write waits for the other core to
// give the line up) and reads lines the other just wrote at 25-35 GB/s instead of 75-80, while
// each core alone (its FMA throughput, its own L2, DRAM) runs as fast as ever. Inference at
// batch 1, where every layer writes memory the other core has read, then runs about a third
// slower. This probe labels a benchmark round with that state (compare/model_compare.py runs
// it before each round) and prints one JSON object:
//   barrier_us  median time of one `omp barrier` of two threads
//   write_gbs   rate at which a thread overwrites lines the other thread read last
//   read_gbs    rate at which a thread reads lines the other thread just wrote
// (each thread writes its half of 1 MiB, a barrier, then reads the other's half; GB/s per
// thread; the median of 5 runs of 50 rounds).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The median of `rounds` timings of `reps` barriers, per barrier.
double barrier_us(int rounds, int reps) {
  std::vector<double> us;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
#pragma omp parallel num_threads(2)
    for (int i = 0; i < reps; ++i) {
#pragma omp barrier
    }
    us.push_back(seconds_since(t0) * 1e6 / reps);
  }
  std::nth_element(us.begin(), us.begin() + rounds / 2, us.end());
  return us[rounds / 2];
}

// `reps` rounds of the exchange; rates per thread: bytes over the thread's own time in that step.
struct Handoff {
  double write_gbs, read_gbs;
};

Handoff handoff(int reps) {
  // Integers: their sum vectorises (a float sum would be one long dependency chain).
  constexpr size_t kWords = (1 << 20) / sizeof(uint32_t);
  static std::vector<uint32_t> buffer(kWords, 1);  // one buffer: no fresh pages per call
  uint32_t* data = buffer.data();
  uint32_t sink = 0;
  double write_s = 0, read_s = 0;
#pragma omp parallel num_threads(2) reduction(+ : sink, write_s, read_s)
  {
    const int t = omp_get_thread_num();
    const size_t half = kWords / 2;
    uint32_t* mine = data + t * half;
    const uint32_t* other = data + (1 - t) * half;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = Clock::now();
      for (size_t i = 0; i < half; ++i)
        mine[i] = static_cast<uint32_t>(r) + static_cast<uint32_t>(i);
      write_s += seconds_since(t0);
#pragma omp barrier
      const auto t1 = Clock::now();
      uint32_t s = 0;
      for (size_t i = 0; i < half; ++i) s += other[i];
      sink += s;
      read_s += seconds_since(t1);
#pragma omp barrier
    }
  }
  const double bytes = static_cast<double>(kWords) * sizeof(uint32_t) * reps;  // both threads
  // sink keeps the reads from being optimised away; it changes nothing measurable.
  return {bytes / write_s / 1e9, bytes / read_s / 1e9 + (sink == 1 ? 1e-9 : 0)};
}

}  // namespace

int main() {
  const double barrier = barrier_us(9, 2000);
  handoff(20);  // the buffer's pages and each thread's first touch of them
  std::vector<Handoff> runs;
  for (int r = 0; r < 5; ++r) runs.push_back(handoff(50));
  const auto median = [&](double Handoff::*field) {
    std::vector<double> v;
    for (const Handoff& h : runs) v.push_back(h.*field);
    std::nth_element(v.begin(), v.begin() + 2, v.end());
    return v[2];
  };
  std::printf("{\"barrier_us\": %.3f, \"write_gbs\": %.1f, \"read_gbs\": %.1f}\n", barrier,
              median(&Handoff::write_gbs), median(&Handoff::read_gbs));
  return 0;
}
