// The harness that holds every fast convolution kernel equal to the reference (STYLE.md
// habit 2), shared by the kernel-table tests: tests/kernels/conv_algorithm_test.cpp runs it on
// general sweeps, and each fast kernel's own test on sweeps around its tile sizes.
//
// Outputs and workspace are NaN-filled, so elements a kernel forgets to write show up; buffers
// are std::vectors of exactly the promised size, so an AddressSanitizer build catches overruns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/conv_algorithm.h"
#include "kernels/conv_geometry.h"

namespace fovea::kernels {

inline constexpr ConvPass kConvPasses[] = {ConvPass::kForward, ConvPass::kBackwardData,
                                           ConvPass::kBackwardWeight};

// One spatial axis of a geometry. pad_hi may be below pad_lo (transposed-convolution style,
// pad_hi = padding - output_padding) and even negative: trailing inputs then go unread.
struct Axis {
  int64_t in, k = 1, s = 1, d = 1, lo = 0, hi = 0;
};

// Axes are given outermost first; a D-dimensional conv fills the last D of (D, H, W).
ConvGeometry make_geometry(int64_t N, int64_t C_in, int64_t C_out, int64_t groups,
                           const std::vector<Axis>& axes);

// Whether the sizes describe a convolution the door would accept.
bool valid(const ConvGeometry& g);

// "2D N=1 C_in=3 ... out=[5,7]": the geometry in a failure message.
std::string describe(const ConvGeometry& g);

// Longest sum behind one output element of the pass.
int64_t reduction_length(const ConvGeometry& g, ConvPass pass);

// How much looser than the default tolerance an algorithm's results may be: 1 for exact
// summation-order changes; more for transform-based algorithms (Winograd), documented there.
double tolerance_scale(std::string_view algorithm);

// "" when every element of `actual` is within scale * 1e-5 * sqrt(reduction) of `expected`
// (inputs are in [-1, 1], so a sum of L products has rounding error growing like sqrt(L));
// NaN, from an unwritten element, always fails.
std::string compare(const std::vector<float>& actual, const std::vector<float>& expected,
                    int64_t reduction, double scale = 1.0);

struct ConvInputs {
  std::vector<float> x, w, b, dy, r;  // r: a residual for the forward, dy's size
};

// Uniform values in [-1, 1) for every buffer a pass reads.
ConvInputs random_inputs(const ConvGeometry& g, uint64_t seed);

// The clamp the harness fuses into forward passes: inside the outputs' range (sums of products
// of values in [-1, 1]), so both bounds cut.
inline constexpr float kClampLo = -0.25f, kClampHi = 0.5f;

// The forward epilogue: in.b when with_bias, [kClampLo, kClampHi] when clamp, in.r when residual.
ConvEpilogue forward_epilogue(const ConvInputs& in, bool with_bias, bool clamp,
                              bool residual = false);

// Runs one pass of `algo` on NaN-filled output and workspace buffers of exactly the promised
// sizes; the forward pass applies forward_epilogue(in, with_bias, clamp, residual).
std::vector<float> run_pass(const ConvAlgorithm& algo, const ConvGeometry& g, ConvPass pass,
                            const ConvInputs& in, bool with_bias, bool clamp = false,
                            bool residual = false);

// Runs every pass `algo` supports on g with 1 thread, then 2 (forward with bias, a residual where
// the row fuses one, and clamp when `clamp`), and adds a gtest failure where the two results differ
// in any bit: for rows whose threads split the outputs, never a sum.
void expect_same_bits_on_one_and_two_threads(const ConvAlgorithm& algo, const ConvGeometry& g,
                                             uint64_t seed, bool clamp = false);

// The table's reference row.
const ConvAlgorithm& reference_algorithm();

// The table's row named `name`; throws std::logic_error where there is none.
const ConvAlgorithm& algorithm_named(std::string_view name);

// Every non-reference algorithm whose name contains `only` (all when empty) against the
// reference on each geometry, every pass it supports (forward plain, with bias, with bias and
// clamp, and for rows that fuse one, with bias, residual and clamp). Adds a
// gtest failure per mismatch (the first 20 printed) and fails when nothing was checked.
void check_all(const std::vector<ConvGeometry>& geometries, std::string_view only = "");

}  // namespace fovea::kernels
