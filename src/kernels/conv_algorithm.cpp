#include "kernels/conv_algorithm.h"

#include <algorithm>
#include <array>

#include "kernels/cpu/conv_depthwise.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_grouped.h"
#include "kernels/cpu/conv_im2col_gemm.h"
#include "kernels/cpu/conv_pointwise.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/conv_winograd1d.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/reference/conv_reference.h"

namespace fovea::kernels {
namespace {

bool reference_supports(const ConvGeometry&, ConvPass) {
  return true;
}
size_t no_workspace(const ConvGeometry&, ConvPass) {
  return 0;
}

// Reference first; select_conv below decides among the others. Adding an algorithm is adding
// a row: tests and benchmarks read this table.
const std::array kAlgorithms = {
    ConvAlgorithm{"reference", Isa::kAny, reference_supports, no_workspace, conv_forward_reference,
                  conv_backward_data_reference, conv_backward_weight_reference, true},
    ConvAlgorithm{"im2col_gemm", Isa::kAny, conv_im2col_gemm_supports,
                  conv_im2col_gemm_workspace_floats, conv_forward_im2col_gemm,
                  conv_backward_data_im2col_gemm, conv_backward_weight_im2col_gemm, false},
    ConvAlgorithm{"depthwise", Isa::kAvx512, conv_depthwise_supports,
                  conv_depthwise_workspace_floats, conv_forward_depthwise,
                  conv_backward_data_depthwise, conv_backward_weight_depthwise, false},
    ConvAlgorithm{"direct_avx512", Isa::kAvx512, conv_direct_avx512_supports,
                  conv_direct_avx512_workspace_floats, conv_forward_direct_avx512,
                  conv_backward_data_direct_avx512, conv_backward_weight_direct_avx512, false},
    ConvAlgorithm{"winograd_f4x3", Isa::kAvx512, ConvWinograd<4>::supports,
                  ConvWinograd<4>::workspace_floats, ConvWinograd<4>::forward,
                  ConvWinograd<4>::backward_data, ConvWinograd<4>::backward_weight, true},
    ConvAlgorithm{"winograd_f2x3", Isa::kAvx512, ConvWinograd<2>::supports,
                  ConvWinograd<2>::workspace_floats, ConvWinograd<2>::forward,
                  ConvWinograd<2>::backward_data, ConvWinograd<2>::backward_weight, true},
    ConvAlgorithm{"pointwise_avx512", Isa::kAvx512, conv_pointwise_supports,
                  conv_pointwise_workspace_floats, conv_forward_pointwise,
                  conv_backward_data_pointwise, conv_backward_weight_pointwise, false},
    ConvAlgorithm{"winograd1d_f6x3", Isa::kAvx512, conv_winograd1d_supports,
                  conv_winograd1d_workspace_floats, conv_forward_winograd1d,
                  conv_backward_data_winograd1d, conv_backward_weight_winograd1d, false},
    ConvAlgorithm{"grouped_avx512", Isa::kAvx512, conv_grouped_supports,
                  conv_grouped_workspace_floats, conv_forward_grouped, conv_backward_data_grouped,
                  conv_backward_weight_grouped, false},
    ConvAlgorithm{"depthwise_avx2", Isa::kAvx2, conv_depthwise_avx2_supports,
                  conv_depthwise_avx2_workspace_floats, conv_forward_depthwise_avx2,
                  conv_backward_data_depthwise_avx2, conv_backward_weight_depthwise_avx2, false},
    ConvAlgorithm{"direct_avx2", Isa::kAvx2, conv_direct_avx2_supports,
                  conv_direct_avx2_workspace_floats, conv_forward_direct_avx2,
                  conv_backward_data_direct_avx2, conv_backward_weight_direct_avx2, false},
};

}  // namespace

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::kAny:
      return true;
    case Isa::kAvx2:
      return cpu_has_avx2_fma();
    case Isa::kAvx512:
      return cpu_has_avx512();
  }
  return false;
}

