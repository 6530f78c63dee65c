// An activation a layer applies as it stores its outputs, saving a pass over them (not in
// PyTorch's API; its inference JIT fuses the same way): convolutions (ConvOptions::activation)
// and batch norms (BatchNormOptions::activation) take one. Where autograd records the call, the
// activation runs as its own op instead, so gradients are those of the layer then relu/relu6.
#pragma once

namespace fovea::functional {

enum class FusedActivation { kNone, kRelu, kRelu6 };

}  // namespace fovea::functional
