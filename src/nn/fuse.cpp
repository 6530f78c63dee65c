#include "fovea/nn/fuse.h"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/norm.h"

namespace fovea::nn {
namespace {

// A convolution module of any rank, seen through the one method folding needs.
struct ConvLayer {
  Module* module = nullptr;
  void absorb(std::span<const float> scale, std::span<const float> shift) const {
    if (auto* c = dynamic_cast<Conv1d*>(module)) return c->absorb_affine(scale, shift);
    if (auto* c = dynamic_cast<Conv2d*>(module)) return c->absorb_affine(scale, shift);
    if (auto* c = dynamic_cast<Conv3d*>(module)) return c->absorb_affine(scale, shift);
  }
};

bool is_conv(const Module& m) {
  return dynamic_cast<const Conv1d*>(&m) || dynamic_cast<const Conv2d*>(&m) ||
         dynamic_cast<const Conv3d*>(&m);
}

}  // namespace

int fold_batch_norm(Module& model, const Tensor& example) {
  if (model.is_training())
    throw ValueError(
        "fold_batch_norm: model expects eval mode (call eval() first), got training mode");
  // Tensors are told apart by their storage, so every tensor of the trace is kept alive:
  // otherwise a freed activation's memory could come back as a later, unrelated one.
  std::vector<Tensor> keep;
  std::map<const float*, ConvLayer> conv_output;
  std::map<const float*, int> uses;
  std::map<const Module*, int> calls;  // a layer called twice shares its weights: not folded
  std::vector<std::pair<BatchNorm*, const float*>> norms;
  {
    autograd::NoGradGuard no_grad;
    ForwardHookGuard hooks([&](const Module& m, const Tensor& in, const Tensor& out) {
      keep.insert(keep.end(), {in, out});
      ++calls[&m];
      auto& mutable_m = const_cast<Module&>(m);  // the caller handed us the model mutable
      if (is_conv(m)) conv_output[out.data()] = {&mutable_m};
      if (auto* bn = dynamic_cast<BatchNorm*>(&mutable_m); bn && !bn->folded())
        norms.emplace_back(bn, in.data());
    });
    autograd::OpObserverGuard ops(
        [&](const std::string&, const std::vector<Tensor>& inputs, const Tensor& output) {
          keep.push_back(output);
          for (const Tensor& t : inputs)
            if (t.defined()) ++uses[t.data()];
        });
    model(example);
  }
  int folded = 0;
  for (auto [bn, input] : norms) {
    const auto conv = conv_output.find(input);
    if (conv == conv_output.end() || uses[input] != 1 || calls[bn] != 1 ||
        calls[conv->second.module] != 1 || !bn->options().track_running_stats)
      continue;
    const auto [scale, shift] = bn->eval_scale_shift();
    conv->second.absorb(scale, shift);
    bn->mark_folded();
    ++folded;
  }
  return folded;
}

}  // namespace fovea::nn