std::string_view to_string(ConvPass pass) {
  switch (pass) {
    case ConvPass::kForward:
      return "fwd";
    case ConvPass::kBackwardData:
      return "bwd_data";
    case ConvPass::kBackwardWeight:
      return "bwd_weight";
  }
  return "?";
}

std::span<const ConvAlgorithm> conv_algorithms() {
  return kAlgorithms;
}

namespace {

const ConvAlgorithm& row(std::string_view name) {
  return *std::ranges::find(kAlgorithms, name, &ConvAlgorithm::name);
}

// m x m output tiles of the pass (backward data's are tiles of the input; the weight gradient
// sums over the forward's). 3x3x3 layers: the forward's and backward data's of one depth plane of
// one image, which the lanes of a tile group share (conv_winograd3d.cpp): 8 images of 4x7x7
// planes, 64 -> 64 channels, forward winograd_f4x3 2.7 ms, winograd_f2x3 1.2, direct_avx512 1.4
// (1 thread); the weight gradient's of every plane (there winograd_f4x3 0.69 ms, 1.4 direct).
int64_t winograd_tiles(const ConvGeometry& g, ConvPass pass, int64_t m) {
  const Dims3& size = pass == ConvPass::kBackwardData ? g.in : g.out;
  const int64_t d = g.dilation[1];  // d² phases, each tiled like an undilated output
  const int64_t planes = g.kernel[0] == 1                    ? g.N
                         : pass == ConvPass::kBackwardWeight ? g.N * g.out[0]
                                                             : 1;
  return planes * d * d * (((size[1] + d - 1) / d + m - 1) / m) *
         (((size[2] + d - 1) / d + m - 1) / m);
}

// Where the direct kernel beat im2col_gemm in bench/compare/conv_compare.py runs (see
// docs/conv_algorithms.md): grouped convolutions (many small GEMMs otherwise), 3D convolutions
// (column matrices 27x the input, larger than the caches: the suite's 3x3x3 layer is 1.15-1.25x
// faster direct in all three passes), forward passes at batch 1 that Winograd
// does not take (strided layers, ResNet layer 4), and the weight gradient of stems with 2-4 input
// channels and large kernels (a K of 3·49 makes a short, inefficient GEMM).
bool direct_wins(const ConvGeometry& g, ConvPass pass) {
  if (g.groups > 1) return true;
  if (g.spatial_dims == 1) return false;
  if (g.spatial_dims == 3) return true;
  // One image: im2col's GEMM is too narrow to feed both cores (1x1 layers skip im2col).
  if (pass == ConvPass::kForward && g.N == 1 && g.kernel_pixels() > 1) return true;
  // Strided layers with output channels in the lanes (multiples of 16, at least 16 input
  // channels), 2 threads against im2col_gemm on ResNet-18's layers 2-4: the weight gradient of
  // at least 512 outputs per channel over the batch (layer 2 at batch 1: 1.15-1.2x in 2 of 3
  // runs; layer 3's 196: 0.97x; layers 2 / 3 / 4 at batch 16, each thread on input channels of
  // its own: 1.21 / 1.15 / 1.19x on one thread, CPU time (PyTorch 1.09 / 1.03 / 1.16x, was
  // 0.93 / 0.91 / 1.01x), on two the median of 15 alternating rounds on a loaded machine
  // 0.99 / 1.15 / 1.15x, best rounds 4.3 / 4.1 / 4.0 ms against 4.9 / 5.0 / 4.8; the 4x4
  // stride-2 transposed convolution's at batch 16: 1.33x on one thread) and the forward of
  // batches (layers 3 / 4 at batch 16: 1.04-1.14x / 0.98-1.07x; layer 2, on the position
  // kernel, 1.1x).
  const bool lanes = g.C_in >= 16 && g.C_out % 16 == 0 && g.kernel_pixels() > 1 &&
                     (g.stride[1] > 1 || g.stride[2] > 1);
  if (lanes && pass == ConvPass::kBackwardWeight && g.N * g.out_pixels() >= 512) return true;
  if (lanes && pass == ConvPass::kForward && g.N > 1) return true;
  return pass == ConvPass::kBackwardWeight && g.C_in >= 2 && g.C_in <= 4 && g.kernel_pixels() >= 25;
}

// Where pointwise_avx512 beat im2col_gemm at batch 1 (one thread, docs/conv_algorithms.md): every
// forward (bias and clamp fused; strided ResNet downsampling 1.07-1.29x) and the weight
// gradient of strided 1x1 layers (1.11-1.20x) and of large images with few channels on one side
// (MobileNet-v2's 56x56 and 112x112 layers: 1.13-1.7x). Not the weight gradient of 7x7 to 28x28
// images at stride 1 (0.5-1.1x) nor of 56x56 with 64 channels and more (0.75-0.9x); backward
// data only strided (ResNet-18's downsampling, its last pixels of 7x7 and 14x14 by columns:
// 1.04-1.22x, 2 threads 1.03-1.09x), not at stride 1 (0.92-1.06x); not batches (16 x 112x112,
// 32 -> 16 channels: forward 0.8x; weight gradients 0.6-0.9x), except the strided forward of
// batches and their backward data up to 256 output pixels (ResNet-18's downsampling at batch 16,
// 2 threads: 1.04-1.27x, 1 thread 0.96-1.07x; l2's backward data 1.0x and 0.89x; the weight
// gradients 0.55x).
bool pointwise_wins(const ConvGeometry& g, ConvPass pass) {
  if (g.N != 1)
    return g.in != g.out && (pass == ConvPass::kForward ||
                             (pass == ConvPass::kBackwardData && g.out_pixels() <= 256));
  if (pass == ConvPass::kBackwardData) return g.in != g.out;
  if (pass == ConvPass::kForward) return true;
  if (g.in != g.out) return g.out_pixels() <= 1024 && g.C_out >= 64;
  return g.out_pixels() > 1024 && std::min(g.C_in, g.C_out) <= 32;
}

// grouped_avx512 against direct_avx512 (docs/conv_algorithms.md): groups of at most 16 channels
// on each side.
bool grouped_wins(const ConvGeometry& g) {
  return g.groups > 1 && g.C_in_per_group() <= 16 && g.C_out_per_group() <= 16;
}

// 1D Winograd F(6, 3) from 64 tiles of 6 outputs (of the pass: backward data tiles dx) and 4
// channels (8 input channels for the weight gradient, whose V is padded to 16): below that the
// weight transform and idle lanes outweigh the multiplies saved (docs/conv_algorithms.md).
bool winograd1d_wins(const ConvGeometry& g, ConvPass pass) {
  const int64_t length = pass == ConvPass::kBackwardData ? g.in[2] : g.out[2];
  const int64_t min_in = pass == ConvPass::kBackwardWeight ? 8 : 4;
  return g.C_in >= min_in && g.C_out >= 4 && g.N * ((length + 5) / 6) >= 64;
}

}  // namespace

