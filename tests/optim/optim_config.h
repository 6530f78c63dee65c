// Builds optimizers and schedules from the golden configs of tests/golden/gen_optim.py, whose
// options use PyTorch's keyword names.
#pragma once

#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fovea/optim/adam.h"
#include "fovea/optim/schedule.h"
#include "fovea/optim/sgd.h"

namespace fovea::testing {

using Json = nlohmann::json;

template <class T>
T option(const Json& options, const char* key, T fallback) {
  return options.contains(key) ? options.at(key).get<T>() : fallback;
}

inline std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& type, const Json& o,
                                                        std::vector<Tensor> params) {
  if (type == "SGD") {
    const optim::SGDOptions d;
    return std::make_unique<optim::SGD>(
        std::move(params),
        optim::SGDOptions{.lr = o.at("lr").get<double>(),
                          .momentum = option(o, "momentum", d.momentum),
                          .dampening = option(o, "dampening", d.dampening),
                          .weight_decay = option(o, "weight_decay", d.weight_decay),
                          .nesterov = option(o, "nesterov", d.nesterov)});
  }
  if (type == "Adam" || type == "AdamW") {
    const bool w = type == "AdamW";
    const optim::AdamOptions d;
    const optim::AdamWOptions dw;
    const auto betas = option(o, "betas", std::vector<double>{d.betas[0], d.betas[1]});
    const double lr = option(o, "lr", d.lr), eps = option(o, "eps", d.eps);
    const double decay = option(o, "weight_decay", w ? dw.weight_decay : d.weight_decay);
    const bool amsgrad = option(o, "amsgrad", false);
    if (w)
      return std::make_unique<optim::AdamW>(std::move(params),
                                            optim::AdamWOptions{.lr = lr,
                                                                .betas = {betas[0], betas[1]},
                                                                .eps = eps,
                                                                .weight_decay = decay,
                                                                .amsgrad = amsgrad});
    return std::make_unique<optim::Adam>(std::move(params),
                                         optim::AdamOptions{.lr = lr,
                                                            .betas = {betas[0], betas[1]},
                                                            .eps = eps,
                                                            .weight_decay = decay,
                                                            .amsgrad = amsgrad});
  }
  throw std::invalid_argument("golden config: unknown optimizer " + type);
}

// spec: {"scheduler": name, "options": {...}} or a SequentialLR with "schedulers" and
// "milestones".
inline std::unique_ptr<optim::LRScheduler> make_scheduler(optim::Optimizer& opt, const Json& spec) {
  const std::string name = spec.at("scheduler");
  if (name == "SequentialLR") {
    std::vector<std::unique_ptr<optim::LRScheduler>> parts;
    for (const Json& s : spec.at("schedulers")) parts.push_back(make_scheduler(opt, s));
    return std::make_unique<optim::SequentialLR>(opt, std::move(parts),
                                                 spec.at("milestones").get<std::vector<int64_t>>());
  }
  const Json& o = spec.at("options");
  if (name == "StepLR")
    return std::make_unique<optim::StepLR>(
        opt, optim::StepLROptions{.step_size = o.at("step_size").get<int64_t>(),
                                  .gamma = option(o, "gamma", 0.1)});
  if (name == "MultiStepLR")
    return std::make_unique<optim::MultiStepLR>(
        opt, optim::MultiStepLROptions{.milestones = o.at("milestones").get<std::vector<int64_t>>(),
                                       .gamma = option(o, "gamma", 0.1)});
  if (name == "CosineAnnealingLR")
    return std::make_unique<optim::CosineAnnealingLR>(
        opt, optim::CosineAnnealingLROptions{.t_max = o.at("T_max").get<int64_t>(),
                                             .eta_min = option(o, "eta_min", 0.0)});
  if (name == "LinearLR") {
    const optim::LinearLROptions d;
    return std::make_unique<optim::LinearLR>(
        opt, optim::LinearLROptions{.start_factor = option(o, "start_factor", d.start_factor),
                                    .end_factor = option(o, "end_factor", d.end_factor),
                                    .total_iters = option(o, "total_iters", d.total_iters)});
  }
  if (name == "OneCycleLR") {
    const optim::OneCycleLROptions d;
    using Anneal = optim::OneCycleLROptions::Anneal;
    const std::string anneal = option(o, "anneal_strategy", std::string("cos"));
    return std::make_unique<optim::OneCycleLR>(
        opt, optim::OneCycleLROptions{
                 .max_lr = o.at("max_lr").get<double>(),
                 .total_steps = o.at("total_steps").get<int64_t>(),
                 .pct_start = option(o, "pct_start", d.pct_start),
                 .anneal_strategy = anneal == "linear" ? Anneal::kLinear : Anneal::kCos,
                 .cycle_momentum = option(o, "cycle_momentum", d.cycle_momentum),
                 .base_momentum = option(o, "base_momentum", d.base_momentum),
                 .max_momentum = option(o, "max_momentum", d.max_momentum),
                 .div_factor = option(o, "div_factor", d.div_factor),
                 .final_div_factor = option(o, "final_div_factor", d.final_div_factor),
                 .three_phase = option(o, "three_phase", d.three_phase)});
  }
  throw std::invalid_argument("golden config: unknown scheduler " + name);
}

// Row `row` of a tensor stacked along its first axis.
inline Tensor row_of(const Tensor& stacked, int64_t row) {
  const Shape shape(stacked.shape().begin() + 1, stacked.shape().end());
  const int64_t n = shape_numel(shape);
  return Tensor::from_vector(shape, stacked.span().subspan(row * n, n));
}

// "inf" or a number.
inline double norm_type_of(const Json& v) {
  return v.is_string() ? std::numeric_limits<double>::infinity() : v.get<double>();
}

}  // namespace fovea::testing
