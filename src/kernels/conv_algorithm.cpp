#include "kernels/conv_algorithm.h"

#include <algorithm>
#include <array>

#include "kernels/cpu/conv_im2col_gemm.h"
#include "kernels/reference/conv_reference.h"

namespace fovea::kernels {
namespace {

bool reference_supports(const ConvGeometry&, ConvPass) {
  return true;
}
size_t no_workspace(const ConvGeometry&, ConvPass) {
  return 0;
}

// Row order is the selector's preference among algorithms that support a shape, reference
// last-resort. Adding an algorithm is adding a row: tests and benchmarks read this table.
const std::array kAlgorithms = {
    ConvAlgorithm{"reference", reference_supports, no_workspace, conv_forward_reference,
                  conv_backward_data_reference, conv_backward_weight_reference},
    ConvAlgorithm{"im2col_gemm", conv_im2col_gemm_supports, conv_im2col_gemm_workspace_floats,
                  conv_forward_im2col_gemm, conv_backward_data_im2col_gemm,
                  conv_backward_weight_im2col_gemm},
};

}  // namespace

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

const ConvAlgorithm* select_conv(const ConvGeometry& g, ConvPass pass, std::string_view forced) {
  if (!forced.empty()) {
    auto it = std::ranges::find(kAlgorithms, forced, &ConvAlgorithm::name);
    return it != kAlgorithms.end() && it->supports(g, pass) ? &*it : nullptr;
  }
  // Heuristic: the GEMM path wins everywhere it applies except on tiny problems, where
  // packing overhead dominates and the plain loops are as fast.
  constexpr int64_t kTinyMacs = 4096;
  const ConvAlgorithm& gemm = kAlgorithms[1];
  if (g.macs() >= kTinyMacs && gemm.supports(g, pass)) return &gemm;
  return &kAlgorithms[0];
}

void conv_backward_bias(int64_t N, int64_t C, int64_t P, const float* dy, float* db) noexcept {
  for (int64_t oc = 0; oc < C; ++oc) {
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float* row = dy + (n * C + oc) * P;
      for (int64_t p = 0; p < P; ++p) sum += row[p];
    }
    db[oc] = static_cast<float>(sum);
  }
}

}  // namespace fovea::kernels
