// The flattened-plane view of one pass of the grouped kernels (conv_grouped.h), computed by
// plain code and shared by workspace_floats and the AVX-512 kernels.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/conv_algorithm.h"
#include "kernels/rounding.h"

namespace fovea::kernels {

inline constexpr int64_t kGroupedLanes = 16;
inline constexpr int kGroupedMaxTaps = 64;
// Channels per group, on each side: the weight gradient keeps C_out/groups x C_in/groups x
// taps vectors of partial sums per thread.
inline constexpr int64_t kGroupedMaxChannels = 32;
// Images the weight gradient sums between loads and stores of its partial sums.
inline constexpr int64_t kGroupedWeightImages = 4;

// One forward-shaped pass: dst (dst_ch planes of dst_h x width) = sum over src_ch source planes
// (src_h x width) and taps k of src[q + off[k]] · weight, where weight(dst channel j, src
// channel c, tap k) = w[j·dst_stride + c·src_stride + tap0 + k·tap_step] within the group.
// The weight gradient uses the forward's plan (src = x, dst = dy).
struct GroupedPlan {
  int64_t N = 1, groups = 1;
  int64_t src_ch = 1, dst_ch = 1;  // per group
  int64_t src_h = 1, dst_h = 1, width = 1;
  int64_t src_pixels = 1, dst_pixels = 1;
  int64_t vectors = 1;  // vectors of 16 destination positions per plane
  int K = 1;
  std::array<int64_t, kGroupedMaxTaps> off{}, dh{}, dw{};  // tap k: row and column shift
  int64_t dst_stride = 1, src_stride = 1, tap0 = 0, tap_step = 1;

  // Floats of the table of lane masks, one 16-bit mask per (vector, tap): the lanes whose
  // destination position exists and whose source element lies inside the source plane.
  int64_t mask_floats() const { return (vectors * K + 1) / 2; }
  // Destination channels rounded up to the tiles: blocks of 8 and a last block of 4 (or fewer)
  // in the forward-shaped passes; the weight gradient's rounded the same way.
  int64_t dst_blocks4() const { return (dst_ch + 3) / 4 * 4; }
  // Forward-shaped passes: one group's weights packed for the tiles, per thread: block by block
  // (8 or 4 channels), (tap, source channel, channel of the block), so that a tile's
  // broadcasts read consecutive floats at fixed offsets from one pointer.
  int64_t packed_floats() const { return dst_blocks4() * src_ch * K; }
  // Weight gradient: the vector partial sums of one group, (dst, src, tap, 16 lanes), per
  // thread.
  int64_t partial_floats() const { return dst_blocks4() * src_ch * K * kGroupedLanes; }
  // One plane in whole vectors.
  int64_t plane_floats() const { return vectors * kGroupedLanes; }
  // Weight gradient: images summed per pass over the partial sums (their loads and stores
  // amortised over more positions, the images' planes still in L1).
  int64_t weight_images() const { return N < kGroupedWeightImages ? N : kGroupedWeightImages; }
  // Weight gradient, per thread: the partial sums, then those images' dy planes of the group
  // copied to whole vectors on cache lines (the loads of the inner loop split no line).
  int64_t weight_thread_floats() const {
    return partial_floats() + weight_images() * dst_blocks4() * plane_floats();
  }
  // Where the threads' parts start, a cache line past the masks.
  int64_t thread_offset() const { return round_up(mask_floats(), 16) + 16; }
};

GroupedPlan grouped_plan(const ConvGeometry& g, ConvPass pass);

}  // namespace fovea::kernels
