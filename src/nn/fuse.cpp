#include "fovea/nn/fuse.h"

#include <fmt/format.h>

#include <map>
#include <set>
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

// Whether m is a layer that can take a fused activation: a convolution, or a batch norm that
// was not folded (a folded one passes its input, the convolution's output, through).
bool takes_activation(Module& m) {
  if (with_conv(m, [](auto&) {})) return true;
  auto* bn = dynamic_cast<BatchNorm*>(&m);
  return bn && !bn->folded();
}

// Calls f(layer) with m as the convolution or batch norm it is (takes_activation(m)).
template <class F>
void with_activation_taker(Module& m, F&& f) {
  if (!with_conv(m, f)) f(dynamic_cast<BatchNorm&>(m));
}

// Whether layer m (takes_activation(m)) has no activation fused yet.
bool free_for_activation(Module& m) {
  bool free = false;
  with_activation_taker(m, [&](auto& layer) {
    free = layer.fused_activation() == functional::FusedActivation::kNone;
  });
  return free;
}

// One traced forward pass: which layer (takes_activation) wrote each tensor, how many ops read
// it, how often each module ran, and the input of every module of type L, in call order.
template <class L>
struct Trace {
  std::map<const float*, Module*> producer;
  std::map<const float*, int> uses;
  std::map<const Module*, int> calls;
  std::vector<std::pair<L*, const float*>> layers;

  // The layer whose output feeds only `layer` (called once, as is the producer, unless
  // `shared` allows `layer` more calls): the pairs a rewrite may merge. Null otherwise; a
  // producer called twice shares its weights between two inputs.
  Module* sole_producer(const L* layer, const float* input, bool shared = false) {
    const auto p = producer.find(input);
    if (p == producer.end() || uses[input] != 1 || (!shared && calls[layer] != 1) ||
        calls[p->second] != 1)
      return nullptr;
    return p->second;
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
    if (takes_activation(mutable_m)) t.producer[out.data()] = &mutable_m;
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
    if (!conv || !with_conv(*conv, [](auto&) {}) || bn->folded() ||
        !bn->options().track_running_stats)
      continue;
    const auto [scale, shift] = bn->eval_scale_shift();
    with_conv(*conv, [&](auto& c) { c.absorb_affine(scale, shift); });
    bn->mark_folded();
    ++folded;
  }
  return folded;
}

int fuse_activations(Module& model, const Tensor& example) {
  Trace<FusableActivation> t = trace<FusableActivation>("fuse_activations", model, example);
  // An activation module called more than once (ResNet's Bottleneck calls one ReLU after each
  // of two batch norms) becomes a pass-through for every call, so it fuses only when each call
  // follows a layer free to take it.
  std::map<FusableActivation*, std::vector<Module*>> takers;
  std::set<FusableActivation*> refused;
  for (auto [act, input] : t.layers) {
    Module* layer = t.sole_producer(act, input, /*shared=*/true);
    if (layer && !act->fused() && free_for_activation(*layer))
      takers[act].push_back(layer);
    else
      refused.insert(act);
  }
  int fused = 0;
  for (auto& [act, layers] : takers) {
    if (refused.contains(act)) continue;
    for (Module* layer : layers)
      with_activation_taker(*layer, [&](auto& l) { l.fuse_activation(act->kind()); });
    act->mark_fused();
    fused += static_cast<int>(layers.size());
  }
  return fused;
}

int optimize_for_inference(Module& model, const Tensor& example) {
  // Folding first: the batch norm between a convolution and its activation becomes a
  // pass-through, so the activation then reads the convolution's output directly.
  return fold_batch_norm(model, example) + fuse_activations(model, example);
}

}  // namespace fovea::nn
