// Learning-rate schedules (torch.optim.lr_scheduler, PyTorch 1.13). A schedule drives one
// optimizer, which must outlive it. Constructing it sets the optimizer's lr to the value at
// epoch 0; each step() advances one epoch (or iteration: the unit is the caller's) and sets
// the lr for it. Call it after optimizer.step(), as in PyTorch:
//
//   optim::SGD opt(params, {.lr = 0.1, .momentum = 0.9});
//   optim::CosineAnnealingLR schedule(opt, {.t_max = epochs});
//   for (int e = 0; e < epochs; ++e) { train_one_epoch(opt); schedule.step(); }
//
// Every schedule here is computed in closed form from its epoch count and the base lr (the
// optimizer's initial_lr, set from its lr by the first schedule built on it). PyTorch steps
// its chainable schedules recursively from the current lr; the two agree to rounding when
// nothing else changes the lr, which is what the golden tests check. A checkpoint resumes a
// schedule with state_dict() / load_state_dict(): the epoch count is all it needs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fovea/optim/optimizer.h"

namespace fovea::optim {

struct SchedulerState {
  int64_t last_epoch = 0;
};

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  const std::string& name() const { return name_; }
  Optimizer& optimizer() const { return *optimizer_; }
  // Advances one epoch and sets the optimizer's lr (OneCycleLR: also its momentum).
  void step();
  // The lr set by the last step() (or the constructor).
  double get_last_lr() const { return last_lr_; }
  // Epochs stepped since construction (0 right after it), as PyTorch's last_epoch.
  int64_t last_epoch() const { return last_epoch_; }
  // The lr this schedule gives at an epoch (closed form, no side effects).
  virtual double lr_at(int64_t epoch) const = 0;

  SchedulerState state_dict() const { return {last_epoch_}; }
  // Jumps to the saved epoch and sets the optimizer's lr (and momentum) for it.
  // Throws ValueError for a negative epoch (or, for OneCycleLR, one past total_steps).
  void load_state_dict(const SchedulerState& state);

 protected:
  // Records the base lr (the optimizer's initial_lr, setting it from lr() if unset). Derived
  // constructors finish with initial_step().
  LRScheduler(std::string name, Optimizer& optimizer);
  // PyTorch's initial step: epoch 0.
  void initial_step() { go_to(0); }
  // Sets the optimizer for `epoch`: its lr (and, for OneCycleLR, momentum).
  virtual void apply(int64_t epoch);
  double base_lr() const { return base_lr_; }

 private:
  friend class SequentialLR;  // moves its children between epochs

  // apply(epoch), then epoch becomes the current one.
  void go_to(int64_t epoch);

  std::string name_;
  Optimizer* optimizer_;
  double base_lr_;
  int64_t last_epoch_ = -1;
  double last_lr_ = 0;
};

// lr = base_lr * gamma^(epoch / step_size) (integer division).
struct StepLROptions {
  int64_t step_size = 1;  // required in torch; must be >= 1
  double gamma = 0.1;
};

class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, const StepLROptions& options);
  double lr_at(int64_t epoch) const override;

 private:
  StepLROptions options_;
};

// lr = base_lr * gamma^(number of milestones <= epoch). Milestones may come in any order, and
// one given twice applies gamma twice (torch keeps them in a Counter).
struct MultiStepLROptions {
  std::vector<int64_t> milestones;
  double gamma = 0.1;
};

class MultiStepLR final : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, MultiStepLROptions options);
  double lr_at(int64_t epoch) const override;

 private:
  MultiStepLROptions options_;  // milestones sorted
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2. Past t_max the
// cosine continues (back up to base_lr at 2 t_max), as PyTorch's does.
struct CosineAnnealingLROptions {
  int64_t t_max = 1;  // PyTorch's T_max; required there; must be >= 1
  double eta_min = 0;
};

class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options);
  double lr_at(int64_t epoch) const override;

 private:
  CosineAnnealingLROptions options_;
};

// Linear warm-up (or decay) of the factor applied to base_lr:
// lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters).
struct LinearLROptions {
  double start_factor = 1.0 / 3;  // in [0, 1]
  double end_factor = 1.0;        // in [0, 1]
  int64_t total_iters = 5;        // >= 1
};

class LinearLR final : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, const LinearLROptions& options = {});
  double lr_at(int64_t epoch) const override;

 private:
  LinearLROptions options_;
};

// The 1cycle policy, stepped once per batch: from max_lr / div_factor up to max_lr over the
// first pct_start of total_steps, then down to max_lr / div_factor / final_div_factor
// (three_phase: back to the start first, then down). Momentum (SGD's momentum, Adam's beta1)
// runs the opposite way between max_momentum and base_momentum when cycle_momentum is on,
// which turns momentum on for an SGD built without it, as in PyTorch. Sets the optimizer's
// initial_lr to max_lr / div_factor. Phases end at pct_start * total_steps - 1 and
// total_steps - 1 (PyTorch's float boundaries); a step past total_steps throws ValueError.
// At epoch total_steps itself (the step() after the last batch) the anneal runs one step past
// its end, as in PyTorch; a linear anneal would go below zero there, and the lr is clamped at 0
// (PyTorch sets the negative value).
struct OneCycleLROptions {
  enum class Anneal { kCos, kLinear };
  double max_lr = 0;        // required
  int64_t total_steps = 0;  // required, >= 1
  double pct_start = 0.3;   // in [0, 1]
  Anneal anneal_strategy = Anneal::kCos;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR final : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  double lr_at(int64_t epoch) const override;
  // The momentum set at an epoch (when cycle_momentum is on).
  double momentum_at(int64_t epoch) const;

 private:
  struct Phase {
    double end_step, start_lr, end_lr, start_momentum, end_momentum;
  };
  // The phase holding `epoch` and how far into it (0..1) the epoch is.
  std::pair<const Phase*, double> locate(int64_t epoch) const;
  double anneal(double start, double end, double pct) const;
  void apply(int64_t epoch) override;

  OneCycleLROptions options_;
  std::vector<Phase> phases_;
};

// Runs schedules one after another: schedulers[0] until milestones[0], then schedulers[1]
// from its own epoch 0, and so on (torch.optim.lr_scheduler.SequentialLR). Warm-up then
// cosine:
//
//   std::vector<std::unique_ptr<optim::LRScheduler>> parts;
//   parts.push_back(std::make_unique<optim::LinearLR>(opt, optim::LinearLROptions{
//       .start_factor = 0.01, .total_iters = 5}));
//   parts.push_back(std::make_unique<optim::CosineAnnealingLR>(opt,
//   optim::CosineAnnealingLROptions{
//       .t_max = epochs - 5}));
//   optim::SequentialLR schedule(opt, std::move(parts), {5});
//
// Throws ValueError unless there is one milestone fewer than schedulers, milestones are
// increasing and >= 1, and every scheduler drives `optimizer`.
class SequentialLR final : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::unique_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  double lr_at(int64_t epoch) const override;

 private:
  // The child running at `epoch` and its own epoch count there.
  std::pair<LRScheduler*, int64_t> locate(int64_t epoch) const;
  void apply(int64_t epoch) override;

  std::vector<std::unique_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

}  // namespace fovea::optim
