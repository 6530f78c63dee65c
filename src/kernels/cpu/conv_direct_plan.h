// Geometry, workspace layout and input padding of the direct convolution kernels
// (conv_direct.h), independent of the instruction set.
//
// Every pass is computed as a stride-1 correlation over "phase planes": each input channel is
// copied, zero-padded, into the workspace and split into stride phases (space-to-depth), phase
// (pd, ph, pw) holding padded positions (jd*sD + pd, jh*sH + ph, jw*sW + pw). Tap k*dilation
// reads phase (k*dil) % s at shift (k*dil) / s, so output (od, oh, ow) reads phase-plane
// position (od, oh, ow) + shift. With the phase plane flattened (pitch Wq per row, Hq*Wq per
// slice), output position q = (od*Hq + oh)*Wq + ow reads element q + tap[k] of the channel:
// a vector of consecutive q is one contiguous load per tap. Positions with ow >= oW (or
// oh >= oH) are computed and discarded ("virtual" outputs), which keeps vectors full on
// narrow planes.
//
// The images of a chunk lie one after the other inside each phase (image stride `plane`, at
// most 15 floats of gap), so virtual position q = n*plane + q_n of image n reads element
// q + tap[k] too: one long run of virtual outputs covers every image of the chunk, and 7x7
// planes still fill the blocks.
// Discarded positions past an image's last output read the next image's (or phase's, or
// channel's) elements, which only they see; the last vector of a chunk reads up to
// kDirectSlack floats past it, zeroed: into the channel's slack, so that a channel's reads stay
// inside the channel (threads that split groups pad their channels while others compute).
//   padded x  (C_in, phases * images * plane + slack)    one chunk of images (per copy)
//   dy        (C_out, images * plane + slack)    backward weight: virtual layout, zeros at
//                                                the discarded positions and in the slack
//   dy^T      (N, P, C_out), dw^T (copy_ics, K, C_out) per thread    backward weight with
//                                                channels in the lanes; with image parts
//   dy^T      (images, P, C_out) per thread, dw^T (C_in, K, C_out) per part
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/conv_algorithm.h"
#include "kernels/conv_geometry.h"

