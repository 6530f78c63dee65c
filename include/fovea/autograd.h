// Reverse-mode automatic differentiation, define-by-run.
//
// Every differentiable op computes its output, then calls record(): when grad mode is on
// and an input requires a gradient, the output gets a Node holding a closure that maps the
// output's gradient to the inputs' gradients (usually the op's explicit *_backward function).
// Tensor::backward() walks the nodes in reverse topological order, summing gradients where
// a tensor was used more than once, and accumulates into the .grad() of leaf tensors that
// require grad. Saved tensors are freed after a backward pass (unless retain_graph), so a
// second backward through the same graph raises an error, as in PyTorch.
//
//   Tensor y = ...;  // computed from x and w
//   autograd::record("my_op", {x, w}, y, [x = x.detach(), w = w.detach()](
//       const Tensor& gy, const std::vector<bool>& needs) -> std::vector<Tensor> {
//     return {needs[0] ? grad_x(gy, w) : Tensor(), needs[1] ? grad_w(gy, x) : Tensor()};
//   });
//
// Closures must capture saved tensors with .detach(): capturing the output itself (or any
// tensor whose grad_fn is this node) would make a reference cycle and leak the graph.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::autograd {

// Maps the output's gradient to one gradient per input (an undefined Tensor where
// needs_input_grad is false or the gradient is zero).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output,
                                                     const std::vector<bool>& needs_input_grad)>;

struct Meta;

// Where one input's gradient goes: the node that produced it, or the leaf it accumulates in.
struct Edge {
  std::shared_ptr<class Node> node;
  std::shared_ptr<Meta> leaf;
  bool active() const { return node || leaf; }
};

class Node {
 public:
  Node(std::string name, std::vector<Edge> next, std::vector<Shape> input_shapes, BackwardFn fn);
  const std::string& name() const { return name_; }
  const std::vector<Edge>& next() const { return next_; }
  // Runs the closure and checks each returned gradient's shape against its input.
  std::vector<Tensor> apply(const Tensor& grad_output, bool retain_graph);

 private:
  std::string name_;
  std::vector<Edge> next_;
  std::vector<Shape> input_shapes_;
  BackwardFn fn_;
  bool released_ = false;
};

// Per-tensor autograd state, shared by every handle to the same tensor.
struct Meta {
  bool requires_grad = false;
  Tensor grad;                    // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;  // null for leaves
};

// Whether operations record the graph (thread-local, on by default).
bool grad_enabled();
void set_grad_enabled(bool enabled);

// Disables recording for its lifetime: inference, optimizer updates, evaluation.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Sees every differentiable op as it runs (name, inputs, output), whether or not a graph is
// recorded: analysis tools use it to follow data through any network, branches and merges
// (F::add, F::cat) included. Thread-local; installed for the guard's lifetime.
using OpObserver = std::function<void(const std::string& op, const std::vector<Tensor>& inputs,
                                      const Tensor& output)>;
class OpObserverGuard {
 public:
  explicit OpObserverGuard(OpObserver observer);
  ~OpObserverGuard();
  OpObserverGuard(const OpObserverGuard&) = delete;
  OpObserverGuard& operator=(const OpObserverGuard&) = delete;

 private:
  OpObserver previous_;
};

// True when grad mode is on and any input requires a gradient (i.e. record() would record).
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a node computing the inputs' gradients to `output` (see the file comment). Does
// nothing when no input requires a gradient or grad mode is off.
void record(std::string name, const std::vector<Tensor>& inputs, Tensor& output, BackwardFn fn);

// Runs the backward pass from `root` with d(loss)/d(root) = grad_root.
void backward(const Tensor& root, const Tensor& grad_root, bool retain_graph = false);

}  // namespace fovea::autograd
