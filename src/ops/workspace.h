// Scratch memory for kernels, reused across calls: touching fresh pages costs about 2 µs per
// 4 KiB here, so a hot loop must not allocate its im2col buffer on every call.
#pragma once

#include <cstddef>

namespace fovea::ops {

// A buffer of at least `floats` floats, 64-byte aligned, owned by the calling thread and
// valid until its next call. Returns nullptr for 0.
float* thread_workspace(size_t floats);

}  // namespace fovea::ops