namespace fovea::kernels {

inline constexpr int kDirectMaxTaps = 512;
// Spans of 16 floats of the largest phase plane padded by permutes (DirectPlan::spans).
inline constexpr int kDirectMaxSpans = 16;

// How span s of a small padded plane comes from its channel's input (pad_channel): lane l is
// in[src + idx[l]] where bit l of keep is set, zero elsewhere; the 16 floats read all lie in
// the channel.
struct DirectSpan {
  int32_t idx[16];
  int64_t src;
  uint16_t keep;
};
// Zero floats after a chunk: its last vector of virtual outputs reads up to one vector (at most
// 16 floats) beyond it.
inline constexpr int64_t kDirectSlack = 16;

// One forward-shaped problem: x (N, C_in, in) -> y (N, C_out, out), stride-phase planes.
struct DirectPlan {
  int64_t N = 1, C_in = 1, C_out = 1, groups = 1, cig = 1, cog = 1;
  Dims3 in{}, out{}, kernel{}, stride{}, dilation{}, pad_lo{};
  Dims3 q{};           // phase-plane extents (Dq, Hq, Wq)
  int64_t phases = 1;  // sD * sH * sW
  int64_t plane = 0;   // floats per image's phase plane: Dq * Hq * Wq rounded up to 16
  int64_t images = 1;  // images per chunk
  // Whether each thread takes whole groups, padding their inputs itself just before using
  // them (still in cache, and no barrier between padding and computing): with at least twice
  // as many groups as threads. Only the split changes: every sum keeps its order.
  bool by_groups = false;
  // Whether each thread takes whole chunks of images (forward-shaped passes with enough of them),
  // padding them into a buffer of its own (`copies` of the padded chunk): no barrier and no
  // padded input shared between cores. Each output is still summed by one thread in one order.
  bool by_images = false;
  // Whether each thread takes a share of one chunk holding every image (forward-shaped passes
  // not split as above), padding the input rows it reads into a buffer of its own.
  bool by_threads = false;
  int64_t copies = 1;
  // Input channels per padded copy: all, or a work item's block (weight_lanes).
  int64_t copy_ics = 1;
  // Backward weight with output channels in the lanes (one group, C_out a multiple of 16, at
  // least 16 input channels): see backward_weight_lanes. Each thread pads the input channels
  // of its work items into a copy of its own (copy_ics channels); dy^T covers every image, or
  // with image parts, a chunk's per thread.
  bool weight_lanes = false;
  // With weight_lanes: the images in this many parts, each with a dw^T of its own, added up in
  // part order at the end (a count set by the batch, not the threads, so that the sums do not
  // depend on the thread count); with more than one, each work item transposes its chunks' dy
  // itself into its thread's buffer (see backward_weight_lanes).
  int64_t image_parts = 1;
  // Forward-shaped passes with output channels in the lanes (C_out per group a multiple of 16,
  // at least 16 input channels per group, chunks of images per thread or, on one chunk of
  // every image, one group whose vectors of output channels the threads share out; backward
  // data with at least 32 of the plan's output channels): see forward_lanes.
  bool fwd_lanes = false;
  // With fwd_lanes: whether the threads share out the vectors of output channels (one group),
  // each over every chunk, packing its own channels' weights and padding every chunk into its
  // own copy (always on one chunk of every image, by_threads; over whole chunks where the
  // weights outweigh twice the padded input of the batch, see direct_plan); else each takes
  // whole chunks (by_images), every channel on each.
  bool lanes_by_channels = false;
  int64_t chan = 0;  // floats per padded channel of a chunk: phases * images * plane + slack
  int64_t virt = 0;  // virtual outputs of one image: its last real output's q + 1
  int K = 1;
  // Stride 1, padding that crops nothing, at least 16 inputs and at most kDirectMaxSpans spans
  // per plane: the spans of a whole padded plane (plane / 16 of them), else 0.
  int spans = 0;
  std::array<DirectSpan, kDirectMaxSpans> span{};
  std::array<int64_t, kDirectMaxTaps> tap{};  // tap k's offset inside a padded channel
  // Backward data: whether forward() first copies the convolution's weight into the forward
  // layout (direct_transpose_weights, into the workspace), or reads it in place.
  bool transpose_weights = false;
  // Where the forward-shaped kernels read weight (oc, ic, k) of a group: oc * w_oc + ic * w_ic
  // + k floats from its first: (cig * K, K) for a forward weight (C_out, cig, K) or the
  // transposed copy; backward data's weight in place, (C_in, cog, K) in the plan's names, at
  // (K, cog * K), with tap[] reversed so that tap k pairs with the kernel's weight k
  // (taps_reversed), or with fwd_lanes packed with its taps reversed (forward_lanes).
  int64_t w_oc = 1, w_ic = 1;
  bool taps_reversed = false;  // tap k is kernel position K - 1 - k (tap[] reversed above)

