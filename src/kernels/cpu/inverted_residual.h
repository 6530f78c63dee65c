// MobileNet-v2's inverted-residual block for inference, fused into one pass over the image:
//   y = [x +] project(relu6(dw3x3_s(relu6(expand(x) + b_e)) + b_d)) + b_p
// expand: 1x1 conv C_in -> C_mid (absent when the block has no expansion, C_mid = C_in);
// dw3x3_s: depthwise 3x3, padding 1, stride s (1 or 2); project: 1x1 conv C_mid -> C_out, no
// activation; the residual x only at stride 1 with C_in = C_out. Unfused, the expanded tensor
// (e.g. 96 x 112 x 112, 4.8 MB) is written by the expansion, read and written by the depthwise
// and read by the projection: traffic through L3 and DRAM, not arithmetic.
//
// Here each thread walks a range of output rows in bands of a few rows. For a band, the
// expansion computes the input rows the band's depthwise reads into a per-thread buffer E
// (C_mid, rows, W): a GEMM on the band's rows of x, which are contiguous in NCHW, pixels in the
// 16 lanes and tiles of 6 output channels x 64 pixels, relu6 in registers (on planes of fewer
// than 64 output pixels, the few pixels past the last whole vector as dot products). Rows the
// previous band already expanded (the 3x3 window's overlap) are moved to the front, not recomputed.
// The depthwise reads E per row with pixels in the lanes (stride 2 through an even/odd lane permute
// of two loads) into D (C_mid, band pixels); the projection is the same GEMM on D, whose output
// pixels are the band's contiguous run of each NCHW output plane, bias and residual added as it
// stores. E and D stay in the thread's L2; only x and y touch memory, and x is prefetched: the next
// band's rows during this band's depthwise, or, without expansion (the depthwise reads x itself),
// the next channel's rows. On small planes with more threads than images the threads split the
// channels instead of the rows (InvertedResidualPlan). Every output is one fixed sequence of
// operations whatever the band or thread split: results are bitwise the same on any number of
// threads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fovea::kernels {

struct InvertedResidualGeometry {
  int64_t N = 1, C_in = 1, C_mid = 1, C_out = 1, H = 1, W = 1;
  int64_t stride = 1;
  bool expand = true;     // false: no expansion conv, C_mid == C_in
  bool residual = false;  // y += x: only at stride 1 with C_in == C_out
  // At most this many output rows a band; 0: as many as the L2 budget allows. Tests set it to
  // reach band edges on small shapes.
  int64_t max_band = 0;

  int64_t out_h() const { return (H - 1) / stride + 1; }
  int64_t out_w() const { return (W - 1) / stride + 1; }
};

// The block's parameters, PyTorch's layouts. Biases may be null (zero).
struct InvertedResidualWeights {
  const float* expand_w = nullptr;   // (C_mid, C_in), unused without expansion
  const float* expand_b = nullptr;   // (C_mid)
  const float* dw_w = nullptr;       // (C_mid, 3, 3)
  const float* dw_b = nullptr;       // (C_mid)
  const float* project_w = nullptr;  // (C_out, C_mid)
  const float* project_b = nullptr;  // (C_out)
};

// How the forward splits the work, shared by the workspace size and the kernel. By rows: bands of
// `band` output rows, each image split into `parts` ranges of rows (one per thread unless the
// images divide evenly among the threads),
// each thread with its own E (C_mid, up to e_rows rows of W; lde floats per channel) and D
// (C_mid, ldd). By channels (by_channels; when a thread's range of rows would be a few rows of a
// small plane, whose GEMMs would be short and whose weights every thread would read): one band
// of the whole image, E and D shared, each thread expanding and filtering its share of C_mid,
// then projecting its share of C_out.
struct InvertedResidualPlan {
  int64_t band = 1, e_rows = 0, lde = 0, ldd = 0, parts = 1;
  bool by_channels = false;
  // Whether the GEMMs hand the pixels past a plane's last whole vector to dot products (where
  // those cost less): only on planes small enough that every thread count runs each image's
  // GEMMs over whole planes (one band, one part or the split by channels), so that which way a
  // pixel is summed never depends on the threads.
  bool pixel_dots = false;
  int64_t thread_floats(int64_t C_mid) const;
  int64_t workspace_floats(int64_t C_mid, int threads) const;
};
InvertedResidualPlan inverted_residual_plan(const InvertedResidualGeometry& g, int threads);

// The widest output row the depthwise takes: 16 lanes a vector, masks precomputed per vector.
inline constexpr int64_t kInvertedResidualMaxWidth = 1024;

// Whether the fused kernel computes g on this CPU (AVX-512, stride 1 or 2, consistent sizes,
// out_w() <= kInvertedResidualMaxWidth).
bool inverted_residual_supports(const InvertedResidualGeometry& g);

// Floats of workspace the forward needs with omp_get_max_threads() threads.
size_t inverted_residual_workspace_floats(const InvertedResidualGeometry& g);

// y (N, C_out, out_h, out_w) from x (N, C_in, H, W), NCHW contiguous; workspace holds
// inverted_residual_workspace_floats(g) floats. Requires inverted_residual_supports(g).
void inverted_residual_forward(const InvertedResidualGeometry& g, const float* x,
                               const InvertedResidualWeights& w, float* y,
                               float* workspace) noexcept;

}  // namespace fovea::kernels
