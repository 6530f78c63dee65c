// Model spec strings: a network in one line, e.g. the default fmnist-cnn
//   conv(32,3,pad=1) bn relu maxpool(2) conv(64,3,pad=1) bn relu maxpool(2) flatten
//   linear(128) relu dropout(0.3) linear(10)
// Layers are separated by spaces; arguments are positional then name=value; input channels
// (and features) are inferred from the input shape. The grammar (../shared/DESIGN.md):
//   conv(out, k, stride=1, pad=0|same|valid|full, dilation=1, groups=1, bias=true)
//   conv1d(...) conv3d(...)  convT(out, k, stride=1, pad=0, outpad=0, dilation=1, groups=1,
//   bias=true) dwconv(k, stride=1, pad=same, mult=1)        depthwise: groups = channels maxpool(k,
//   stride=k, pad=0, ceil=false)  avgpool(k, stride=k, pad=0, ceil=false) lppool(p, k, stride=k)
//   gap  gmp  adaptiveavg(h, w)  adaptivemax(h, w) upsample(scale, mode=nearest|bilinear|bicubic)
//   bn relu relu6 leakyrelu(0.01) elu(1) sigmoid tanh gelu silu hardswish softmax logsoftmax
//   dropout(p) flatten linear(out, bias=true)
// conv, pooling and bn follow the rank of their input (C×L, C×H×W, C×D×H×W). A spec may also be
// a zoo name known to zoo_spec(). Errors name the layer, its position and the column.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "fovea/nn/module.h"

namespace fovea::nn {

struct SpecModel {
  std::shared_ptr<Module> model;  // a Sequential for spec strings; zoo networks have their own
  std::string spec;    // the expanded spec string (zoo names resolved)
  Shape input_shape;   // (C, *spatial) it was built for
  Shape output_shape;  // (*) of one example, without the batch axis
};

// Builds the network for inputs of shape input_shape = (C, *spatial). Throws ValueError whose
// message points at the offending token:  spec: layer 3 'conv(32,3,stride=0)' at column 17: ...
SpecModel build_from_spec(const std::string& spec, const Shape& input_shape);

// The spec string of a zoo network defined as a spec ("fmnist-cnn", "lenet5"), or nullopt.
std::optional<std::string> zoo_spec(const std::string& name);

}  // namespace fovea::nn
