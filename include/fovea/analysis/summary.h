// Model summary: one row per layer with its output shape, parameters, multiply-adds and the
// receptive field of its output (see receptive_field.h for r, j and start).
//
//   nn::SpecModel m = nn::build_from_spec("conv(8,3) maxpool(2) flatten linear(10)", {1, 28, 28});
//   analysis::Summary s = analysis::summarize(*m.model, {1, 28, 28}, "tiny");
//   fmt::print("{}", analysis::format_summary(s));
//
// How it works: one forward pass of a zero image (batch 1, eval mode, no graph) with an
// autograd::OpObserverGuard that gives every tensor a receptive field computed from its
// inputs' (a map keyed by the tensor's autograd state), and an nn::ForwardHookGuard that
// writes a row for each leaf module (one without children; containers are skipped) and
// replaces the receptive field of conv, pooling and upsampling outputs by one computed from
// the module's exact options. Branches are followed wherever they go: a merge (add, mul, cat,
// ...) takes, per axis, the input with the largest size and its jump and start. docs/analysis.md
// lists every rule.
//
// Multiply-adds (MACs) count convolutions (C_out · out_pixels · C_in/groups · k_pixels),
// transposed convolutions (C_in · in_pixels · C_out/groups · k_pixels) and linear layers
// (in · out per output row); normalisation, pooling and activations count 0, as papers do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fovea/analysis/receptive_field.h"
#include "fovea/nn/module.h"
#include "fovea/tensor.h"

namespace fovea::analysis {

struct LayerSummary {
  std::string name{};    // dotted module name, as in the state dict ("features.0")
  std::string type{};    // the module's type name ("Conv2d")
  Shape output_shape{};  // one example's, without the batch axis
  int64_t params = 0;    // parameters held by this layer
  int64_t macs = 0;      // multiply-adds for one example (ops run since the previous layer)
  ReceptiveField rf{};   // of one output unit, one entry per spatial axis of the input
};

struct Summary {
  std::string model{};
  Shape input{};  // (C, *spatial) of one example
  std::vector<LayerSummary> layers{};
  int64_t total_params = 0;
  int64_t trainable_params = 0;  // parameters that require grad
  int64_t total_macs = 0;        // every op of the forward pass, inside layers or not
  int64_t activation_bytes = 0;  // sum of the layers' output elements × 4 bytes (float32)
};

// Runs the model once on a zero input of shape (1, *input_shape) and summarises it. The
// model's training modes (each module's) are restored afterwards. Throws ValueError for an input
// shape that is not C, C×L, C×H×W or C×D×H×W with positive sizes, and rethrows a failing forward
// pass's ShapeError/ValueError with the last layer that completed.
Summary summarize(nn::Module& model, const Shape& input_shape, const std::string& model_name);

// DESIGN.md's contract: {"model", "input", "layers": [{"name", "type", "output_shape",
// "params", "macs", "rf": {"size", "jump", "start"}}], "total_params", "trainable_params",
// "total_macs"}, plus "activation_bytes". Each rf value is a number when it is the same on
// every spatial axis and an array (one per axis, [h, w]) when not.
std::string summary_json(const Summary& summary);
// A table (name, type, output shape, params, MACs, r, j, start) followed by the totals.
std::string format_summary(const Summary& summary);

}  // namespace fovea::analysis
