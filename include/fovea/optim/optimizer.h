// Optimizer: the base of SGD, Adam and AdamW (PyTorch 1.13's torch.optim semantics).
//
// An optimizer holds handles to the parameters (copies of a Tensor share storage and
// gradient, so these are the model's own tensors). step() updates every parameter that has a
// gradient, in place, under autograd::NoGradGuard; parameters whose grad() is undefined are
// skipped and their state is left alone, as in PyTorch.
//
//   optim::SGD opt(model_params, {.lr = 0.1, .momentum = 0.9});
//   for (...) { opt.zero_grad(); loss.backward(); opt.step(); }
//
// Hyper-parameters are doubles, like Python floats; the update arithmetic is float32.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::optim {

// Everything needed to resume an optimizer exactly (torch's optimizer.state_dict()).
struct OptimizerState {
  std::string optimizer;  // "SGD", "Adam" or "AdamW"
  // "lr", "momentum", "beta1", ...; booleans as 0 or 1; "initial_lr" once a schedule set it.
  std::map<std::string, double> hyper_parameters;
  // "<parameter index>.<buffer>": "0.momentum_buffer", "2.exp_avg", "2.exp_avg_sq",
  // "2.max_exp_avg_sq"; "2.step" is a one-element tensor of shape [] holding the parameter's
  // step count as a float (exact below 2^24, as torch's float32 step tensor). A parameter
  // that has not been updated yet has no entries.
  std::map<std::string, Tensor> tensors;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Schedules keep a reference to their optimizer: it stays where it was built.
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Tensor>& params() const { return params_; }

  // One update of every parameter that has a gradient.
  void step();
  // Zeroes the gradients in place (PyTorch 1.13's default); set_to_none drops them instead,
  // which skips those parameters in the next step() unless a backward pass refills them.
  void zero_grad(bool set_to_none = false);

  // The learning rate; schedules set it before each step. Throws ValueError when negative.
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  // What OneCycleLR cycles: SGD's momentum, Adam's beta1.
  virtual double momentum() const = 0;
  virtual void set_momentum(double momentum) = 0;
  // The lr a schedule computes from (torch's param_group['initial_lr']): set by the first
  // schedule built on this optimizer and saved with its state.
  std::optional<double> initial_lr() const { return initial_lr_; }
  void set_initial_lr(double lr) { initial_lr_ = lr; }

  // Copies of the state tensors (later steps do not change a saved state).
  OptimizerState state_dict() const;
  // Restores hyper-parameters and buffers (copied). Throws ValueError, leaving this optimizer
  // unchanged, when the state belongs to another optimizer type, lacks or has unknown
  // hyper-parameters, names a parameter index or buffer that does not exist, has a buffer of
  // the wrong shape, or gives a parameter only some of its buffers.
  void load_state_dict(const OptimizerState& state);

 protected:
  // Validates params: at least one, each a defined leaf tensor, no tensor twice.
  Optimizer(std::string name, std::vector<Tensor> params);

  // A parameter's buffers by name, like torch's optimizer.state[p].
  using ParamState = std::map<std::string, Tensor>;
  ParamState& state(size_t index) { return state_[index]; }

  // The update itself; step() calls it under NoGradGuard.
  virtual void update() = 0;
  virtual std::map<std::string, double> hyper_parameters() const = 0;
  // Validates all values first: throws ValueError without changing anything.
  virtual void set_hyper_parameters(const std::map<std::string, double>& values) = 0;
  // The buffers a parameter has once updated ("step" is a scalar, the others are shaped like
  // the parameter).
  virtual std::vector<std::string> state_keys() const = 0;

  // values[key], or ValueError naming the optimizer when absent.
  double hyper(const std::map<std::string, double>& values, const std::string& key) const;

 private:
  std::vector<ParamState> parse_state(const std::map<std::string, Tensor>& tensors) const;

  std::string name_;
  std::vector<Tensor> params_;
  std::vector<ParamState> state_;
  std::optional<double> initial_lr_;
};

}  // namespace fovea::optim
