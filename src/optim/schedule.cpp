#include "fovea/optim/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "fovea/error.h"

namespace fovea::optim {
namespace {

// x * y - c with the product rounded first, as Python computes it: a fused multiply-add
// (which -march=native allows the compiler to form) can move OneCycleLR's phase boundaries
// off the integers they land on, and so change the phase an epoch falls in.
double product_minus(double x, double y, double c) {
  volatile double product = x * y;
  return product - c;
}

}  // namespace

// --- LRScheduler ---

LRScheduler::LRScheduler(std::string name, Optimizer& optimizer)
    : name_(std::move(name)), optimizer_(&optimizer) {
  if (!optimizer.initial_lr()) optimizer.set_initial_lr(optimizer.lr());
  base_lr_ = *optimizer.initial_lr();
}

void LRScheduler::apply(int64_t epoch) {
  optimizer_->set_lr(lr_at(epoch));
}

void LRScheduler::go_to(int64_t epoch) {
  apply(epoch);
  last_epoch_ = epoch;
  last_lr_ = optimizer_->lr();
}

void LRScheduler::step() {
  go_to(last_epoch_ + 1);
}

void LRScheduler::load_state_dict(const SchedulerState& state) {
  if (state.last_epoch < 0)
    throw ValueError(fmt::format("{}: load_state_dict expects last_epoch >= 0, got {}", name_,
                                 state.last_epoch));
  go_to(state.last_epoch);
}

// --- StepLR ---

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options)
    : LRScheduler("StepLR", optimizer), options_(options) {
  if (options.step_size < 1)
    throw ValueError(
        fmt::format("StepLR: step_size expects a value >= 1, got {}", options.step_size));
  initial_step();
}

double StepLR::lr_at(int64_t epoch) const {
  return base_lr() * std::pow(options_.gamma, static_cast<double>(epoch / options_.step_size));
}

// --- MultiStepLR ---

MultiStepLR::MultiStepLR(Optimizer& optimizer, MultiStepLROptions options)
    : LRScheduler("MultiStepLR", optimizer), options_(std::move(options)) {
  std::ranges::sort(options_.milestones);
  initial_step();
}

double MultiStepLR::lr_at(int64_t epoch) const {
  const auto passed =
      std::ranges::upper_bound(options_.milestones, epoch) - options_.milestones.begin();
  return base_lr() * std::pow(options_.gamma, static_cast<double>(passed));
}

// --- CosineAnnealingLR ---

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options)
    : LRScheduler("CosineAnnealingLR", optimizer), options_(options) {
  if (options.t_max < 1)
    throw ValueError(
        fmt::format("CosineAnnealingLR: t_max expects a value >= 1, got {}", options.t_max));
  initial_step();
}

double CosineAnnealingLR::lr_at(int64_t epoch) const {
  const double eta_min = options_.eta_min;
  const double angle =
      std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(options_.t_max);
  return eta_min + (base_lr() - eta_min) * (1 + std::cos(angle)) / 2;
}

// --- LinearLR ---

LinearLR::LinearLR(Optimizer& optimizer, const LinearLROptions& options)
    : LRScheduler("LinearLR", optimizer), options_(options) {
  if (!(options.start_factor >= 0 && options.start_factor <= 1))
    throw ValueError(fmt::format("LinearLR: start_factor expects a value in [0, 1], got {}",
                                 options.start_factor));
  if (!(options.end_factor >= 0 && options.end_factor <= 1))
    throw ValueError(
        fmt::format("LinearLR: end_factor expects a value in [0, 1], got {}", options.end_factor));
  if (options.total_iters < 1)
    throw ValueError(
        fmt::format("LinearLR: total_iters expects a value >= 1, got {}", options.total_iters));
  initial_step();
}

double LinearLR::lr_at(int64_t epoch) const {
  const LinearLROptions& o = options_;
  const auto done = static_cast<double>(std::min(o.total_iters, epoch));
  return base_lr() * (o.start_factor +
                      (o.end_factor - o.start_factor) * done / static_cast<double>(o.total_iters));
}