const ConvAlgorithm* select_conv(const ConvGeometry& g, ConvPass pass, std::string_view forced) {
  if (!forced.empty()) {
    auto it = std::ranges::find(kAlgorithms, forced, &ConvAlgorithm::name);
    if (it != kAlgorithms.end() && it->supports(g, pass)) return &*it;
  }
  // Tiny problems: packing and threading overheads dominate, the plain loops are as fast.
  constexpr int64_t kTinyMacs = 4096;
  if (g.macs() < kTinyMacs) return &kAlgorithms[0];
  // Measured preferences (docs/conv_algorithms.md has the tables): each specialised kernel
  // where it supports the shape and wins, im2col_gemm for the rest. Rows are looked up once.
  static const ConvAlgorithm &dw = row("depthwise"), &dw2 = row("depthwise_avx2"),
                             &wino = row("winograd_f4x3"), &direct512 = row("direct_avx512"),
                             &direct2 = row("direct_avx2"), &gemm = row("im2col_gemm"),
                             &pointwise = row("pointwise_avx512"), &wino1d = row("winograd1d_f6x3"),
                             &wino2 = row("winograd_f2x3"), &grouped = row("grouped_avx512");
  // A single input channel is "depthwise" too, but there the GEMM's long reduction wins.
  if (dw.supports(g, pass) && g.groups > 1) return &dw;
  if (dw2.supports(g, pass) && g.groups > 1) return &dw2;
  // Grouped layers with few channels per group (grouped_wins).
  if (grouped.supports(g, pass) && grouped_wins(g)) return &grouped;
  // 1x1 forward at batch 1: bias and clamp fused, both cores busy on one image. MobileNet-v2's
  // 19 1x1 shapes, 2 threads: 0.99-1.34x im2col_gemm's speed, 1.17x on their sum (1 thread
  // 1.14x); the whole network 3-6% faster. Some weight gradients too (pointwise_wins).
  if (pointwise.supports(g, pass) && pointwise_wins(g, pass)) return &pointwise;
  // Winograd needs a full vector of 16 tiles, else its lanes idle (ResNet layer 4 at batch 1).
  // The weight gradient too, now that the sums M of one block stay per work unit in cache: 1
  // thread, batch 1, ResNet layer 3 (16 tiles) 0.47 ms, im2col_gemm 1.10, F(2x2) 0.54.
  // 3x3x3 layers too, against direct_avx512 (1 thread, forward / backward data / weight
  // gradient): the suite's 16 -> 32 at 16x56x56 2.0x / 1.8x / 2.2x, 32 channels at 8x14x14 1.7x /
  // 2.6x / 1.9x, 1 -> 16 1.1x / 1.05x / (not supported).
  if (wino.supports(g, pass) && winograd_tiles(g, pass, 4) >= 16) return &wino;
  // Too few 4x4 tiles, but a vector of 2x2 ones: F(2x2) with its weights transformed per panel.
  // 1 thread, against what these shapes got before (direct forward, im2col_gemm backward data):
  // ResNet layer 4 (7x7, 512 channels) at batch 1 1.3x / 1.6x, batch 3 1.7x / 1.5x; 8x8 x 128
  // channels 1.6x / 1.8x; 12x12 x 256 channels 1.5x / 1.3x. Weight gradient (F(3x3, 2x2)) on
  // layer 4 at batch 1: 0.88-0.98 ms, im2col_gemm 1.16-1.22, F(4x4) 1.02-1.04 (1 thread).
  if (wino2.supports(g, pass) && winograd_tiles(g, pass, 2) >= 16) return &wino2;
  if (wino1d.supports(g, pass) && winograd1d_wins(g, pass)) return &wino1d;
  for (const ConvAlgorithm* direct : {&direct512, &direct2})
    if (direct->supports(g, pass) && direct_wins(g, pass)) return direct;
  if (gemm.supports(g, pass)) return &gemm;
  return &kAlgorithms[0];
}