  // Where weight (oc, ic 0, tap 0) of group grp starts, oc counted within the group.
  int64_t weight_at(int64_t grp, int64_t oc) const { return grp * cog * cig * K + oc * w_oc; }
  int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
  int64_t in_pixels() const { return in[0] * in[1] * in[2]; }
  // Virtual outputs of a chunk of nn images.
  int64_t virt_of(int64_t nn) const { return (nn - 1) * plane + virt; }
  // Floats of one padded x copy, of all threads' copies, and of the virtual dy chunk
  // (backward weight; with weight_lanes dy^T of all images, or of a chunk per thread).
  int64_t x_floats() const { return copy_ics * chan; }
  int64_t x_all_floats() const { return copies * x_floats(); }
  int64_t dy_pitch() const { return images * plane + kDirectSlack; }
  int64_t dy_floats() const {
    if (!weight_lanes) return C_out * dy_pitch();
    return (image_parts > 1 ? copies * images : N) * out_pixels() * C_out;
  }
  // Floats of one thread's dw^T block (weight_lanes, one part): (copy_ics, K, C_out).
  int64_t dwt_floats() const { return copy_ics * K * C_out; }
  // Floats of all dw^T blocks: one per thread, or (several parts) all of dw^T per part.
  int64_t dwt_all_floats() const {
    return image_parts > 1 ? image_parts * C_in * K * C_out : copies * dwt_floats();
  }
};

// What every instruction set's direct row supports (each adds its CPU check): kernels of up
// to kDirectMaxTaps taps, backward data with stride 1 only.
bool direct_supports(const ConvGeometry& g, ConvPass pass);
// The workspace of a pass: the padded chunk, plus the packed weights (forward with channels in
// the lanes), the transposed weights (backward data's copy) or the virtual dy chunk (backward
// weight). vector_lanes: the kernels' floats per vector (16: AVX-512, 8: AVX2).
size_t direct_workspace_floats(const ConvGeometry& g, ConvPass pass, int vector_lanes);

// The pass of g as a forward-shaped plan. Backward data (stride 1 only) is the forward
// convolution of dy with padding (K-1)*dilation - pad_lo, C_in and C_out swapped and the taps
// reversed: the weights' (transpose_weights, or as forward_lanes packs them) or the taps' order;
// backward weight sizes its chunks for x and dy. vector_lanes: the kernels' floats per vector
// (which kernel pays can depend on it).
DirectPlan direct_plan(const ConvGeometry& g, ConvPass pass, int vector_lanes);

// Rows [oc0, oc1) of group grp of the forward weight (C_out, cig, K) of p, the backward-data
// plan of a convolution with weight w: forward weight (oc, ic, k) of p is w[ic, oc, K-1-k] of
// the same group. Read in place, those rows are cig pieces of K floats each a page or more
// apart: one TLB miss per piece on every pass over them, which costs more than this copy where
// every chunk of images makes such a pass.
void direct_transpose_weights(const DirectPlan& p, const float* w, int64_t grp, int64_t oc0,
                              int64_t oc1, float* dst);

// The outputs [lo[a], hi[a]) along each axis a (depth, height, width) whose input through tap k
// of p is not padding: elsewhere tap k only multiplies zeros (0 * weight, which PyTorch's
// oneDNN leaves out too). The one place the kernels with channels in the lanes work out which
// products read padding; the two below derive from it.
struct TapWindow {
  Dims3 lo, hi;
};
TapWindow direct_tap_window(const DirectPlan& p, int k);
// For each output row (od, oh) of p, at od * out[1] + oh, the taps [k0, k1) it needs: from its
// first tap whose window holds it to its last (all between, unless both depth and height crop:
// 3D only). Empty (k0 == k1) where the row reads padding alone.
struct TapRange {
  int k0, k1;
};
std::vector<TapRange> direct_row_taps(const DirectPlan& p);
// For each tap k of p, which end of the run of outputs [w0, w0 + len) of a row reads padding
// there (outside the tap's window): edges[k] = lead + 2 * trail for at most one output at each
// end, 0 (none left out, zeros added) where more do. Returns whether every product with the
// padding is left out.
bool direct_run_edges(const DirectPlan& p, int64_t w0, int64_t len, uint8_t* edges);

// A forward with stride 1 in 1D or 2D (where direct_row_taps is exact): the plan p reading its
// input in place, unpadded (chan and plane those of the input, q its extents, tap[k] the offset
// of tap k's input from the output's own position), for runs whose edges leave out every
// product with the padding; nullopt elsewhere (and with taps_reversed, whose taps would read
// each channel's rows upwards, which ran 10-31% slower in place). The padded copy was 6% of
// ResNet-18 layer 1's forward at batch 16.
std::optional<DirectPlan> direct_unpadded_plan(const DirectPlan& p);

// A run of real outputs among virtual positions: tile[tile_off, +len) -> y[y_off, +len), with
// y_off counted from output channel 0 of the chunk's first image (image stride C_out * P).
struct DirectSegment {
  int64_t tile_off, y_off, len;
};
// The segments of virtual positions [q0, q1) of a chunk; returns their count (<= q1 - q0).
int direct_segments(const DirectPlan& p, int64_t q0, int64_t q1, DirectSegment* seg);

}  // namespace fovea::kernels
