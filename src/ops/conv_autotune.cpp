#include "ops/conv_autotune.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

namespace fovea::ops {
namespace {

using kernels::ConvAlgorithm;
using kernels::ConvGeometry;
using kernels::ConvPass;

// Everything that defines a convolution's work, as one comparable value.
using Key = std::array<int64_t, 27>;

Key key_of(const ConvGeometry& g, ConvPass pass) {
  Key k{g.N, g.C_in, g.C_out, g.groups, static_cast<int64_t>(pass), g.spatial_dims};
  size_t i = 6;
  for (const auto* axis : {&g.in, &g.kernel, &g.stride, &g.dilation, &g.pad_lo, &g.pad_hi, &g.out})
    for (int64_t v : *axis) k[i++] = v;
  return k;
}

// Best of a few timed runs after a warm-up; stops early on slow candidates so tuning a large
// layer costs a handful of calls, not seconds.
double seconds_per_call(const ConvAlgorithm& a, const ConvRun& run) {
  using Clock = std::chrono::steady_clock;
  run(a);  // warm-up: first-touch of workspace pages, caches
  double best = 1e30, spent = 0;
  for (int rep = 0; rep < 5 && spent < 0.05; ++rep) {
    const auto t0 = Clock::now();
    run(a);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::min(best, s);
    spent += s;
  }
  return best;
}

}  // namespace

const ConvAlgorithm& autotuned_conv(const ConvGeometry& g, ConvPass pass, const ConvRun& run) {
  static std::mutex mutex;
  static std::map<Key, const ConvAlgorithm*> cache;
  const Key key = key_of(g, pass);
  std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) return *it->second;

  const auto all = kernels::conv_algorithms();
  std::vector<const ConvAlgorithm*> candidates;
  for (const ConvAlgorithm& a : all.subspan(1))
    if (a.supports(g, pass)) candidates.push_back(&a);
  if (candidates.empty()) candidates.push_back(&all[0]);

  const ConvAlgorithm* best = candidates[0];
  if (candidates.size() > 1) {
    double best_s = 1e30;
    for (const ConvAlgorithm* a : candidates)
      if (const double s = seconds_per_call(*a, run); s < best_s) best_s = s, best = a;
  }
  cache.emplace(key, best);
  return *best;
}

}  // namespace fovea::ops
