#include "fovea/autograd.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "fovea/error.h"

namespace fovea::autograd {
namespace {

thread_local bool g_grad_enabled = true;
thread_local OpObserver g_observer;

// a += b elementwise (gradients of a tensor used more than once add up).
void accumulate(Tensor& sum, const Tensor& g) {
  if (!sum.defined()) {
    // The first gradient is summed into in place later, so the sum must own its storage: g's
    // own when nothing else holds it (a backward's fresh result), else a copy (the producer of
    // g may hand the same tensor to several inputs, or pass its own gradient through).
    NoGradGuard no_grad;
    sum = g.sole_owner() ? g.detach() : g.detach().clone();
    return;
  }
  float* s = sum.data();
  const float* d = g.data();
  for (int64_t i = 0; i < sum.numel(); ++i) s[i] += d[i];
}

// Nodes reachable from root, each after every node that consumes its output.
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_map<Node*, bool> visited;
  // Iterative DFS (deep networks would overflow a recursive one): post-order, then reverse.
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  visited[root] = true;
  while (!stack.empty()) {
    auto& [node, next_index] = stack.back();
    if (next_index < node->next().size()) {
      Node* child = node->next()[next_index++].node.get();
      if (child && !visited[child]) {
        visited[child] = true;
        stack.emplace_back(child, 0);
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  std::ranges::reverse(order);
  return order;
}

}  // namespace

Node::Node(std::string name, std::vector<Edge> next, std::vector<Shape> input_shapes, BackwardFn fn)
    : name_(std::move(name)),
      next_(std::move(next)),
      input_shapes_(std::move(input_shapes)),
      fn_(std::move(fn)) {}

std::vector<Tensor> Node::apply(const Tensor& grad_output, bool retain_graph) {
  if (released_)
    throw Error(fmt::format(
        "backward: trying to backward through the graph a second time ({} has already freed "
        "its saved tensors); pass retain_graph = true to the first backward() if you need to",
        name_));
  std::vector<bool> needs(next_.size());
  for (size_t i = 0; i < next_.size(); ++i) needs[i] = next_[i].active();
  std::vector<Tensor> grads = fn_(grad_output, needs);
  if (grads.size() != next_.size())
    throw Error(fmt::format("backward: {} returned {} gradients for {} inputs", name_, grads.size(),
                            next_.size()));
  for (size_t i = 0; i < grads.size(); ++i)
    if (needs[i] && grads[i].defined() && grads[i].shape() != input_shapes_[i])
      throw ShapeError(
          fmt::format("backward: {} returned a gradient of shape {} for input {} of shape {}",
                      name_, shape_str(grads[i].shape()), i, shape_str(input_shapes_[i])));
  if (!retain_graph) {
    fn_ = nullptr;  // frees the saved tensors
    released_ = true;
  }
  return grads;
}

bool grad_enabled() {
  return g_grad_enabled;
}
void set_grad_enabled(bool enabled) {
  g_grad_enabled = enabled;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  return std::ranges::any_of(inputs, [](const Tensor& t) { return t.requires_grad(); });
}

OpObserverGuard::OpObserverGuard(OpObserver observer) : previous_(std::move(g_observer)) {
  g_observer = std::move(observer);
}
OpObserverGuard::~OpObserverGuard() {
  g_observer = std::move(previous_);
}

void record(std::string name, const std::vector<Tensor>& inputs, Tensor& output, BackwardFn fn) {
  if (g_observer) g_observer(name, inputs, output);
  if (!any_requires_grad(inputs)) return;
  std::vector<Edge> next(inputs.size());
  std::vector<Shape> shapes(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) continue;
    shapes[i] = t.shape();
    if (t.grad_fn())
      next[i].node = t.grad_fn();
    else if (t.requires_grad())
      next[i].leaf = t.autograd_meta();
  }
  output.autograd_meta()->grad_fn =
      std::make_shared<Node>(std::move(name), std::move(next), std::move(shapes), std::move(fn));
}

void backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  if (!root.defined()) throw ValueError("backward: tensor is undefined");
  if (!root.requires_grad())
    throw ValueError(
        "backward: tensor does not require grad and has no grad_fn (was it computed under "
        "NoGradGuard, or from tensors without requires_grad_()?)");
  Tensor seed = grad_root;
  if (!seed.defined()) {
    if (root.numel() != 1)
      throw ShapeError(fmt::format(
          "backward: grad can be implicitly created only for one-element outputs, got shape {}",
          shape_str(root.shape())));
    seed = Tensor::ones(root.shape());
  } else if (seed.shape() != root.shape()) {
    throw ShapeError(fmt::format("backward: grad expects the tensor's shape {}, got {}",
                                 shape_str(root.shape()), shape_str(seed.shape())));
  }
  NoGradGuard no_grad;    // gradient computations are not themselves recorded
  if (!root.grad_fn()) {  // a leaf: its gradient is the seed
    Tensor g = root.grad();
    accumulate(g, seed);
    root.autograd_meta()->grad = g;
    return;
  }
  std::unordered_map<Node*, Tensor> pending;
  Node* top = root.grad_fn().get();
  pending[top] = seed;
  for (Node* node : topological_order(top)) {
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // no gradient flowed here
    const Tensor grad_out = std::move(it->second);
    pending.erase(it);
    std::vector<Tensor> grads = node->apply(grad_out, retain_graph);
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& e = node->next()[i];
      if (!grads[i].defined()) continue;
      if (e.node) {
        accumulate(pending[e.node.get()], grads[i]);
      } else if (e.leaf) {
        accumulate(e.leaf->grad, grads[i]);
      }
    }
  }
}

}  // namespace fovea::autograd
