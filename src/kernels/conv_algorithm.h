// The convolution kernel table: one row per algorithm, read by the selector, by the tests
// that hold every algorithm equal to the reference, and by the benchmarks.
//
// Kernels are plain noexcept functions on raw data that trust their geometry; validation
// happens at the door (src/ops). Each pass overwrites its output:
//   forward          y  = clamp(conv(x, w) + bias + r, lo, hi)   (ConvEpilogue; by default no
//                                                              bias, no residual r, no clamp)
//   backward_data    dx = conv^T(dy, w)           (also the forward of transposed conv)
//   backward_weight  dw = sum_n corr(x, dy)
// `workspace` holds workspace_floats(geometry, pass) floats (may be null when that is 0).
#pragma once

#include <cstddef>
#include <limits>
#include <span>
#include <string_view>

#include "kernels/conv_geometry.h"
#include "kernels/cpu/vector_math.h"

namespace fovea::kernels {

enum class ConvPass { kForward, kBackwardData, kBackwardWeight };

std::string_view to_string(ConvPass pass);

// What the forward does to each sum before storing it: y[n, oc, p] = clamp(sum + bias[oc] +
// residual[n, oc, p], lo, hi). Relu is lo = 0, relu6 lo = 0 and hi = 6: an activation fused into
// the convolution costs no pass of its own. Kernels apply it while the outputs are still in
// registers or cache. The residual (a ResNet block's shortcut joining its last convolution) is
// read only by rows with fuses_residual; the door adds it after the others.
struct ConvEpilogue {
  const float* bias = nullptr;      // C_out values, or none
  const float* residual = nullptr;  // y's shape and layout, or none
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  // The clamp of one value (vmath::clamp: loops of it vectorise, NaN stays NaN).
  float clamp(float v) const { return vmath::clamp(v, lo, hi); }
  bool clamps() const {
    return lo > -std::numeric_limits<float>::infinity() ||
           hi < std::numeric_limits<float>::infinity();
  }
};

using ConvForwardFn = void (*)(const ConvGeometry& g, const float* x, const float* w,
                               const ConvEpilogue& ep, float* y, float* workspace);
using ConvBackwardDataFn = void (*)(const ConvGeometry& g, const float* dy, const float* w,
                                    float* dx, float* workspace);
using ConvBackwardWeightFn = void (*)(const ConvGeometry& g, const float* x, const float* dy,
                                      float* dw, float* workspace);

// The instruction set a row's kernels are compiled for; a CPU without it gets no shape from
// that row (supports() is false everywhere).
enum class Isa { kAny, kAvx2, kAvx512 };

// Whether this CPU executes `isa`.
bool isa_available(Isa isa);

struct ConvAlgorithm {
  std::string_view name;  // "reference", "im2col_gemm", ...
  Isa isa;
  bool (*supports)(const ConvGeometry& g, ConvPass pass);
  size_t (*workspace_floats)(const ConvGeometry& g, ConvPass pass);
  ConvForwardFn forward;
  ConvBackwardDataFn backward_data;
  ConvBackwardWeightFn backward_weight;
  bool fuses_residual;  // its forward reads ConvEpilogue::residual
};

// Every algorithm Fovea has, reference first.
std::span<const ConvAlgorithm> conv_algorithms();

// The algorithm for this shape and pass: the one named `forced` where it exists and supports
// them, the heuristic choice otherwise. Never null: the reference supports everything.
const ConvAlgorithm* select_conv(const ConvGeometry& g, ConvPass pass, std::string_view forced);

// rows (count, len) of y at row stride ld, holding output channels oc0.. of one image:
// y = clamp(y + bias[oc], lo, hi). For kernels whose inner loops cannot apply the epilogue.
void conv_epilogue_rows(const ConvEpilogue& ep, int64_t oc0, int64_t count, int64_t len, int64_t ld,
                        float* y) noexcept;

// db[c] = sum over n and p of dy[n, c, p] for dy (N, C, P): the bias gradient of every
// convolution and transposed convolution, shared by all algorithms.
void conv_backward_bias(int64_t N, int64_t C, int64_t P, const float* dy, float* db) noexcept;

}  // namespace fovea::kernels
