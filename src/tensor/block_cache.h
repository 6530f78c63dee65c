// Tensor memory: 64-byte aligned blocks, with freed large blocks kept for reuse.
//
// A training step allocates the same activation and gradient sizes every iteration. glibc
// gives large blocks back to the system on free, and touching fresh pages costs about 2 µs per
// 4 KiB here, so without reuse a step of a small CNN spends much of its time in page faults.
// Freed blocks of at least kMinCachedBytes wait in a cache keyed by exact size (sizes repeat
// exactly from step to step) until the cache holds kMaxCachedBytes, then the oldest go back.
#pragma once

#include <cstddef>
#include <memory>

namespace fovea::detail {

inline constexpr size_t kMinCachedBytes = size_t{64} << 10;
inline constexpr size_t kMaxCachedBytes = size_t{1} << 30;

// A block of at least `bytes` bytes (at least one), 64-byte aligned; throws fovea::Error when
// memory is exhausted. The deleter returns it to the cache.
std::shared_ptr<float[]> allocate_block(size_t bytes);

// Bytes currently waiting in the cache (for tests and diagnostics).
size_t cached_block_bytes();

}  // namespace fovea::detail
