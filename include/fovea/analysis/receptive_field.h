// Receptive fields: which input pixels a unit of a feature map depends on.
//
// Along each spatial axis a feature map is a regular grid laid over the input: unit i sees
// the input interval of width `size` centred at start + i·jump, in input pixels, with pixel
// centres at 0.5, 1.5, ... (the course notes' convention). The input itself has size 1,
// jump 1, start 0.5. A sliding-window layer (convolution or pooling) with kernel k, stride s,
// padding p before the axis and dilation d (effective kernel k_eff = d(k−1) + 1) maps
//   n_out     = floor((n + 2p − k_eff) / s) + 1
//   j_out     = j · s
//   r_out     = r + (k_eff − 1) · j
//   start_out = start + ((k_eff − 1)/2 − p) · j
// so L stacked stride-1 k×k convolutions see 1 + L(k − 1) pixels: three 3×3 ones see 7×7.
//
// Worked example (course notes): n = 5, then twice k=3, s=2, p=1:
//   layer 0: n 5, j 1, r 1, start 0.5;  layer 1: n 3, j 2, r 3, start 0.5;
//   layer 2: n 2, j 4, r 7, start 0.5.
//
// With Google's receptive_field library (Araujo et al., Distill 2019) the numbers relate as
// rf = size, effective stride = jump, effective padding = size/2 − start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fovea::analysis {

// The receptive field along one spatial axis. Doubles: upsampling and adaptive pooling make
// jumps (and so starts) fractional.
struct AxisRf {
  double size = 1.0;
  double jump = 1.0;
  double start = 0.5;
  bool operator==(const AxisRf&) const = default;
};

// One AxisRf per spatial axis, in the input's axis order (H, W for images).
using ReceptiveField = std::vector<AxisRf>;

// One sliding-window layer along one axis: kernel, stride, padding before the axis, dilation.
struct RfLayer {
  int64_t k = 1;
  int64_t s = 1;
  int64_t p = 0;
  int64_t d = 1;
};

// r, j and start after `layer` (the formulas above; no size check).
AxisRf propagate(const AxisRf& in, const RfLayer& layer);

// One row of the calculator: the layer and the map after it.
struct RfStep {
  RfLayer layer{};  // the identity (k=1, s=1, p=0, d=1) for the input row
  int64_t n = 0;    // positions along the axis
  AxisRf rf{};
};

// The calculator: an input of n positions through `layers`; row 0 is the input. Throws
// ValueError naming the layer (1-based) for n < 1, k/s/d < 1, p < 0, or an output below one
// position.
std::vector<RfStep> receptive_field(int64_t n, const std::vector<RfLayer>& layers);

// {"layers": [{"k", "s", "p", "d", "n", "j", "r", "start"}]} (DESIGN.md's contract).
std::string rf_json(const std::vector<RfStep>& steps);
// A readable table with one row per step.
std::string format_rf(const std::vector<RfStep>& steps);

}  // namespace fovea::analysis