void conv_epilogue_rows(const ConvEpilogue& ep, int64_t oc0, int64_t count, int64_t len, int64_t ld,
                        float* y) noexcept {
  const ConvEpilogue e = ep;  // a local copy: y's stores cannot alias its bounds (vectorises)
  for (int64_t r = 0; r < count; ++r) {
    const float bias = e.bias ? e.bias[oc0 + r] : 0.0f;
    float* row = y + r * ld;
    for (int64_t i = 0; i < len; ++i) row[i] = e.clamp(row[i] + bias);
  }
}

void conv_backward_bias(int64_t N, int64_t C, int64_t P, const float* dy, float* db) noexcept {
  // A channel per thread at a time, its sum in double in vector lanes: with one thread adding
  // one double after another, fmnist-cnn's training step at batch 64 on two threads took 6.1 ms
  // instead of 5.0 (alternating builds). Each channel's order does not depend on the thread
  // count.
  constexpr int64_t kMinParallelValues = 1 << 15;
#pragma omp parallel for schedule(static) if (N * C * P >= kMinParallelValues)
  for (int64_t oc = 0; oc < C; ++oc) {
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float* row = dy + (n * C + oc) * P;
#pragma omp simd reduction(+ : sum)
      for (int64_t p = 0; p < P; ++p) sum += row[p];
    }
    db[oc] = static_cast<float>(sum);
  }
}

}  // namespace fovea::kernels
