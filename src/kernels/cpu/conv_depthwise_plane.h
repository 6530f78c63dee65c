// The zero-padded plane the depthwise kernels (conv_depthwise.h) read, and the workspace they
// need: computed by plain code, shared by workspace_floats and the AVX-512 kernels.
#pragma once

#include <cstdint>

#include "kernels/conv_algorithm.h"
#include "kernels/rounding.h"

namespace fovea::kernels {

inline constexpr int64_t kDepthwiseLanes = 16;
// Output vectors computed at once: eight independent FMA chains hide the FMA latency.
inline constexpr int64_t kDepthwiseTile = 8;
// Per spatial axis (Conformer-style 1D kernels reach 31); the tap offset table is on the stack.
inline constexpr int64_t kDepthwiseMaxKernel = 32;

// One pass as a single-channel correlation over a padded plane P:
//   out[oh][ow] = sum_{kh,kw} P[oh·step_h + kh·dil_h][ow·step_w + kw·dil_w] · w[kh, kw]
// (w read back to front when `flip`), where P zero-pads, and for backward_data zero-upsamples,
// a source plane src (src_h, src_w):
//   P[r][c] = src[(r - off_h) / up_h][(c - off_w) / up_w]  where both divisions are exact and
//             land inside src, else 0.
// P is stored phase-split along W, so every tap of every stride reads 16 contiguous floats:
// padded column c lives at phase c % step_w, column c / step_w, i.e. at
// r · row_pitch() + (c % step_w) · cols + c / step_w.
struct DepthwisePlane {
  int64_t src_h, src_w, off_h, off_w, up_h, up_w;
  int64_t out_h, out_w, k_h, k_w, step_h, step_w, dil_h, dil_w;
  bool flip;
  // A tile is kDepthwiseTile rows × 16 columns, else 1 row × 16·kDepthwiseTile columns
  // (1D and short planes).
  bool by_rows;
  // P's extent, with room for whole tiles: the kernels load whole vectors without masks.
  // cols is a multiple of 16.
  int64_t rows, cols;

  // The pass's output tensor is far bigger than the cache: each output plane is computed into
  // the workspace and then written out with non-temporal stores (no read of the lines first).
  bool stream_out;

  int64_t row_pitch() const { return step_w * cols; }
  int64_t floats() const { return rows * row_pitch(); }
  // Workspace of one thread, in 64-byte multiples: P, a linear padded row when P is
  // phase-split, and when streaming, one output plane (at stage_offset()).
  int64_t stage_offset() const { return round_up(floats() + (step_w > 1 ? row_pitch() : 0), 16); }
  int64_t thread_floats() const {
    return stage_offset() + (stream_out ? round_up(out_h * out_w, 16) : 0);
  }
};

// Offset in P of tap k = kh · k_w + kw from the position of the output it adds to.
struct Taps {
  int64_t off[kDepthwiseMaxKernel * kDepthwiseMaxKernel];

  explicit Taps(const DepthwisePlane& p) {
    for (int64_t kh = 0; kh < p.k_h; ++kh)
      for (int64_t kw = 0; kw < p.k_w; ++kw) {
        const int64_t c = kw * p.dil_w;  // padded column; phase c % step_w, column c / step_w
        off[kh * p.k_w + kw] = kh * p.dil_h * p.row_pitch() + c % p.step_w * p.cols + c / p.step_w;
      }
  }
};

// The plane of a pass: forward and backward_weight read padded x, backward_data upsampled dy.
// backward_weight's workspace also has, after the threads' parts, C_out · taps vector partial
// sums.
DepthwisePlane depthwise_plane(const ConvGeometry& g, ConvPass pass);

}  // namespace fovea::kernels
