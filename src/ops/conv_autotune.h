// Autotuning: time every algorithm that supports a convolution's shape and pass on the call's
// own buffers, once per (geometry, pass), and remember the fastest for the rest of the
// process (cuDNN's "find", oneDNN's auto). Turned on by set_conv_algorithm("autotune").
#pragma once

#include <functional>

#include "kernels/conv_algorithm.h"

namespace fovea::ops {

// Runs one pass with the given algorithm on the call's buffers (overwriting its output).
using ConvRun = std::function<void(const kernels::ConvAlgorithm&)>;

// The fastest algorithm for (g, pass), timing candidates through `run` on the first call for
// this shape; later calls return the cached choice without running anything. The reference
// is a candidate only where nothing else supports the shape. Thread-safe.
const kernels::ConvAlgorithm& autotuned_conv(const kernels::ConvGeometry& g, kernels::ConvPass pass,
                                             const ConvRun& run);

}  // namespace fovea::ops
