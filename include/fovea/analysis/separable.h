// Separable kernels: when a k×k convolution is (nearly) a k×1 one followed by a 1×k one.
//
// A 2D kernel K (kH × kW) has the singular value decomposition K = Σ_i σ_i u_i v_iᵀ. It is
// separable, K = u vᵀ, exactly when its rank is 1: Sobel's [[1,0,−1],[2,0,−2],[1,0,−1]] is
// [1,2,1]ᵀ·[1,0,−1]. Keeping the r largest terms gives the best rank-r approximation in the
// Frobenius norm (Eckart–Young), i.e. r pairs of a k×1 filter √σ_i·u_i then a 1×k filter
// √σ_i·v_i, costing r·(kH + kW) multiply-adds per output position instead of kH·kW:
// O(MN·k²) → O(MN·2k·r) for an M×N output.
//
// Depthwise-separable convolution (MobileNet) is a different factorisation: a kH×kW filter
// per input channel, then a 1×1 convolution mixing channels. Per output position it costs
// kH·kW·C_in + C_in·C_out instead of kH·kW·C_in·C_out (the course notes' examples: 3×3, 3 → 5
// channels: 135 vs 42; 5×5, 64 → 128 channels: 204,800 vs 9,792).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fovea/nn/module.h"
#include "fovea/tensor.h"

namespace fovea::analysis {

// Singular values at most this fraction of the largest count as zero: float32 weights
// carry relative rounding errors near 1e-7, so a separable kernel stored in float32 has
// σ_2/σ_1 well below it.
inline constexpr double kRankTolerance = 1e-5;

struct KernelSpectrum {
  std::vector<double> singular_values{};  // min(kH, kW) of them, descending
  int64_t rank = 0;                       // how many exceed rtol·σ_1 (0 for a zero kernel)
  bool separable() const { return rank == 1; }
};

// The spectrum of a 2D kernel of shape (kH, kW). Throws ShapeError for other ranks and
// ValueError for rtol outside [0, 1).
KernelSpectrum kernel_spectrum(const Tensor& kernel, double rtol = kRankTolerance);

// A conv weight (C_out, C_in/groups, kH, kW) as `rank` separable pairs per (out, in) kernel.
struct SeparableFactors {
  int64_t rank = 0;
  Tensor vertical{};          // (C_out, C_in/groups, rank, kH): the k×1 filters √σ_i·u_i
  Tensor horizontal{};        // (C_out, C_in/groups, rank, kW): the 1×k filters √σ_i·v_i
  double relative_error = 0;  // ‖W − W_r‖_F / ‖W‖_F over the whole weight (0 if W = 0)
  // W_r[o, i] = Σ_r vertical[o, i, r] ⊗ horizontal[o, i, r], the weight's shape.
  Tensor reconstruct() const;
};

// Throws ShapeError for a weight that is not rank 4 and ValueError for a rank outside
// 1..min(kH, kW).
SeparableFactors separable_factors(const Tensor& weight, int64_t rank);

// Multiply-adds per output position of a convolution and of a cheaper replacement.
struct ConvCost {
  int64_t standard = 0;
  int64_t cheaper = 0;
  double ratio() const { return static_cast<double>(cheaper) / static_cast<double>(standard); }
};

// kH·kW vs rank·(kH + kW) for each of `pairs` (out, in) kernel pairs.
ConvCost factored_cost(int64_t kh, int64_t kw, int64_t pairs, int64_t rank);
// kH·kW·C_in·C_out vs kH·kW·C_in + C_in·C_out.
ConvCost depthwise_separable_cost(int64_t kh, int64_t kw, int64_t in_channels,
                                  int64_t out_channels);

// One 2D convolution layer of a network (1×1 and k×1 kernels are separable already and are
// left out).
struct LayerSeparability {
  std::string name{};  // dotted module name
  Shape weight_shape{};
  int64_t groups = 1;
  int64_t kernels = 0;                  // (out, in) pairs
  int64_t rank1_kernels = 0;            // numerically rank ≤ 1 (zero kernels included)
  std::vector<double> mean_spectrum{};  // mean of σ_i/σ_1 over the nonzero kernels
  int64_t rank = 0;                     // the rank asked for, at most min(kH, kW)
  double relative_error = 0;            // of the rank-`rank` factorisation
  ConvCost factored{};                  // full kernels vs rank-`rank` pairs
  std::optional<ConvCost> depthwise{};  // for groups = 1: vs a depthwise-separable layer
};

struct SeparabilityReport {
  std::string model{};
  int64_t rank = 1;
  double tolerance = kRankTolerance;
  std::vector<LayerSeparability> layers{};
};

// Every Conv2d of the model with a kernel larger than 1 along both axes. Throws ValueError
// for rank < 1 or rtol outside [0, 1).
SeparabilityReport analyze_separability(const nn::Module& model, const std::string& model_name,
                                        int64_t rank, double rtol = kRankTolerance);

// {"model", "rank", "tolerance", "layers": [{"name", "weight_shape", "groups", "kernels",
// "rank1_kernels", "mean_spectrum", "rank", "relative_error", "macs_per_position":
// {"full", "factored"}, "depthwise_separable": {"standard", "separable"} or null}]}
std::string separability_json(const SeparabilityReport& report);
std::string format_separability(const SeparabilityReport& report);

}  // namespace fovea::analysis
