// im2col + GEMM convolution. Per image and group, the input patches are unrolled into a
// column matrix col (C_in/groups * kernel_pixels, out_pixels) and the convolution becomes
//   forward          y_g  (Cout/g, P)  = w_g (Cout/g, K) · col (K, P)
//   backward_data    col  (K, P)       = w_gᵀ · dy_g,   then col2im adds col into dx
//   backward_weight  dw_g (Cout/g, K) += dy_g (Cout/g, P) · colᵀ
// with K = C_in/groups * kernel_pixels and P = out_pixels. Pointwise convolutions (1×1,
// stride 1, no padding) use x itself as col. The GEMM is oneDNN's dnnl_sgemm.
//
// The col matrix of the whole batch, (K, N*P), is built and multiplied one block of columns
// at a time (conv_im2col_unroll.h): several whole images side by side when an image has few
// output pixels, so each GEMM is wide and the weights are packed once for the block; a run of
// output lines of one image when an image's col would spill the caches. One block then runs
//   forward          y_blk  = w_g · col_blk            (images side by side: scattered to NCHW)
//   backward_data    col_blk = w_gᵀ · dy_blk,  col2im  (images side by side: dy gathered first)
//   backward_weight  dw_g  += dy_blk · col_blkᵀ        (or dw_gᵀ += col_blk · dy_blkᵀ, see
//                                                       Im2colGemmPlan::transposed_dw)
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

// Images with fewer than kIm2colNarrowPixels output pixels go side by side until a block has
// kIm2colMinColumns columns (forward and backward data): dnnl_sgemm runs 176 GFLOP/s on 49
// columns and 230-250 from 150-250 on (measured on Zen 5), while copying the block's y out
// (or dy in) costs about 1/K of the GEMM, so 196-pixel images gain nothing. Backward weight's
// NT GEMM runs as fast on 49-long reductions as on 294-long ones: it keeps images apart.
inline constexpr int64_t kIm2colNarrowPixels = 128;
inline constexpr int64_t kIm2colMinColumns = 256;
// An image whose col passes kIm2colChunkFloats (4 MiB: one thread's share of the 32 MiB L3
// with room for x and y) goes in chunks of lines of that size, but at least
// kIm2colMinChunkColumns wide: narrower chunks cost more in GEMM speed than the cache saves.
inline constexpr int64_t kIm2colChunkFloats = int64_t{1} << 20;
inline constexpr int64_t kIm2colMinChunkColumns = 512;
// Backward data computes the dcol rows of a block a few input channels at a time, up to this
// many floats (1 MiB: half of one core's L2), so col2im reads them from L2.
inline constexpr int64_t kIm2colDcolStepFloats = int64_t{1} << 18;

// How one pass cuts the col matrix into blocks and shares them among the threads.
struct Im2colGemmPlan {
  int64_t images = 1;  // images side by side per block; 1: a block is `lines` lines of one image
  int64_t lines = 1;   // output lines (od, oh) per block, all of an image's when images > 1
  // Backward data only: input channels per GEMM and col2im step, so that the dcol rows of a
  // wide block (K in the thousands) stay within kIm2colDcolStepFloats; all of a group's
  // otherwise.
  int64_t channels = 1;
  // Threads take whole blocks, each with its own buffers and single-threaded GEMMs; otherwise
  // blocks run one after another with the threads inside im2col, the GEMM and col2im.
  bool split = false;
  // Backward weight only: accumulate dw_gᵀ (K, Cout/g) = col · dyᵀ and transpose at the end.
  // dnnl_sgemm's NT kernel is slow with a short M (measured on Zen 5, one thread: 32×9 at 58
  // GFLOP/s, 9×32 at 145; 24×144 at 91, 144×24 at 136; 32×432 at 176, 432×32 at 216), and at
  // M = 64 on long reductions (64×576 reduction 1568 at 168, 576×64 at 237; 64×147 at 162,
  // 147×64 at 208) but not on short ones (64×288 reduction 196: 235 both ways; 64×192
  // reduction 1024: 170, 192×64 at 148). So, for ungrouped layers (grouped ones measured
  // 10-20% slower transposed): 32 or fewer output channels, or 64 or fewer with at least twice
  // as many col rows and blocks of 1536 columns or more.
  bool transposed_dw = false;
  // Backward data only: dcolᵀ (columns, channels·k) = dy_blkᵀ · w_g, both operands as they lie,
  // then transposed into dcol for col2im (transpose_matrix), for blocks with at most half as
  // many columns as dcol rows. dnnl_sgemm's TN kernel is slow with a short N: measured on the Zen
  // 4 (2 threads, ResNet-18 layer 4's 2304 x 49, reduction 512) 0.75 ms against 0.53 the other way
  // round; 1152 x 196 (layer 3) 0.58 against 0.54, 1 thread 1.11 against 1.00; but 288 x 784
  // (layer 2) 0.51 both ways on 1 thread. Whole passes, the transpose included, alternating
  // builds, best of 8: layer 4's stride-2 3x3 at batch 1 0.568 ms against 0.768, at batch 16
  // 8.99 against 9.47; layer 3's 0.554 against 0.586 and 8.97 against 9.41. Transposed, the
  // other blocks lost (best of 8): 1-15% with many rows (ResNet-18's layers 1-2, the dilated and
  // 1D layers), 1.3-3.2x with few rows per column (depthwise, grouped, the stem, 3D, the
  // Fashion-MNIST CNN's 1 -> 32).
  bool transposed_dcol = false;
};

// The plan the kernels below follow for this shape, pass and thread count (exposed for the
// tests that sweep around its thresholds).
Im2colGemmPlan im2col_gemm_plan(const ConvGeometry& g, ConvPass pass, int64_t threads);

bool conv_im2col_gemm_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_im2col_gemm_workspace_floats(const ConvGeometry& g, ConvPass pass);

void conv_forward_im2col_gemm(const ConvGeometry& g, const float* x, const float* w,
                              const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_im2col_gemm(const ConvGeometry& g, const float* dy, const float* w,
                                    float* dx, float* workspace) noexcept;
void conv_backward_weight_im2col_gemm(const ConvGeometry& g, const float* x, const float* dy,
                                      float* dw, float* workspace) noexcept;

}  // namespace fovea::kernels
