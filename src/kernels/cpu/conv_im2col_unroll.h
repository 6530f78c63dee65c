// The data movement of the im2col + GEMM convolution (conv_im2col_gemm.h): unrolling input
// patches into a block of the column matrix, its adjoint, and copies between NCHW tensors and
// blocks of images laid side by side.
//
// The column matrix of a whole batch and group is col (K, N*P), K = C_in/groups * kernel_pixels,
// P = out_pixels, the P columns of image n at n*P. The kernels work on one ColBlock of it at a
// time: either several whole images, or a run of output lines (od, oh) of one image, each line
// out[2] pixels wide. A block's columns are stored densely: col (K, columns()).
#pragma once

#include <cstdint>

#include "kernels/conv_algorithm.h"
#include "kernels/conv_geometry.h"

namespace fovea::kernels {

struct ColBlock {
  int64_t n0 = 0, images = 1;    // images [n0, n0 + images)
  int64_t line0 = 0, lines = 0;  // output lines [line0, line0 + lines) of each of them

  int64_t columns(const ConvGeometry& g) const { return images * lines * g.out[2]; }
  // First output pixel of the block within its image(s).
  int64_t pixel0(const ConvGeometry& g) const { return line0 * g.out[2]; }
};

// Output lines (od, oh) per image.
inline int64_t out_lines(const ConvGeometry& g) {
  return g.out[0] * g.out[1];
}

// col (K, columns) = the patches of group `grp` of x (N, C_in, D, H, W) read by the block's
// output pixels; padding reads as zero. Rows are split over the threads when `parallel`.
void im2col_block(const ConvGeometry& g, const float* x, int64_t grp, const ColBlock& blk,
                  float* col, bool parallel);

// The adjoint for input channels [c0, c0 + channels) of group `grp`: adds col (channels *
// kernel_pixels, columns) into dx (N, C_in, D, H, W). The block's input planes are zeroed first
// when it starts at line 0, so a sequence of blocks covering the lines of an image in order
// writes dx whole. Threads split over (image, channel) planes, so blocks of one image must not
// run concurrently. Entries of col that read padding are overwritten with zeros (col is
// scratch): the lines then add as one span. A 1x1 kernel without padding on whole images
// (strided downsampling) writes each plane once instead, sampled values and zeros.
void col2im_block(const ConvGeometry& g, float* col, int64_t grp, int64_t c0, int64_t channels,
                  const ColBlock& blk, float* dx, bool parallel);

// Output pixels [lo, hi) of an output line read its input row at o * stride + off: one kernel
// tap along W.
struct LineRange {
  int64_t lo, hi, off;
};

// col2im_block's adds for up to kCol2imTapGroup kernel taps along W (wider kernels take the
// scalar loops) at stride 2 over `lines` output lines: for line j and tap t < taps, in this
// order per dx pixel, dst[j * dst_ld + 2 * o + w[t].off] += src[t * tap_ld + j * src_ld + o]
// for o in [w[t].lo, w[t].hi). The bits are those of the scalar loop.
// Compiled for AVX-512 (conv_im2col_unroll_avx512.cpp): call only when cpu_has_avx512().
inline constexpr int64_t kCol2imTapGroup = 8;
void col2im_add_taps_stride2(const float* src, int64_t tap_ld, int64_t src_ld, const LineRange* w,
                             int64_t taps, int64_t lines, float* dst, int64_t dst_ld) noexcept;

// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols: backward data's dcol from the
// dcolᵀ its GEMM writes (Im2colGemmPlan::transposed_dcol). Blocks of 16 x 16 go through
// registers with AVX-512 (transpose_columns_avx512), the rest element by element; threads
// split the columns of src when `parallel`.
void transpose_matrix(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst,
                      int64_t ldd, bool parallel);
// transpose_matrix on 16 columns of src and rows a multiple of 16. Compiled for AVX-512
// (conv_im2col_unroll_avx512.cpp): call only when cpu_has_avx512().
void transpose_columns_avx512(const float* src, int64_t rows, int64_t lds, float* dst,
                              int64_t ldd) noexcept;

// Copies between channels [c0, c0 + channels) of whole images [n0, n0 + images) of t
// (N, C, P) and a block (channels, images * P). scatter applies the forward epilogue on the way
// (bias of channel c0 + c to row c, then the clamp).
void gather_images(const float* t, int64_t C, int64_t P, int64_t c0, int64_t channels, int64_t n0,
                   int64_t images, float* block, bool parallel);
void scatter_images(const float* block, const ConvEpilogue& ep, int64_t C, int64_t P, int64_t c0,
                    int64_t channels, int64_t n0, int64_t images, float* t, bool parallel);

}  // namespace fovea::kernels