// --- OneCycleLR ---

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler("OneCycleLR", optimizer), options_(options) {
  const OneCycleLROptions& o = options_;
  if (!(o.max_lr >= 0))
    throw ValueError(fmt::format("OneCycleLR: max_lr expects a value >= 0, got {}", o.max_lr));
  if (o.total_steps < 1)
    throw ValueError(
        fmt::format("OneCycleLR: total_steps expects a value >= 1, got {}", o.total_steps));
  if (!(o.pct_start >= 0 && o.pct_start <= 1))
    throw ValueError(
        fmt::format("OneCycleLR: pct_start expects a value in [0, 1], got {}", o.pct_start));
  if (!(o.div_factor > 0))
    throw ValueError(
        fmt::format("OneCycleLR: div_factor expects a value > 0, got {}", o.div_factor));
  if (!(o.final_div_factor > 0))
    throw ValueError(fmt::format("OneCycleLR: final_div_factor expects a value > 0, got {}",
                                 o.final_div_factor));
  const double initial = o.max_lr / o.div_factor;
  const double min_lr = initial / o.final_div_factor;
  const auto total = static_cast<double>(o.total_steps);
  const double hi = o.max_momentum, lo = o.base_momentum;
  if (o.three_phase)
    phases_ = {{product_minus(o.pct_start, total, 1), initial, o.max_lr, hi, lo},
               {product_minus(2 * o.pct_start, total, 2), o.max_lr, initial, lo, hi},
               {total - 1, initial, min_lr, hi, hi}};
  else
    phases_ = {{product_minus(o.pct_start, total, 1), initial, o.max_lr, hi, lo},
               {total - 1, o.max_lr, min_lr, lo, hi}};
  optimizer.set_initial_lr(initial);
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy == OneCycleLROptions::Anneal::kLinear)
    return (end - start) * pct + start;
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
}

std::pair<const OneCycleLR::Phase*, double> OneCycleLR::locate(int64_t epoch) const {
  if (epoch < 0 || epoch > options_.total_steps)
    throw ValueError(fmt::format(
        "OneCycleLR: step expects at most total_steps = {} steps after construction, got step {}",
        options_.total_steps, epoch));
  const auto e = static_cast<double>(epoch);
  double start = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& phase = phases_[i];
    if (e <= phase.end_step || i + 1 == phases_.size()) {
      // A phase of zero length (pct_start * total_steps == 1) is already complete at its
      // end; PyTorch divides by zero there.
      const double length = phase.end_step - start;
      return {&phase, length == 0 ? 1.0 : (e - start) / length};
    }
    start = phase.end_step;
  }
  return {nullptr, 0.0};  // unreachable: the last phase takes every epoch
}

double OneCycleLR::lr_at(int64_t epoch) const {
  const auto [phase, pct] = locate(epoch);
  // At epoch total_steps (after the last batch's step) the anneal runs past its end; the
  // linear one would go below zero there, which PyTorch sets and we clamp.
  return std::max(0.0, anneal(phase->start_lr, phase->end_lr, pct));
}

double OneCycleLR::momentum_at(int64_t epoch) const {
  const auto [phase, pct] = locate(epoch);
  return anneal(phase->start_momentum, phase->end_momentum, pct);
}

void OneCycleLR::apply(int64_t epoch) {
  const double lr = lr_at(epoch);  // both computed (and checked) before anything changes
  const double momentum = momentum_at(epoch);
  optimizer().set_lr(lr);
  if (options_.cycle_momentum) optimizer().set_momentum(momentum);
}

// --- SequentialLR ---

SequentialLR::SequentialLR(Optimizer& optimizer,
                           std::vector<std::unique_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler("SequentialLR", optimizer),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  if (schedulers_.empty())
    throw ValueError("SequentialLR: schedulers expects at least one scheduler, got none");
  for (size_t i = 0; i < schedulers_.size(); ++i)
    if (!schedulers_[i] || &schedulers_[i]->optimizer() != &optimizer)
      throw ValueError(fmt::format(
          "SequentialLR: schedulers expects schedulers of the same optimizer, got {} at index {}",
          schedulers_[i] ? "one of another optimizer" : "null", i));
  if (milestones_.size() + 1 != schedulers_.size())
    throw ValueError(fmt::format(
        "SequentialLR: milestones expects one fewer milestone than schedulers ({}), got {}",
        schedulers_.size() - 1, milestones_.size()));
  for (size_t i = 0; i < milestones_.size(); ++i)
    if (milestones_[i] < 1 || (i > 0 && milestones_[i] <= milestones_[i - 1]))
      throw ValueError(
          fmt::format("SequentialLR: milestones expects increasing values >= 1, got {} at index {}",
                      milestones_[i], i));
  // Each child's construction stepped it to epoch 0; as PyTorch does, undo that and start
  // over with the first one only.
  for (auto& s : schedulers_) s->last_epoch_ = -1;
  initial_step();
}

std::pair<LRScheduler*, int64_t> SequentialLR::locate(int64_t epoch) const {
  const auto idx = std::ranges::upper_bound(milestones_, epoch) - milestones_.begin();
  return {schedulers_[idx].get(), idx == 0 ? epoch : epoch - milestones_[idx - 1]};
}

double SequentialLR::lr_at(int64_t epoch) const {
  const auto [child, local] = locate(epoch);
  return child->lr_at(local);
}

void SequentialLR::apply(int64_t epoch) {
  const auto [child, local] = locate(epoch);
  child->go_to(local);
}

}  // namespace fovea::optim
