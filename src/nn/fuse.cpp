#include "fovea/nn/fuse.h"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/nn/activation.h"
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

// One traced forward pass: which convolution wrote each tensor, how many ops read it, how
// often each module ran, and the input of every module of type L, in call order.
template <class L>
struct Trace {
  std::map<const float*, Module*> conv_output;
  std::map<const float*, int> uses;
  std::map<const Module*, int> calls;
  std::vector<std::pair<L*, const float*>> layers;

  // The convolution whose output feeds only `layer` (called once, as is the convolution): the
  // pairs a rewrite may merge. Null otherwise; a layer called twice shares its weights.
  Module* sole_producer(const L* layer, const float* input) {
    const auto conv = conv_output.find(input);
    if (conv == conv_output.end() || uses[input] != 1 || calls[layer] != 1 ||
        calls[conv->second] != 1)
      return nullptr;
    return conv->second;
  }
};

template <class L>
Trace<L> trace(std::string_view op, Module& model, const Tensor& example) {
  if (model.is_training())
    throw ValueError(
        fmt::format("{}: model expects eval mode (call eval() first), got training mode", op));
  Trace<L> t;
  // Tensors are told apart by their storage, so every tensor of the trace is kept alive:
  // otherwise a freed activation's memory could come back as a later, unrelated one.
  std::vector<Tensor> keep;
  autograd::NoGradGuard no_grad;
  ForwardHookGuard hooks([&](const Module& m, const Tensor& in, const Tensor& out) {
    keep.insert(keep.end(), {in, out});
    ++t.calls[&m];
    auto& mutable_m = const_cast<Module&>(m);  // the caller handed us the model mutable
    if (with_conv(mutable_m, [](auto&) {})) t.conv_output[out.data()] = &mutable_m;
    if (auto* layer = dynamic_cast<L*>(&mutable_m)) t.layers.emplace_back(layer, in.data());
  });
  autograd::OpObserverGuard ops(
      [&](const std::string&, const std::vector<Tensor>& inputs, const Tensor& output) {
        keep.push_back(output);
        for (const Tensor& in : inputs)
          if (in.defined()) ++t.uses[in.data()];
      });
  model(example);
  return t;
}

}  // namespace

int fold_batch_norm(Module& model, const Tensor& example) {
  Trace<BatchNorm> t = trace<BatchNorm>("fold_batch_norm", model, example);
  int folded = 0;
  for (auto [bn, input] : t.layers) {
    Module* conv = t.sole_producer(bn, input);
    if (!conv || bn->folded() || !bn->options().track_running_stats) continue;
    const auto [scale, shift] = bn->eval_scale_shift();
    with_conv(*conv, [&](auto& c) { c.absorb_affine(scale, shift); });
    bn->mark_folded();
    ++folded;
  }
  return folded;
}

int fuse_conv_activation(Module& model, const Tensor& example) {
  Trace<FusableActivation> t = trace<FusableActivation>("fuse_conv_activation", model, example);
  int fused = 0;
  for (auto [act, input] : t.layers) {
    Module* conv = t.sole_producer(act, input);
    if (!conv || act->fused()) continue;
    bool free = true;  // a convolution takes one fused activation
    with_conv(*conv,
              [&](auto& c) { free = c.fused_activation() == functional::FusedActivation::kNone; });
    if (!free) continue;
    with_conv(*conv, [&](auto& c) { c.fuse_activation(act->kind()); });
    act->mark_fused();
    ++fused;
  }
  return fused;
}

int optimize_for_inference(Module& model, const Tensor& example) {
  // Folding first: the batch norm between a convolution and its activation becomes a
  // pass-through, so the activation then reads the convolution's output directly.
  return fold_batch_norm(model, example) + fuse_conv_activation(model, example);
}

}  // namespace fovea::nn
