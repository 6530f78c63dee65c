// Pointwise convolution (1×1 kernel, groups == 1, any stride, no padding read; 1D, 2D or 3D): per
// image a GEMM on the NCHW planes, computed with AVX-512 register tiles and the epilogue fused:
//   forward          y[n]  (C_out, P) = clamp(w (C_out, C_in) · x[n] (C_in, P) + b, lo, hi)
//   backward_data    dx[n] (C_in, P)  = wᵀ (C_in, C_out) · dy[n] (C_out, P)
//   backward_weight  dw (C_out, C_in) = sum_n dy[n] (C_out, P) · x[n]ᵀ (P, C_in)
// with P = output pixels. A tile holds kPointwiseRows output rows × up to 3 vectors of 16 pixels
// in 24 accumulators; each step of the reduction loads the pixel vectors and broadcasts the
// weights straight from w (read in place: no packing). The last vector of a row is masked, so
// any pixel count works without padding; forward, 1 or 2 pixels left past the last whole vector
// (7×7 images) go by dot products along C_in instead, backward_data, 1 to 4, by vectors along
// C_in (w's columns). bias and clamp are applied in registers
// before the only store, which is the point against im2col_gemm (dnnl_sgemm, then a pass over
// y). Strided (or cropping) convolutions go through a workspace panel of the sampled pixels:
// gathered from x (forward, backward_weight) or scattered into dx, zeros between
// (backward_data). The weight gradient is the same tile kernel over a transposed panel of x at
// batch 1 with few pixels, else kPointwiseWeightRows × kPointwiseWeightCols tiles of dot products
// over pixel slices. Threads split tasks that each write their own outputs (one strided image
// with many pixels: each thread samples and multiplies its own pixels), every sum in one order:
// results are bitwise the same for any thread count. AVX-512 is required (supports()
// says false without).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

// Output rows per register tile, and the most 16-pixel vectors per tile (exposed for the tests
// that sweep around them).
inline constexpr int64_t kPointwiseRows = 8;
inline constexpr int64_t kPointwiseVectors = 3;
// Pixels of a chunk of the product times its reduction stay under this many floats (256 KiB, a
// quarter of Zen 5's L2): the chunk's B panel is read from memory by the first row tile and from
// L2 by the others.
inline constexpr int64_t kPointwisePanelFloats = int64_t{1} << 16;
// The weight gradient's register tile: dW rows (output channels) × columns (input channels).
inline constexpr int64_t kPointwiseWeightRows = 4;
inline constexpr int64_t kPointwiseWeightCols = 6;
// Pixels per slice of the weight gradient's sum over an image, for dW (M, K): the slice of the
// operand with fewer rows fills about 32 KiB, 2/3 of Zen 5's L1, and stays there while the
// other's tiles stream past it; at least kPointwiseWeightMinChunk pixels, so that the
// accumulators' trips to memory between slices stay a small part of the work.
inline constexpr int64_t kPointwiseWeightMinChunk = 256;
constexpr int64_t pointwise_weight_chunk(int64_t M, int64_t K) {
  const int64_t fewer = M < K ? M : K;
  const int64_t fit = 8192 / fewer / 16 * 16;
  return fit > kPointwiseWeightMinChunk ? fit : kPointwiseWeightMinChunk;
}
// Batch-1 images up to this many (output) pixels take the weight gradient as a product over a
// transposed panel of x.
inline constexpr int64_t kPointwiseWeightTransposePixels = 1024;

bool conv_pointwise_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_pointwise_workspace_floats(const ConvGeometry& g, ConvPass pass);

// The sampled pixels of one plane of x (g.in) into dst (g.out's pixels, dense), and the adjoint:
// a plane of dx (g.in) from dense sampled values, zeros at the pixels no output reads. For a 1×1
// kernel without padding; im2col_gemm's strided 1×1 blocks use them too. Compiled for AVX-512:
// call only when cpu_has_avx512().
//
// The sampler is set up once per geometry, then called per plane. Planes of at most
// kSamplerMaxSpans vectors of outputs, at least 32 inputs and rows of at most kSamplerMaxRow
// outputs, so that each vector of outputs spans two rows or more (ResNet-18's 1x1/2 of layer 4:
// 7x7 outputs), go by spans: each vector of 16 outputs takes its inputs from at most two windows
// of 32 consecutive inputs, each two loads and a two-source permute, the two blended. Row by row
// spends a call, two masked loads, a permute and a masked store on every row of 7 outputs: that
// layer's 256 planes took 2.6 µs by spans against 3.3-3.6 row by row (one thread, from L2); on
// rows of 14 (layer 3's 128 planes) spans were slower, 4.3 µs against 3.6. Others, and planes
// whose vectors would need a third window, go row by row.
inline constexpr int kSamplerMaxSpans = 16;
inline constexpr int64_t kSamplerMaxRow = 8;
class PlaneSampler {
 public:
  explicit PlaneSampler(const ConvGeometry& g);
  void operator()(const float* src, float* dst) const noexcept;
  // Whether planes go by spans (else row by row).
  bool by_spans() const { return spans_ > 0; }

 private:
  // One vector of 16 outputs.
  struct Span {
    int32_t from_a[16] = {}, from_b[16] = {};  // lane l: input a + from_a[l] (0-31), or b + ...
    int32_t a = 0, b = 0;  // the windows' first inputs, each window inside the plane
    uint16_t in_b = 0;     // lanes taken from window b
    uint16_t outputs = 0;  // lanes that are outputs: all but in the last vector
  };
  const ConvGeometry& g_;
  int spans_ = 0;  // 0: row by row
  Span span_[kSamplerMaxSpans];
};
void pointwise_spread_plane(const ConvGeometry& g, const float* src, float* dst) noexcept;

// `lines` rows of n samples at stride s along W: dst[j·dst_ld + i] = src[j·src_ld + i·s] for
// i < n, vectorised at stride 2 (the pointwise sampler's rows; im2col_gemm's strided lines, 7 to
// 112 pixels in ResNet-18). Compiled for AVX-512: call only when cpu_has_avx512().
void strided_gather_rows(const float* src, int64_t src_ld, int64_t s, int64_t n, int64_t lines,
                         float* dst, int64_t dst_ld) noexcept;

void conv_forward_pointwise(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_pointwise(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float* workspace) noexcept;
void conv_backward_weight_pointwise(const ConvGeometry& g, const float* x, const float* dy,
                                    float* dw, float* workspace) noexcept;

}  // namespace fovea::kernels
