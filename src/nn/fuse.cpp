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

// Calls f(conv) when m is a convolution of any rank; returns whether it was one.
template <class F>
bool with_conv(Module& m, F&& f) {
  if (auto* c = dynamic_cast<Conv1d*>(&m)) return f(*c), true;
  if (auto* c = dynamic_cast<Conv2d*>(&m)) return f(*c), true;
  if (auto* c = dynamic_cast<Conv3d*>(&m)) return f(*c), true;
  return false;
}

}  // namespace

int fold_batch_norm(Module& model, const Tensor& example) {
  if (model.is_training())
    throw ValueError(
        "fold_batch_norm: model expects eval mode (call eval() first), got training mode");
  // Tensors are told apart by their storage, so every tensor of the trace is kept alive:
  // otherwise a freed activation's memory could come back as a later, unrelated one.
  std::vector<Tensor> keep;
  std::map<const float*, Module*> conv_output;
  std::map<const float*, int> uses;
  std::map<const Module*, int> calls;  // a layer called twice shares its weights: not folded
  std::vector<std::pair<BatchNorm*, const float*>> norms;
  {
    autograd::NoGradGuard no_grad;
    ForwardHookGuard hooks([&](const Module& m, const Tensor& in, const Tensor& out) {
      keep.insert(keep.end(), {in, out});
      ++calls[&m];
      auto& mutable_m = const_cast<Module&>(m);  // the caller handed us the model mutable
      if (with_conv(mutable_m, [](auto&) {})) conv_output[out.data()] = &mutable_m;
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
        calls[conv->second] != 1 || !bn->options().track_running_stats)
      continue;
    const auto [scale, shift] = bn->eval_scale_shift();
    with_conv(*conv->second, [&](auto& c) { c.absorb_affine(scale, shift); });
    bn->mark_folded();
    ++folded;
  }
  return folded;
}

}  // namespace fovea::nn
